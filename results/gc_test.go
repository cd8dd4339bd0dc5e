package results

import (
	"runtime/debug"
	"testing"
)

// TestTightenGCNestsAndRestores: overlapping callers keep the target tight
// until the last restore, which puts back the setting from before the first;
// a tighter or disabled setting is left alone. Not parallel: the GC target
// is process-wide.
func TestTightenGCNestsAndRestores(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)

	a := TightenGC()
	if got := gcPercent(); got != TightGCPercent {
		t.Fatalf("while tight: GC percent %d, want %d", got, TightGCPercent)
	}
	b := TightenGC()
	a()
	a() // a second call of one restore does nothing
	if got := gcPercent(); got != TightGCPercent {
		t.Fatalf("after the first of two restores: GC percent %d, want %d", got, TightGCPercent)
	}
	b()
	if got := gcPercent(); got != 100 {
		t.Fatalf("after the last restore: GC percent %d, want 100", got)
	}

	for _, before := range []int{-1, 5} { // GOGC=off, GOGC=5
		debug.SetGCPercent(before)
		r := TightenGC()
		if got := gcPercent(); got != before {
			t.Errorf("GC percent %d before: %d while tight, want it kept", before, got)
		}
		r()
		if got := gcPercent(); got != before {
			t.Errorf("GC percent %d before: %d after restore", before, got)
		}
	}
}

// gcPercent reads the GC target (SetGCPercent is its only accessor).
func gcPercent() int {
	v := debug.SetGCPercent(100)
	debug.SetGCPercent(v)
	return v
}
