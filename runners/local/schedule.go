package local

import (
	"math"
	"time"

	"github.com/loadgate/loadgate/plan"
)

// arrivals generates the intended send times of an open-model schedule. The
// k-th arrival (k = 0, 1, …) happens when the cumulative offered count
// ∫rate dt reaches k, so ramps are exact and stage boundaries carry no rounding.
type arrivals struct {
	stages []plan.Stage
	scale  float64
	i      int           // current stage
	off    time.Duration // start offset of stage i
	base   float64       // cumulative count at the start of stage i
	k      float64       // next arrival number
}

func newArrivals(stages []plan.Stage, scale float64) *arrivals {
	return &arrivals{stages: stages, scale: scale}
}

// next returns the offset from the schedule start of the next arrival and the
// stage it belongs to, or ok=false when the schedule is over.
func (a *arrivals) next() (at time.Duration, stage int, ok bool) {
	for a.i < len(a.stages) {
		s := a.stages[a.i]
		r0, r1 := s.StartRate*a.scale, s.EndRate*a.scale
		d := s.Duration.Seconds()
		total := (r0 + r1) / 2 * d
		x := a.k - a.base
		if x < total && d > 0 {
			var t float64
			acc := (r1 - r0) / d
			if math.Abs(acc) < 1e-12 {
				t = x / r0
			} else {
				t = (-r0 + math.Sqrt(max(r0*r0+2*acc*x, 0))) / acc
			}
			a.k++
			return a.off + time.Duration(t*float64(time.Second)), a.i, true
		}
		a.base += total
		a.off += s.Duration
		a.i++
	}
	return 0, 0, false
}

// cumulative returns the offered count ∫rate dt from the schedule start to off.
func cumulative(stages []plan.Stage, scale float64, off time.Duration) float64 {
	var n float64
	var start time.Duration
	for _, s := range stages {
		if off <= start {
			break
		}
		d := s.Duration.Seconds()
		t := min(off-start, s.Duration).Seconds()
		r0, r1 := s.StartRate*scale, s.EndRate*scale
		if d > 0 {
			n += r0*t + (r1-r0)/d*t*t/2
		}
		start += s.Duration
	}
	return n
}

// stageAt returns the index of the stage running at offset off (the last one
// for offsets past the end).
func stageAt(stages []plan.Stage, off time.Duration) int {
	var start time.Duration
	for i, s := range stages {
		start += s.Duration
		if off < start {
			return i
		}
	}
	return len(stages) - 1
}

func totalDuration(stages []plan.Stage) time.Duration {
	var d time.Duration
	for _, s := range stages {
		d += s.Duration
	}
	return d
}

func warmupDuration(stages []plan.Stage) time.Duration {
	var d time.Duration
	for _, s := range stages {
		if !s.Warmup {
			break
		}
		d += s.Duration
	}
	return d
}

func peakRate(stages []plan.Stage) float64 {
	var r float64
	for _, s := range stages {
		r = max(r, s.StartRate, s.EndRate)
	}
	return r
}

func peakVUs(stages []plan.Stage) int {
	var v int
	for _, s := range stages {
		v = max(v, s.VUs)
	}
	return v
}
