package distributed

import (
	"context"
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
	if err := sleepCtx(ctx, time.Until(end)); err != nil {
		return nil, err
	}
	f := &results.File{
		Schema:   results.Schema,
		Plan:     results.PlanRef{Name: p.Name, Hash: p.Hash(), File: p.Source},
		Run:      results.Run{ID: s.Share.Label, Started: start, Ended: start.Add(dur), Runner: "synthetic", Workers: 1, Target: p.Redact(p.Target)},
		Profile:  results.Profile{Type: p.Profile.Type, Model: "open", Rate: p.Profile.Rate * s.Share.RateScale, Duration: results.Duration(dur)},
		Validity: results.Validity{Valid: true},
	}
	for j, e := range p.Endpoints {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		ep := results.Endpoint{Name: e.Name, Method: e.Method, URL: p.Redact(p.URL(&p.Endpoints[j])), Precision: results.PrecisionExact,
			Histogram: results.NewHistogram(), Status: map[string]int64{}}
		ws := make([]results.Window, nw)
		for i := range ws {
			ws[i] = results.Window{Start: start.Add(time.Duration(i) * width), Width: results.Duration(width), Histogram: results.NewWindowHistogram()}
		}
		for i, us := range SyntheticLatencies(SyntheticSeed(s.Share.Index, j), s.Requests) {
			ep.Histogram.RecordMicros(us)
			w := &ws[i*nw/max(s.Requests, 1)]
			w.Histogram.RecordMicros(us)
			w.Requests++
		}
		ep.Requests = int64(s.Requests)
		ep.Status["200"] = int64(s.Requests)
		ep.Windows = ws
		f.Endpoints = append(f.Endpoints, ep)
	}
	f.Validity.Scheduled = int64(s.Requests * len(p.Endpoints))
	f.Validity.Sent = f.Validity.Scheduled
	f.Finalize(dur)
	return f, nil
}
