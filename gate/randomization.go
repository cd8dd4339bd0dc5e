package gate

import (
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
// was exactly as likely to be measured. Recomputing every check's effect under
// random swaps therefore shows the effect's distribution under "no change"
// with no model of the noise at all — machine drift, stalls and the
// few-pairs problem are in it as they happened.
//
// The checks of a verdict share the swaps (pair i is the same slot pair for
// every endpoint), so the family-wise correction is Westfall–Young's
// single-step max-T: a check's adjusted p-value is how often the largest
// standardized effect of *any* check under a random swap reaches the check's
// own. Unlike Bonferroni it knows that p95 and p99 of one endpoint move
// together, and that a check no swap can move (no errors on either side)
// cannot produce a false alarm, so neither costs the others sensitivity.

// permCheck is one check's randomization result.
type permCheck struct {
	// sd is the spread of the effect under random swaps (log scale, or pp for
	// the error rate); 0 when no swap changes it.
	sd float64
	// p is the two-sided p-value, family-wise adjusted when the policy is.
	p float64
	// crit is the multiple of sd that an effect must exceed to be significant
	// at the policy's level: the interval is effect ± crit × sd.
	crit float64
}

// pairCheck is a check under test: its endpoint, metric and observed effect.
type pairCheck struct {
	endpoint string
	m        Metric
	si       int
	observed float64
	swapped  []float64 // the effect under each random swap
}

// pairEndpoint holds one endpoint's base and head windows of the aligned
// pairs: wins[0:n] are base, wins[n:2n] head.
type pairEndpoint struct {
	s      *side
	n      int
	checks []int // indexes into the test's checks
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

// randomization runs the swap test over every baseline check of a paired
// verdict and returns the results by endpoint and metric.
func (c *comparer) randomization(base, head *results.File) map[string]map[Metric]permCheck {
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
		s, n := newPairSide(be, he, pol.WarmupExcluded)
		if n < 2 {
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
			pe.checks = append(pe.checks, len(checks))
			checks = append(checks, pairCheck{endpoint: he.Name, m: mt.m, si: si,
				observed: effect(mt.m, bs[si], hs[si]), swapped: make([]float64, pol.BootstrapReps)})
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
	for r := range pol.BootstrapReps {
		for i := range flips {
			flips[i] = rng.IntN(2) == 1
		}
		for _, pe := range eps {
			wb = sideWeights(wb, pe.n, flips[:pe.n], false)
			wh = sideWeights(wh, pe.n, flips[:pe.n], true)
			pe.s.stats(wb, sc, &bs)
			pe.s.stats(wh, sc, &hs)
			for _, ci := range pe.checks {
				ch := &checks[ci]
				checks[ci].swapped[r] = effect(ch.m, bs[ch.si], hs[ch.si])
			}
		}
	}

	// Standardize each check by its own spread under swaps, so that checks in
	// different units (log ratio, pp) compete fairly for the maximum.
	level := 1 - pol.Confidence
	sds := make([]float64, len(checks))
	maxZ := make([]float64, pol.BootstrapReps)
	for j := range checks {
		sds[j] = rms(checks[j].swapped)
		if sds[j] <= 0 || math.IsNaN(sds[j]) {
			continue
		}
		for r, e := range checks[j].swapped {
			if z := math.Abs(e) / sds[j]; !math.IsNaN(z) && z > maxZ[r] {
				maxZ[r] = z
			}
		}
	}
	sortedMax := slices.Clone(maxZ)
	slices.Sort(sortedMax)

	out := map[string]map[Metric]permCheck{}
	for j, ch := range checks {
		pc := permCheck{sd: sds[j], p: 1}
		if pc.sd > 0 && !math.IsNaN(pc.sd) && !math.IsNaN(ch.observed) {
			zObs := math.Abs(ch.observed) / pc.sd
			null := sortedMax
			if !pol.FamilyWise {
				null = make([]float64, len(ch.swapped))
				for r, e := range ch.swapped {
					null[r] = math.Abs(e) / pc.sd
				}
				slices.Sort(null)
			}
			// (1 + exceedances) / (1 + swaps): the observed assignment is one
			// of the equally likely ones, so p is never 0 and the test keeps
			// its level with a finite number of swaps.
			i, _ := slices.BinarySearch(null, zObs*(1-1e-12))
			pc.p = float64(1+len(null)-i) / float64(1+len(null))
			pc.crit = upperQuantile(null, 1-level)
		} else {
			pc.sd = 0
		}
		if out[ch.endpoint] == nil {
			out[ch.endpoint] = map[Metric]permCheck{}
		}
		out[ch.endpoint][ch.m] = pc
	}
	return out
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

// upperQuantile is the smallest value of sorted xs at or above quantile q.
func upperQuantile(xs []float64, q float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	i := int(math.Ceil(q*float64(len(xs)))) - 1
	return xs[max(0, min(i, len(xs)-1))]
}
