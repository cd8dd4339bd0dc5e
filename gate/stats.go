package gate

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"golang.org/x/perf/benchmath"
)

// mannWhitney is the two-sided p-value of the Mann-Whitney U test (benchmath's
// AssumeNothing comparison, as benchstat uses), with its warnings.
func mannWhitney(base, head []float64, alpha float64) (float64, []string) {
	th := benchmath.Thresholds{CompareAlpha: alpha}
	b := benchmath.NewSample(sorted(base), &th)
	h := benchmath.NewSample(sorted(head), &th)
	c := benchmath.AssumeNothing.Compare(b, h)
	var warns []string
	for _, w := range c.Warnings {
		if strings.Contains(w.Error(), "all samples are equal") {
			continue // both sides constant (e.g. no errors at all): Delta 0 says it
		}
		warns = append(warns, w.Error())
	}
	return c.P, warns
}

func sorted(v []float64) []float64 {
	out := append([]float64(nil), v...)
	sort.Float64s(out)
	return out
}

// tQuantile is Student's t quantile with df degrees of freedom.
func tQuantile(p float64, df int) float64 {
	return studentTQuantile(p, float64(df))
}

// tTwoSidedP is the two-sided p-value of t with df degrees of freedom.
func tTwoSidedP(t float64, df int) float64 {
	return 2 * (1 - studentTCDF(math.Abs(t), float64(df)))
}

// percentileCI returns the equal-tailed interval of xs at confidence conf. xs is
// sorted in place; NaNs are dropped. ok is false with fewer than 20 finite values.
func percentileCI(xs []float64, conf float64) (lo, hi float64, ok bool) {
	finite := xs[:0]
	for _, x := range xs {
		if !math.IsNaN(x) && !math.IsInf(x, 0) {
			finite = append(finite, x)
		}
	}
	if len(finite) < 20 {
		return 0, 0, false
	}
	sort.Float64s(finite)
	a := (1 - conf) / 2
	return quantileSorted(finite, a), quantileSorted(finite, 1-a), true
}

// quantileSorted interpolates linearly between order statistics.
func quantileSorted(s []float64, q float64) float64 {
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i >= len(s)-1 {
		return s[len(s)-1]
	}
	f := pos - float64(i)
	return s[i]*(1-f) + s[i+1]*f
}

// newRand returns the deterministic generator of one endpoint: the gate is pure,
// so the same inputs and seed always give the same verdict.
func newRand(seed uint64, endpoint string) *rand.Rand {
	h := fnv.New64a()
	h.Write([]byte(endpoint))
	return rand.New(rand.NewPCG(seed, h.Sum64()))
}

// resample fills w with a bootstrap resample (multinomial counts) of the
// windows idx.
func resample(r *rand.Rand, idx []int, w []int32) {
	n := len(idx)
	for k := 0; k < n; k++ {
		w[idx[r.IntN(n)]]++
	}
}

// meanSD returns the mean and sample standard deviation.
func meanSD(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	if len(xs) < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		ss += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(ss / float64(len(xs)-1))
}
