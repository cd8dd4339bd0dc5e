package local

import (
	"context"
	"errors"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

func newTarget(t *testing.T, opts target.Options) (*target.Handler, string) {
	t.Helper()
	h := target.New(opts)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func loadPlan(url string, rate float64, d time.Duration, eps ...plan.Endpoint) *plan.Plan {
	return &plan.Plan{
		Name: "test", Target: url, Endpoints: eps,
		Profile: plan.Profile{Type: plan.ProfileLoad, Rate: rate, Duration: d},
	}
}

func ep(name, path string, weight int) plan.Endpoint {
	return plan.Endpoint{Name: name, Method: http.MethodGet, Path: path, Weight: weight}
}

func run(t *testing.T, p *plan.Plan, opts Options) *results.File {
	t.Helper()
	f, err := New(opts).Run(context.Background(), p)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if _, err := results.DecodeBytes(mustEncode(t, f), "x"); err != nil {
		t.Fatalf("results do not round-trip: %v", err)
	}
	return f
}

func mustEncode(t *testing.T, f *results.File) []byte {
	t.Helper()
	var b bytesBuffer
	if err := results.Encode(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.b
}

type bytesBuffer struct{ b []byte }

func (w *bytesBuffer) Write(p []byte) (int, error) { w.b = append(w.b, p...); return len(p), nil }

func TestOpenModelCountsAndWeights(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	p := loadPlan(url, 300, 2*time.Second, ep("a", "/fast", 2), ep("b", "/delay?ms=2", 1))
	p.Profile.Warmup = time.Second
	var mu sync.Mutex
	var snaps []runners.Progress
	r := New(Options{Label: "head"})
	r.OnProgress(func(pr runners.Progress) { mu.Lock(); snaps = append(snaps, pr); mu.Unlock() })
	f, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	v := f.Validity
	// 300/s over 1 s warm-up + 2 s = 900 arrivals.
	if v.Scheduled != 900 || v.Sent+v.Dropped != v.Scheduled {
		t.Errorf("scheduled %d sent %d dropped %d, want 900 scheduled", v.Scheduled, v.Sent, v.Dropped)
	}
	// Measured (warm-up excluded): 600 requests, weights 2:1 exactly.
	a, b := f.Endpoint("a"), f.Endpoint("b")
	if a.Requests+b.Requests != v.Sent-300 || a.Requests != 2*b.Requests {
		t.Errorf("requests a=%d b=%d (sent %d), want 400/200", a.Requests, b.Requests, v.Sent)
	}
	// Throughput is over the real sending span: 300/s unless this busy
	// test host made the generator finish late.
	span := f.Run.Ended.Sub(f.Run.Started) - time.Second
	if want := float64(a.Requests+b.Requests) / span.Seconds(); math.Abs(f.Total.ThroughputRPS-want) > 1 || f.Total.ThroughputRPS > 303 {
		t.Errorf("throughput %.1f rps, want %.1f (≤ 300)", f.Total.ThroughputRPS, want)
	}
	if a.Errors != 0 || a.Status["200"] != a.Requests {
		t.Errorf("a: errors %d status %v", a.Errors, a.Status)
	}
	if b.Latency.P50 < 2 {
		t.Errorf("b p50 = %v ms, want ≥ 2", b.Latency.P50)
	}
	if len(f.Total.Windows) != 3 || !f.Total.Windows[0].Warmup || f.Total.Windows[1].Warmup {
		t.Errorf("windows: %+v", f.Total.Windows)
	}
	for i, w := range f.Total.Windows {
		if math.Abs(w.OfferedRPS-300) > 0.01 || w.Width.D() != time.Second {
			t.Errorf("window %d: offered %.2f width %v", i, w.OfferedRPS, w.Width)
		}
		if i > 0 && !w.Start.Equal(f.Total.Windows[i-1].Start.Add(time.Second)) {
			t.Errorf("window %d starts at %v", i, w.Start)
		}
	}
	if f.Run.Runner != "local" || f.Run.Label != "head" || f.Run.Workers != 1 || f.Profile.Model != "open" ||
		f.Profile.Duration.D() != 2*time.Second || f.Profile.Warmup.D() != time.Second {
		t.Errorf("metadata: %+v %+v", f.Run, f.Profile)
	}
	if f.Endpoints[0].Name != "a" || f.Endpoints[1].Name != "b" {
		t.Errorf("endpoint order: %s, %s", f.Endpoints[0].Name, f.Endpoints[1].Name)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(snaps) < 2 || snaps[len(snaps)-1].Requests == 0 {
		t.Errorf("progress snapshots: %+v", snaps)
	}
}

func TestRateScale(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	f := run(t, loadPlan(url, 400, time.Second, ep("a", "/fast", 1)), Options{RateScale: 0.25})
	if f.Validity.Scheduled != 100 || f.Profile.Rate != 100 {
		t.Errorf("scheduled %d, profile rate %v; want 100", f.Validity.Scheduled, f.Profile.Rate)
	}
}

func TestStartAtBarrier(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	at := time.Now().Add(300 * time.Millisecond)
	f := run(t, loadPlan(url, 50, 500*time.Millisecond, ep("a", "/fast", 1)), Options{StartAt: at})
	if !f.Run.Started.Equal(at) || !f.Total.Windows[0].Start.Equal(at) {
		t.Errorf("started %v, first window %v; want %v", f.Run.Started, f.Total.Windows[0].Start, at)
	}
}

func TestErrorClassification(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + ln.Addr().String()
	ln.Close()

	cases := []struct {
		name, url, path string
		timeout         time.Duration
		maxBody         int64
		expect          []int
		kind            string
	}{
		{"refused", closedURL, "/fast", 0, 0, nil, runners.ErrRefused},
		{"reset", url, "/reset", 0, 0, nil, runners.ErrReset},
		{"timeout", url, "/delay?ms=300", 50 * time.Millisecond, 0, nil, runners.ErrTimeout},
		{"body_too_large", url, "/bytes?n=100000000", 0, 1 << 20, nil, runners.ErrBodyTooLarge},
		{"status", url, "/status?code=503", 0, 0, nil, runners.ErrStatus},
		{"status_expected", url, "/status?code=404", 0, 0, []int{404}, ""},
		{"status_unexpected_2xx", url, "/fast", 0, 0, []int{201}, runners.ErrStatus},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := ep(tc.name, tc.path, 1)
			e.Timeout = tc.timeout
			e.Expect.Status = tc.expect
			p := loadPlan(tc.url, 20, 500*time.Millisecond, e)
			p.Defaults.MaxBodyBytes = tc.maxBody
			var f *results.File
			if tc.kind == runners.ErrRefused {
				// Nothing connects: the run ends in an UnreachableError,
				// its results still complete.
				var err error
				f, err = New(Options{}).Run(context.Background(), p)
				var ue *UnreachableError
				if !errors.As(err, &ue) || ue.Early || ue.Failed != 10 || !strings.Contains(ue.First, "refused") {
					t.Fatalf("err %v, want an UnreachableError for the whole run with 10 refused", err)
				}
			} else {
				f = run(t, p, Options{})
			}
			got := f.Endpoint(tc.name)
			if got.Requests != 10 {
				t.Errorf("requests %d, want 10", got.Requests)
			}
			if tc.kind == "" {
				if got.Errors != 0 {
					t.Errorf("errors %d %v, want none", got.Errors, got.ErrorKinds)
				}
				return
			}
			if got.Errors != got.Requests || got.ErrorKinds[tc.kind] != got.Requests {
				t.Errorf("errors %d kinds %v, want all %s", got.Errors, got.ErrorKinds, tc.kind)
			}
			if tc.kind == runners.ErrBodyTooLarge && got.Bytes > 10*(1<<20) {
				t.Errorf("read %d bytes, want ≤ 10 × 1 MiB", got.Bytes)
			}
		})
	}
}

// TestCoordinatedOmission runs against /stall (100 ms stall every 400 ms)
// through two connections, as a closed-loop tool would: a quarter of the
// arrivals land in a stall and wait 0–100 ms for its end, so latency from the
// intended time has p90 ≈ 60 ms and p99 ≈ 96 ms, while the service time of
// most requests (those queued behind the stalled ones) stays small.
//
// Not parallel: with two connections the queue amplifies any CPU starvation
// from the other tests; sequential tests run before the parallel ones start.
func TestCoordinatedOmission(t *testing.T) {
	_, url := newTarget(t, target.Options{StallPeriod: 400 * time.Millisecond, StallFor: 100 * time.Millisecond})
	p := loadPlan(url, 100, 2*time.Second, ep("stall", "/stall", 1))
	p.Profile.MaxInFlight = 2
	f := run(t, p, Options{})
	e := f.Endpoint("stall")
	// Only lower bounds: a starved machine (-race, other jobs) adds its own
	// delays, but a tool with coordinated omission would report a few ms here.
	if e.Latency.P99 < 80 {
		t.Errorf("latency p99 = %.1f ms, want ≈ 96 (the stall shows); service %+v", e.Latency.P99, e.ServiceTime)
	}
	if e.Latency.P90 < 45 {
		t.Errorf("latency p90 = %.1f ms, want ≈ 60", e.Latency.P90)
	}
	if e.ServiceTime.P90 > e.Latency.P90/2 {
		t.Errorf("service time p90 = %.1f ms, want well under the latency p90 %.1f ms", e.ServiceTime.P90, e.Latency.P90)
	}
	// The requests queued behind the single connection started late: the run
	// says so instead of passing off the queue as the target's latency.
	if v := f.Validity; v.Valid || v.Late == 0 || v.LagP99Ms < 50 || v.Dropped != 0 || !v.OnlyBehind() {
		t.Errorf("validity %+v: want invalid with late requests, none dropped", v)
	}
}

func TestDroppedMakesRunInvalid(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	p := loadPlan(url, 100, time.Second, ep("slow", "/delay?ms=200", 1))
	p.Profile.MaxInFlight = 1 // can serve ~5/s of the 100/s asked for
	f := run(t, p, Options{})
	v := f.Validity
	if v.Valid || v.Dropped < 30 || len(v.Reasons) == 0 || !slices.Contains(v.Causes, results.CauseDropped) || v.OnlyBehind() {
		t.Errorf("validity %+v: want invalid with most requests dropped", v)
	}
	if v.Sent+v.Dropped != v.Scheduled {
		t.Errorf("sent %d + dropped %d != scheduled %d", v.Sent, v.Dropped, v.Scheduled)
	}
}

func TestValidRun(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	f := run(t, loadPlan(url, 100, time.Second, ep("a", "/fast", 1)), Options{})
	v := f.Validity
	if v.Dropped != 0 || v.Sent != 100 || v.Scheduled != 100 || v.GeneratorCPU <= 0 || v.LagMaxMs <= 0 {
		t.Errorf("validity %+v", v)
	}
	// On a loaded machine (-race, parallel tests) the schedule can lag; the
	// run must then say why.
	if v.Valid == (len(v.Reasons) > 0 && v.GeneratorCPU <= HighGeneratorCPU) {
		t.Errorf("valid = %v with reasons %q", v.Valid, v.Reasons)
	}
}

func TestCancelReturnsPartial(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	r := New(Options{})
	r.OnProgress(func(runners.Progress) { cancel() }) // first snapshot, ~1 s in
	f, err := r.Run(ctx, loadPlan(url, 100, 30*time.Second, ep("a", "/delay?ms=5", 1)))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if f == nil || !f.Run.Partial || f.Total.Requests < 50 || f.Total.Requests > 200 {
		t.Fatalf("partial results: %+v", f)
	}
	if d := f.Run.Ended.Sub(f.Run.Started); d > 3*time.Second {
		t.Errorf("partial run lasted %v", d)
	}
	if n := len(f.Total.Windows); n > 3 {
		t.Errorf("%d windows for a ~1 s run", n)
	}
}

func TestClosedModel(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	p := &plan.Plan{Name: "closed", Target: url, Endpoints: []plan.Endpoint{ep("a", "/delay?ms=10", 1)},
		Profile: plan.Profile{Type: plan.ProfileLoad, VUs: 4, Duration: time.Second}}
	f := run(t, p, Options{})
	// 4 VUs × ~1 s / ≥10 ms: at most 400 requests (fewer on a starved machine).
	if n := f.Total.Requests; n > 400 || n < 10 {
		t.Errorf("closed model: %d requests", n)
	}
	if f.Profile.Model != "closed" || f.Profile.VUs != 4 || f.Validity.Sent != f.Total.Requests || !f.Validity.Valid {
		t.Errorf("profile %+v validity %+v", f.Profile, f.Validity)
	}
}

func TestRedirectsStayOnAllowedHosts(t *testing.T) {
	t.Parallel()
	var hits sync.Map
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Store("other", true)
	}))
	defer other.Close()
	// Same IP, but the redirect names "localhost", which the allow list lacks.
	otherURL := "http://localhost:" + other.Listener.Addr().(*net.TCPAddr).AddrPort().String()[len("127.0.0.1:"):]
	mux := http.NewServeMux()
	mux.HandleFunc("/away", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, otherURL+"/x", http.StatusFound) })
	mux.HandleFunc("/home", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/fast", http.StatusFound) })
	mux.HandleFunc("/fast", func(w http.ResponseWriter, r *http.Request) {})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	// Both paths: the fast one (which learns of the redirect from its own
	// parser) and net/http.
	for _, noFast := range []bool{false, true} {
		p := loadPlan(srv.URL, 10, 300*time.Millisecond, ep("away", "/away", 1), ep("home", "/home", 1), ep("expected", "/away", 1))
		p.Endpoints[2].Expect.Status = []int{302} // a plan that asks for the redirect itself
		p.Targets.Allow = []string{"127.0.0.1"}
		f := run(t, p, Options{NoFastPath: noFast})
		if _, ok := hits.Load("other"); ok {
			t.Error("followed a redirect to a host outside targets.allow")
		}
		away := f.Endpoint("away")
		if away.Status["302"] == 0 || away.Errors != away.Requests || away.ErrorKinds[runners.ErrRedirectDisallowed] != away.Requests {
			t.Errorf("noFast=%v away: status %v, errors %d %v; want every 302 a %s error",
				noFast, away.Status, away.Errors, away.ErrorKinds, runners.ErrRedirectDisallowed)
		}
		if exp := f.Endpoint("expected"); exp.Errors != 0 || exp.Status["302"] != exp.Requests {
			t.Errorf("noFast=%v expected: status %v, errors %v; an expected 302 is a success", noFast, exp.Status, exp.ErrorKinds)
		}
		if got := f.Endpoint("home").Status["200"]; got == 0 || f.Endpoint("home").Errors != 0 {
			t.Errorf("noFast=%v home: status %v, want the followed 200", noFast, f.Endpoint("home").Status)
		}
		if len(f.Run.Warnings) != 1 || !strings.Contains(f.Run.Warnings[0], "outside targets.allow (first: localhost:") {
			t.Errorf("noFast=%v warnings %q, want one naming the redirect's host", noFast, f.Run.Warnings)
		}
	}
}

func TestBadPlan(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]*plan.Plan{
		"no endpoints": {Name: "x", Target: "http://127.0.0.1:1", Profile: plan.Profile{Rate: 1, Duration: time.Second}},
		"bad target":   loadPlan("ftp://x", 1, time.Second, ep("a", "/", 1)),
		"no duration":  loadPlan("http://127.0.0.1:1", 1, 0, ep("a", "/", 1)),
	} {
		if _, err := New(Options{}).Run(context.Background(), p); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestMaxLagOption(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{StallPeriod: 400 * time.Millisecond, StallFor: 100 * time.Millisecond})
	p := loadPlan(url, 50, time.Second, ep("stall", "/stall", 1))
	p.Profile.MaxInFlight = 1 // requests queue behind each stall: lag ≈ 100 ms
	f := run(t, p, Options{MaxLagP99: time.Hour})
	// The option lifts the lag limit only: on a busy machine the single
	// worker can fall so far behind that requests are dropped (over a
	// second late), which still invalidates the run, for that reason alone.
	if slices.Contains(f.Validity.Causes, results.CauseBehind) || f.Validity.LagP99Ms < 20 {
		t.Errorf("validity %+v: want no lag cause despite the lag, with the lag reported", f.Validity)
	}
	if !f.Validity.Valid && !slices.Equal(f.Validity.Causes, []string{results.CauseDropped}) {
		t.Errorf("validity %+v: invalid for a reason other than dropped requests", f.Validity)
	}
}

// A generator that falls behind sends past the planned end: run.ended is
// when it really stopped, and throughput is computed over that span.
func TestEndedIsRealTime(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	// One request in flight at a time, each 400 ms, 20 arrivals/s for 1 s:
	// the scheduler waits for the only worker and is still dispatching
	// (or dropping) arrivals of the first second well after it.
	p := loadPlan(url, 20, time.Second, ep("slow", "/delay?ms=400", 1))
	f, err := New(Options{MaxInFlight: 1}).Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	span := f.Run.Ended.Sub(f.Run.Started)
	if span <= 1100*time.Millisecond {
		t.Errorf("ended %v after the start; the generator sent until > 1.1 s", span)
	}
	want := float64(f.Total.Requests) / span.Seconds()
	if math.Abs(f.Total.ThroughputRPS-want) > 0.01*want {
		t.Errorf("throughput %.3f/s, want %.3f/s (requests over the real span)", f.Total.ThroughputRPS, want)
	}
}

// A target from the environment is a secret for the plan (its value is
// redacted wherever it appears), but the results must still name the host
// the load went to, not "***".
func TestResultsTargetFromEnvKeepsHost(t *testing.T) {
	t.Parallel()
	_, url := newTarget(t, target.Options{})
	p, err := plan.Parse([]byte("name: env-target\ntarget: ${TARGET_URL}\nendpoints:\n  - name: root\n    request: GET /\nprofile:\n  type: load\n  rate: 20/s\n  duration: 300ms\n"),
		"env.yaml", ".", func(k string) string {
			if k == "TARGET_URL" {
				return url
			}
			return ""
		})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Redact(url); got != "***" {
		t.Fatalf("the target is not a secret of the plan (Redact = %q): the test shows nothing", got)
	}
	f := run(t, p, Options{})
	if f.Run.Target != url {
		t.Errorf("run.target = %q, want %s", f.Run.Target, url)
	}
}
