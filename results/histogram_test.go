package results

import (
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
)

// Distribution reads the counts array itself; it must report exactly the
// buckets and values hdrhistogram-go's own iterator does, at both precisions
// and across the whole range (sub-bucket 0 of the first bucket, bucket
// boundaries, clamped values).
func TestDistributionMatchesHdrIterator(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	for _, h := range []*Histogram{NewHistogram(), NewWindowHistogram()} {
		for _, v := range []int64{1, 2, 1023, 1024, 2047, 2048, 2049, 4095, 4096, 100000, MaxTrackable, MaxTrackable + 5} {
			h.RecordMicros(v)
		}
		for range 5000 {
			h.RecordMicrosN(int64(math.Exp(rng.Float64()*20)), 1+rng.Int64N(3))
		}
		type bar struct{ v, c int64 }
		var got, want []bar
		h.Distribution(func(v, c int64) { got = append(got, bar{v, c}) })
		for _, b := range h.h.Distribution() {
			if b.Count > 0 {
				want = append(want, bar{b.To, b.Count})
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%d digits: %d buckets, hdrhistogram-go %d; first %v vs %v", h.h.SignificantFigures(), len(got), len(want), got[:3], want[:3])
		}
	}
}

// The lowest quantiles are the fastest request, not 0.
func TestQuantileNeverBelowMin(t *testing.T) {
	t.Parallel()
	h := NewHistogram()
	h.RecordMicrosN(23000, 10)
	h.RecordMicrosN(80000, 10)
	for _, q := range []float64{0, 0.001, 0.01} {
		if got := h.Quantile(q); got < 22900 {
			t.Errorf("Quantile(%g) = %d µs, want the minimum ≈ 23000", q, got)
		}
	}
	if got := h.Quantile(1); got < 79000 {
		t.Errorf("Quantile(1) = %d", got)
	}
}
