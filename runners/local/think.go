package local

import (
	"math/rand/v2"
	"time"

	"github.com/loadgate/loadgate/plan"
)

// thinker is one closed-model VU's think time: the pause after each
// response, fixed or drawn from the plan's distribution.
type thinker struct {
	spec  plan.ThinkTime
	rng   *rand.Rand
	timer *time.Timer
}

// newThinker returns nil when the plan sets no think time (the VU loop then
// does nothing extra).
func newThinker(spec plan.ThinkTime) *thinker {
	if spec.IsZero() {
		return nil
	}
	return &thinker{spec: spec, rng: rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))}
}

// next draws one pause.
func (t *thinker) next() time.Duration {
	s := t.spec
	switch {
	case s.Fixed > 0:
		return s.Fixed
	case s.Max > 0:
		return s.Min + time.Duration(t.rng.Int64N(int64(s.Max-s.Min)+1))
	case s.Mean > 0:
		return min(time.Duration(t.rng.ExpFloat64()*float64(s.Mean)), plan.MaxThinkFactor*s.Mean)
	}
	return 0
}

// pause waits one think time; false when stop closed meanwhile.
func (t *thinker) pause(stop <-chan struct{}) bool {
	d := t.next()
	if d <= 0 {
		return true
	}
	if t.timer == nil {
		t.timer = time.NewTimer(d)
	} else {
		t.timer.Reset(d)
	}
	select {
	case <-t.timer.C:
		return true
	case <-stop:
		t.timer.Stop()
		return false
	}
}
