package gate

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/loadgate/loadgate/results"
)

// Paired mode's test is a randomization test. The paired runner draws, for
// every pair of slots, which build runs first; so when nothing changed (same
// build on both sides), swapping base and head within any pair gives data that
// was exactly as likely to be measured. Recomputing a check's statistic under
// random swaps therefore shows its distribution under "no change" with no
// model of the noise at all — machine drift, stalls and the few-pairs problem
// are in it as they happened.
//
// The statistics are sums over pairs, so a swap flips the sign of one pair's
// term and the distribution has no blind spots:
//   - a latency percentile q: the Wilcoxon signed-rank statistic of the
//     per-pair log ratios d_i = log(head_i / base_i) of the two windows' own
//     q-quantiles: Σ sign(d_i) · rank(|d_i|). A swap flips d_i's sign and
//     keeps its rank, so this is a sum over pairs like the others. Ranks
//     bound what one pair can weigh: a window stalled by the machine (0.05×
//     to 24× its partner on a busy 2-core runner) counts as one large rank,
//     where the earlier quantile test (requests above the pooled quantile,
//     summed over pairs) let a few stalled windows decide the whole sum. The
//     change shown is the Hodges–Lehmann estimate (the median of the Walsh
//     averages (d_i + d_j)/2) and its interval the Walsh averages the test's
//     own critical value leaves out (the inversion of the same test), so the
//     interval excludes zero exactly when the test is significant;
//   - throughput: head's requests minus base's, per pair;
//   - error rate: head's minus base's, per pair (pp);
//   - max, an extreme of one window: the ratio of the sides' maxima,
//     recomputed under each swap.
//
// The checks of a verdict share the swaps (pair i is the same slot pair for
// every endpoint), so the family-wise correction is Westfall–Young's
// single-step max-T: a check's adjusted p-value is how often the largest
// standardized statistic of *any* check under a random swap reaches the
// check's own. Unlike Bonferroni it knows that p95 and p99 of one endpoint move
// together, and that a check no swap can move (no errors on either side)
// cannot produce a false alarm, so neither costs the others sensitivity.

// permCheck is one check's randomization result.
type permCheck struct {
	// p is the two-sided p-value, family-wise adjusted when the policy is.
	p float64
	// crit is the standardized statistic a check must exceed to be
	// significant at the policy's level (the z scale of the swaps).
	crit float64
	// sign is the direction of the measured statistic: +1 head higher, -1
	// head lower, 0 no difference.
	sign int
	// robust marks a signed-rank check (latency percentiles): hl is the
	// Hodges–Lehmann change on the log scale, [lo, hi] its interval at the
	// test's critical value, bounded false when the pairs are too few for
	// the interval to have finite ends at that level.
	robust, bounded bool
	hl, lo, hi      float64
}

// checkKey names one check of an endpoint among the randomization results:
// its metric, on client-seen latency or on server time.
type checkKey struct {
	m      Metric
	server bool
}

// pairCheck is a check under test.
type pairCheck struct {
	endpoint string
	m        Metric
	si       int
	server   bool
	// terms are the per-pair terms of a sum statistic (nil for max).
	terms []float64
	// logRatios are the per-pair log ratios of a signed-rank check (NaN where
	// a window has no requests); nil for the other statistics.
	logRatios []float64
	// observed is the statistic as measured; sd its spread under swaps.
	observed, sd float64
	// swapped holds the statistic under each swap (max only; sums are
	// computed on the fly).
	swapped []float64
}

// pairEndpoint holds one endpoint's base and head windows of the aligned
// pairs: wins[0:n] are base, wins[n:2n] head.
type pairEndpoint struct {
	s      *side
	n      int
	checks []int // indexes into the test's checks
	hasMax bool  // a check needs the swapped maxima
	// server marks the endpoint's Server-Timing windows (servertime.go):
	// the same slots, so the same swaps, as its latency windows.
	server bool
}

// newPairSide joins the measured windows of base and head into one side whose
// first n windows are base's and next n head's (n = the pairs both have).
func newPairSide(be, he *results.Endpoint, warmupExcluded bool) (*side, int) {
	s := newSide([]*results.Endpoint{be, he}, warmupExcluded)
	n := min(len(s.runs[0]), len(s.runs[1]))
	wins := make([]window, 0, 2*n)
	for _, r := range s.runs {
		for _, i := range r[:n] {
			wins = append(wins, s.wins[i])
		}
	}
	s.wins = wins
	s.runs = [][]int{seq(0, n), seq(n, 2*n)}
	s.requests, s.errors = 0, 0
	for _, w := range wins {
		s.requests += w.requests
		s.errors += w.errors
	}
	return s, n
}

func seq(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

// pairTerms are the per-pair terms of the sum statistic of throughput or the
// error rate (head minus base, so positive means head higher).
func pairTerms(si int, s *side, n int) []float64 {
	terms := make([]float64, n)
	for i := range n {
		b, h := s.wins[i], s.wins[n+i]
		switch si {
		case statThroughput:
			terms[i] = float64(h.requests)/h.seconds - float64(b.requests)/b.seconds
		case statErrorRate:
			if b.requests > 0 && h.requests > 0 {
				terms[i] = 100 * (float64(h.errors)/float64(h.requests) - float64(b.errors)/float64(b.requests))
			}
		}
	}
	return terms
}

// pairLogRatios are log(head_i / base_i) of latency statistic si per pair,
// from each window's own distribution; NaN where either window has no
// requests (or a zero value).
func pairLogRatios(si int, s *side, n int) []float64 {
	d := make([]float64, n)
	for i := range n {
		b, h := s.wins[i], s.wins[n+i]
		d[i] = math.NaN()
		if b.requests > 0 && h.requests > 0 && b.vals[si] > 0 && h.vals[si] > 0 {
			d[i] = math.Log(h.vals[si] / b.vals[si])
		}
	}
	return d
}

// signedRanks are the terms of the Wilcoxon signed-rank statistic of d:
// sign(d_i) × the rank of |d_i| among the finite values (ties get their
// average rank; zeros and NaNs contribute 0).
func signedRanks(d []float64) []float64 {
	idx := make([]int, 0, len(d))
	for i, x := range d {
		if !math.IsNaN(x) {
			idx = append(idx, i)
		}
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(math.Abs(d[a]), math.Abs(d[b])) })
	terms := make([]float64, len(d))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && math.Abs(d[idx[j+1]]) == math.Abs(d[idx[i]]) {
			j++
		}
		rank := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			switch x := d[idx[k]]; {
			case x > 0:
				terms[idx[k]] = rank
			case x < 0:
				terms[idx[k]] = -rank
			}
		}
		i = j + 1
	}
	return terms
}

// walshInterval inverts the signed-rank test: the Hodges–Lehmann estimate
// (median of the Walsh averages (d_i + d_j)/2, i ≤ j, of the finite d) and
// the interval of shifts θ the test would not reject at critical value
// tCrit on its sum scale (|Σ sign(d_i − θ) rank| ≤ tCrit). Since that sum is
// 2·#{Walsh averages > θ} − M for M Walsh averages, the interval runs from
// the k-th smallest to the k-th largest of them (from 0), k = ⌈(M − tCrit)/2⌉ − 1.
// bounded is false when k < 0: no finite interval reaches that level with
// these pairs.
func walshInterval(d []float64, tCrit float64) (hl, lo, hi float64, bounded bool) {
	var xs []float64
	for _, x := range d {
		if !math.IsNaN(x) {
			xs = append(xs, x)
		}
	}
	if len(xs) == 0 {
		return math.NaN(), math.NaN(), math.NaN(), false
	}
	w := make([]float64, 0, len(xs)*(len(xs)+1)/2)
	for i := range xs {
		for j := i; j < len(xs); j++ {
			w = append(w, (xs[i]+xs[j])/2)
		}
	}
	slices.Sort(w)
	m := len(w)
	hl = quantileSorted(w, 0.5)
	if math.IsNaN(tCrit) {
		return hl, math.NaN(), math.NaN(), false
	}
	if math.IsInf(tCrit, 1) {
		return hl, w[0], w[m-1], false
	}
	// The largest k with M − 2k > tCrit: zero lies outside the interval
	// exactly when the statistic exceeds tCrit, as the p-value counts a
	// swap equal to the observed statistic as at least as extreme.
	k := int(math.Ceil((float64(m)-tCrit)/2)) - 1
	if k < 0 {
		return hl, w[0], w[m-1], false
	}
	return hl, w[k], w[m-1-k], true
}

// randomization runs the swap test over every baseline check of a paired
// verdict and returns the results by endpoint and metric.
func (c *comparer) randomization(base, head *results.File) map[string]map[checkKey]permCheck {
	pol := c.pol
	var eps []pairEndpoint
	var checks []pairCheck
	maxN := 0
	for i := range head.Endpoints {
		he := &head.Endpoints[i]
		be := base.Endpoint(he.Name)
		if be == nil || !hasWindows(he) || !hasWindows(be) {
			continue
		}
		// Server-time checks join the family before anything can skip the
		// endpoint: their pairs are the same slots as the latency pairs.
		if sms, _ := c.serverMetrics(he.Name, []*results.Endpoint{be}, he); len(sms) > 0 {
			ss, sn := newPairSide(serverView(be), serverView(he), pol.WarmupExcluded)
			if sn >= 2 && ss.hist {
				spe := pairEndpoint{s: ss, n: sn, server: true}
				for _, mt := range sms {
					si := statIndex(mt.m)
					ch := pairCheck{endpoint: he.Name, m: mt.m, si: si, server: true}
					ch.logRatios = pairLogRatios(si, ss, sn)
					ch.terms = signedRanks(ch.logRatios)
					ch.observed, ch.sd = sumAndSpread(ch.terms)
					spe.checks = append(spe.checks, len(checks))
					checks = append(checks, ch)
				}
				eps = append(eps, spe)
				maxN = max(maxN, sn)
			}
		}
		s, n := newPairSide(be, he, pol.WarmupExcluded)
		if n < 2 || !s.hist {
			continue
		}
		pe := pairEndpoint{s: s, n: n}
		var bs, hs [nStats]float64
		sc := &scratch{}
		s.stats(sideWeights(nil, n, nil, false), sc, &bs)
		s.stats(sideWeights(nil, n, nil, true), sc, &hs)
		for _, mt := range pol.thresholds(he.Name) {
			si := statIndex(mt.m)
			if si < 0 {
				continue
			}
			ch := pairCheck{endpoint: he.Name, m: mt.m, si: si}
			if mt.m == Max {
				ch.observed = effect(mt.m, bs[si], hs[si])
				ch.swapped = make([]float64, pol.BootstrapReps)
				pe.hasMax = true
			} else {
				if si < nLatency {
					ch.logRatios = pairLogRatios(si, s, n)
					ch.terms = signedRanks(ch.logRatios)
				} else {
					ch.terms = pairTerms(si, s, n)
				}
				ch.observed, ch.sd = sumAndSpread(ch.terms)
			}
			pe.checks = append(pe.checks, len(checks))
			checks = append(checks, ch)
		}
		eps = append(eps, pe)
		maxN = max(maxN, n)
	}
	if len(checks) == 0 {
		return nil
	}

	rng := rand.New(rand.NewPCG(pol.Seed, swapSeed(eps)))
	flips := make([]bool, maxN)
	sc := &scratch{}
	var wb, wh []int32
	var bs, hs [nStats]float64
	z := make([][]float64, len(checks)) // |standardized statistic| per check and swap
	for j := range z {
		z[j] = make([]float64, pol.BootstrapReps)
	}
	for r := range pol.BootstrapReps {
		for i := range flips {
			flips[i] = rng.IntN(2) == 1
		}
		for _, pe := range eps {
			if pe.hasMax {
				wb = sideWeights(wb, pe.n, flips[:pe.n], false)
				wh = sideWeights(wh, pe.n, flips[:pe.n], true)
				pe.s.stats(wb, sc, &bs)
				pe.s.stats(wh, sc, &hs)
			}
			for _, j := range pe.checks {
				ch := &checks[j]
				if ch.terms == nil {
					ch.swapped[r] = effect(ch.m, bs[ch.si], hs[ch.si])
					continue
				}
				var sum float64
				for i, t := range ch.terms {
					if flips[i] {
						sum -= t
					} else {
						sum += t
					}
				}
				z[j][r] = math.Abs(sum)
			}
		}
	}

	// Standardize each check by its own spread under swaps, so that checks in
	// different units compete fairly for the maximum.
	level := 1 - pol.Confidence
	maxZ := make([]float64, pol.BootstrapReps)
	for j := range checks {
		ch := &checks[j]
		if ch.terms == nil {
			ch.sd = rms(ch.swapped)
			for r, e := range ch.swapped {
				z[j][r] = math.Abs(e)
			}
		}
		if !(ch.sd > 0) {
			continue
		}
		for r := range z[j] {
			z[j][r] /= ch.sd
			if v := z[j][r]; !math.IsNaN(v) && v > maxZ[r] {
				maxZ[r] = v
			}
		}
	}
	slices.Sort(maxZ)

	out := map[string]map[checkKey]permCheck{}
	for j, ch := range checks {
		pc := permCheck{p: 1}
		if ch.sd > 0 && !math.IsNaN(ch.observed) {
			zObs := math.Abs(ch.observed) / ch.sd
			null := maxZ
			if !pol.FamilyWise {
				null = z[j]
				slices.Sort(null)
			}
			// (1 + exceedances) / (1 + swaps): the measured assignment is
			// one of the equally likely ones, so p is never 0 and the test
			// keeps its level with a finite number of swaps.
			i, _ := slices.BinarySearch(null, zObs*(1-1e-12))
			pc.p = float64(1+len(null)-i) / float64(1+len(null))
			pc.crit = randomizationCrit(null, level)
			switch {
			case ch.observed > 0:
				pc.sign = 1
			case ch.observed < 0:
				pc.sign = -1
			}
		}
		if ch.logRatios != nil {
			tCrit := math.NaN()
			if ch.sd > 0 {
				tCrit = pc.crit * ch.sd
			}
			pc.robust = true
			pc.hl, pc.lo, pc.hi, pc.bounded = walshInterval(ch.logRatios, tCrit)
			if !(ch.sd > 0) && !math.IsNaN(pc.hl) {
				// Every pair measured the same value: no change, exactly.
				pc.lo, pc.hi, pc.bounded = pc.hl, pc.hl, true
			}
		}
		if out[ch.endpoint] == nil {
			out[ch.endpoint] = map[checkKey]permCheck{}
		}
		out[ch.endpoint][checkKey{ch.m, ch.server}] = pc
	}
	return out
}

// sumAndSpread is a sum statistic's observed value and its spread under
// random signs: mean 0, variance Σ t².
func sumAndSpread(terms []float64) (sum, sd float64) {
	var ss float64
	for _, t := range terms {
		sum += t
		ss += t * t
	}
	return sum, math.Sqrt(ss)
}

// swapSeed derives the swaps' stream from the data, in a way that does not
// depend on which side of a pair is base (sums over each pair), so that the
// gate stays a pure function of its inputs while different data get
// different swaps. With one fixed set of swaps for every verdict, that set's
// own sampling error in the critical value (about ±0.7 % of level at 1 000
// swaps) would be the same error in every verdict instead of averaging out.
func swapSeed(eps []pairEndpoint) uint64 {
	h := fnv.New64a()
	var buf [8]byte
	put := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	for _, pe := range eps {
		if pe.server {
			// Seeded by the latency windows alone, so a target without
			// Server-Timing gets exactly the swaps it always had.
			continue
		}
		for i := range pe.n {
			b, hd := pe.s.wins[i], pe.s.wins[pe.n+i]
			put(uint64(b.requests + hd.requests))
			put(math.Float64bits(b.vals[statIndex(P95)] + hd.vals[statIndex(P95)]))
			put(math.Float64bits(b.vals[statIndex(Max)] + hd.vals[statIndex(Max)]))
		}
	}
	return h.Sum64()
}

// sideWeights selects one side of the pairs under a swap: base takes window i
// (or n+i when pair i is swapped), head the other. w is reused when it is
// large enough.
func sideWeights(w []int32, n int, swapped []bool, head bool) []int32 {
	if cap(w) < 2*n {
		w = make([]int32, 2*n)
	}
	w = w[:2*n]
	clear(w)
	for i := range n {
		flip := swapped != nil && swapped[i]
		if flip != head {
			w[n+i] = 1
		} else {
			w[i] = 1
		}
	}
	return w
}

// hasWindows says whether e carries per-window data the statistics can use
// (not an imported aggregate).
func hasWindows(e *results.Endpoint) bool {
	return e.Precision != results.PrecisionAggregate && len(e.Windows) > 0
}

// rms is the root mean square of the finite values: the spread about zero of
// a null distribution that is symmetric about zero by construction.
func rms(xs []float64) float64 {
	var ss float64
	n := 0
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		ss += x * x
		n++
	}
	if n == 0 {
		return math.NaN()
	}
	return math.Sqrt(ss / float64(n))
}

// randomizationCrit is the value a standardized statistic must exceed for
// the p-value above, (1 + exceedances) / (1 + swaps), to fall below level:
// with kmax the most exceedances p < level allows, the (kmax+1)-th largest
// swap. Intervals inverted at this value exclude zero exactly when p <
// level, so the printed interval and the decision cannot disagree. It is
// +Inf when no statistic can reach level with these swaps.
func randomizationCrit(sorted []float64, level float64) float64 {
	n := len(sorted)
	kmax := int(math.Ceil(level*float64(n+1)-1)) - 1
	if n == 0 || kmax < 0 {
		return math.Inf(1)
	}
	return sorted[n-1-min(kmax, n-1)]
}
