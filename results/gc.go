package results

import (
	"runtime/debug"
	"sync"
)

// TightGCPercent is the garbage collector's target while results are built
// and written (see TightenGC).
const TightGCPercent = 10

var tightGC struct {
	mu    sync.Mutex
	holds int
	saved int
}

// TightenGC lowers the garbage collector's target to TightGCPercent until
// the returned restore is called. Building and writing a run's results is
// the peak of its memory: it allocates a few MB of short-lived buffers on
// top of everything the run holds, and at the default target the heap may
// grow to twice its live size before any of it is collected. A tighter
// target costs a few milliseconds of collection; call it only once the
// load has stopped, never while latencies are measured. The setting is
// process-wide: overlapping calls keep it tight until the last restore,
// which puts back what was set before the first (GOGC included).
func TightenGC() (restore func()) {
	tightGC.mu.Lock()
	if tightGC.holds == 0 {
		tightGC.saved = debug.SetGCPercent(TightGCPercent)
		if tightGC.saved < TightGCPercent {
			debug.SetGCPercent(tightGC.saved) // GOGC off or already tighter: keep it
		}
	}
	tightGC.holds++
	tightGC.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			tightGC.mu.Lock()
			tightGC.holds--
			if tightGC.holds == 0 {
				debug.SetGCPercent(tightGC.saved)
			}
			tightGC.mu.Unlock()
		})
	}
}
