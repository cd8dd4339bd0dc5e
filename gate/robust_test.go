package gate

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/loadgate/loadgate/results"
)

func TestSignedRanks(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	got := signedRanks([]float64{0.3, -0.1, nan, 0.2, -0.2, 0})
	// |d| ascending: 0 (rank 1, no sign), 0.1 (2), 0.2 and 0.2 (tied: 3.5), 0.3 (5).
	want := []float64{5, -2, 0, 3.5, -3.5, 0}
	if !slices.Equal(got, want) {
		t.Errorf("signedRanks = %v, want %v", got, want)
	}
}

// The Walsh interval is the textbook inversion of the signed-rank test: for
// n = 10 at two-sided 5 % (exact critical T⁺ = 8), the interval runs from the
// 9th smallest to the 9th largest of the 55 Walsh averages.
func TestWalshInterval(t *testing.T) {
	t.Parallel()
	d := []float64{-0.05, 0.02, 0.08, 0.11, 0.13, 0.15, 0.21, 0.24, 0.3, 0.42}
	var w []float64
	for i := range d {
		for j := i; j < len(d); j++ {
			w = append(w, (d[i]+d[j])/2)
		}
	}
	slices.Sort(w)
	// On the sum scale T = 2T⁺ − M (odd here), so T⁺ ≤ 8 rejects ⇔ |T| ≥
	// 55 − 2·9 = 37 ⇔ |T| exceeds 36, the critical value's convention.
	hl, lo, hi, ok := walshInterval(d, 36)
	if !ok || lo != w[9] || hi != w[len(w)-10] {
		t.Errorf("interval [%g, %g] ok=%v, want [%g, %g]", lo, hi, ok, w[9], w[len(w)-10])
	}
	if want := (w[27]); math.Abs(hl-want) > 1e-12 {
		t.Errorf("Hodges–Lehmann %g, want the median Walsh average %g", hl, want)
	}
	// A critical value beyond every arrangement leaves the interval unbounded.
	if _, _, _, ok := walshInterval(d, 56); ok {
		t.Error("tCrit > M: interval should be unbounded")
	}
}

// A few stalled windows cannot hide a real change: +20 % on every pair with
// 3 of 20 head windows and 3 base windows stalled (20 % of their requests
// delayed by up to 200 ms) is still caught, and the change reported is near
// +20 % — the stalled windows count as single ranks, not as most of the
// statistic.
func TestPairedRobustToStalls(t *testing.T) {
	t.Parallel()
	sp := spec{name: "api", medianMs: 5, windows: 20, rps: 300, sigma: 0.3}
	stall := func(f *results.File, seed uint64, windows ...int) {
		rng := rand.New(rand.NewPCG(seed, 1))
		e := &f.Endpoints[0]
		for _, i := range windows {
			w := &e.Windows[i+1]
			h := results.NewWindowHistogram()
			w.Histogram.Distribution(func(v, c int64) {
				for range c {
					if rng.Float64() < 0.2 {
						v += int64(200000 * rng.Float64())
					}
					h.RecordMicros(v)
				}
			})
			w.Histogram = h
		}
		e.Finalize(time.Duration(sp.windows) * time.Second)
	}
	base, head := synth(t, 300, sp), synth(t, 301, sp.withScale(1.2))
	stall(base, 1, 2, 9, 15)
	stall(head, 2, 4, 11, 17)
	pol := testPolicy()
	pol.Thresholds = map[Metric]Tolerance{P95: Rel(0.05), P99: Rel(0.1)}
	c := check(t, endpoint(t, ComparePaired(base, head, pol), "api"), P95, "baseline")
	if c.Decision != Regressed || c.Delta < 0.1 || c.Delta > 0.3 || !(c.CILow > 0) || c.CILow > c.Delta || c.CIHigh < c.Delta {
		t.Errorf("+20 %% with stalls: %+v", c)
	}
}

// Printed interval and decision agree: a check that is not significant never
// shows an interval that excludes zero, and a significant one always does.
func TestIntervalAgreesWithDecision(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	for seed := uint64(0); seed < 6; seed++ {
		base := []*results.File{synth(t, 400+seed, fast, slow)}
		head := synth(t, 500+seed, fast.withScale(1+0.04*float64(seed)), slow)
		for _, v := range []*Verdict{Compare(base, head, pol), ComparePaired(base[0], head, pol)} {
			for _, e := range v.Endpoints {
				for _, c := range e.Checks {
					if !c.HasCI || c.Kind != "baseline" {
						continue
					}
					excludes := c.CILow > 0 || c.CIHigh < 0
					if c.Significant != excludes && !(c.Significant && c.Decision == Inconclusive) {
						t.Errorf("%s seed %d %s %s: significant=%v but interval [%g, %g] (p=%g)", v.Mode, seed, e.Name, c.Metric, c.Significant, c.CILow, c.CIHigh, c.PValue)
					}
				}
			}
		}
	}
}

// A large improvement that is not significant is not "beyond the tolerance
// but not significant": that warning is for changes in the bad direction.
func TestNoWithinNoiseWarningForImprovement(t *testing.T) {
	t.Parallel()
	thin := spec{name: "api", medianMs: 5, windows: 8, rps: 40}
	pol := testPolicy()
	pol.MinRequests, pol.MinTailSamples = 1, 1
	pol.Thresholds = map[Metric]Tolerance{P95: Rel(0.05)}
	for seed := uint64(0); seed < 8; seed++ {
		v := Compare([]*results.File{synth(t, 600+seed, thin)}, synth(t, 700+seed, thin.withScale(0.85)), pol)
		c := check(t, endpoint(t, v, "api"), P95, "baseline")
		if c.Delta < 0 && hasWarning(c.Warnings, "beyond the tolerance but not significant") {
			t.Errorf("seed %d: improvement %+.1f %% warned as within noise: %v", seed, 100*c.Delta, c.Warnings)
		}
	}
}

// Near the significance boundary (both modes) the randomization p-value ((1 +
// exceedances) / (1 + swaps)) and the interval's critical value must be the
// same rule, or a check prints an interval beyond zero (and beyond the
// tolerance) yet passes. Sweep small effects so that many checks land near
// the boundary.
func TestIntervalAgreesNearBoundary(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	pol.Confidence = 0.99
	sp := spec{name: "api", medianMs: 5, windows: 12, rps: 100, sigma: 0.5}
	var near int
	for k := range 60 {
		base := synth(t, 900+uint64(k), sp)
		head := synth(t, 1900+uint64(k), sp.withScale(1+0.004*float64(k)))
		for _, v := range []*Verdict{ComparePaired(base, head, pol), Compare([]*results.File{base}, head, pol)} {
			for _, e := range v.Endpoints {
				for _, c := range e.Checks {
					if !c.HasCI || c.Kind != "baseline" {
						continue
					}
					if c.PValue > 0.003 && c.PValue < 0.03 {
						near++
					}
					excludes := c.CILow > 0 || c.CIHigh < 0
					if c.Decision != Inconclusive && c.Significant != excludes {
						t.Errorf("%s k=%d %s: significant=%v but interval [%+.4f, %+.4f] (p=%.4f, level %.2f) %s %q", v.Mode, k, c.Metric, c.Significant, c.CILow, c.CIHigh, c.PValue, 1-pol.Confidence, c.Decision, c.Warnings)
					}
				}
			}
		}
	}
	t.Logf("%d checks with p in (0.003, 0.03)", near)
}

// Near the significance boundary the server checks' printed interval and
// decision agree, in both modes, as the latency checks' do
// (TestIntervalAgreesNearBoundary).
func TestServerIntervalAgreesNearBoundary(t *testing.T) {
	t.Parallel()
	pol := testPolicy()
	pol.Confidence = 0.99
	sp := busy{name: "api", serverMs: 5, queueMs: 5, windows: 12, rps: 100, reported: 1}
	var near, server int
	for k := range 20 {
		lv := busyLevels(uint64(k), sp.windows)
		base := synthBusy(t, 900+uint64(k), lv, sp)
		head := synthBusy(t, 1900+uint64(k), lv, sp.slowed(1+0.005*float64(k)))
		for _, v := range []*Verdict{ComparePaired(base, head, pol), Compare([]*results.File{base}, head, pol)} {
			for _, c := range endpoint(t, v, "api").Checks {
				if !c.HasCI || c.Kind != "baseline" || c.Source != SourceServer {
					continue
				}
				server++
				if c.PValue > 0.003 && c.PValue < 0.03 {
					near++
				}
				excludes := c.CILow > 0 || c.CIHigh < 0
				if c.Decision != Inconclusive && c.Significant != excludes {
					t.Errorf("%s k=%d %s: significant=%v but interval [%+.4f, %+.4f] (p=%.4f) %s %q", v.Mode, k, c.Label(), c.Significant, c.CILow, c.CIHigh, c.PValue, c.Decision, c.Warnings)
				}
			}
		}
	}
	t.Logf("%d server checks, %d with p in (0.003, 0.03)", server, near)
	if server == 0 || near == 0 {
		t.Errorf("%d server checks, %d near the boundary: the sweep tests nothing", server, near)
	}
}
