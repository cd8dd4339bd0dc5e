package gate

import (
	"fmt"
	"math"
	"strconv"

	"github.com/loadgate/loadgate/results"
)

// boot holds one endpoint's bootstrap replicates of every statistic.
type boot struct {
	head, base [][nStats]float64
}

// statChecks evaluates an endpoint whose sides have per-window data.
func (c *comparer) statChecks(ev *EndpointVerdict, bes []*results.Endpoint, he *results.Endpoint) {
	pol := c.pol
	alpha := c.alpha
	head := newSide([]*results.Endpoint{he}, pol.WarmupExcluded)
	var base *side
	if len(bes) > 0 {
		base = newSide(bes, pol.WarmupExcluded)
	}
	if c.paired && base != nil {
		if nb, nh := len(base.wins), len(head.wins); nb != nh {
			ev.Warnings = append(ev.Warnings, fmt.Sprintf("base has %d windows and head %d: compared the first %d pairs", nb, nh, min(nb, nh)))
		}
		n := min(len(base.wins), len(head.wins))
		base.truncate(n)
		head.truncate(n)
	}
	sc := &scratch{}
	var hs, bs [nStats]float64
	head.stats(nil, sc, &hs)
	if base != nil {
		base.stats(nil, sc, &bs)
	}
	bt := c.bootstrap(ev.Name, base, head)

	if base != nil {
		for _, mt := range pol.thresholds(ev.Name) {
			si := statIndex(mt.m)
			if si < 0 {
				continue
			}
			ev.Checks = append(ev.Checks, c.baselineCheck(ev.Name, mt.m, mt.t, si, false, base, head, bs[si], hs[si], bt, alpha))
		}
		c.serverChecks(ev, bes, he)
	}
	slos, defaulted := c.slos(ev.Name, base != nil)
	for _, s := range slos {
		si := statIndex(s.m)
		if si < 0 {
			continue
		}
		ch := sloCheck(s.m, s.v, nz(hs[si]))
		if defaulted && s.m == ErrorRate {
			markDefault(&ch)
		}
		effs := make([]float64, len(bt.head))
		for r := range bt.head {
			effs[r] = delta(s.m, s.v, bt.head[r][si])
		}
		if lo, hi, ok := percentileCI(effs, pol.Confidence); ok {
			ch.CILow, ch.CIHigh, ch.HasCI = round6(lo), round6(hi), true
			if ch.Decision == Regressed && crossesSLO(s.m, lo, hi) {
				ch.Warnings = append(ch.Warnings, "over the limit, but the limit lies within the interval: a rerun may pass")
			}
		}
		if need := pol.requiredRequests(s.m); head.requests < need {
			ch.Warnings = append(ch.Warnings, fmt.Sprintf("%s from %d requests is imprecise (want ≥ %d)", s.m, head.requests, need))
		}
		ev.Checks = append(ev.Checks, ch)
	}
}

// serverChecks adds the endpoint's server-time checks (servertime.go): the
// same baselineCheck on sides built from the Server-Timing samples, or a note
// saying why there are none.
func (c *comparer) serverChecks(ev *EndpointVerdict, bes []*results.Endpoint, he *results.Endpoint) {
	sms, note := c.serverMetrics(ev.Name, bes, he)
	if note != "" {
		ev.Warnings = append(ev.Warnings, note)
	}
	if len(sms) == 0 {
		return
	}
	head := newSide([]*results.Endpoint{serverView(he)}, c.pol.WarmupExcluded)
	base := newSide(serverViews(bes), c.pol.WarmupExcluded)
	var bt boot
	if c.paired {
		n := min(len(base.wins), len(head.wins))
		base.truncate(n)
		head.truncate(n)
		// The randomization test decides percentiles; no bootstrap needed.
	} else {
		bt = c.bootstrap(ev.Name+"\x00server", base, head)
	}
	sc := &scratch{}
	var hs, bs [nStats]float64
	head.stats(nil, sc, &hs)
	base.stats(nil, sc, &bs)
	for _, mt := range sms {
		si := statIndex(mt.m)
		ev.Checks = append(ev.Checks, c.baselineCheck(ev.Name, mt.m, mt.t, si, true, base, head, bs[si], hs[si], bt, c.alpha))
	}
}

// crossesSLO reports whether the interval of head relative to the limit
// contains the limit itself.
func crossesSLO(m Metric, lo, hi float64) bool { return lo <= 0 && hi >= 0 }

// truncate keeps the first n windows (paired mode aligns by index).
func (s *side) truncate(n int) {
	s.wins = s.wins[:n]
	s.requests, s.errors = 0, 0
	for _, w := range s.wins {
		s.requests += w.requests
		s.errors += w.errors
	}
	s.runs = [][]int{make([]int, n)}
	for i := range n {
		s.runs[0][i] = i
	}
}

// bootstrap resamples windows: in committed-baseline mode each run's windows
// independently (stratified by run); in paired mode whole pairs, so both sides
// get the same indexes and their shared drift stays cancelled.
func (c *comparer) bootstrap(name string, base, head *side) boot {
	reps := c.pol.BootstrapReps
	rng := newRand(c.pol.Seed, name)
	sc := &scratch{}
	bt := boot{head: make([][nStats]float64, reps)}
	if base != nil {
		bt.base = make([][nStats]float64, reps)
	}
	hw := make([]int32, len(head.wins))
	var bw []int32
	if base != nil {
		bw = make([]int32, len(base.wins))
	}
	for r := range reps {
		clear(hw)
		clear(bw)
		if c.paired && base != nil {
			n := len(head.wins)
			for range n {
				i := rng.IntN(n)
				hw[i]++
				bw[i]++
			}
		} else {
			for _, run := range head.runs {
				resample(rng, run, hw)
			}
			if base != nil {
				for _, run := range base.runs {
					resample(rng, run, bw)
				}
			}
		}
		head.stats(hw, sc, &bt.head[r])
		if base != nil {
			base.stats(bw, sc, &bt.base[r])
		}
	}
	return bt
}

// effect maps a (base, head) pair to the scale the intervals are computed on:
// the log ratio for relative metrics (symmetric, multiplicative noise), the
// difference in percentage points for the error rate.
func effect(m Metric, base, head float64) float64 {
	if m == ErrorRate {
		return head - base
	}
	if base <= 0 || head <= 0 || math.IsNaN(base) || math.IsNaN(head) {
		return math.NaN()
	}
	return math.Log(head / base)
}

// fromEffect maps an effect back to Delta's unit.
func fromEffect(m Metric, e float64) float64 {
	if m == ErrorRate {
		return e
	}
	return math.Exp(e) - 1
}

// baselineCheck compares one metric with the baseline.
// server marks a check on Server-Timing sides.
func (c *comparer) baselineCheck(name string, m Metric, tol Tolerance, si int, server bool, base, head *side, b, h float64, bt boot, alpha float64) Check {
	pol := c.pol
	ch := newCheck(m, "baseline", nz(b), nz(h), tol.describe(m))
	if server {
		ch.Source = SourceServer
	}
	var short []string
	if math.IsNaN(b) || base.requests == 0 {
		ch.Decision = Inconclusive
		ch.Warnings = append(ch.Warnings, "the baseline has no measured requests for this endpoint")
		return ch
	}
	// Enough data?
	nb, nh := base.nonEmpty(), head.nonEmpty()
	if c.paired {
		nb = pairsWithData(base, head)
		nh = nb
		if nb < pol.MinWindows {
			short = append(short, fmt.Sprintf("need ≥ %d window pairs, have %d", pol.MinWindows, nb))
		} else if need := minPairsForLevel(1 - pol.Confidence); nb < need {
			short = append(short, fmt.Sprintf("at %g %% confidence a paired test needs ≥ %d pairs, have %d (the smallest p-value %d pairs can give is %.3g)",
				100*pol.Confidence, need, nb, nb, math.Ldexp(1, 1-nb)))
		}
	} else {
		if nh < pol.MinWindows {
			short = append(short, fmt.Sprintf("need ≥ %d windows, have %d in this run (run ≥ %d s more)", pol.MinWindows, nh, pol.MinWindows-nh))
		}
		if nb < pol.MinWindows {
			short = append(short, fmt.Sprintf("need ≥ %d windows, have %d in the baseline", pol.MinWindows, nb))
		}
	}
	need := pol.MinRequests
	if m != Throughput && m != ErrorRate {
		need = pol.requiredRequests(m)
	}
	for _, sd := range []struct {
		name string
		s    *side
	}{{"this run", head}, {"the baseline", base}} {
		if sd.s.requests < need {
			short = append(short, fmt.Sprintf("%s needs ≥ %d requests per side, %s has %d (%d more)", m, need, sd.name, sd.s.requests, need-sd.s.requests))
		}
	}

	point := effect(m, b, h)
	level := 1 - pol.Confidence
	var lo, hi, p float64
	var ok bool
	agree := true
	var testWarn []string
	// judged is the head figure the tolerance is applied to: the run's own,
	// or in a signed-rank check base × the Hodges–Lehmann change, the
	// typical per-pair change that a few stalled windows cannot move.
	judged := h
	if c.paired {
		// Significance from the randomization test over swaps within pairs
		// (randomization.go), already family-wise adjusted when the policy
		// is.
		pc, found := c.perm[name][checkKey{m, server}]
		if found && pc.robust {
			// Latency percentiles: signed ranks of per-pair log ratios; the
			// change and its interval invert the same test at the same
			// (family-wise) critical value, so they agree with the p-value.
			ok = pc.bounded && !math.IsNaN(pc.hl)
			if found && !pc.bounded && len(short) == 0 {
				short = append(short, fmt.Sprintf("too few samples: %d pairs give no finite interval at %g %% confidence across the verdict's checks (run longer)", nb, 100*pol.Confidence))
			}
			if ok {
				point, lo, hi, p = pc.hl, pc.lo, pc.hi, pc.p
				judged = b * math.Exp(point)
				ch.Delta = round6(fromEffect(m, point))
				agree = pc.sign != 0 && (pc.sign > 0) == (point > 0)
			}
		} else {
			// Throughput, error rate, max: the pair bootstrap's standard
			// error of the change, times the test's critical value carried
			// to Student's t with pairs − 1 degrees of freedom (the
			// bootstrap is too narrow with few pairs).
			se, okSE := bootSE(bootEffects(m, si, bt))
			ok = found && okSE && nb >= 2 && !math.IsNaN(point) && !math.IsInf(pc.crit, 1)
			if ok {
				q := tQuantile(normalCDF(pc.crit), nb-1)
				lo, hi, p = point-q*se, point+q*se, pc.p
				agree = pc.sign != 0 && (pc.sign > 0) == (point > 0)
			}
		}
	} else {
		lo, hi, p, ok, testWarn = c.unpairedTest(m, si, base, head, h, point, bt, alpha, nb, nh)
	}
	ch.PValue = round6(p)
	if ok {
		ch.CILow, ch.CIHigh, ch.HasCI = round6(fromEffect(m, lo)), round6(fromEffect(m, hi)), true
	}
	ch.Significant = ok && agree && p < level && (lo > 0 || hi < 0)
	if len(short) > 0 {
		ch.Decision = Inconclusive
		ch.Significant = false
		ch.Warnings = append(ch.Warnings, short...)
		return ch
	}
	if !ok {
		ch.Decision = Inconclusive
		ch.Warnings = append(ch.Warnings, "too few samples: no interval could be computed")
		return ch
	}
	ch.Warnings = append(ch.Warnings, testWarn...)
	ch.Decision = toleranceDecision(m, tol, b, judged, ch.Significant)
	if ch.Decision == Pass {
		if worse, _ := exceeds(m, tol, b, judged); worse {
			ch.Warnings = append(ch.Warnings, "beyond the tolerance but not significant at this confidence: within noise")
		} else if c.paired {
			if w := resolution(m, tol, b, lo, hi); w != "" {
				ch.Warnings = append(ch.Warnings, w)
			}
		}
	}
	return ch
}

// resolution warns when a passing check's interval reaches beyond the
// tolerance on the bad side: the run was too short to tell a change as large
// as the tolerance from noise, so its pass is weaker than it looks. The
// interval narrows with the square root of the requests measured (more pairs
// or a higher rate), which gives the factor to suggest.
func resolution(m Metric, tol Tolerance, base, lo, hi float64) string {
	bad := hi
	if !higherIsWorse(m) {
		bad = lo
	}
	var atBound float64
	if m == ErrorRate {
		atBound = base + bad
	} else {
		atBound = base * math.Exp(bad)
	}
	if worse, _ := exceeds(m, tol, base, atBound); !worse {
		return ""
	}
	var tolEff float64
	switch {
	case tol.Kind == KindRelative:
		tolEff = math.Log1p(math.Abs(tol.Value))
	case m == ErrorRate:
		tolEff = math.Abs(tol.Value)
	case base > 0:
		tolEff = math.Log1p(math.Abs(tol.Value) / base)
	}
	if tolEff <= 0 {
		return ""
	}
	// The interval is point ± half; it stays inside the tolerance once half
	// shrinks below the room the point leaves, by 1/√(requests).
	half, point := (hi-lo)/2, (hi+lo)/2
	if !higherIsWorse(m) {
		point = -point
	}
	room := tolEff - point
	if room <= 0 {
		return ""
	}
	more := "about " + strconv.FormatFloat(math.Ceil(10*(half/room)*(half/room))/10, 'f', -1, 64) + "×"
	if half/room > 10 {
		more = "over 100×"
	}
	bound := fmt.Sprintf("%+.1f %%", 100*fromEffect(m, bad))
	if m == ErrorRate {
		bound = fmt.Sprintf("%+.2fpp", bad)
	}
	return fmt.Sprintf("the interval reaches %s, beyond the tolerance %s: this run cannot rule out a change that large; %s the requests (a longer run or a higher rate) would be needed to keep it within the tolerance",
		bound, tol.describe(m), more)
}

// pairsWithData counts pairs where both windows have requests.
func pairsWithData(base, head *side) int {
	n := 0
	for i := range head.wins {
		if head.wins[i].requests > 0 && base.wins[i].requests > 0 {
			n++
		}
	}
	return n
}

// runSpreadPriorRuns is the weight, in runs, of Policy.MinRunSpread when it is
// pooled with the spread the baseline's runs show.
const runSpreadPriorRuns = 4

// betweenRuns is the run-to-run part of committed-baseline mode: the head run
// is one new draw from the population of runs, so its value must lie outside
// the prediction interval built from the baseline runs' own values (on the log
// scale; pp for the error rate). The spread is the baseline runs' standard
// deviation, floored by Policy.MinRunSpread (which alone stands in for it with
// a one-run baseline). Returns the interval for the effect, centred on point,
// and the test's p-value.
func (c *comparer) betweenRuns(m Metric, si int, base *side, h, point, alpha float64) (lo, hi, p float64, ok bool) {
	if math.IsNaN(point) {
		return 0, 0, 0, false
	}
	var per []float64
	var st [nStats]float64
	sc := &scratch{}
	for r := range base.runs {
		base.stats(base.runWeights(r), sc, &st)
		v := st[si]
		switch {
		case math.IsNaN(v):
		case m == ErrorRate:
			per = append(per, v)
		case v > 0:
			per = append(per, math.Log(v))
		}
	}
	if len(per) == 0 {
		return 0, 0, 0, false
	}
	mean, sd := meanSD(per)
	R := len(per)
	// The spread: the baseline runs' own standard deviation pooled with the
	// assumed floor as if runSpreadPriorRuns more runs had shown exactly the
	// floor (so 2 or 3 runs that happen to agree cannot make it tiny, and
	// one wild run cannot make it huge), never below the floor; Student's t
	// with the pooled degrees of freedom.
	floor := 0.0
	if m != ErrorRate {
		floor = math.Log1p(c.pol.MinRunSpread)
	}
	var df int
	switch {
	case floor > 0:
		df = runSpreadPriorRuns + R - 1
		s2 := (runSpreadPriorRuns*floor*floor + float64(R-1)*sd*sd) / float64(df)
		sd = math.Sqrt(math.Max(s2, floor*floor))
	case R >= 2:
		df = R - 1
	default:
		return 0, 0, 0, false
	}
	if sd <= 0 {
		return 0, 0, 0, false
	}
	q := tQuantile(1-alpha/2, df)
	pf := func(t float64) float64 { return tTwoSidedP(t, df) }
	hv := h
	if m != ErrorRate {
		hv = math.Log(h)
	}
	scale := sd * math.Sqrt(1+1/float64(R))
	half := q * scale
	return point - half, point + half, pf((hv - mean) / scale), true
}

// bootEffects are the bootstrap replicates of metric m's change.
func bootEffects(m Metric, si int, bt boot) []float64 {
	effs := make([]float64, len(bt.head))
	for r := range bt.head {
		effs[r] = effect(m, bt.base[r][si], bt.head[r][si])
	}
	return effs
}

// bootSE is the standard deviation of the finite bootstrap replicates; ok is
// false with fewer than 20 of them.
func bootSE(effs []float64) (float64, bool) {
	var xs []float64
	for _, e := range effs {
		if !math.IsNaN(e) && !math.IsInf(e, 0) {
			xs = append(xs, e)
		}
	}
	if len(xs) < 20 {
		return 0, false
	}
	_, sd := meanSD(xs)
	return sd, true
}

// unpairedTest is committed-baseline mode's test: a bootstrap interval, a
// Mann-Whitney U test on per-window values and the between-runs prediction
// interval must all agree (docs/statistics.md). alpha is the per-check level;
// the p-value comes back adjusted to be read against 1 - Confidence.
func (c *comparer) unpairedTest(m Metric, si int, base, head *side, h, point float64, bt boot, alpha float64, nb, nh int) (lo, hi, p float64, ok bool, warns []string) {
	effs := bootEffects(m, si, bt)
	// The interval: the bootstrap's standard error with a Student quantile
	// whose degrees of freedom are the smaller side's windows less one.
	// Percentile intervals need far more than 1000 replicates at a
	// family-wise alpha of a few per mille, and under-cover with 20 windows;
	// the standard error is stable and the t quantile pays for the few units.
	units := min(nb, nh)
	se, okSE := bootSE(effs)
	ok = okSE && units >= 2 && !math.IsNaN(point)
	var tp float64
	if ok {
		q := tQuantile(1-alpha/2, units-1)
		lo, hi = point-q*se, point+q*se
		tp = 1.0
		if se > 0 {
			tp = tTwoSidedP(point/se, units-1)
		} else if point != 0 {
			tp = 0
		}
	}
	// p-values are reported adjusted for the verdict's number of checks
	// (Bonferroni: p × checks), so every p is read against the same
	// 1 - Confidence.
	level := 1 - c.pol.Confidence
	pw, warns := mannWhitney(base.pooled(si), head.pooled(si), alpha)
	p = math.Min(1, math.Max(pw, tp)*level/alpha)
	// Between-run spread: a prediction interval for one new run's value. It
	// is not divided among the checks: a job-level shift moves every check at
	// once, so it is one event, not one per check.
	if lo2, hi2, pb, okb := c.betweenRuns(m, si, base, h, point, level); okb {
		p = math.Max(p, pb)
		if ok {
			lo, hi = math.Min(lo, lo2), math.Max(hi, hi2)
		}
	}
	if ok && p >= level && (lo > 0 || hi < 0) {
		// The rank test (or the run-to-run spread) does not reject "no
		// change" while the bootstrap interval excludes it: print the
		// interval the deciding test implies, point ± |point| × z(level) /
		// z(p), which reaches zero exactly because p ≥ level — never an
		// interval entirely beyond the tolerance next to "ok".
		zl, zp := normalQuantile(1-level/2), normalQuantile(1-p/2)
		half := float64(maxHalfWidth)
		if zp > 0 {
			half = math.Min(math.Max(math.Abs(point), math.Abs(point)*zl/zp), maxHalfWidth)
		}
		lo, hi = math.Min(lo, point-half), math.Max(hi, point+half)
	}
	return lo, hi, p, ok, warns
}

// maxHalfWidth caps a test-implied interval's half width (log scale: e^20 is
// far beyond anything a report prints as a number).
const maxHalfWidth = 20

// normalQuantile is the standard normal quantile.
func normalQuantile(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// minPairsForLevel is the fewest pairs whose swap test can reach the
// two-sided level at all: n pairs have 2^n equally likely swaps, and the
// measured one and its mirror image are the most extreme, so no p-value is
// below 2/2^n. Below it, a check could never be significant, which is too
// little data, not a pass.
func minPairsForLevel(level float64) int {
	if !(level > 0) {
		return math.MaxInt
	}
	return int(math.Ceil(1 + math.Log2(1/level)))
}
