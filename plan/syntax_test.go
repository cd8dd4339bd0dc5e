package plan

import (
	"testing"
	"time"
)

func TestParseRate(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"200/s": 200, "12000/m": 200, "7200/h": 2, "0.5": 0.5, " 3 / sec ": 3, "60/min": 1, "1e3/s": 1000} {
		if got, err := ParseRate(in); err != nil || got != want {
			t.Errorf("ParseRate(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "/s", "fast", "10/d", "NaN", "Inf/s", "1/s/s"} {
		if _, err := ParseRate(in); err == nil {
			t.Errorf("ParseRate(%q) accepted", in)
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]int64{"512": 512, "64KB": 64000, "64KiB": 65536, "1MiB": 1 << 20, "1.5kb": 1500, "2GB": 2e9, "1 GiB": 1 << 30, "10B": 10} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "KB", "1TB", "-1KB", "1..2KB", "99999999999999999999GiB"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) accepted", in)
		}
	}
}

func TestParseTolerance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		metric, in string
		want       Tolerance
	}{
		{"p95", "+10%", Tolerance{Raw: "+10%", Kind: TolRelative, Relative: 0.10}},
		{"p95", "10%", Tolerance{Raw: "10%", Kind: TolRelative, Relative: 0.10}},
		{"p99", "+5ms", Tolerance{Raw: "+5ms", Kind: TolAbsolute, Abs: 5 * time.Millisecond}},
		{"throughput", "-5%", Tolerance{Raw: "-5%", Kind: TolRelative, Relative: -0.05}},
		{"throughput", "5%", Tolerance{Raw: "5%", Kind: TolRelative, Relative: -0.05}},
		{"error_rate", "+0.5pp", Tolerance{Raw: "+0.5pp", Kind: TolPP, PP: 0.5}},
		{"error_rate", "+50%", Tolerance{Raw: "+50%", Kind: TolRelative, Relative: 0.5}},
		{"max", "+0%", Tolerance{Raw: "+0%", Kind: TolRelative}},
	}
	for _, tt := range tests {
		got, err := ParseTolerance(tt.metric, tt.in)
		if err != nil || *got != tt.want {
			t.Errorf("ParseTolerance(%s, %q) = %+v, %v; want %+v", tt.metric, tt.in, got, err, tt.want)
		}
	}
	for _, bad := range [][2]string{{"p95", "-10%"}, {"throughput", "+5%"}, {"throughput", "-5ms"}, {"error_rate", "+5ms"}, {"p95", "+1pp"}, {"p95", "+x%"}, {"throughput", "-101%"}, {"p95", ""}, {"p95", "+-5%"}} {
		if _, err := ParseTolerance(bad[0], bad[1]); err == nil {
			t.Errorf("ParseTolerance(%s, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestParseRequest(t *testing.T) {
	t.Parallel()
	m, p, err := parseRequest("get /products?page=1")
	if err != nil || m != "GET" || p != "/products?page=1" {
		t.Errorf("parseRequest = %q %q %v", m, p, err)
	}
	for _, bad := range []string{"GET", "GET /a b", "FETCH /a", "GET a", "GET /%zz"} {
		if _, _, err := parseRequest(bad); err == nil {
			t.Errorf("parseRequest(%q) accepted", bad)
		}
	}
}

func TestSuggest(t *testing.T) {
	t.Parallel()
	keys := []string{"weight", "timeout", "body_file"}
	for in, want := range map[string]string{"wieght": ` (did you mean "weight"?)`, "timeuot": ` (did you mean "timeout"?)`, "bodyfile": ` (did you mean "body_file"?)`, "colour": "", "w": ""} {
		if got := suggest(in, keys); got != want {
			t.Errorf("suggest(%q) = %q, want %q", in, got, want)
		}
	}
}
