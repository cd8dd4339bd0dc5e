package aws

import (
	"context"
	"sync"
	"time"
)

// pacer is a token bucket: Wait(n) returns when n tokens are available and
// takes them. Tokens may be reserved ahead (the balance goes negative), so
// concurrent callers queue in arrival order of their reservation.
type pacer struct {
	mu     sync.Mutex
	rate   float64 // tokens per second
	burst  float64
	tokens float64
	last   time.Time
}

func newPacer(rate, burst float64) *pacer {
	if rate <= 0 {
		rate = 1
	}
	if burst < 1 {
		burst = 1
	}
	return &pacer{rate: rate, burst: burst, tokens: burst}
}

// Wait blocks until n tokens (capped at the burst) are available, or ctx ends.
func (p *pacer) Wait(ctx context.Context, n float64) error {
	p.mu.Lock()
	now := time.Now()
	if !p.last.IsZero() {
		p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
	}
	p.last = now
	n = min(n, p.burst)
	p.tokens -= n
	var wait time.Duration
	if p.tokens < 0 {
		wait = time.Duration(-p.tokens / p.rate * float64(time.Second))
	}
	p.mu.Unlock()
	if wait <= 0 {
		return nil
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
