package gate

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/loadgate/loadgate/results"
)

// When the machine changed (committed-baseline mode). A baseline recorded on
// a quiet runner and a run on a busy one differ in every latency, by the
// machine's doing: on a 2-core runner with two CPU burners the demo's three
// endpoints came out +330 % … +576 % at p99. A run records what it measured
// about its machine (results.Health, runners/envprobe); the gate compares
// head's figures with the baseline runs' and, when the machine moved beyond
// what the baseline runs' own spread explains *and* most endpoints moved
// with it (a shift common to the endpoints), calls no regression on that
// evidence: those checks are inconclusive, with the reason.
//
// It does not correct for the shift. A busy machine adds scheduler delay to
// every request, roughly the same milliseconds to each, not the same
// percentage: a 2 ms endpoint triples where a 12 ms one gains a third, so
// dividing by a common factor would still flag the fast endpoints (or, the
// other way round, hide a real regression of the slow ones). No model of
// that is sound without knowing the service, so the gate says what it
// measured instead and leaves the rerun (or paired mode) to the user.
//
// A regression of one endpoint while the others hold is different evidence
// and is still called, on a moved machine too (with a note): a slower machine
// does not slow one endpoint alone.

// machineShift is what the health figures say about head's machine against
// the baseline's.
type machineShift struct {
	// known: both head and at least one baseline run carry figures.
	known bool
	// slower lists the figures that moved beyond the baseline's spread, in
	// words ("CPU calibration 9.3 ms vs 4.4 ms: 2.1× slower").
	slower []string
	// factor is the CPU calibration's slowdown (1 when unknown).
	factor float64
	// addedMs is the delay this machine measurably added to its own work
	// beyond the baseline's: the larger of twice the schedule lag p99's
	// increase and the short sleep's oversleep increase (0 when neither
	// rose), and why.
	addedMs  float64
	addedWhy string
}

// Thresholds beyond which a machine figure counts as moved, on top of three
// baseline standard deviations: a CPU workload 30 % slower, a sleep that
// wakes over 1 ms later (and twice as late), 5 more points of steal, one
// more runnable task per CPU (and twice the load), twice the schedule lag
// and 2 ms more (busy runs that kept a quiet calibration still lagged 3.4–11
// ms against 1.1 ms quiet).
const (
	minCPUShift      = 0.2624 // log(1.3)
	minSleepShiftUs  = 1000
	minStealShiftPct = 5
	minLoadShift     = 1
	minLagShiftMs    = 2
)

func machineFigures(base []*results.File, head *results.File) machineShift {
	out := machineShift{factor: 1}
	hh := head.Run.Health
	var bh []*results.Health
	var lags []float64
	for _, b := range base {
		if b.Run.Health != nil {
			bh = append(bh, b.Run.Health)
		}
		lags = append(lags, b.Validity.LagP99Ms)
	}
	if hh == nil || len(bh) == 0 {
		return out
	}
	out.known = true
	if h := slowest(hh.CalibrationMs); h > 0 {
		var logs []float64
		for _, b := range bh {
			if v := slowest(b.CalibrationMs); v > 0 {
				logs = append(logs, math.Log(v))
			}
		}
		if len(logs) > 0 {
			center, sd := medianOf(logs), 0.0
			if len(logs) > 1 {
				_, sd = meanSD(logs)
			}
			if d := math.Log(h) - center; d > math.Max(minCPUShift, 3*sd) {
				out.factor = math.Exp(d)
				out.slower = append(out.slower, fmt.Sprintf("CPU calibration %.3g ms vs %.3g ms: %.1f× slower", h, math.Exp(center), out.factor))
			}
		}
	}
	if h := slowest(hh.SleepOverUs); h >= 0 && len(hh.SleepOverUs) > 0 {
		var bs []float64
		for _, b := range bh {
			if len(b.SleepOverUs) > 0 {
				bs = append(bs, slowest(b.SleepOverUs))
			}
		}
		if len(bs) > 0 {
			b := medianOf(bs)
			if h > b+minSleepShiftUs && h > 2*b {
				out.slower = append(out.slower, fmt.Sprintf("a short sleep overslept %.1f ms vs %.1f ms", h/1000, b/1000))
			}
			out.added((h-b)/1000, fmt.Sprintf("a short sleep overslept %.1f ms vs %.1f ms", h/1000, b/1000))
		}
	}
	if hh.StealPct != nil {
		bmax := -1.0
		for _, b := range bh {
			if b.StealPct != nil {
				bmax = math.Max(bmax, *b.StealPct)
			}
		}
		if bmax >= 0 && *hh.StealPct > bmax+minStealShiftPct {
			out.slower = append(out.slower, fmt.Sprintf("CPU steal %.0f %% vs %.0f %%", *hh.StealPct, bmax))
		}
	}
	if hh.LoadPerCPU > 0 {
		bmax := 0.0
		for _, b := range bh {
			bmax = math.Max(bmax, b.LoadPerCPU)
		}
		if hh.LoadPerCPU > bmax+minLoadShift && hh.LoadPerCPU > 2*bmax {
			out.slower = append(out.slower, fmt.Sprintf("load %.1f vs %.1f per CPU", hh.LoadPerCPU, bmax))
		}
	}
	if len(lags) > 0 {
		bmax := slices.Max(lags)
		if h := head.Validity.LagP99Ms; h > 2*bmax && h > bmax+minLagShiftMs {
			out.slower = append(out.slower, fmt.Sprintf("the generator's schedule lag p99 %.1f ms vs %.1f ms", h, bmax))
		}
		// A request waits for a CPU at least twice on the generator's
		// machine — to be sent, and for its response to be read — and the
		// schedule lag measures one such wait.
		h := head.Validity.LagP99Ms
		out.added(2*(h-bmax), fmt.Sprintf("its schedule lag p99 %.1f ms vs %.1f ms, a wait a request meets when sent and again when its response is read", h, bmax))
	}
	return out
}

func (m *machineShift) added(ms float64, why string) {
	if ms > m.addedMs {
		m.addedMs, m.addedWhy = ms, why
	}
}

// commonShift counts the endpoints whose latency moved up beyond the
// baseline's run-to-run spread (the between-runs prediction interval at the
// policy's confidence, not divided among endpoints: a machine moves them all
// at once), out of the endpoints in both. An endpoint counts as moved when
// its p50, p95 or p99 did: a busy runner delays the tail of every endpoint
// before it moves the median (recorded with two CPU burners, p50 held while
// p95 rose for all three endpoints, so a p50-only test saw no common shift
// and 75 % of unchanged runs were called regressed).
func (c *comparer) commonShift(valid []*results.File, head *results.File) (moved, of int) {
	level := 1 - c.pol.Confidence
	for i := range head.Endpoints {
		he := &head.Endpoints[i]
		var bes []*results.Endpoint
		for _, b := range valid {
			if be := b.Endpoint(he.Name); be != nil && hasWindows(be) {
				bes = append(bes, be)
			}
		}
		if len(bes) == 0 || !hasWindows(he) {
			continue
		}
		measured, up := c.movedUp(newSide(bes, c.pol.WarmupExcluded), newSide([]*results.Endpoint{he}, c.pol.WarmupExcluded), level)
		if sms, _ := c.serverMetrics(he.Name, bes, he); len(sms) > 0 {
			// Server time moves with the machine too when the target shares
			// it: an endpoint whose server time rose with the others is part
			// of the common shift, so its server checks are judged like its
			// latency checks.
			_, sup := c.movedUp(newSide(serverViews(bes), c.pol.WarmupExcluded), newSide([]*results.Endpoint{serverView(he)}, c.pol.WarmupExcluded), level)
			up = up || sup
		}
		if measured {
			of++
		}
		if up {
			moved++
		}
	}
	return moved, of
}

// movedUp says whether head's p50, p95 or p99 rose beyond the baseline runs'
// spread; measured is false when none of them could be compared.
func (c *comparer) movedUp(base, head *side, level float64) (measured, up bool) {
	var b, h [nStats]float64
	sc := &scratch{}
	base.stats(nil, sc, &b)
	head.stats(nil, sc, &h)
	for _, m := range []Metric{P50, P95, P99} {
		si := statIndex(m)
		point := effect(m, b[si], h[si])
		if math.IsNaN(point) {
			continue
		}
		measured = true
		if _, _, p, ok := c.betweenRuns(m, si, base, h[si], point, level); ok && p < level && point > 0 {
			up = true
		}
	}
	return measured, up
}

// machineChanged applies the machine figures to a committed-baseline verdict.
func (c *comparer) machineChanged(v *Verdict, valid []*results.File, head *results.File) {
	if len(valid) == 0 {
		return
	}
	regressed := false
	for _, e := range v.Endpoints {
		for _, ch := range e.Checks {
			regressed = regressed || (ch.Kind == "baseline" && ch.Decision == Regressed)
		}
	}
	if !regressed {
		return
	}
	ms := machineFigures(valid, head)
	moved, of := c.commonShift(valid, head)
	common := of > 0 && 2*moved > of
	if len(ms.slower) == 0 && ms.addedMs > 0 {
		// No figure crossed its threshold, but the machine still delayed
		// its own work more than the baseline's did: rises within that
		// delay cannot be told from it either.
		if _, held := c.withinMachineDelay(v, ms); held > 0 {
			v.Warnings = append(v.Warnings, fmt.Sprintf("%d rises no larger than the %.2f ms this runner added to its own work (%s) are not called regressions; "+
				"rerun on a quiet runner or use paired mode (--paired)", held, ms.addedMs, ms.addedWhy))
		}
	}
	switch {
	case len(ms.slower) > 0 && common:
		what := "this runner measured differently from the baseline's runner"
		if ms.factor > 1 {
			what = fmt.Sprintf("this runner measured %.1f× slower than the baseline's runner", ms.factor)
		}
		reason := fmt.Sprintf("%s (%s), and %d of %d endpoints moved with it: a slower machine, not necessarily a slower build; "+
			"rerun on a quiet runner or use paired mode (--paired)", what, strings.Join(ms.slower, "; "), moved, of)
		v.Warnings = append(v.Warnings, reason+". No regression is called on that evidence.")
		for i := range v.Endpoints {
			e := &v.Endpoints[i]
			changed := false
			for j := range e.Checks {
				ch := &e.Checks[j]
				if ch.Kind == "baseline" && ch.Decision == Regressed {
					ch.Decision = Inconclusive
					ch.Warnings = append(ch.Warnings, "not called a regression: the machine changed (see the verdict's warnings)")
					changed = true
				}
			}
			if changed && e.Decision == Regressed {
				e.Decision = decide(e.Checks, Pass)
			}
		}
	case len(ms.slower) > 0:
		// Not a shift common to the endpoints, but a busy machine adds
		// about the same milliseconds to every request, which is a large
		// fraction of a fast endpoint's latency and a small one of a slow
		// endpoint's: recorded with two CPU burners, the 2 ms endpoint's p95
		// rose 24 % while the 4 ms and 8 ms ones stayed inside their spread
		// (44 % of unchanged runs called regressed). A rise no larger than
		// the delay this machine measurably added to its own schedule
		// cannot be told from the machine; a larger one stands.
		stand, held := c.withinMachineDelay(v, ms)
		if held > 0 {
			v.Warnings = append(v.Warnings, fmt.Sprintf("this runner differed from the baseline's runner (%s): %d rises no larger than the %.2f ms it added to its own work are not called regressions; "+
				"rerun on a quiet runner or use paired mode (--paired)", strings.Join(ms.slower, "; "), held, ms.addedMs))
		}
		if stand > 0 {
			v.Warnings = append(v.Warnings, fmt.Sprintf("this runner differed from the baseline's runner (%s), but only %d of %d endpoints moved: "+
				"a slower machine does not slow one endpoint alone by more than it delays everything, so the regressions stand", strings.Join(ms.slower, "; "), moved, of))
		}
	case !ms.known && common && of > 1:
		v.Warnings = append(v.Warnings, fmt.Sprintf("%d of %d endpoints moved together, and this run or its baseline has no machine figures "+
			"(results.run.health) to tell a slower machine from a slower build; re-record the baseline with this version, or use paired mode", moved, of))
	}
}

// slowest is the largest of a before/after pair (the machine at its worst
// during the run); -1 when empty.
func slowest(xs []float64) float64 {
	if len(xs) == 0 {
		return -1
	}
	return slices.Max(xs)
}

func medianOf(xs []float64) float64 {
	return quantileSorted(sorted(xs), 0.5)
}

// withinMachineDelay makes inconclusive every regressed latency-percentile
// check (client or server time) whose rise in milliseconds is no larger than
// the delay the machine added (machineShift.addedMs). It returns how many
// regressed checks remain and how many it held back.
func (c *comparer) withinMachineDelay(v *Verdict, ms machineShift) (stand, held int) {
	for i := range v.Endpoints {
		e := &v.Endpoints[i]
		changed := false
		for j := range e.Checks {
			ch := &e.Checks[j]
			if ch.Kind != "baseline" || ch.Decision != Regressed {
				continue
			}
			q, isLatency := quantileOf(ch.Metric)
			if rise := ch.Head - ch.Base; isLatency && q < 1 && ms.addedMs > 0 && rise <= ms.addedMs {
				ch.Decision = Inconclusive
				ch.Warnings = append(ch.Warnings, fmt.Sprintf("not called a regression: %+.2f ms is within the %.2f ms this runner added to its own work (%s); "+
					"rerun on a quiet runner or use paired mode (--paired)", rise, ms.addedMs, ms.addedWhy))
				changed = true
				held++
				continue
			}
			stand++
		}
		if changed && e.Decision == Regressed {
			e.Decision = decide(e.Checks, Pass)
		}
	}
	return stand, held
}
