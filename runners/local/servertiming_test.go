package local

import (
	"bufio"
	"crypto/tls"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

func TestScanServerTiming(t *testing.T) {
	t.Parallel()
	cases := []struct {
		pick   string // "" automatic
		header []string
		want   float64 // ms; < 0: no sample
	}{
		{"", []string{"app;dur=12.3"}, 12.3},
		{"", []string{"db;dur=4.1;desc=\"query\", total;dur=20"}, 20},
		{"", []string{"db;dur=4.1", "total;dur=20"}, 20},                  // repeated lines are one list
		{"", []string{"cache;desc=hit, app;dur=7"}, 7},                    // first metric with a dur
		{"", []string{"miss, db;dur=3, app;dur=7"}, 3},                    // first with a dur, not the first metric
		{"", []string{"db;dur=3, total;dur=-1"}, -1},                      // total decides, even when invalid
		{"", []string{"total;desc=x, db;dur=3"}, -1},                      // total without dur: no sample
		{"", []string{"app ; DUR = 5 ; desc=\"a, b;dur=9\""}, 5},          // whitespace, case-insensitive param, quoted comma
		{"", []string{"app;desc=\"x\\\"y\";dur=\"6.5\""}, 6.5},            // escapes; a quoted dur
		{"", []string{"app;dur=1;dur=2"}, 1},                              // the first dur counts
		{"", []string{"app;dur=NaN, db;dur=inf, x;dur=0x10, y;dur=2"}, 2}, // not decimals
		{"", []string{"app;dur=1e3"}, 1000},
		{"", []string{"app;dur=.5"}, 0.5},
		{"", []string{"app;dur=0"}, 0},
		{"", []string{"app;dur="}, -1},
		{"", []string{"app;dur"}, -1},
		{"", []string{"@bad;dur=3, app;dur=4"}, 4},      // a broken metric is skipped to the next comma
		{"", []string{"app;dur=3 junk, db;dur=4"}, 4},   // trailing junk breaks the metric
		{"", []string{"app;desc=\"open, db;dur=4"}, -1}, // unterminated quote swallows the rest
		{"", []string{""}, -1},
		{"", []string{",,, ,"}, -1},
		{"", nil, -1},
		{"db", []string{"app;dur=10, db;dur=4.25"}, 4.25},
		{"db", []string{"app;dur=10"}, -1},
		{"db", []string{"db;desc=x, db;dur=4"}, -1}, // the first db decides
		{"db", []string{"DB;dur=4"}, -1},            // names are case-sensitive
		{"total", []string{"app;dur=10"}, -1},       // a named total does not fall back
	}
	for _, c := range cases {
		for _, asBytes := range []bool{false, true} {
			var r stResult
			for _, h := range c.header {
				if asBytes {
					scanServerTiming(&stPicker{name: c.pick}, []byte(h), &r)
				} else {
					scanServerTiming(&stPicker{name: c.pick}, h, &r)
				}
			}
			got := -1.0
			if r.ok {
				got = r.dur
			}
			if got != c.want {
				t.Errorf("pick %q, %q (bytes %v): got %v, want %v", c.pick, c.header, asBytes, got, c.want)
			}
		}
	}
}

func TestServerTimingMicros(t *testing.T) {
	t.Parallel()
	// The sample keeps the duration in an int32 so that every request's
	// sample stays 56 bytes (the workers' buffers hold thousands of them).
	if results.MaxTrackable+1 > math.MaxInt32 {
		t.Fatalf("MaxTrackable %d µs does not fit sample.srv", results.MaxTrackable)
	}
	if n := unsafe.Sizeof(sample{}); n > 56 {
		t.Errorf("sample is %d bytes, was 56 before Server-Timing", n)
	}
	for _, c := range []struct {
		ms   float64
		want int64
	}{{12.3456, 12346}, {0, 0}, {0.0004, 0}, {1e300, 600_000_001}} {
		if got := (stResult{dur: c.ms, ok: true}).micros(); got != c.want {
			t.Errorf("%v ms = %d µs, want %d", c.ms, got, c.want)
		}
	}
}

// The fast path reads the header without allocating, whether it is there
// or not.
func TestReadResponseServerTimingAllocs(t *testing.T) {
	for _, head := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nServer-Timing: db;dur=4.1;desc=\"q\"\r\nserver-timing: total;dur=12.5\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.1 200 OK\r\nServer-Timing: db;dur=4.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nServer-Timing: total;dur=12.5\r\n\r\n",
	} {
		rd := strings.NewReader(head)
		br := bufio.NewReader(rd)
		st := &stPicker{}
		var r h1Response
		allocs := testing.AllocsPerRun(200, func() {
			rd.Reset(head)
			br.Reset(rd)
			var err error
			r, _, _, err = readResponse(br, "GET", 1<<10, nil, st)
			if err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations per response, want 0", head, allocs)
		}
		if strings.Contains(head, "total") && (!r.server.ok || r.server.dur != 12.5) {
			t.Errorf("%q: server time %+v, want 12.5 ms", head, r.server)
		}
		if !strings.Contains(head, "total") && r.server.ok {
			t.Errorf("%q: server time %+v, want none", head, r.server)
		}
	}
}

// An interim response's Server-Timing is not the final response's.
func TestReadResponseInterimServerTiming(t *testing.T) {
	t.Parallel()
	head := "HTTP/1.1 103 Early Hints\r\nServer-Timing: total;dur=1\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	r, _, _, err := readResponse(bufio.NewReader(strings.NewReader(head)), "GET", 1, nil, &stPicker{})
	if err != nil || r.status != 200 || r.server.ok {
		t.Errorf("status %d, server %+v, err %v; want 200 and no server time", r.status, r.server, err)
	}
}

// The reference parser: the W3C grammar as regular expressions, applied to
// headers that match it exactly. It shares no code with scanServerTiming.
var (
	refToken  = "[!#$%&'*+.^_`|~0-9A-Za-z-]+"
	refQuoted = `"(?:[^"\\]|\\.)*"`
	refParam  = `[ \t]*;[ \t]*(` + refToken + `)[ \t]*=[ \t]*(` + refToken + `|` + refQuoted + `)`
	refMetric = `(` + refToken + `)((?:` + refParam + `)*)`
	refHeader = regexp.MustCompile(`^[ \t]*(?:` + refMetric + `(?:[ \t]*,[ \t]*` + refMetric + `)*)?[ \t]*$`)
	refNext   = regexp.MustCompile(`^[ \t]*,?[ \t]*` + refMetric)
	refParams = regexp.MustCompile(refParam)
	refNumber = regexp.MustCompile(`^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$`)
)

// refServerTiming returns the picked duration, or -1; wellFormed is false
// when the header is outside the grammar (the reference then says nothing).
func refServerTiming(pick, header string) (ms float64, wellFormed bool) {
	if !refHeader.MatchString(header) {
		return -1, false
	}
	want := pick
	if want == "" {
		want = "total"
	}
	first := -1.0
	for rest := header; ; {
		m := refNext.FindStringSubmatchIndex(rest)
		if m == nil {
			break
		}
		name, params := rest[m[2]:m[3]], rest[m[4]:m[5]]
		rest = rest[m[1]:]
		dur := -1.0
		for _, p := range refParams.FindAllStringSubmatch(params, -1) {
			if strings.EqualFold(p[1], "dur") {
				v := strings.Trim(p[2], `"`)
				if f, err := strconv.ParseFloat(v, 64); err == nil && refNumber.MatchString(v) && f >= 0 && !math.IsInf(f, 0) {
					dur = f
				}
				break
			}
		}
		if name == want {
			return dur, true
		}
		if pick == "" && first < 0 && dur >= 0 {
			first = dur
		}
	}
	return first, true
}

func FuzzServerTiming(f *testing.F) {
	for _, s := range []string{
		"app;dur=12.3", "db;dur=4.1;desc=\"x\", total;dur=20", "cache;desc=hit, app;dur=7",
		"app ; DUR = 5 ; desc=\"a, b;dur=9\"", "app;dur=NaN, y;dur=2", "app;dur=-1", "@bad;dur=3, app;dur=4",
		"app;desc=\"open, db;dur=4", "app;dur=1e400", "db;dur=\"3\\\"\"",
	} {
		f.Add("", s)
		f.Add("db", s)
	}
	f.Fuzz(func(t *testing.T, pick, header string) {
		if pick == "off" || pick == "auto" {
			return
		}
		var r, rb stResult
		scanServerTiming(&stPicker{name: pick}, header, &r)
		scanServerTiming(&stPicker{name: pick}, []byte(header), &rb)
		if r != rb {
			t.Fatalf("string and bytes disagree: %+v, %+v", r, rb)
		}
		if r.ok && (r.dur < 0 || math.IsInf(r.dur, 0) || math.IsNaN(r.dur) || r.micros() < 0) {
			t.Fatalf("%q: duration %v", header, r.dur)
		}
		got := -1.0
		if r.ok {
			got = r.dur
		}
		if want, ok := refServerTiming(pick, header); ok && got != want {
			t.Fatalf("pick %q, %q: got %v, reference %v", pick, header, got, want)
		}
	})
}

// serverTimingHandler answers per path with the Server-Timing forms a
// target sends: two metrics with a total, two header lines, none, and a
// total without a usable duration.
func serverTimingHandler(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/total":
		w.Header().Set("Server-Timing", `db;dur=4;desc="select, join", total;dur=25`)
	case "/lines":
		w.Header().Add("Server-Timing", "cache;desc=miss")
		w.Header().Add("Server-Timing", "app;dur=7.5")
	case "/bad":
		w.Header().Set("Server-Timing", "total;dur=-1, app;dur=3")
	case "/trailer":
		// The total is known only after the body: a trailer (chunked on
		// HTTP/1.1), read as one list with the header's metrics.
		w.Header().Set("Trailer", "Server-Timing")
		w.Header().Set("Server-Timing", "db;dur=1")
		_, _ = w.Write([]byte("ok\n"))
		w.(http.Flusher).Flush()
		w.Header().Set("Server-Timing", "total;dur=9")
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// stPlan sends to the four paths of serverTimingHandler.
func stPlan(url string) *plan.Plan {
	return loadPlan(url, 80, 300*time.Millisecond,
		ep("total", "/total", 1), ep("lines", "/lines", 1), ep("none", "/none", 1), ep("bad", "/bad", 1),
		ep("trailer", "/trailer", 1))
}

// checkServerTime asserts that endpoint name has a server sample per
// request at wantMs (0: no histogram at all, endpoint or windows).
func checkServerTime(t *testing.T, f *results.File, name string, wantMs float64) {
	t.Helper()
	e := f.Endpoint(name)
	if e == nil || e.Requests == 0 || e.Errors != 0 {
		t.Fatalf("%s: %+v; want requests, no errors", name, e)
	}
	var winCount int64
	for _, w := range e.Windows {
		if w.ServerHistogram != nil {
			winCount += w.ServerHistogram.Count()
		}
	}
	if wantMs == 0 {
		if e.ServerHistogram != nil || winCount != 0 || e.ServerTime != (results.Summary{}) {
			t.Errorf("%s: server histogram %v, %d window samples, summary %+v; want none", name, e.ServerHistogram, winCount, e.ServerTime)
		}
		return
	}
	if e.ServerHistogram == nil || e.ServerHistogram.Count() != e.Requests || winCount != e.Requests {
		t.Fatalf("%s: server histogram %v, %d window samples, %d requests; want one sample per request", name, e.ServerHistogram, winCount, e.Requests)
	}
	if p50 := e.ServerTime.P50; math.Abs(p50-wantMs) > wantMs*0.002 || math.Abs(e.ServerTime.Max-wantMs) > wantMs*0.002 {
		t.Errorf("%s: server time %+v; want every sample %v ms", name, e.ServerTime, wantMs)
	}
}

// Every HTTP path records the picked metric: the fast HTTP/1.1 client,
// net/http, HTTP/2 (h2c) and the fast path over TLS.
func TestServerTimingRecorded(t *testing.T) {
	t.Parallel()
	h1 := httptest.NewServer(http.HandlerFunc(serverTimingHandler))
	t.Cleanup(h1.Close)
	h2c := httptest.NewUnstartedServer(http.HandlerFunc(serverTimingHandler))
	h2c.Config.Protocols = new(http.Protocols)
	h2c.Config.Protocols.SetUnencryptedHTTP2(true)
	h2c.Start()
	t.Cleanup(h2c.Close)
	k := newTestPKI(t)
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(serverTimingHandler))
	tlsSrv.TLS = &tls.Config{Certificates: []tls.Certificate{k.server}}
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)

	for _, c := range []struct {
		name string
		url  string
		opts Options
		edit func(*plan.Plan)
	}{
		{"fast", h1.URL, Options{}, nil},
		{"net/http", h1.URL, Options{NoFastPath: true}, nil},
		{"h2c", h2c.URL, Options{}, func(p *plan.Plan) { p.HTTP.Version = plan.HTTP2 }},
		{"tls", tlsSrv.URL, Options{}, func(p *plan.Plan) { p.TLS.CAFile = k.caFile }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			p := stPlan(c.url)
			if c.edit != nil {
				c.edit(p)
			}
			f := run(t, p, c.opts)
			checkServerTime(t, f, "total", 25)
			checkServerTime(t, f, "lines", 7.5)
			checkServerTime(t, f, "none", 0)
			checkServerTime(t, f, "bad", 0)
			checkServerTime(t, f, "trailer", 9)
		})
	}
}

// A named metric records only that metric; off records nothing, whatever
// the target sends.
func TestServerTimingPick(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(serverTimingHandler))
	t.Cleanup(srv.Close)
	for _, noFast := range []bool{false, true} {
		p := stPlan(srv.URL)
		p.HTTP.ServerTiming = "db"
		f := run(t, p, Options{NoFastPath: noFast})
		checkServerTime(t, f, "total", 4)
		checkServerTime(t, f, "lines", 0)
		checkServerTime(t, f, "bad", 0)
		checkServerTime(t, f, "trailer", 1) // the header's db, the trailer does not replace it

		p = stPlan(srv.URL)
		p.HTTP.ServerTiming = plan.ServerTimingOff
		f = run(t, p, Options{NoFastPath: noFast})
		for _, name := range []string{"total", "lines", "none", "bad", "trailer"} {
			checkServerTime(t, f, name, 0)
		}
	}
}
