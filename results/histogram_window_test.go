package results

import (
	"encoding/json"
	"testing"
)

// Window histograms stay compact through encode/decode, clone and merge, and
// their percentiles stay within their 1 % precision.
func TestWindowHistogramCompact(t *testing.T) {
	t.Parallel()
	w := NewWindowHistogram()
	for v := int64(1000); v <= 100000; v += 7 {
		w.RecordMicros(v)
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	var got Histogram
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.h.SignificantFigures() != WindowSignificantDigits || got.Count() != w.Count() {
		t.Fatalf("decoded: %d digits, %d values; want %d, %d", got.h.SignificantFigures(), got.Count(), WindowSignificantDigits, w.Count())
	}
	if c := w.Clone(); c.h.SignificantFigures() != WindowSignificantDigits || c.Count() != w.Count() {
		t.Errorf("clone: %d digits, %d values", c.h.SignificantFigures(), c.Count())
	}
	var dst *Histogram
	if err := mergeHist(&dst, w); err != nil || dst.h.SignificantFigures() != WindowSignificantDigits {
		t.Errorf("merge into nil: %v, %d digits", err, dst.h.SignificantFigures())
	}
	full := NewHistogram()
	for v := int64(1000); v <= 100000; v += 7 {
		full.RecordMicros(v)
	}
	for _, q := range []float64{0.5, 0.9, 0.99} {
		a, b := float64(w.Quantile(q)), float64(full.Quantile(q))
		if d := (a - b) / b; d > 0.01 || d < -0.01 {
			t.Errorf("q%.2f: window %v vs full %v", q, a, b)
		}
	}
	if cw, cf := len(w.h.Export().Counts), len(full.h.Export().Counts); cw*5 > cf {
		t.Errorf("window histogram has %d counters, full %d: want ≥ 5× smaller", cw, cf)
	}
}
