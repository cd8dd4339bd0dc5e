package gate

import (
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/results"
)

// busy is one endpoint on a busy runner: the handler's own time (log-normal,
// median serverMs × slow), reported in Server-Timing by a share of the
// responses, and in front of it a queueing delay (exponential, mean queueMs
// × the window's level) that the client sees and the server does not.
type busy struct {
	name              string
	serverMs, slow    float64
	queueMs           float64
	windows, rps      int
	reported          float64 // share of responses carrying Server-Timing
	serverLevelShared bool    // the window's level scales server time too
}

func (b busy) slowed(f float64) busy { b.slow = f; return b }

// synthBusy builds a results file like synth, with Server-Timing histograms
// per window. levels[i] scales measured window i's queueing (a machine that
// gets busier and quieter, shared by both sides of a pair when the caller
// passes the same levels); nil is 1 throughout.
func synthBusy(t testing.TB, seed uint64, levels []float64, specs ...busy) *results.File {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	f, t0 := synthFile()
	for _, s := range specs {
		if s.slow == 0 {
			s.slow = 1
		}
		e := results.Endpoint{Name: s.name, Precision: results.PrecisionExact, Histogram: results.NewHistogram()}
		for w := -1; w < s.windows; w++ {
			lvl := 1.0
			if w >= 0 && levels != nil {
				lvl = levels[w]
			}
			win := results.Window{Start: t0.Add(time.Duration(w+1) * time.Second), Width: results.Duration(time.Second),
				Histogram: results.NewWindowHistogram(), Warmup: w < 0}
			var server *results.Histogram
			for range s.rps {
				srv := s.serverMs * s.slow * math.Exp(0.3*rng.NormFloat64())
				if s.serverLevelShared {
					srv *= lvl
				}
				client := srv + s.queueMs*lvl*rng.ExpFloat64()
				win.Histogram.RecordMicros(int64(client * 1000))
				win.Requests++
				if rng.Float64() < s.reported {
					if server == nil {
						server = results.NewWindowHistogram()
					}
					server.RecordMicros(int64(srv * 1000))
				}
			}
			win.ServerHistogram = server
			if !win.Warmup {
				_ = e.Histogram.Merge(win.Histogram)
				if server != nil {
					if e.ServerHistogram == nil {
						e.ServerHistogram = results.NewHistogram()
					}
					_ = e.ServerHistogram.Merge(server)
				}
				e.Requests += win.Requests
			}
			e.Windows = append(e.Windows, win)
		}
		e.Finalize(time.Duration(s.windows) * time.Second)
		f.Endpoints = append(f.Endpoints, e)
	}
	return f
}

// withoutServerTime is f as a target without Server-Timing would have left it.
func withoutServerTime(f *results.File) *results.File {
	g := *f
	g.Endpoints = make([]results.Endpoint, len(f.Endpoints))
	for i, e := range f.Endpoints {
		e.ServerHistogram, e.ServerTime = nil, results.Summary{}
		e.Windows = append([]results.Window(nil), e.Windows...)
		for j := range e.Windows {
			w := &e.Windows[j]
			w.ServerHistogram = nil
			w.ServerP50, w.ServerP90, w.ServerP95, w.ServerP99, w.ServerMax = 0, 0, 0, 0, 0
		}
		g.Endpoints[i] = e
	}
	return &g
}

func serverCheck(e EndpointVerdict, m Metric) (Check, bool) {
	for _, c := range e.Checks {
		if c.Metric == m && c.Kind == "baseline" && c.Source == SourceServer {
			return c, true
		}
	}
	return Check{}, false
}

func serverChecksOf(e EndpointVerdict) []Check {
	var out []Check
	for _, c := range e.Checks {
		if c.Source == SourceServer {
			out = append(out, c)
		}
	}
	return out
}

// busyLevels is a machine whose load wanders window by window (×0.5 … ×2).
func busyLevels(seed uint64, n int) []float64 {
	rng := rand.New(rand.NewPCG(seed, 3))
	out := make([]float64, n)
	for i := range out {
		out[i] = math.Exp(0.35 * rng.NormFloat64())
	}
	return out
}

var (
	// A 2 ms handler behind 20 ms of queueing on average: the client-seen
	// p95 is almost all queue.
	busyAPI   = busy{name: "api", serverMs: 2, queueMs: 20, windows: 20, rps: 200, reported: 1}
	busyOther = busy{name: "other", serverMs: 5, queueMs: 20, windows: 20, rps: 200, reported: 1}
)

// The case server time exists for: on a busy runner a handler 20 % slower
// moves the client-seen p95 by about 1 % (far inside the +10 % tolerance),
// and the server p95 by 20 %. Paired mode catches it through the server
// check; the same runs without Server-Timing do not, and the unchanged
// endpoint passes on both.
func TestServerTimeCatchesDilutedSlowdown(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	for seed := uint64(0); seed < 3; seed++ {
		lv := busyLevels(40+seed, busyAPI.windows)
		base := synthBusy(t, 100+seed, lv, busyAPI, busyOther)
		head := synthBusy(t, 200+seed, lv, busyAPI.slowed(1.2), busyOther)
		v := ComparePaired(base, head, pol)
		api := endpoint(t, v, "api")
		client := check(t, api, P95, "baseline")
		srv, ok := serverCheck(api, P95)
		if !ok {
			t.Fatalf("seed %d: no server p95 check: %+v", seed, api.Checks)
		}
		if client.Decision == Regressed || client.Delta > 0.1 {
			t.Errorf("seed %d: client p95 should be diluted below the tolerance: %+v", seed, client)
		}
		if srv.Decision != Regressed || srv.Delta < 0.12 || srv.Delta > 0.3 || !(srv.CILow > 0) || srv.Label() != "server p95" {
			t.Errorf("seed %d: server p95 +20 %%: %+v", seed, srv)
		}
		if got := v.Regressions(); v.Decision != Regressed || len(got) != 1 || got[0] != "api" {
			t.Errorf("seed %d: verdict %s, regressed %v", seed, v.Decision, got)
		}
		for _, c := range endpoint(t, v, "other").Checks {
			if c.Decision != Pass {
				t.Errorf("seed %d: unchanged endpoint %s %s: %+v", seed, c.Label(), c.Decision, c)
			}
		}
		// Client latency alone: the same runs, no Server-Timing.
		w := ComparePaired(withoutServerTime(base), withoutServerTime(head), pol)
		if len(w.Regressions()) != 0 {
			t.Errorf("seed %d: client-only caught it (the simulation is not diluted): %v", seed, w.Regressions())
		}
		if n := len(serverChecksOf(endpoint(t, w, "api"))); n != 0 {
			t.Errorf("seed %d: %d server checks without Server-Timing", seed, n)
		}
	}
}

// Committed-baseline mode: a regression only server time shows (the client
// sees queueing) is called, through the same tests as latency; the
// unchanged endpoint passes.
func TestServerTimeOnlyRegressionCommitted(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	base := []*results.File{
		synthBusy(t, 300, nil, busyAPI, busyOther),
		synthBusy(t, 301, nil, busyAPI, busyOther),
		synthBusy(t, 302, nil, busyAPI, busyOther),
	}
	v := Compare(base, synthBusy(t, 310, nil, busyAPI.slowed(1.5), busyOther), pol)
	api := endpoint(t, v, "api")
	srv, ok := serverCheck(api, P95)
	if !ok || srv.Decision != Regressed || !srv.Significant {
		t.Fatalf("server p95 +50 %%: %+v", api.Checks)
	}
	if c := check(t, api, P95, "baseline"); c.Decision == Regressed {
		t.Errorf("client p95 should not see it: %+v", c)
	}
	if got := v.Regressions(); v.Decision != Regressed || v.ExitCode() != ExitFail || len(got) != 1 || got[0] != "api" {
		t.Errorf("verdict %s, regressed %v", v.Decision, got)
	}
	if e := endpoint(t, v, "other"); e.Decision != Pass || len(serverChecksOf(e)) != 2 {
		t.Errorf("unchanged endpoint: %s, %d server checks", e.Decision, len(serverChecksOf(e)))
	}
	// A/A: the server checks do not false-fail.
	for seed := uint64(0); seed < 4; seed++ {
		v := Compare(base, synthBusy(t, 320+seed, nil, busyAPI, busyOther), pol)
		if v.Decision != Pass {
			t.Errorf("seed %d: A/A %s %+v", seed, v.Decision, v.Endpoints)
		}
	}
}

// The family-wise level holds with server checks in the family: over many
// A/A paired comparisons on a busy machine (the load wanders window by
// window and slows the handler too, shared within a pair), a verdict with
// any significant check, client or server, comes up in about 1 - Confidence
// of them.
func TestServerTimeAAKeepsLevel(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	pol.Thresholds = map[Metric]Tolerance{P50: Rel(0), P95: Rel(0)}
	sp := busy{name: "api", serverMs: 3, queueMs: 10, windows: 12, rps: 40, reported: 0.9, serverLevelShared: true}
	const trials = 120
	flagged, serverFlagged, serverChecks := 0, 0, 0
	for trial := range trials {
		rng := rand.New(rand.NewPCG(91, uint64(trial)))
		lv := busyLevels(rng.Uint64(), sp.windows)
		v := ComparePaired(synthBusy(t, rng.Uint64(), lv, sp), synthBusy(t, rng.Uint64(), lv, sp), pol)
		any, srv := false, false
		for _, c := range endpoint(t, v, "api").Checks {
			if c.Source == SourceServer {
				serverChecks++
			}
			any = any || c.Significant
			srv = srv || (c.Significant && c.Source == SourceServer)
		}
		if any {
			flagged++
		}
		if srv {
			serverFlagged++
		}
	}
	t.Logf("%d of %d A/A comparisons significant (%d by a server check)", flagged, trials, serverFlagged)
	if serverChecks != 2*trials {
		t.Fatalf("%d server checks in %d comparisons, want 2 each", serverChecks, trials)
	}
	// Binomial(120, 0.05): mean 6, P(≥ 14) < 0.5 %.
	if flagged >= 14 {
		t.Errorf("%d of %d A/A comparisons significant at 95 %% family-wise", flagged, trials)
	}
}

// One side without Server-Timing: no server check, a note that says which
// side reported it, and otherwise the verdict a target without Server-Timing
// gets — never a failure.
func TestServerTimeOneSide(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	base := synthBusy(t, 400, nil, busyAPI)
	head := synthBusy(t, 401, nil, busyAPI.slowed(1.5))
	for _, tc := range []struct {
		name       string
		verdict    func(b, h *results.File) *Verdict
		base, head *results.File
		note       string
	}{
		{"paired, head only", func(b, h *results.File) *Verdict { return ComparePaired(b, h, pol) }, withoutServerTime(base), head,
			"server time: only head reported Server-Timing, base did not"},
		{"paired, base only", func(b, h *results.File) *Verdict { return ComparePaired(b, h, pol) }, base, withoutServerTime(head),
			"server time: only base reported Server-Timing, head did not"},
		{"committed, run only", func(b, h *results.File) *Verdict { return Compare([]*results.File{b}, h, pol) }, withoutServerTime(base), head,
			"server time: only this run reported Server-Timing, the baseline did not"},
		{"committed, baseline only", func(b, h *results.File) *Verdict { return Compare([]*results.File{b}, h, pol) }, base, withoutServerTime(head),
			"server time: only the baseline reported Server-Timing, this run did not"},
	} {
		v := tc.verdict(tc.base, tc.head)
		e := endpoint(t, v, "api")
		if len(serverChecksOf(e)) != 0 || !hasWarning(e.Warnings, tc.note) {
			t.Errorf("%s: server checks %+v, warnings %q", tc.name, serverChecksOf(e), e.Warnings)
		}
		plain := tc.verdict(withoutServerTime(tc.base), withoutServerTime(tc.head))
		if v.Decision != plain.Decision || !reflect.DeepEqual(e.Checks, endpoint(t, plain, "api").Checks) {
			t.Errorf("%s: %s %+v, without Server-Timing %s %+v", tc.name, v.Decision, e.Checks, plain.Decision, endpoint(t, plain, "api").Checks)
		}
	}
}

// A target that reports Server-Timing on a few responses only (say, cache
// misses) gives too few samples for a percentile by the latency checks' own
// rules: the check is left out with a note, not made inconclusive.
func TestServerTimeTooFewSamples(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	thin := busyAPI
	thin.reported = 0.02 // 4 per window, 80 per side: p95 needs 200
	v := ComparePaired(synthBusy(t, 500, nil, thin), synthBusy(t, 501, nil, thin), pol)
	e := endpoint(t, v, "api")
	if len(serverChecksOf(e)) != 0 || !hasWarning(e.Warnings, "too few Server-Timing samples for p95, p99") || v.Decision != Pass {
		t.Errorf("thin Server-Timing: %s %+v %q", v.Decision, serverChecksOf(e), e.Warnings)
	}
	// Enough for p95 (10 % of 4000 = 400 ≥ 200), not for p99 (needs 1000).
	thin.reported = 0.1
	v = Compare([]*results.File{synthBusy(t, 502, nil, thin)}, synthBusy(t, 503, nil, thin), pol)
	e = endpoint(t, v, "api")
	if _, ok := serverCheck(e, P95); !ok || len(serverChecksOf(e)) != 1 || !hasWarning(e.Warnings, "too few Server-Timing samples for p99") {
		t.Errorf("p95 only: %+v %q", serverChecksOf(e), e.Warnings)
	}
}

// A busy runner against a quiet baseline moves server time with everything
// else: every regression, server checks included, is inconclusive with the
// machine's reason — even the one endpoint whose handler did slow down,
// because on that machine the gate cannot tell (never a false FAIL). On an
// unchanged machine the same slowdown is called.
func TestServerTimeMachineChanged(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	quiet := []busy{busyAPI, busyOther, {name: "third", serverMs: 8, queueMs: 2, windows: 20, rps: 200, reported: 1}}
	for i := range quiet {
		quiet[i].queueMs, quiet[i].rps = 1, 100
	}
	base := []*results.File{
		withHealth(synthBusy(t, 600, nil, quiet...), 4.0),
		withHealth(synthBusy(t, 601, nil, quiet...), 4.2),
		withHealth(synthBusy(t, 602, nil, quiet...), 4.1),
	}
	loaded := make([]busy, len(quiet))
	for i, b := range quiet {
		b.queueMs, b.slow = 6, 1.3 // the machine's load slows the handlers too
		loaded[i] = b
	}
	loaded[0].slow = 1.8
	v := Compare(base, withHealth(synthBusy(t, 610, nil, loaded...), 8.8), pol)
	if v.Decision != Inconclusive || len(v.Regressions()) != 0 || !hasWarning(v.Warnings, "slower than the baseline's runner") {
		t.Fatalf("busy runner: %s %v %q", v.Decision, v.Regressions(), v.Warnings)
	}
	srv, ok := serverCheck(endpoint(t, v, "api"), P95)
	if !ok || srv.Decision != Inconclusive || !hasWarning(srv.Warnings, "the machine changed") {
		t.Errorf("server p95 on the busy runner: %+v", srv)
	}

	v = Compare(base, withHealth(synthBusy(t, 611, nil, quiet[0].slowed(1.5), quiet[1], quiet[2]), 4.1), pol)
	if got := v.Regressions(); v.Decision != Regressed || len(got) != 1 || got[0] != "api" {
		t.Errorf("same machine, api's handler +50 %%: %s %v %q", v.Decision, got, v.Warnings)
	}
}

// Server-time checks widen committed mode's Bonferroni family: with server
// data each check is tested at alpha over all checks, client and server.
func TestServerTimeWidensFamily(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	base, head := synthBusy(t, 700, nil, busyAPI), synthBusy(t, 701, nil, busyAPI)
	c := &comparer{pol: pol.normalized()}
	if n := c.serverCheckCount([]*results.File{base}, head); n != 2 {
		t.Errorf("server checks = %d, want 2 (p95, p99)", n)
	}
	if n := c.serverCheckCount([]*results.File{withoutServerTime(base)}, head); n != 0 {
		t.Errorf("server checks with a baseline without Server-Timing = %d, want 0", n)
	}
	if s := strings.Join(endpoint(t, Compare([]*results.File{base}, head, pol), "api").Warnings, "; "); strings.Contains(s, "server time") {
		t.Errorf("unexpected note: %s", s)
	}
}
