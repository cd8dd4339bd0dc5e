package importers

import (
	"github.com/google/go-cmp/cmp"

	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/results"
)

// writeLines writes a fixture's lines, with line n (1-based) replaced, to a temp file.
func corrupt(t *testing.T, src, name string, n int, with string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(data), "\n")
	lines[n-1] = with
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMalformedNamesFileAndLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		format, src string
		line        int
		with        string
		want        string // suffix after "<path>:"
	}{
		{FormatJMeterCSV, peer("jmeter-2.13/results.jtl"), 17,
			"1795652827384,abc,GET fast,200,OK,users 1-1,text,true,,119,1,1,http://127.0.0.1:38517/fast,27,0,21",
			`17: column "elapsed": not a number "abc"`},
		{FormatJMeterCSV, peer("jmeter-2.13/results.jtl"), 5, "1795652827384,1,GET fast", `5: 3 columns, the header has 16`},
		{FormatJMeterXML, peer("jmeter-2.13/results.xml"), 4,
			`<httpSample t="x" lt="35" ts="1795652829119" s="true" lb="GET fast" rc="200" rm="OK" tn="users 1-1" dt="text" by="119" ng="1" na="1"/>`,
			`4: attribute "t": not a number "x"`},
		{FormatJMeterXML, peer("jmeter-2.13/results.xml"), 6, `<httpSample t="1"`, `: XML:`},
		{FormatK6JSON, peer("k6-synthetic/out.json"), 12, `{"metric":"http_req_duration","type":"Point","data":{"time":"2026-11-26T01:26:57Z","value":"fast"}}`,
			`12: not a k6 JSON line`},
		{FormatVegetaJSON, peer("vegeta-12.13.0/regen/results.jsonl"), 3, `{"attack":"x","latency":`, `3: not a vegeta JSON result`},
		{FormatVegetaCSV, peer("vegeta-12.13.0/regen/results.csv"), 2, `1795656417966169346,200,abc,0,3,,b2sK,regen,0,GET,http://x/fast,`,
			`2: column "latency": not a number "abc"`},
		{FormatGatling, peer("gatling-synthetic/simulation.log"), 4, "REQUEST\t\tfast\t17956564\tsoon\tOK\t ", `4: REQUEST end: not a number "soon"`},
		{FormatGatling, peer("gatling-synthetic/simulation.log"), 5, "REQUEST\t\tfast\t2\t1\tMAYBE\t ", `5: REQUEST end 1 before start 2`},
		{FormatLocustStats, peer("locust-2.12.1/run_stats.csv"), 3, "GET,GET fast,lots,0,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1", `3: column "request count": not a number "lots"`},
		{FormatLocustHistory, peer("locust-2.12.1/run_stats_history.csv"), 4, "yesterday,5,GET,GET fast,0,0,0,0,0,0,0,0,0,0,0,0,0,47,0,1,1,1,1,3", `4: column "Timestamp": not a Unix time "yesterday"`},
	}
	for _, c := range cases {
		t.Run(c.format+c.want, func(t *testing.T) {
			t.Parallel()
			path := corrupt(t, c.src, filepath.Base(c.src), c.line, c.with)
			_, err := Import(context.Background(), c.format, []string{path}, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			var le *LineError
			if !errors.As(err, &le) {
				t.Fatalf("err %T %v, want *LineError", err, err)
			}
			if !strings.HasPrefix(err.Error(), path+":") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %q\nwant %s:%s", err, path, c.want)
			}
		})
	}
}

func TestSkipBadLines(t *testing.T) {
	t.Parallel()
	src := peer("jmeter-2.13/results.jtl")
	clean, err := Import(context.Background(), FormatJMeterCSV, []string{src}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := corrupt(t, src, "results.jtl", 17, "1795652827384,abc,GET fast,200,OK,users 1-1,text,true,,119,1,1,http://x/fast,27,0,21")
	data, _ := os.ReadFile(path)
	data = append(data, []byte("garbage\n\"unterminated,1\n")...)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var logged []string
	f, err := Import(context.Background(), FormatJMeterCSV, []string{path}, Options{
		SkipBadLines: true,
		Logf:         func(format string, args ...any) { logged = append(logged, format) },
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := Skipped(f); got != 3 {
		t.Errorf("Skipped = %d, want 3 (reasons %v)", got, f.Validity.Reasons)
	}
	if len(logged) != 3 {
		t.Errorf("logged %d warnings, want 3", len(logged))
	}
	if f.Total.Requests != clean.Total.Requests-1 {
		t.Errorf("requests %d, want %d", f.Total.Requests, clean.Total.Requests-1)
	}
	if !f.Validity.Valid || !strings.Contains(strings.Join(f.Validity.Reasons, ";"), "skipped 3 malformed line(s) in "+path) {
		t.Errorf("validity %+v", f.Validity)
	}
}

func TestTooManyEndpoints(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	for i := 0; i <= MaxEndpoints; i++ {
		sb.WriteString(`{"attack":"a","seq":0,"code":200,"timestamp":"2026-11-26T00:27:43.332953066Z","latency":1110637,"method":"GET","url":"http://h/users/` + fmtInt(i) + "\"}\n")
	}
	path := filepath.Join(t.TempDir(), "r.jsonl")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Import(context.Background(), FormatVegetaJSON, []string{path}, Options{})
	if err == nil || !strings.Contains(err.Error(), "--rename") {
		t.Fatalf("err = %v, want advice to use --rename", err)
	}
	f, err := Import(context.Background(), FormatVegetaJSON, []string{path}, Options{Rename: []string{"/users/{id}"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Endpoints) != 1 || f.Endpoints[0].Name != "GET /users/{id}" || f.Endpoints[0].Requests != MaxEndpoints+1 {
		t.Errorf("endpoints %+v", f.Endpoints)
	}
}

func fmtInt(i int) string {
	if i == 0 {
		return "0"
	}
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func TestRenamer(t *testing.T) {
	t.Parallel()
	r, err := NewRenamer([]string{"/users/{id}", "/users/{id}/orders/{order}", "/static/app.js"})
	if err != nil {
		t.Fatal(err)
	}
	for in, want := range map[string]string{
		"/users/123":             "/users/{id}",
		"GET /users/123":         "GET /users/{id}",
		"GET /users/123?x=1":     "GET /users/{id}",
		"POST /users/9/orders/3": "POST /users/{id}/orders/{order}",
		"/users":                 "/users",
		"/users/":                "/users/", // an empty segment is not an id
		"/users/1/2":             "/users/1/2",
		"GET fast":               "GET fast",
		"/static/app.js":         "/static/app.js",
		"/static/other.js":       "/static/other.js",
	} {
		if got := r.Apply(in); got != want {
			t.Errorf("Apply(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"users/{id}", "/users/x{id}", "/users/{}"} {
		if _, err := NewRenamer([]string{bad}); err == nil {
			t.Errorf("NewRenamer(%q): no error", bad)
		}
	}
}

// TestUnordered: vegeta writes results out of order; shuffling the lines must
// not change any figure, window included.
func TestUnordered(t *testing.T) {
	t.Parallel()
	src := peer("vegeta-12.13.0/regen/results.jsonl")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	rand.New(rand.NewSource(1)).Shuffle(len(lines), func(i, j int) { lines[i], lines[j] = lines[j], lines[i] })
	path := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Import(context.Background(), FormatVegetaJSON, []string{src}, Options{PlanName: "p"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Import(context.Background(), FormatVegetaJSON, []string{path}, Options{PlanName: "p"})
	if err != nil {
		t.Fatal(err)
	}
	if ja, jb := encode(t, a), encode(t, b); ja != jb {
		t.Errorf("shuffled input gives different results (-original +shuffled):\n%s", cmp.Diff(ja, jb))
	}
}

func encode(t *testing.T, f *results.File) string {
	t.Helper()
	var sb strings.Builder
	if err := results.Encode(&sb, f); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

// TestWidenWindows: a run longer than the window budget gets wider windows,
// merged exactly. (The budget is lowered here: at MaxWindows the test would
// allocate ~350 MB of histograms.)
func TestWidenWindows(t *testing.T) {
	t.Parallel()
	const budget = 64
	var sb strings.Builder
	sb.WriteString("timeStamp,elapsed,label,responseCode,success\n")
	const n = budget + 20
	for i := 0; i < n; i++ {
		sb.WriteString(fmtInt(1795652827000+i*1000) + "," + fmtInt(1+i%50) + ",GET fast,200,true\n")
	}
	b := newBuilder(Options{}, nil)
	b.maxWins = budget
	if _, err := importReader(context.Background(), FormatJMeterCSV, "long.jtl", strings.NewReader(sb.String()), b); err != nil {
		t.Fatal(err)
	}
	f := b.file(FormatJMeterCSV, "long")
	e := f.Endpoints[0]
	if len(e.Windows) > budget || e.Windows[0].Width.D().Seconds() != 2 {
		t.Fatalf("%d windows of %v", len(e.Windows), e.Windows[0].Width)
	}
	sum := results.NewHistogram()
	var reqs int64
	for _, w := range e.Windows {
		reqs += w.Requests
		if w.Start.UnixNano()%int64(2*time.Second) != 0 {
			t.Errorf("window start %v not aligned to 2s", w.Start)
		}
		if err := sum.Merge(w.Histogram); err != nil {
			t.Fatal(err)
		}
	}
	// Window histograms keep 1 % precision (results.WindowSignificantDigits),
	// so merged windows agree with the endpoint's histogram within that.
	if reqs != n || sum.Count() != n || !withinPct(sum.Summary(), e.Histogram.Summary(), 1) {
		t.Errorf("windows hold %d requests (%v), endpoint %d (%v)", reqs, sum.Summary(), n, e.Histogram.Summary())
	}
	if !strings.Contains(strings.Join(f.Validity.Reasons, ";"), "windows widened to 2s") {
		t.Errorf("no widening note: %v", f.Validity.Reasons)
	}
}

// withinPct reports whether every figure of a is within pct percent of b's.
func withinPct(a, b results.Summary, pct float64) bool {
	av := []float64{a.P50, a.P90, a.P95, a.P99, a.P999, a.Max, a.Min, a.Mean}
	bv := []float64{b.P50, b.P90, b.P95, b.P99, b.P999, b.Max, b.Min, b.Mean}
	for i := range av {
		if d := av[i] - bv[i]; d > bv[i]*pct/100 || -d > bv[i]*pct/100 {
			return false
		}
	}
	return true
}
