package results

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sync"
	"time"
	"unsafe"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Histogram range and precision. Values are microseconds: 1 µs resolution up to
// MaxTrackable; larger values are clamped to MaxTrackable and counted in
// Histogram.Clamped so a pathological run is visible rather than silently lost.
const (
	LowestTrackable   = 1                                          // µs
	MaxTrackable      = int64(10 * time.Minute / time.Microsecond) // µs; longer than any sane request timeout
	SignificantDigits = 3                                          // 0.1 % relative precision, HdrHistogram's usual default
)

// Histogram is a latency HdrHistogram in microseconds. Its JSON form is the
// standard V2 compressed, base64 encoding, so files stay the same size however
// many requests were recorded and any HdrHistogram implementation can read them.
type Histogram struct {
	h *hdr.Histogram
	// Clamped counts values above MaxTrackable that were recorded as MaxTrackable.
	Clamped int64
}

// NewHistogram returns an empty latency histogram.
func NewHistogram() *Histogram {
	return &Histogram{h: hdr.New(LowestTrackable, MaxTrackable, SignificantDigits)}
}

// WindowSignificantDigits is the precision of window histograms: 1 % rather
// than 0.1 %, which makes each about 7× smaller in memory (≈24 KiB instead of
// ≈170 KiB). Windows are many (one per second per endpoint, up to the
// runner's cap), so this is what keeps a long run's memory flat, and a
// one-second window's percentiles are noisier than 1 % anyway.
const WindowSignificantDigits = 2

// NewWindowHistogram returns an empty histogram for a Window: the same range
// as NewHistogram, WindowSignificantDigits precision.
func NewWindowHistogram() *Histogram {
	return &Histogram{h: hdr.New(LowestTrackable, MaxTrackable, WindowSignificantDigits)}
}

// emptyLike returns an empty histogram with h's precision, so merged and
// cloned window histograms stay compact.
func (h *Histogram) emptyLike() *Histogram {
	if h != nil && h.h != nil && h.h.SignificantFigures() == WindowSignificantDigits {
		return NewWindowHistogram()
	}
	return NewHistogram()
}

// Record adds one latency.
func (h *Histogram) Record(d time.Duration) {
	h.RecordMicros(int64(d / time.Microsecond))
}

// RecordMicros adds one latency given in microseconds.
func (h *Histogram) RecordMicros(us int64) {
	h.RecordMicrosN(us, 1)
}

// RecordMicrosN adds n identical latencies given in microseconds.
func (h *Histogram) RecordMicrosN(us, n int64) {
	if n <= 0 {
		return
	}
	if us < LowestTrackable {
		us = LowestTrackable
	}
	if us > MaxTrackable {
		us = MaxTrackable
		h.Clamped += n
	}
	// Cannot fail: us is within the histogram's trackable range.
	_ = h.h.RecordValues(us, n)
}

// Merge adds every count of other into h. Merging is exact: percentiles of the
// result equal those of one histogram that recorded all values.
func (h *Histogram) Merge(other *Histogram) error {
	if other == nil || other.h == nil {
		return nil
	}
	if dropped := h.h.Merge(other.h); dropped != 0 {
		return fmt.Errorf("histogram merge dropped %d values outside the trackable range", dropped)
	}
	h.Clamped += other.Clamped
	return nil
}

// Count is the number of recorded values.
func (h *Histogram) Count() int64 { return h.h.TotalCount() }

// Quantile returns the value at quantile q (0..1) in microseconds. loadgate uses
// quantiles (0..1) everywhere; hdrhistogram-go's ValueAtQuantile takes 0..100.
// It never returns less than the smallest recorded value: hdrhistogram-go
// answers 0 for quantiles below half a sample (q = 0 included), which drew
// percentile curves starting at 0 ms when the fastest request took 23 ms.
func (h *Histogram) Quantile(q float64) int64 {
	if h.h.TotalCount() == 0 {
		return 0
	}
	return max(h.h.ValueAtQuantile(q*100), h.h.Min())
}

// Max is the largest recorded value in microseconds (within histogram precision).
func (h *Histogram) Max() int64 { return h.h.Max() }

// Min is the smallest recorded value in microseconds.
func (h *Histogram) Min() int64 { return h.h.Min() }

// Mean is the mean value in microseconds.
func (h *Histogram) Mean() float64 { return h.h.Mean() }

// Reset empties the histogram for reuse.
func (h *Histogram) Reset() { h.h.Reset(); h.Clamped = 0 }

// Clone returns an independent copy.
func (h *Histogram) Clone() *Histogram {
	c := h.emptyLike()
	_ = c.Merge(h)
	return c
}

// Distribution calls fn for each non-empty bucket with its highest equivalent value
// (µs) and count, in increasing order. Used by statistics and charts.
//
// It reads the counts array directly: hdrhistogram-go's Distribution builds
// a bar for every bucket up to the maximum, empty or not, and that walk was
// most of the gate's time.
func (h *Histogram) Distribution(fn func(valueMicros, count int64)) {
	snap := h.h.Export()
	layout := layoutOf(snap.LowestTrackableValue, snap.SignificantFigures)
	for i, c := range snap.Counts {
		if c > 0 {
			fn(layout.highestEquivalent(i), c)
		}
	}
}

// countsField is where hdrhistogram-go keeps its counts (nil: not found),
// looked up on first use (a package-level sync.OnceValue is init work in
// every command).
func countsField() []int {
	countsFieldOnce.Do(func() {
		f, ok := reflect.TypeFor[hdr.Histogram]().FieldByName("counts")
		if ok && f.Type == reflect.TypeFor[[]int64]() {
			countsFieldIndex = f.Index
		}
	})
	return countsFieldIndex
}

var (
	countsFieldOnce  sync.Once
	countsFieldIndex []int
)

// counts is h's counts array, read in place and never written. The
// library's only accessor, Export, copies it (184 KiB for a whole-run
// histogram, 28 KiB per window), and those copies were most of what writing
// a run's results allocated — the peak of its memory. Should a version of
// the library keep its counts elsewhere, Export is the fallback;
// TestCountsInPlace holds the two to the same values.
func (h *Histogram) counts() []int64 {
	idx := countsField()
	if idx == nil {
		return h.h.Export().Counts
	}
	v := reflect.ValueOf(h.h).Elem().FieldByIndex(idx)
	return unsafe.Slice((*int64)(v.UnsafePointer()), v.Len())
}

// bucketLayout is HdrHistogram's mapping from a counts index to values (as
// hdrhistogram-go's New lays it out).
type bucketLayout struct {
	unitMagnitude, subBucketHalfCountMagnitude int
}

func layoutOf(lowest, significantFigures int64) bucketLayout {
	largestSingleUnit := 2 * math.Pow10(int(significantFigures))
	subBucketCountMagnitude := int(math.Ceil(math.Log2(largestSingleUnit)))
	l := bucketLayout{subBucketHalfCountMagnitude: max(subBucketCountMagnitude, 1) - 1}
	l.unitMagnitude = max(int(math.Floor(math.Log2(float64(lowest)))), 0)
	return l
}

// lowestEquivalent is the smallest value counted at index i.
func (l bucketLayout) lowestEquivalent(i int) int64 {
	sub, shift := l.bucketOf(i)
	return sub << shift
}

// highestEquivalent is the largest value counted at index i: what
// ValueAtQuantile and Distribution report for it.
func (l bucketLayout) highestEquivalent(i int) int64 {
	sub, shift := l.bucketOf(i)
	return sub<<shift + int64(1)<<shift - 1
}

// bucketOf is index i's sub-bucket and the shift that scales it to values.
func (l bucketLayout) bucketOf(i int) (sub int64, shift int) {
	half := 1 << l.subBucketHalfCountMagnitude
	bucket := (i >> l.subBucketHalfCountMagnitude) - 1
	s := (i & (half - 1)) + half
	if bucket < 0 {
		s -= half
		bucket = 0
	}
	return int64(s), bucket + l.unitMagnitude
}

// Summary returns the latency summary in milliseconds. It walks the counts
// once; asking hdrhistogram-go for each figure walked them thirteen times
// (every quantile also asks for Min), which made Finalize — run for every
// window of every file read or merged — most of the gate tests' time.
// TestSummaryMatchesHdr holds it to hdrhistogram-go's answers.
func (h *Histogram) Summary() Summary {
	if h == nil || h.Count() == 0 {
		return Summary{}
	}
	counts := h.counts()
	layout := layoutOf(h.h.LowestTrackableValue(), h.h.SignificantFigures())
	total := h.Count()
	qs := [...]float64{0.50, 0.90, 0.95, 0.99, 0.999}
	var want, got [len(qs)]int64
	for k, q := range qs {
		// hdrhistogram-go's rank: the first index whose cumulative count reaches it.
		want[k] = int64(q*100/100*float64(total) + 0.5)
	}
	var cum, weighted int64
	minV, maxV, k := int64(-1), int64(0), 0
	for i, c := range counts {
		if c == 0 {
			continue
		}
		hi := layout.highestEquivalent(i)
		lo := layout.lowestEquivalent(i)
		if minV < 0 {
			minV = lo
		}
		maxV = hi
		weighted += c * (lo + (hi-lo+1)>>1)
		cum += c
		for k < len(qs) && cum >= want[k] {
			got[k] = hi
			k++
		}
	}
	ms := func(us int64) float64 { return round3(float64(us) / 1000) }
	// Quantile's floor: never below the smallest recorded value.
	quantile := func(k int) float64 { return ms(max(got[k], minV)) }
	return Summary{
		P50:  quantile(0),
		P90:  quantile(1),
		P95:  quantile(2),
		P99:  quantile(3),
		P999: quantile(4),
		Max:  ms(maxV),
		Min:  ms(minV),
		Mean: round3(float64(weighted) / float64(total) / 1000),
	}
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// Encode returns the base64 V2 compressed encoding.
func (h *Histogram) Encode() (string, error) {
	b, err := appendV2Compressed(nil, h)
	if err != nil {
		return "", fmt.Errorf("encode histogram: %w", err)
	}
	return string(b), nil
}

// DecodeHistogram parses the base64 V2 compressed encoding. Histograms written by
// other implementations with a different range are re-recorded into loadgate's
// range so that merges stay exact.
func DecodeHistogram(s string) (*Histogram, error) {
	if s == "" {
		return NewHistogram(), nil
	}
	d, err := decodeSafely([]byte(s))
	if err != nil {
		return nil, err
	}
	h := NewHistogram()
	if d.LowestTrackableValue() == LowestTrackable && d.HighestTrackableValue() == MaxTrackable &&
		(d.SignificantFigures() == SignificantDigits || d.SignificantFigures() == WindowSignificantDigits) {
		h.h = d
		return h, nil
	}
	for _, b := range d.Distribution() {
		if b.Count > 0 {
			h.RecordMicrosN(b.To, b.Count)
		}
	}
	return h, nil
}

// decodeSafely guards against panics inside the decoder on hostile input.
func decodeSafely(b []byte) (h *hdr.Histogram, err error) {
	defer func() {
		if r := recover(); r != nil {
			h, err = nil, fmt.Errorf("decode histogram: corrupt data (%v)", r)
		}
	}()
	h, err = hdr.Decode(b)
	if err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	if h == nil {
		return nil, fmt.Errorf("decode histogram: empty")
	}
	return h, nil
}

// MarshalJSON writes the base64 V2 compressed encoding as a JSON string
// (base64 needs no escaping, so it is quoted as it is made).
func (h *Histogram) MarshalJSON() ([]byte, error) {
	b, err := appendV2Compressed([]byte{'"'}, h)
	if err != nil {
		return nil, fmt.Errorf("encode histogram: %w", err)
	}
	return append(b, '"'), nil
}

// UnmarshalJSON reads the base64 V2 compressed encoding.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	if bytes.Equal(b, []byte("null")) {
		*h = *NewHistogram()
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("histogram: want a base64 string: %w", err)
	}
	d, err := DecodeHistogram(s)
	if err != nil {
		return err
	}
	*h = *d
	return nil
}
