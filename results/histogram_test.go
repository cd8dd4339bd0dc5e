package results

import (
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
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

// TestSummaryMatchesHdr holds the one-pass Summary to hdrhistogram-go's own
// answers, figure by figure, at both precisions and across the whole range.
func TestSummaryMatchesHdr(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 11))
	for trial := range 400 {
		h := NewHistogram()
		if trial%2 == 1 {
			h = NewWindowHistogram()
		}
		n := 1 + rng.IntN(3000)
		if trial%50 == 0 {
			n = 1
		}
		scale := []float64{3, 50, 2000, 1e5, float64(MaxTrackable)}[trial%5]
		for range n {
			h.RecordMicrosN(int64(rng.ExpFloat64()*scale)+int64(rng.IntN(3)), 1+int64(rng.IntN(3)))
		}
		ms := func(us int64) float64 { return round3(float64(us) / 1000) }
		want := Summary{
			P50: ms(h.Quantile(0.50)), P90: ms(h.Quantile(0.90)), P95: ms(h.Quantile(0.95)),
			P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)),
			Max: ms(h.Max()), Min: ms(h.Min()), Mean: round3(h.Mean() / 1000),
		}
		if got := h.Summary(); got != want {
			t.Fatalf("trial %d (%d values, scale %g): Summary\n got %+v\nwant %+v", trial, n, scale, got, want)
		}
	}
}

// counts reads hdrhistogram-go's array in place: it must be the array
// Export copies, at both precisions, and see later records (in place, not
// a copy).
func TestCountsInPlace(t *testing.T) {
	t.Parallel()
	if countsField() == nil {
		t.Fatal("hdrhistogram-go's counts field was not found: every encode and summary copies the counts again")
	}
	for _, h := range []*Histogram{NewHistogram(), NewWindowHistogram()} {
		for _, us := range []int64{1, 7, 999, 1000, 1001, 123456, MaxTrackable} {
			h.RecordMicrosN(us, us%5+1)
		}
		want := h.h.Export().Counts
		got := h.counts()
		if !slices.Equal(got, want) {
			t.Fatalf("%d digits: counts differ from Export's (%d and %d long)", h.h.SignificantFigures(), len(got), len(want))
		}
		h.RecordMicros(42)
		if !slices.Equal(h.counts(), h.h.Export().Counts) || slices.Equal(h.counts(), want) {
			t.Fatalf("%d digits: a later record is not seen in place", h.h.SignificantFigures())
		}
	}
}
