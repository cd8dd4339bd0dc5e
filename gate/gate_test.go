package gate

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/results"
)

// spec describes one synthetic endpoint: log-normal latency with median
// medianMs×scale, rps requests per 1 s window, errFrac of them errors.
type spec struct {
	name     string
	medianMs float64
	scale    float64
	windows  int
	rps      int
	errFrac  float64
	sigma    float64
}

func (s spec) withScale(f float64) spec { s.scale = f; return s }

// synthFile is the header every synthetic results file shares, and the
// start of its first window.
func synthFile() (*results.File, time.Time) {
	return &results.File{
		Schema:   results.Schema,
		Plan:     results.PlanRef{Name: "synthetic", Hash: "abc123"},
		Run:      results.Run{ID: "run", Runner: "local", RunnerClass: "local/2cpu"},
		Profile:  results.Profile{Type: "load", Model: "open", Rate: 100},
		Validity: results.Validity{Valid: true},
	}, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
}

// synth builds a valid results file with windows carrying histograms, as the
// local runner writes them (window precision: under -race, copying and
// allocating full-precision histograms per window was most of this package's
// time). One warm-up window precedes the measured ones.
func synth(t testing.TB, seed uint64, specs ...spec) *results.File {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	f, t0 := synthFile()
	for _, s := range specs {
		if s.scale == 0 {
			s.scale = 1
		}
		if s.sigma == 0 {
			s.sigma = 0.5
		}
		e := results.Endpoint{Name: s.name, Precision: results.PrecisionExact, Histogram: results.NewHistogram()}
		for w := -1; w < s.windows; w++ {
			win := results.Window{Start: t0.Add(time.Duration(w+1) * time.Second), Width: results.Duration(time.Second),
				Histogram: results.NewWindowHistogram(), Warmup: w < 0}
			for range s.rps {
				ms := s.medianMs * s.scale * math.Exp(s.sigma*rng.NormFloat64())
				win.Histogram.RecordMicros(int64(ms * 1000))
				win.Requests++
				if rng.Float64() < s.errFrac {
					win.Errors++
				}
			}
			if !win.Warmup {
				_ = e.Histogram.Merge(win.Histogram)
				e.Requests += win.Requests
				e.Errors += win.Errors
			}
			e.Windows = append(e.Windows, win)
		}
		e.Finalize(time.Duration(s.windows) * time.Second)
		f.Endpoints = append(f.Endpoints, e)
	}
	return f
}

var (
	fast = spec{name: "fast", medianMs: 5, windows: 20, rps: 200}
	slow = spec{name: "slow", medianMs: 40, windows: 20, rps: 200}
)

func testPolicy() Policy {
	p := DefaultPolicy()
	p.BootstrapReps = 200 // keep -race runs quick; the default is 1000
	return p
}

func endpoint(t *testing.T, v *Verdict, name string) EndpointVerdict {
	t.Helper()
	for _, e := range v.Endpoints {
		if e.Name == name {
			return e
		}
	}
	t.Fatalf("endpoint %s not in verdict", name)
	return EndpointVerdict{}
}

func check(t *testing.T, e EndpointVerdict, m Metric, kind string) Check {
	t.Helper()
	for _, c := range e.Checks {
		if c.Metric == m && c.Kind == kind {
			return c
		}
	}
	t.Fatalf("endpoint %s has no %s %s check: %+v", e.Name, kind, m, e.Checks)
	return Check{}
}

func hasWarning(ws []string, sub string) bool {
	for _, w := range ws {
		if strings.Contains(w, sub) {
			return true
		}
	}
	return false
}

func TestIdenticalPasses(t *testing.T) {
	t.Parallel()
	f := synth(t, 1, fast, slow)
	v := Compare([]*results.File{f}, f, testPolicy())
	if v.Decision != Pass || v.ExitCode() != ExitPass {
		t.Fatalf("identical runs: decision %s, want pass; %+v", v.Decision, v)
	}
	c := check(t, endpoint(t, v, "fast"), P95, "baseline")
	if c.Delta != 0 || c.Significant || !c.HasCI || c.CILow > 0 || c.CIHigh < 0 {
		t.Errorf("identical p95 check = %+v, want delta 0, CI around 0, not significant", c)
	}
}

func TestSameDistributionPasses(t *testing.T) {
	t.Parallel()
	// Independent draws from one distribution: the A/A case.
	for seed := uint64(10); seed < 16; seed++ {
		v := Compare([]*results.File{synth(t, seed, fast, slow)}, synth(t, seed+100, fast, slow), testPolicy())
		if v.Decision != Pass {
			t.Errorf("seed %d: A/A decision %s, want pass: %+v", seed, v.Decision, v.Endpoints)
		}
	}
}

func TestClearShiftRegresses(t *testing.T) {
	t.Parallel()
	base := synth(t, 2, fast, slow)
	head := synth(t, 3, fast.withScale(1.5), slow)
	v := Compare([]*results.File{base}, head, testPolicy())
	if v.Decision != Regressed || v.ExitCode() != ExitFail {
		t.Fatalf("decision %s, want regressed", v.Decision)
	}
	if got := v.Regressions(); !reflect.DeepEqual(got, []string{"fast"}) {
		t.Errorf("regressions = %v, want [fast]", got)
	}
	c := check(t, endpoint(t, v, "fast"), P95, "baseline")
	if c.Decision != Regressed || !c.Significant || c.Delta < 0.35 || c.Delta > 0.65 || c.CILow <= 0.10 || c.PValue >= 0.05 {
		t.Errorf("p95 check = %+v, want regressed ≈ +50 %% with CI above the tolerance", c)
	}
	if c.CILow > c.Delta || c.CIHigh < c.Delta {
		t.Errorf("interval [%g, %g] does not contain delta %g", c.CILow, c.CIHigh, c.Delta)
	}
	if d := endpoint(t, v, "slow").Decision; d != Pass {
		t.Errorf("untouched endpoint: %s, want pass", d)
	}
}

func TestImprovement(t *testing.T) {
	t.Parallel()
	v := Compare([]*results.File{synth(t, 4, fast)}, synth(t, 5, fast.withScale(0.6)), testPolicy())
	e := endpoint(t, v, "fast")
	c := check(t, e, P95, "baseline")
	if e.Decision != Improved || c.Decision != Improved || c.Delta > -0.3 || c.CIHigh >= 0 {
		t.Fatalf("improvement: endpoint %s, check %+v", e.Decision, c)
	}
	if v.Decision != Pass {
		t.Errorf("overall %s, want pass", v.Decision)
	}
}

func TestTooFewWindowsInconclusive(t *testing.T) {
	t.Parallel()
	short := fast
	short.windows = 3
	v := Compare([]*results.File{synth(t, 6, fast)}, synth(t, 7, short.withScale(2)), testPolicy())
	c := check(t, endpoint(t, v, "fast"), P95, "baseline")
	if c.Decision != Inconclusive || c.Significant {
		t.Fatalf("3 windows: %+v, want inconclusive", c)
	}
	if !hasWarning(c.Warnings, "need ≥ 6 windows, have 3") {
		t.Errorf("warnings %q lack \"need ≥ 6 windows, have 3\"", c.Warnings)
	}
	if v.Decision != Inconclusive || v.ExitCode() != ExitPass {
		t.Errorf("overall %s exit %d, want inconclusive exit 0", v.Decision, v.ExitCode())
	}
	pol := testPolicy()
	pol.FailOnInconclusive = true
	if v := Compare([]*results.File{synth(t, 6, fast)}, synth(t, 7, short), pol); v.ExitCode() != ExitFail {
		t.Errorf("FailOnInconclusive: exit %d, want 1", v.ExitCode())
	}
}

func TestTooFewRequestsForP99(t *testing.T) {
	t.Parallel()
	thin := fast
	thin.rps = 20 // 400 requests: enough for p95 (200), not for p99 (1000)
	v := Compare([]*results.File{synth(t, 8, thin)}, synth(t, 9, thin), testPolicy())
	e := endpoint(t, v, "fast")
	if c := check(t, e, P99, "baseline"); c.Decision != Inconclusive || !hasWarning(c.Warnings, "p99 needs ≥ 1000 requests") {
		t.Errorf("p99 with 400 requests: %+v", c)
	}
	if c := check(t, e, P95, "baseline"); c.Decision != Pass {
		t.Errorf("p95 with 400 requests: %+v, want pass", c)
	}
}

func TestErrorRatePP(t *testing.T) {
	t.Parallel()
	bad := fast
	bad.errFrac = 0.05
	v := Compare([]*results.File{synth(t, 10, fast)}, synth(t, 11, bad), testPolicy())
	c := check(t, endpoint(t, v, "fast"), ErrorRate, "baseline")
	if c.Decision != Regressed || c.Unit != "%" || c.Delta < 4 || c.Delta > 6 || c.CILow <= 0 {
		t.Fatalf("error rate 0 → 5 %%: %+v, want regressed by ≈ 5 pp", c)
	}
	// +0.3 pp is within the +0.5pp tolerance however significant.
	small := fast
	small.errFrac = 0.003
	v = Compare([]*results.File{synth(t, 10, fast)}, synth(t, 11, small), testPolicy())
	if c := check(t, endpoint(t, v, "fast"), ErrorRate, "baseline"); c.Decision != Pass {
		t.Errorf("error rate +0.3pp: %+v, want pass", c)
	}
}

func TestSLOWithoutBaseline(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	pol.SLO = map[Metric]float64{P95: 8}                                                   // fast's p95 ≈ 5·e^(0.5·1.645) ≈ 11 ms
	pol.Endpoints = map[string]EndpointPolicy{"slow": {SLO: map[Metric]float64{P95: 500}}} // override
	v := Compare(nil, synth(t, 12, fast, slow), pol)
	if v.Mode != ModeSLOOnly || v.Decision != Regressed {
		t.Fatalf("mode %s decision %s, want slo-only regressed", v.Mode, v.Decision)
	}
	c := check(t, endpoint(t, v, "fast"), P95, "slo")
	if c.Decision != Regressed || c.Base != 8 || c.Head < 9 || !c.HasCI {
		t.Errorf("fast SLO check %+v", c)
	}
	if e := endpoint(t, v, "slow"); e.Decision != Pass || check(t, e, P95, "slo").Base != 500 {
		t.Errorf("slow (override 500 ms): %+v", e)
	}
}

func TestNewAndMissing(t *testing.T) {
	t.Parallel()
	other := fast
	other.name = "other"
	v := Compare([]*results.File{synth(t, 13, fast, slow)}, synth(t, 14, fast, other), testPolicy())
	if d := endpoint(t, v, "other").Decision; d != New {
		t.Errorf("other: %s, want new", d)
	}
	if d := endpoint(t, v, "slow").Decision; d != Missing {
		t.Errorf("slow: %s, want missing", d)
	}
	if v.Decision != Inconclusive {
		t.Errorf("overall %s, want inconclusive (a baseline endpoint went unmeasured)", v.Decision)
	}
}

func TestInvalidRunNeverRegressed(t *testing.T) {
	t.Parallel()
	head := synth(t, 15, fast.withScale(3))
	head.Validity = results.Validity{Valid: false, Reasons: []string{"dropped 12 % of requests"}}
	v := Compare([]*results.File{synth(t, 16, fast)}, head, testPolicy())
	if v.Decision != Invalid || v.ExitCode() != ExitInvalid {
		t.Fatalf("decision %s exit %d, want invalid 4", v.Decision, v.ExitCode())
	}
	if len(v.Regressions()) != 0 || !hasWarning(v.Warnings, "dropped 12 %") {
		t.Errorf("regressions %v warnings %q", v.Regressions(), v.Warnings)
	}
}

func TestZeroRequestsNeverPass(t *testing.T) {
	t.Parallel()
	empty := fast
	empty.rps = 0
	v := Compare([]*results.File{synth(t, 17, fast)}, synth(t, 18, empty), testPolicy())
	if v.Decision == Pass || endpoint(t, v, "fast").Decision != Invalid {
		t.Fatalf("zero requests: overall %s endpoint %s", v.Decision, endpoint(t, v, "fast").Decision)
	}
}

func TestIncompatiblePlan(t *testing.T) {
	t.Parallel()
	base := synth(t, 19, fast)
	head := synth(t, 20, fast)
	head.Plan.Hash = "def456"
	head.Profile.Rate = 200
	v := Compare([]*results.File{base}, head, testPolicy())
	var ie *IncompatibleError
	if v.Decision != Incompatible || v.ExitCode() != ExitUsage || !errors.As(v.Err(), &ie) || len(ie.Reasons) != 2 {
		t.Fatalf("decision %s exit %d err %v", v.Decision, v.ExitCode(), v.Err())
	}
	if len(v.Endpoints) != 0 {
		t.Errorf("an incompatible baseline was compared: %+v", v.Endpoints)
	}
	pol := testPolicy()
	pol.AllowPlanChange = true
	v = Compare([]*results.File{base}, head, pol)
	if v.Decision != Pass || v.Err() != nil || !hasWarning(v.Warnings, "plan changed (allowed)") {
		t.Errorf("AllowPlanChange: %s %v %q", v.Decision, v.Err(), v.Warnings)
	}
}

func TestMultiRunBaselineSpread(t *testing.T) {
	t.Parallel()
	// Five baseline runs whose level swings ±25 % from run to run (a noisy
	// shared runner); the head is 20 % slower than the first run — inside the
	// spread, so not a regression...
	var base []*results.File
	for i, s := range []float64{1.0, 1.25, 0.8, 1.2, 0.9} {
		base = append(base, synth(t, uint64(30+i), fast.withScale(s)))
	}
	head := synth(t, 40, fast.withScale(1.2))
	v := Compare(base, head, testPolicy())
	c := check(t, endpoint(t, v, "fast"), P95, "baseline")
	if c.Decision == Regressed || v.BaseRuns != 5 {
		t.Fatalf("head within the between-run spread: %+v", c)
	}
	// ...while against a single run the same head looks regressed.
	v1 := Compare(base[:1], head, testPolicy())
	if c1 := check(t, endpoint(t, v1, "fast"), P95, "baseline"); c1.Decision != Regressed {
		t.Errorf("single-run baseline: %+v, want regressed", c1)
	}
	if !hasWarning(v1.Warnings, "baseline holds 1 run") {
		t.Errorf("single-run warning missing: %q", v1.Warnings)
	}
	// A head far outside the spread is still caught.
	v2 := Compare(base, synth(t, 41, fast.withScale(3)), testPolicy())
	if c2 := check(t, endpoint(t, v2, "fast"), P95, "baseline"); c2.Decision != Regressed {
		t.Errorf("×3 against a noisy 5-run baseline: %+v, want regressed", c2)
	}
}

func TestInvalidBaselineRunLeftOut(t *testing.T) {
	t.Parallel()
	bad := synth(t, 42, fast.withScale(5))
	bad.Validity.Valid = false
	v := Compare([]*results.File{bad, synth(t, 43, fast)}, synth(t, 44, fast), testPolicy())
	if v.Decision != Pass || v.BaseRuns != 1 || !hasWarning(v.Warnings, "left out of the baseline") {
		t.Fatalf("decision %s base runs %d warnings %q", v.Decision, v.BaseRuns, v.Warnings)
	}
}

func TestAggregateFiguresOnly(t *testing.T) {
	t.Parallel()
	agg := func(p95 float64) *results.File {
		return &results.File{Schema: results.Schema, Plan: results.PlanRef{Hash: "h"}, Validity: results.Validity{Valid: true},
			Endpoints: []results.Endpoint{{Name: "imp", Precision: results.PrecisionAggregate, Requests: 1000,
				ThroughputRPS: 100, Latency: results.Summary{P50: 3, P95: p95, P99: p95 * 2}}}}
	}
	v := Compare([]*results.File{agg(10)}, agg(12), testPolicy())
	e := endpoint(t, v, "imp")
	c := check(t, e, P95, "baseline")
	if c.Decision != Regressed || c.Significant || c.HasCI || c.PValue >= 0 {
		t.Errorf("aggregate p95 10 → 12: %+v, want regressed on the tolerance without significance", c)
	}
	if !hasWarning(e.Warnings, "without a significance test") {
		t.Errorf("warnings %q", e.Warnings)
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	base, head := synth(t, 50, fast), synth(t, 51, fast.withScale(1.1))
	a := Compare([]*results.File{base}, head, testPolicy())
	b := Compare([]*results.File{base}, head, testPolicy())
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two comparisons of the same inputs differ")
	}
}

func TestPaired(t *testing.T) {
	t.Parallel()
	// Drift common to both series: window i of both sides shares a level that
	// wanders ±30 %, which pairing cancels.
	drift := func(seed uint64, scale float64) *results.File {
		f := synth(t, seed, fast.withScale(scale))
		e := &f.Endpoints[0]
		for i := range e.Windows {
			lvl := 1 + 0.3*math.Sin(float64(i))
			h := results.NewWindowHistogram()
			e.Windows[i].Histogram.Distribution(func(v, c int64) { h.RecordMicrosN(int64(float64(v)*lvl), c) })
			e.Windows[i].Histogram = h
		}
		e.Finalize(20 * time.Second)
		return f
	}
	v := ComparePaired(drift(60, 1), drift(61, 1), testPolicy())
	if v.Decision != Pass || v.Mode != ModePaired {
		t.Fatalf("paired A/A: %s %+v", v.Decision, v.Endpoints)
	}
	v = ComparePaired(drift(62, 1), drift(63, 1.25), testPolicy())
	c := check(t, endpoint(t, v, "fast"), P95, "baseline")
	if v.Decision != Regressed || c.Decision != Regressed || c.PValue >= 0.05 || c.CILow <= 0 {
		t.Fatalf("paired +25 %%: %s %+v", v.Decision, c)
	}
	short := fast
	short.windows = 4
	v = ComparePaired(synth(t, 64, short), synth(t, 65, short), testPolicy())
	if c := check(t, endpoint(t, v, "fast"), P95, "baseline"); c.Decision != Inconclusive || !hasWarning(c.Warnings, "need ≥ 6 window pairs, have 4") {
		t.Errorf("paired 4 pairs: %+v", c)
	}
}

func TestPairedImprovedAndSwapSymmetry(t *testing.T) {
	t.Parallel()
	base, head := synth(t, 80, fast), synth(t, 81, fast.withScale(0.75))
	v := ComparePaired(base, head, testPolicy())
	faster := check(t, endpoint(t, v, "fast"), P95, "baseline")
	if faster.Decision != Improved || faster.CIHigh >= 0 || faster.Delta >= 0 {
		t.Fatalf("paired −25 %%: %+v", faster)
	}
	// Swapping the roles mirrors the effect and keeps the p-value: the swap
	// test sees the same set of label assignments either way.
	w := ComparePaired(head, base, testPolicy())
	slower := check(t, endpoint(t, w, "fast"), P95, "baseline")
	if slower.Decision != Regressed || slower.PValue != faster.PValue {
		t.Fatalf("mirrored: %+v vs %+v", slower, faster)
	}
	if got, want := math.Log1p(slower.Delta), -math.Log1p(faster.Delta); math.Abs(got-want) > 1e-5 {
		t.Errorf("mirrored effect %g, want %g", got, want)
	}
}

// A pass from too little data says so: the interval reaches past the
// tolerance, and the warning says how much more data would resolve it.
func TestPairedResolutionWarning(t *testing.T) {
	t.Parallel()
	thin := spec{name: "api", medianMs: 5, windows: 10, rps: 40}
	pol := testPolicy()
	pol.MinRequests, pol.MinTailSamples = 1, 1
	pol.Thresholds = map[Metric]Tolerance{P95: Rel(0.1)}
	c := check(t, endpoint(t, ComparePaired(synth(t, 90, thin), synth(t, 91, thin), pol), "api"), P95, "baseline")
	if c.Decision != Pass || !hasWarning(c.Warnings, "beyond the tolerance +10%: this run cannot rule out") || !hasWarning(c.Warnings, "the requests") {
		t.Fatalf("thin paired A/A: %+v", c)
	}
	pol.Thresholds = map[Metric]Tolerance{P95: Rel(0.5)}
	c = check(t, endpoint(t, ComparePaired(synth(t, 90, thin), synth(t, 91, thin), pol), "api"), P95, "baseline")
	if c.Decision != Pass || hasWarning(c.Warnings, "cannot rule out") {
		t.Fatalf("thin paired A/A, +50 %% tolerance: %+v", c)
	}
}

// A large shift between tight distributions, with few pairs: every head
// window is slower than every base window. Comparing pooled medians under
// swaps would call this ordinary (any swap of fewer than half the pairs
// leaves each side's median in its own cluster); the swap test's per-pair
// sums must see all 8 pairs agree.
func TestPairedLargeShiftFewPairs(t *testing.T) {
	t.Parallel()
	tight := spec{name: "slow", medianMs: 8, windows: 8, rps: 30, sigma: 0.03}
	pol := testPolicy()
	pol.MinRequests, pol.MinTailSamples = 1, 1
	pol.Thresholds = map[Metric]Tolerance{P50: Rel(0.2), P95: Rel(0.1)}
	v := ComparePaired(synth(t, 86, tight), synth(t, 87, tight.withScale(1.5)), pol)
	for _, m := range []Metric{P50, P95} {
		c := check(t, endpoint(t, v, "slow"), m, "baseline")
		if c.Decision != Regressed || c.CILow <= 0 || c.PValue >= 0.05 {
			t.Errorf("%s +50 %% over 8 pairs: %+v", m, c)
		}
	}
}

// Checks that no swap can move (no errors on either side; throughput fixed by
// the schedule) cost the others nothing, and a check that moves with another
// (p90 with p95) costs less than Bonferroni would: that is what max-T over
// the swaps buys over dividing alpha.
func TestPairedFamilyWiseMaxT(t *testing.T) {
	t.Parallel()
	base, head := synth(t, 82, fast), synth(t, 83, fast.withScale(1.06))
	only := func(ms ...Metric) Policy {
		p := testPolicy()
		p.Thresholds = map[Metric]Tolerance{}
		for _, m := range ms {
			p.Thresholds[m] = Rel(0.02)
		}
		p.BootstrapReps = 1000 // p-values in steps of 1/1001, so alone is not at the floor
		return p
	}
	p95 := func(pol Policy) Check {
		return check(t, endpoint(t, ComparePaired(base, head, pol), "fast"), P95, "baseline")
	}
	alone := p95(only(P95))
	if alone.PValue <= 0 || alone.PValue >= 0.05 {
		t.Fatalf("p95 alone: %+v, want significant", alone)
	}
	if got := p95(only(P95, ErrorRate, Throughput)); got.PValue != alone.PValue || got.CILow != alone.CILow {
		t.Errorf("with checks no swap moves: p=%g [%g, %g], alone p=%g [%g, %g]", got.PValue, got.CILow, got.CIHigh, alone.PValue, alone.CILow, alone.CIHigh)
	}
	with90 := p95(only(P90, P95))
	// Never more than Bonferroni's doubling (with 1000 swaps the adjusted p
	// moves in steps of 1/1001).
	if with90.PValue < alone.PValue || with90.PValue > 2*alone.PValue {
		t.Errorf("with p90: p=%g, want in [%g, %g] (Bonferroni would double it)", with90.PValue, alone.PValue, 2*alone.PValue)
	}
	pol := only(P95)
	pol.FamilyWise = false
	if got := p95(pol); got.PValue != alone.PValue {
		t.Errorf("one check: family-wise p %g, per-check p %g: should agree", alone.PValue, got.PValue)
	}
}

// The swap test keeps its level: over many A/A comparisons of series whose
// level drifts (shared by the pair) and that stall at random (not shared),
// "significant" comes up in about 1 - Confidence of them, not more.
func TestPairedLevelUnderDriftAndStalls(t *testing.T) {
	t.Parallel()
	noisy := func(rng *rand.Rand, levels []float64, stall []bool) *results.File {
		sp := spec{name: "api", medianMs: 5, windows: len(levels), rps: 60}
		f := synth(t, rng.Uint64(), sp)
		e := &f.Endpoints[0]
		for i := range levels {
			w := &e.Windows[i+1] // after the warm-up window
			h := results.NewWindowHistogram()
			w.Histogram.Distribution(func(v, c int64) {
				for range c {
					ms := float64(v) * levels[i]
					if stall[i] && rng.Float64() < 0.2 {
						ms += 30000 * rng.Float64()
					}
					h.RecordMicros(int64(ms))
				}
			})
			w.Histogram = h
		}
		e.Finalize(time.Duration(len(levels)) * time.Second)
		return f
	}
	pol := testPolicy()
	pol.Thresholds = map[Metric]Tolerance{P95: Rel(0), P99: Rel(0)}
	const trials = 120
	flagged := 0
	for trial := range trials {
		rng := rand.New(rand.NewPCG(90, uint64(trial)))
		n := 12
		lb, lh := make([]float64, n), make([]float64, n)
		sb, sh := make([]bool, n), make([]bool, n)
		for i := range n {
			lvl := math.Exp(0.3 * rng.NormFloat64())
			lb[i], lh[i] = lvl, lvl*math.Exp(0.03*rng.NormFloat64())
			sb[i], sh[i] = rng.Float64() < 0.1, rng.Float64() < 0.1
		}
		v := ComparePaired(noisy(rng, lb, sb), noisy(rng, lh, sh), pol)
		for _, c := range endpoint(t, v, "api").Checks {
			if c.Significant {
				flagged++
				break
			}
		}
	}
	t.Logf("%d of %d A/A comparisons significant", flagged, trials)
	// Binomial(120, 0.05): mean 6, P(≥ 14) < 0.5 %.
	if flagged >= 14 {
		t.Errorf("%d of %d A/A comparisons significant at 95 %% family-wise", flagged, trials)
	}
}

func TestHistQuantilesMatchHistogram(t *testing.T) {
	t.Parallel()
	f := synth(t, 70, fast)
	e := &f.Endpoints[0]
	s := newSide([]*results.Endpoint{e}, true)
	var st [nStats]float64
	s.stats(nil, &scratch{}, &st)
	// The side merges its windows' distributions at their own (window)
	// precision; so does this reference.
	merged := results.NewWindowHistogram()
	for _, w := range e.MeasuredWindows() {
		if err := merged.Merge(w.Histogram); err != nil {
			t.Fatal(err)
		}
	}
	want := merged.Summary()
	if st[statIndex(P95)] != want.P95 || st[statIndex(P99)] != want.P99 || st[statIndex(P50)] != want.P50 {
		t.Errorf("side quantiles p50 %g p95 %g p99 %g, histogram %g %g %g", st[0], st[2], st[3], want.P50, want.P95, want.P99)
	}
	// Each window's own figures (the per-window samples of the rank tests).
	for i, w := range e.MeasuredWindows() {
		sum := w.Histogram.Summary()
		if got, want := s.wins[i].vals, [nLatency]float64{sum.P50, sum.P90, sum.P95, sum.P99, sum.Max}; got != want {
			t.Fatalf("window %d figures %v, histogram %v", i, got, want)
		}
	}
}

func TestRunSpreadFloor(t *testing.T) {
	t.Parallel()
	// A +12 % shift measured precisely within each run: against one baseline
	// run, the default 5 % run-to-run floor says a new job alone could explain
	// it; on dedicated hardware (floor 0) the windows decide and flag it.
	dense := fast
	dense.rps = 1000
	base, head := synth(t, 80, dense), synth(t, 81, dense.withScale(1.12))
	v := Compare([]*results.File{base}, head, testPolicy())
	if c := check(t, endpoint(t, v, "fast"), P95, "baseline"); c.Decision != Pass || !hasWarning(c.Warnings, "within noise") {
		t.Errorf("default floor: %+v, want pass within noise", c)
	}
	pol := testPolicy()
	pol.MinRunSpread = 0
	v = Compare([]*results.File{base}, head, pol)
	if c := check(t, endpoint(t, v, "fast"), P95, "baseline"); c.Decision != Regressed {
		t.Errorf("no floor: %+v, want regressed", c)
	}
}

func TestFamilyWiseWidensIntervals(t *testing.T) {
	t.Parallel()
	base, head := synth(t, 82, fast, slow), synth(t, 83, fast, slow)
	pol := testPolicy()
	pol.MinRunSpread = 0
	fw := check(t, endpoint(t, Compare([]*results.File{base}, head, pol), "fast"), P95, "baseline")
	pol.FamilyWise = false
	single := check(t, endpoint(t, Compare([]*results.File{base}, head, pol), "fast"), P95, "baseline")
	if fw.CIHigh-fw.CILow <= single.CIHigh-single.CILow {
		t.Errorf("family-wise interval [%g, %g] not wider than per-check [%g, %g]", fw.CILow, fw.CIHigh, single.CILow, single.CIHigh)
	}
}

func TestBootSE(t *testing.T) {
	t.Parallel()
	xs := make([]float64, 100)
	for i := range xs {
		xs[i] = float64(i % 2) // sd ≈ 0.5025
	}
	if se, ok := bootSE(xs); !ok || math.Abs(se-0.5025) > 0.001 {
		t.Errorf("se = %g ok %v", se, ok)
	}
	if _, ok := bootSE(xs[:10]); ok {
		t.Error("10 replicates accepted")
	}
}

// With 7 pairs no swap test reaches 99 % (the smallest p is 2/2⁷ = 0.016):
// even a +50 % shift is inconclusive and says how many pairs it needs,
// instead of a pass that could never have been anything else; 8 pairs can.
func TestPairedTooFewPairsForConfidence(t *testing.T) {
	t.Parallel()
	if got := minPairsForLevel(0.05); got != 6 {
		t.Errorf("minPairsForLevel(0.05) = %d, want 6 (2/2⁶ = 0.031; 2/2⁵ = 0.063)", got)
	}
	if got := minPairsForLevel(0.01); got != 8 {
		t.Errorf("minPairsForLevel(0.01) = %d, want 8 (2/2⁸ = 0.0078; 2/2⁷ = 0.016)", got)
	}
	pol := testPolicy()
	pol.Confidence = 0.99
	pol.MinRequests, pol.MinTailSamples = 1, 1
	pol.Thresholds = map[Metric]Tolerance{P50: Rel(0.2)}
	for _, tc := range []struct {
		pairs int
		want  Decision
	}{{7, Inconclusive}, {8, Regressed}} {
		tight := spec{name: "slow", medianMs: 8, windows: tc.pairs, rps: 30, sigma: 0.03}
		v := ComparePaired(synth(t, 86, tight), synth(t, 87, tight.withScale(1.5)), pol)
		c := check(t, endpoint(t, v, "slow"), P50, "baseline")
		if c.Decision != tc.want || (tc.want == Inconclusive && !hasWarning(c.Warnings, "needs ≥ 8 pairs, have 7")) {
			t.Errorf("+50 %% over %d pairs at 99 %%: %s %q p=%.4f", tc.pairs, c.Decision, c.Warnings, c.PValue)
		}
	}
}

// The runner's warnings (unverified TLS certificates, redirects outside
// targets.allow) reach the verdict, and so every report.
func TestRunWarningsReachVerdict(t *testing.T) {
	t.Parallel()
	head := synth(t, 19, fast)
	head.Run.InsecureTLS = true
	head.Run.Warnings = []string{"TLS certificates were NOT verified"}
	v := Compare([]*results.File{synth(t, 20, fast)}, head, testPolicy())
	if !hasWarning(v.Warnings, "NOT verified") {
		t.Errorf("warnings %q, want the run's own", v.Warnings)
	}
}
