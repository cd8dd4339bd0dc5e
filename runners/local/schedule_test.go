package local

import (
	"math"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
)

func TestArrivalsRamp(t *testing.T) {
	t.Parallel()
	// 0 → 100/s over 2 s, then 100/s for 1 s, ×0.5: 50 + 50 = 100 arrivals.
	stages := []plan.Stage{{Duration: 2 * time.Second, StartRate: 0, EndRate: 100}, {Duration: time.Second, StartRate: 100, EndRate: 100}}
	a := newArrivals(stages, 0.5)
	var n int
	var last time.Duration
	perStage := map[int]int{}
	for {
		at, st, ok := a.next()
		if !ok {
			break
		}
		if at < last {
			t.Fatalf("arrival %d at %v before %v", n, at, last)
		}
		// Check against the closed form of the ramp: rate 25 t/s (after ×0.5), N(t) = 12.5 t².
		if st == 0 {
			want := time.Duration(math.Sqrt(float64(n)/12.5) * float64(time.Second))
			if d := at - want; d > time.Microsecond || d < -time.Microsecond {
				t.Fatalf("arrival %d at %v, want %v", n, at, want)
			}
		}
		last = at
		perStage[st]++
		n++
	}
	if n != 100 || perStage[0] != 50 || perStage[1] != 50 {
		t.Errorf("%d arrivals %v, want 100 (50+50)", n, perStage)
	}
	if got := cumulative(stages, 0.5, 2*time.Second); got != 50 {
		t.Errorf("cumulative at 2 s = %v, want 50", got)
	}
	if got := cumulative(stages, 0.5, 10*time.Second); got != 100 {
		t.Errorf("cumulative past the end = %v, want 100", got)
	}
}

func TestPickerExactMix(t *testing.T) {
	t.Parallel()
	p := newPicker([]*endpoint{{weight: 5}, {weight: 1}, {weight: 2}})
	counts := make([]int, 3)
	for range 80 {
		counts[p.next()]++
	}
	if counts[0] != 50 || counts[1] != 10 || counts[2] != 20 {
		t.Errorf("mix %v, want 50/10/20", counts)
	}
}
