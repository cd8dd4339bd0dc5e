package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

// recorded is one request the recording target saw.
type recorded struct {
	path, auth, reqID, body string
}

// recordingTarget answers /login with a token (or what login says) and
// records every other request.
type recordingTarget struct {
	mu    sync.Mutex
	reqs  []recorded
	login func(w http.ResponseWriter)
}

func (rt *recordingTarget) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	if r.URL.Path == "/login" {
		if rt.login != nil {
			rt.login(w)
			return
		}
		w.Header().Set("X-Session", "sess-42")
		fmt.Fprint(w, `{"data":{"token":"tok-SECRET-1"}}`)
		return
	}
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, recorded{r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("X-Request-Id"), string(b)})
	rt.mu.Unlock()
}

func (rt *recordingTarget) requests() []recorded {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]recorded(nil), rt.reqs...)
}

// dataPlan writes rows (CSV with column id) and parses a plan around the
// given endpoint and profile YAML.
func dataPlan(t *testing.T, url, mode string, rows int, endpoints, profile string) *plan.Plan {
	t.Helper()
	dir := t.TempDir()
	var csv strings.Builder
	csv.WriteString("id,name\n")
	for i := 1; i <= rows; i++ {
		fmt.Fprintf(&csv, "%d,n%d\n", i, i)
	}
	if err := os.WriteFile(filepath.Join(dir, "ids.csv"), []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	src := fmt.Sprintf(`name: data
target: %s
data:
  ids: {file: ids.csv, mode: %s}
setup:
  - name: login
    request: POST /login
    extract:
      token: {json: data.token}
      session: {header: X-Session}
defaults:
  headers: {Authorization: "Bearer {{ vars.token }}"}
endpoints:
%s
profile: %s
`, url, mode, endpoints, profile)
	p, err := plan.Parse([]byte(src), filepath.Join(dir, "p.yaml"), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const templatedEndpoint = `  - name: item
    request: GET /items/{{ data.ids.id }}?s={{ vars.session }}
    headers: {X-Request-Id: "{{ uuid }}"}
    body: '{"n":{{ seq }},"name":"{{ data.ids.name }}","r":{{ randint(3, 4) }}}'`

var itemRE = regexp.MustCompile(`^/items/(\d+)\?s=sess-42$`)
var bodyRE = regexp.MustCompile(`^\{"n":(\d+),"name":"n(\d+)","r":[34]\}$`)
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

// ids checks every recorded request's rendering and returns the ids and
// seq values sent.
func ids(t *testing.T, reqs []recorded) (idList, seqs []string) {
	t.Helper()
	for _, r := range reqs {
		m := itemRE.FindStringSubmatch(r.path)
		b := bodyRE.FindStringSubmatch(r.body)
		if m == nil || b == nil || b[2] != m[1] || r.auth != "Bearer tok-SECRET-1" || !uuidRE.MatchString(r.reqID) {
			t.Fatalf("badly rendered request %+v", r)
		}
		idList = append(idList, m[1])
		seqs = append(seqs, b[1])
	}
	return idList, seqs
}

func counts(s []string) map[string]int {
	m := map[string]int{}
	for _, x := range s {
		m[x]++
	}
	return m
}

func TestTemplatedSequentialBothPaths(t *testing.T) {
	t.Parallel()
	for _, noFast := range []bool{false, true} {
		rt := &recordingTarget{}
		srv := httptest.NewServer(rt)
		defer srv.Close()
		p := dataPlan(t, srv.URL, "sequential", 5, templatedEndpoint, "{type: load, rate: 50/s, duration: 1s}")
		f := run(t, p, Options{NoFastPath: noFast})
		reqs := rt.requests()
		if len(reqs) != 50 {
			t.Fatalf("noFast=%v: %d requests, want 50", noFast, len(reqs))
		}
		idl, seqs := ids(t, reqs)
		for id, n := range counts(idl) {
			if n != 10 {
				t.Errorf("noFast=%v: id %s sent %d times, want 10 (sequential over 5 rows): %v", noFast, id, n, counts(idl))
			}
		}
		if c := counts(seqs); len(c) != 50 || c["1"] != 1 || c["50"] != 1 {
			t.Errorf("noFast=%v: seq values not 1..50: %v", noFast, c)
		}
		// One endpoint in results, recorded as written, with no secret.
		if len(f.Endpoints) != 1 || f.Endpoints[0].Name != "item" || !strings.Contains(f.Endpoints[0].URL, "{{ data.ids.id }}") {
			t.Errorf("results endpoint: %+v", f.Endpoints)
		}
		if enc := string(mustEncode(t, f)); strings.Contains(enc, "tok-SECRET") || strings.Contains(enc, "sess-42") {
			t.Errorf("results hold an extracted value")
		}
		if got := p.Redact("Bearer tok-SECRET-1 s=sess-42"); got != "Bearer *** s=***" {
			t.Errorf("extracted values not redacted: %q", got)
		}
	}
}

func TestTemplatedUniqueAndRandom(t *testing.T) {
	t.Parallel()
	rt := &recordingTarget{}
	srv := httptest.NewServer(rt)
	defer srv.Close()
	run(t, dataPlan(t, srv.URL, "unique", 60, templatedEndpoint, "{type: load, rate: 50/s, duration: 1s}"), Options{})
	idl, _ := ids(t, rt.requests())
	if c := counts(idl); len(idl) != 50 || len(c) != 50 {
		t.Errorf("unique: %d requests, %d distinct ids", len(idl), len(c))
	}

	rt2 := &recordingTarget{}
	srv2 := httptest.NewServer(rt2)
	defer srv2.Close()
	run(t, dataPlan(t, srv2.URL, "random", 3, templatedEndpoint, "{type: load, rate: 60/s, duration: 1s}"), Options{})
	c := counts(func() []string { l, _ := ids(t, rt2.requests()); return l }())
	// 60 uniform draws over 3 rows all landing on one row: p = 3·(1/3)^60.
	if len(c) < 2 || c["1"]+c["2"]+c["3"] != 60 {
		t.Errorf("random: %v", c)
	}
}

// TestDistributedSplit: two workers of one run (Shard 0 and 1 of 2) send
// disjoint unique rows and disjoint seq values.
func TestDistributedSplit(t *testing.T) {
	t.Parallel()
	rt := &recordingTarget{}
	srv := httptest.NewServer(rt)
	defer srv.Close()
	var wg sync.WaitGroup
	for shard := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := dataPlan(t, srv.URL, "unique", 40, templatedEndpoint, "{type: load, rate: 40/s, duration: 1s}")
			if _, err := New(Options{RateScale: 0.5, Shard: shard, Shards: 2}).Run(context.Background(), p); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	idl, seqs := ids(t, rt.requests())
	if c := counts(idl); len(idl) != 40 || len(c) != 40 {
		t.Errorf("%d requests, %d distinct ids (unique rows must not repeat across workers)", len(idl), len(c))
	}
	if c := counts(seqs); len(c) != 40 {
		t.Errorf("seq values repeat across workers: %v", c)
	}
}

func TestUniqueExhaustedMakesRunInvalid(t *testing.T) {
	t.Parallel()
	rt := &recordingTarget{}
	srv := httptest.NewServer(rt)
	defer srv.Close()
	p := dataPlan(t, srv.URL, "unique", 5, templatedEndpoint, "{type: load, vus: 1, duration: 1s}")
	f := run(t, p, Options{})
	if n := len(rt.requests()); n != 5 {
		t.Errorf("%d requests, want the 5 rows", n)
	}
	v := f.Validity
	if v.Valid || !strings.Contains(strings.Join(v.Causes, ","), results.CauseDataExhausted) || !strings.Contains(strings.Join(v.Reasons, " "), "data source ids (mode unique) ran out of rows") {
		t.Errorf("validity %+v", v)
	}
}

func TestSetupFailures(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		login func(w http.ResponseWriter)
		want  string
	}{
		{"status", func(w http.ResponseWriter) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"pw hunter2"}`)
		}, "status 401, want 2xx or 3xx"},
		{"missing key", func(w http.ResponseWriter) {
			w.Header().Set("X-Session", "s")
			fmt.Fprint(w, `{"data":{"tok":"hunter2"}}`)
		}, `extract token from JSON data.token: at /data: no key "token"`},
		{"not json", func(w http.ResponseWriter) { fmt.Fprint(w, `<html>hunter2</html>`) }, "the response body is not JSON"},
		{"empty", func(w http.ResponseWriter) { fmt.Fprint(w, `{"data":{"token":""}}`) }, "extract token from JSON data.token: empty value"},
		{"no header", func(w http.ResponseWriter) { fmt.Fprint(w, `{"data":{"token":"hunter2"}}`) }, "extract session: the response has no header X-Session"},
	}
	for _, c := range cases {
		rt := &recordingTarget{login: c.login}
		srv := httptest.NewServer(rt)
		p := dataPlan(t, srv.URL, "sequential", 5, templatedEndpoint, "{type: load, rate: 50/s, duration: 1s}")
		f, err := New(Options{}).Run(context.Background(), p)
		srv.Close()
		var se *SetupError
		if f != nil || !errors.As(err, &se) || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), `setup step "login" (POST /login) failed`) {
			t.Errorf("%s: %v, want a SetupError with %q", c.name, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: the error quotes the response: %v", c.name, err)
		}
		if n := len(rt.requests()); n != 0 {
			t.Errorf("%s: %d requests sent after a failed setup", c.name, n)
		}
	}
}

func TestThinkTimeBoundsClosedModel(t *testing.T) {
	t.Parallel()
	rt := &recordingTarget{}
	srv := httptest.NewServer(rt)
	defer srv.Close()
	p := dataPlan(t, srv.URL, "sequential", 5, templatedEndpoint, "{type: load, vus: 2, duration: 1s, think_time: 200ms}")
	run(t, p, Options{})
	// Each VU waits 200 ms after every response: at most 5 requests per VU
	// in 1 s, however fast the target (a slow machine only sends fewer).
	if n := len(rt.requests()); n < 2 || n > 2*6 {
		t.Errorf("%d requests with 2 VUs and 200 ms think time over 1 s", n)
	}
}

func TestThinkerDistributions(t *testing.T) {
	t.Parallel()
	u := newThinker(plan.ThinkTime{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond})
	e := newThinker(plan.ThinkTime{Mean: 10 * time.Millisecond})
	var sum time.Duration
	for range 2000 {
		if d := u.next(); d < 10*time.Millisecond || d > 20*time.Millisecond {
			t.Fatalf("uniform draw %v", d)
		}
		d := e.next()
		if d < 0 || d > plan.MaxThinkFactor*10*time.Millisecond {
			t.Fatalf("exponential draw %v", d)
		}
		sum += d
	}
	if mean := sum / 2000; mean < 8*time.Millisecond || mean > 12*time.Millisecond {
		t.Errorf("exponential mean %v, want about 10ms", mean)
	}
	if newThinker(plan.ThinkTime{}) != nil {
		t.Error("no think time must cost nothing")
	}
}

func TestPlainEndpointHasNoBuilder(t *testing.T) {
	t.Parallel()
	p := &plan.Plan{Name: "b", Target: "http://127.0.0.1:1", Endpoints: []plan.Endpoint{{Name: "a", Method: "GET", Path: "/x", Body: "{}"}}}
	eps, err := buildEndpoints(p)
	if err != nil || eps[0].dyn != nil {
		t.Errorf("plain endpoint got a builder: %v", err)
	}
}
