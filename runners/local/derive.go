package local

import (
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

// Limits of the derived figures.
const (
	// RecoveryTolerance and RecoverySlack define "back to the pre-spike p95":
	// within 10 % of it, or within 1 ms for very fast endpoints where 10 % is
	// below the noise of a one-second window.
	RecoveryTolerance = 0.10
	RecoverySlack     = time.Millisecond
)

// derive computes the profile's own figures from the run's (total) windows.
// stages is the schedule as run, starting at t0. It is pure: windows in,
// figures out.
func derive(pr plan.Profile, stages []plan.Stage, t0 time.Time, windows []results.Window) *results.Derived {
	switch pr.Type {
	case plan.ProfileStress:
		curve := stepCurve(stages, t0, windows)
		d := &results.Derived{Curve: curve}
		// The plan holds the limit, its default (plan.DefaultBreakErrorRate)
		// filled in by the parser: 0 is the user's "any error breaks".
		for _, c := range curve {
			broken := c.ErrorRate > pr.BreakErrorRate || (pr.BreakP95 > 0 && c.P95Ms > ms(pr.BreakP95))
			if broken {
				d.BreakingRPS = c.OfferedRPS
				break
			}
			d.MaxSustainableRPS = c.OfferedRPS
		}
		return d
	case plan.ProfileScalability:
		return &results.Derived{Curve: stepCurve(stages, t0, windows)}
	case plan.ProfileSpike:
		return spike(pr, stages, t0, windows)
	case plan.ProfileEndurance:
		return drift(t0, windows)
	case plan.ProfileVolume:
		return volume(stages, t0, windows)
	}
	return nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// span is a stage's time range relative to t0.
type span struct{ from, to time.Duration }

func spans(stages []plan.Stage) []span {
	out := make([]span, len(stages))
	var off time.Duration
	for i, s := range stages {
		out[i] = span{off, off + s.Duration}
		off += s.Duration
	}
	return out
}

// inSpan returns the windows whose midpoint lies in sp.
func inSpan(t0 time.Time, windows []results.Window, sp span) []results.Window {
	var out []results.Window
	for _, w := range windows {
		mid := w.Start.Sub(t0) + w.Width.D()/2
		if mid >= sp.from && mid < sp.to {
			out = append(out, w)
		}
	}
	return out
}

// agg merges windows exactly (histograms summed).
type agg struct {
	requests, errors, bytes int64
	seconds, offered        float64 // offered: requests the schedule asked for
	hist                    *results.Histogram
}

func aggregate(ws []results.Window) agg {
	a := agg{hist: results.NewHistogram()}
	for _, w := range ws {
		a.requests += w.Requests
		a.errors += w.Errors
		a.bytes += w.Bytes
		sec := w.Width.D().Seconds()
		a.seconds += sec
		a.offered += w.OfferedRPS * sec
		if w.Histogram != nil {
			_ = a.hist.Merge(w.Histogram)
		}
	}
	return a
}

func (a agg) errorRate() float64 {
	if a.requests == 0 {
		return 0
	}
	return float64(a.errors) / float64(a.requests)
}

func (a agg) quantileMs(q float64) float64 { return round3(float64(a.hist.Quantile(q)) / 1000) }

// stepCurve is one point per non-warm-up stage: offered and achieved rate,
// p95 and error rate.
func stepCurve(stages []plan.Stage, t0 time.Time, windows []results.Window) []results.CurvePoint {
	var out []results.CurvePoint
	for i, sp := range spans(stages) {
		if stages[i].Warmup {
			continue
		}
		ws := inSpan(t0, windows, sp)
		if len(ws) == 0 {
			continue
		}
		a := aggregate(ws)
		out = append(out, results.CurvePoint{
			OfferedRPS:  round3(a.offered / a.seconds),
			AchievedRPS: round3(float64(a.requests) / a.seconds),
			P95Ms:       a.quantileMs(0.95),
			ErrorRate:   a.errorRate(),
		})
	}
	return out
}

// spike finds the pre-spike p95 and how long after the spike's end p95 took
// to come back to it. The pre-spike reference leaves out the run's first
// window when no warm-up precedes it (a cold first second inflates it), and a
// spike that never pushed p95 above the limit is reported as not degrading
// rather than as "recovered after 0 s".
func spike(pr plan.Profile, stages []plan.Stage, t0 time.Time, windows []results.Window) *results.Derived {
	warm := warmupDuration(stages)
	start := warm + pr.SpikeAt
	end := start + pr.SpikeDuration
	preWs := inSpan(t0, windows, span{warm, start})
	if warm == 0 && len(preWs) >= 2 {
		preWs = preWs[1:]
	}
	pre := aggregate(preWs)
	d := &results.Derived{PreSpikeP95Ms: pre.quantileMs(0.95), PreSpikeWindows: len(preWs)}
	if pre.hist.Count() == 0 {
		d.PreSpikeWindows = 0
		return d
	}
	limit := max(d.PreSpikeP95Ms*(1+RecoveryTolerance), d.PreSpikeP95Ms+ms(RecoverySlack))
	p95 := func(w results.Window) (float64, bool) {
		if w.Requests == 0 || w.Histogram == nil || w.Histogram.Count() == 0 {
			return 0, false
		}
		return float64(w.Histogram.Quantile(0.95)) / 1000, true
	}
	degraded := false
	for _, w := range windows {
		if w.Start.Sub(t0)+w.Width.D() <= start {
			continue
		}
		if v, ok := p95(w); ok {
			d.SpikePeakP95Ms = max(d.SpikePeakP95Ms, round3(v))
			degraded = degraded || v > limit
		}
	}
	d.SpikeDegraded = &degraded
	recovered := false
	var last time.Duration
	for _, w := range windows {
		off := w.Start.Sub(t0)
		if off < end {
			continue
		}
		last = off + w.Width.D()
		if v, ok := p95(w); ok && v <= limit {
			d.RecoveryMs = ms(off - end)
			recovered = true
			break
		}
	}
	if !recovered && last > end {
		d.RecoveryMs = ms(last - end)
	}
	d.Recovered = &recovered
	return d
}

// drift fits least-squares lines through the measured windows' p95 and error
// rate against time and reports their slopes per hour.
func drift(t0 time.Time, windows []results.Window) *results.Derived {
	var xs, p95s, errs []float64
	for _, w := range windows {
		if w.Warmup || w.Requests == 0 {
			continue
		}
		x := (w.Start.Sub(t0) + w.Width.D()/2).Hours()
		p95 := w.P95
		if w.Histogram != nil && w.Histogram.Count() > 0 {
			p95 = float64(w.Histogram.Quantile(0.95)) / 1000
		}
		xs = append(xs, x)
		p95s = append(p95s, p95)
		errs = append(errs, 100*float64(w.Errors)/float64(w.Requests))
	}
	return &results.Derived{
		P95DriftMsPerHour:       round3(slope(xs, p95s)),
		ErrorRateDriftPPPerHour: round3(slope(xs, errs)),
	}
}

// slope is the least-squares slope of y over x (0 with fewer than 2 points).
func slope(xs, ys []float64) float64 {
	n := float64(len(xs))
	if n < 2 {
		return 0
	}
	var sx, sy float64
	for i := range xs {
		sx += xs[i]
		sy += ys[i]
	}
	mx, my := sx/n, sy/n
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// volume reports, per payload stage, bytes moved per second (request
// payloads sent plus response bytes received) and p50/p95.
func volume(stages []plan.Stage, t0 time.Time, windows []results.Window) *results.Derived {
	d := &results.Derived{}
	for i, sp := range spans(stages) {
		s := stages[i]
		if s.Warmup || s.PayloadBytes <= 0 {
			continue
		}
		ws := inSpan(t0, windows, sp)
		if len(ws) == 0 {
			continue
		}
		a := aggregate(ws)
		d.Payloads = append(d.Payloads, results.PayloadPoint{
			PayloadBytes: s.PayloadBytes,
			BytesPerSec:  round3(float64(s.PayloadBytes*a.requests+a.bytes) / a.seconds),
			P50Ms:        a.quantileMs(0.50),
			P95Ms:        a.quantileMs(0.95),
			Requests:     a.requests,
		})
	}
	return d
}
