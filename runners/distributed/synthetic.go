package distributed

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// Synthetic is a runner that sends no traffic: it records a deterministic,
// seeded set of latencies per endpoint, labelled runner "synthetic". It exists
// to exercise coordination and merging at scale (hundreds of emulated tasks on
// one machine) and so tests can rebuild every sample a worker recorded.
type Synthetic struct {
	Share Share
	// Requests per endpoint.
	Requests int
	// Window is the width of the results windows (default 1s); at most
	// MaxWindows windows are produced.
	Window     time.Duration
	MaxWindows int
	// Hold makes Run last as long as the plan (until StartAt plus its
	// duration), like a real run; cancelled, it returns no results, like a
	// killed process.
	Hold bool
	// PartialOnCancel makes a cancelled Hold run return what it recorded
	// until then, as the local runner does on SIGTERM: the first samples,
	// in proportion to the time run, marked partial, with the error.
	PartialOnCancel bool
}

var _ runners.Runner = (*Synthetic)(nil)

// SyntheticSeed is the seed of worker index's samples for endpoint ep.
func SyntheticSeed(index, ep int) uint64 { return uint64(index)<<20 | uint64(ep) }

// SyntheticLatencies returns n latencies in µs drawn from a log-normal
// distribution (median ≈ 5 ms) with the given seed.
func SyntheticLatencies(seed uint64, n int) []int64 {
	r := rand.New(rand.NewPCG(seed, 0x6c6f616467617465))
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(math.Exp(math.Log(5000) + 0.6*r.NormFloat64()))
	}
	return out
}

// Run records the synthetic samples, spread evenly over the windows.
func (s *Synthetic) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	width := s.Window
	if width <= 0 {
		width = time.Second
	}
	dur := p.TotalDuration()
	if dur <= 0 {
		dur = width
	}
	nw := int((dur + width - 1) / width)
	if s.MaxWindows > 0 && nw > s.MaxWindows {
		nw = s.MaxWindows
	}
	start := s.Share.StartAt
	if start.IsZero() {
		start = time.Now()
	}
	end := start // like a real runner, begin at the barrier
	if s.Hold {
		end = start.Add(dur)
	}
	requests := s.Requests
	var cancelled error
	if err := sleepCtx(ctx, time.Until(end)); err != nil {
		if !s.PartialOnCancel {
			return nil, err
		}
		cancelled = err
		ran := max(0, time.Since(start))
		requests = int(float64(s.Requests) * min(1, ran.Seconds()/dur.Seconds()))
		dur = min(dur, ran)
	}
	f := &results.File{
		Schema:   results.Schema,
		Plan:     results.PlanRef{Name: p.Name, Hash: p.Hash(), File: p.Source},
		Run:      results.Run{ID: s.Share.Label, Started: start, Ended: start.Add(dur), Runner: "synthetic", Workers: 1, Target: p.RedactURL(p.Target)},
		Profile:  results.Profile{Type: p.Profile.Type, Model: "open", Rate: p.Profile.Rate * s.Share.RateScale, Duration: results.Duration(dur)},
		Validity: results.Validity{Valid: true},
	}
	for j, e := range p.Endpoints {
		if err := ctx.Err(); err != nil && cancelled == nil {
			return nil, err
		}
		ep := results.Endpoint{Name: e.Name, Method: e.Method, URL: p.Redact(p.URL(&p.Endpoints[j])), Precision: results.PrecisionExact,
			Histogram: results.NewHistogram(), Status: map[string]int64{}}
		ws := make([]results.Window, nw)
		for i := range ws {
			ws[i] = results.Window{Start: start.Add(time.Duration(i) * width), Width: results.Duration(width), Histogram: results.NewWindowHistogram()}
		}
		for i, us := range SyntheticLatencies(SyntheticSeed(s.Share.Index, j), s.Requests)[:requests] {
			ep.Histogram.RecordMicros(us)
			w := &ws[i*nw/max(s.Requests, 1)]
			w.Histogram.RecordMicros(us)
			w.Requests++
		}
		ep.Requests = int64(requests)
		ep.Status["200"] = int64(requests)
		ep.Windows = ws
		f.Endpoints = append(f.Endpoints, ep)
	}
	f.Validity.Scheduled = int64(requests * len(p.Endpoints))
	f.Validity.Sent = f.Validity.Scheduled
	f.Finalize(max(dur, time.Millisecond))
	if cancelled != nil {
		f.Run.Ended, f.Run.Partial = start.Add(dur), true
		return f, fmt.Errorf("synthetic runner: interrupted after %s: %w", dur.Round(time.Millisecond), cancelled)
	}
	return f, nil
}
