package report

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/loadgate/loadgate/results"
)

// Charts are drawn by the SVG writer in svg.go and inlined in the HTML
// report. No user-controlled string is ever drawn into a chart (names go in
// the surrounding HTML, escaped by the page writer, htmlpage.go).

const (
	// maxNines bounds the percentile chart's x axis at 99.999 %: beyond that
	// even a long CI run has too few samples for the tail to mean anything.
	maxNines = 5.0
	// ninesStep is the x resolution of the percentile curve (0.02 nines).
	ninesStep = 0.02
)

// ninesTicks labels the percentile axis: 0 → 0 %, 1 → 90 %, 2 → 99 % …,
// with a minor tick at 50 % of the way in quantile terms.
func ninesTicks(maxN float64) func(lo, hi float64) []tick {
	return func(lo, hi float64) []tick {
		var ts []tick
		for n := 0.0; n <= maxN+1e-9; n++ {
			ts = append(ts, tick{V: n, Label: ninesLabel(n)})
			if n+0.5 <= maxN {
				ts = append(ts, tick{V: n + math.Log10(2)})
			}
		}
		return ts
	}
}

func ninesLabel(n float64) string {
	if n == 0 {
		return "0%"
	}
	q := 100 * (1 - math.Pow(10, -n))
	return fmt.Sprintf("%.*f%%", max(0, int(n)-2), q)
}

// percentileSeries samples h at evenly spaced "nines" (x = -log10(1-q)).
func percentileSeries(h *results.Histogram, maxN float64) []point {
	if h == nil || h.Count() == 0 {
		return nil
	}
	var pts []point
	for x := 0.0; x <= maxN+1e-9; x += ninesStep {
		q := 1 - math.Pow(10, -x)
		pts = append(pts, point{X: x, Y: float64(h.Quantile(q)) / 1000})
	}
	return pts
}

// ninesFor is how far the x axis goes: log10(n) nines for the smaller
// non-empty side's n samples (the last quantile both sides have at least one
// sample beyond), in half-nine steps, capped at maxNines.
func ninesFor(counts ...int64) float64 {
	var n int64
	for _, c := range counts {
		if c > 0 && (n == 0 || c < n) {
			n = c
		}
	}
	if n < 10 {
		return 1
	}
	return math.Min(maxNines, math.Floor(math.Log10(float64(n))*2)/2)
}

// percentileChart overlays the baseline and current latency distributions.
// The latency axis starts near the fastest request, not at 0 ms: a curve
// from 23 ms to 80 ms drawn from 0 hides its own shape.
func percentileChart(base, head *results.Histogram) safeHTML {
	var bc, hc int64
	if base != nil {
		bc = base.Count()
	}
	if head != nil {
		hc = head.Count()
	}
	if bc == 0 && hc == 0 {
		return ""
	}
	maxN := ninesFor(bc, hc)
	c := &lineChart{Kind: "percentile", XLabel: "percentile", YLabel: "latency (ms)", YFromMin: true, XFixed: true, XMin: 0, XMax: maxN, XTicks: ninesTicks(maxN)}
	c.Series = append(c.Series,
		lineSeries{Name: "baseline", Pts: percentileSeries(base, maxN), Color: colBlue, Dash: dashLong, Width: 2},
		lineSeries{Name: "current", Pts: percentileSeries(head, maxN), Color: colVermilion, Dash: dashSolid, Width: 2})
	if bc == 0 {
		c.Series = c.Series[1:]
	}
	if hc == 0 {
		c.Series = c.Series[:1]
	}
	return c.render()
}

// windowSeconds is each window's start in seconds since t0.
func windowSeconds(w results.Window, t0 time.Time) float64 {
	return w.Start.Sub(t0).Seconds()
}

// warmupSpan is the [start, end) of leading warm-up windows in seconds.
func warmupSpan(ws []results.Window, t0 time.Time) (float64, float64) {
	var lo, hi float64
	found := false
	for _, w := range ws {
		if !w.Warmup {
			continue
		}
		s := windowSeconds(w, t0)
		e := s + w.Width.D().Seconds()
		if !found {
			lo, hi, found = s, e, true
		}
		lo, hi = math.Min(lo, s), math.Max(hi, e)
	}
	return lo, hi
}

func warmupBand(ws []results.Window, t0 time.Time, name string) []band {
	lo, hi := warmupSpan(ws, t0)
	if hi <= lo {
		return nil
	}
	return []band{{X0: lo, X1: hi, Name: name}}
}

// latencyOverTime plots p50/p95/p99 per window with warm-up shaded.
func latencyOverTime(ws []results.Window, t0 time.Time) safeHTML {
	var p50, p95, p99 []point
	for _, w := range ws {
		if w.Requests == 0 {
			continue
		}
		x := windowSeconds(w, t0) + w.Width.D().Seconds()/2
		p50 = append(p50, point{X: x, Y: w.P50})
		p95 = append(p95, point{X: x, Y: w.P95})
		p99 = append(p99, point{X: x, Y: w.P99})
	}
	c := &lineChart{Kind: "latency", XLabel: "time (s)", YLabel: "latency (ms)", YFromZero: true, Bands: warmupBand(ws, t0, "warm-up (excluded)")}
	c.Series = []lineSeries{
		{Name: "p99", Pts: p99, Color: colPurple, Dash: dashDot, Width: 1.8},
		{Name: "p95", Pts: p95, Color: colOrange, Dash: dashLong, Width: 1.8},
		{Name: "p50", Pts: p50, Color: colGreen, Dash: dashSolid, Width: 1.8},
	}
	return c.render()
}

// throughputOverTime plots achieved and offered requests/s and errors/s.
func throughputOverTime(ws []results.Window, t0 time.Time) safeHTML {
	var got, offered, errs []point
	for _, w := range ws {
		width := w.Width.D().Seconds()
		if width <= 0 {
			width = 1
		}
		x := windowSeconds(w, t0) + width/2
		got = append(got, point{X: x, Y: float64(w.Requests) / width})
		errs = append(errs, point{X: x, Y: float64(w.Errors) / width})
		if w.OfferedRPS > 0 {
			offered = append(offered, point{X: x, Y: w.OfferedRPS})
		}
	}
	c := &lineChart{Kind: "throughput", XLabel: "time (s)", YLabel: "requests/s", YFromZero: true, Bands: warmupBand(ws, t0, "warm-up")}
	c.Series = []lineSeries{
		{Name: "offered", Pts: offered, Color: colBlack, Dash: dashDot, Width: 1.2},
		{Name: "achieved", Pts: got, Color: colBlue, Dash: dashSolid, Width: 1.8},
		{Name: "errors/s", Pts: errs, Color: colVermilion, Dash: dashLong, Width: 1.8},
	}
	if len(offered) == 0 {
		c.Series = c.Series[1:]
	}
	return c.render()
}

// curveCharts are the stress/scalability curves: achieved vs offered rate and
// p95 vs offered rate, with the knee (highest sustainable rate) and the first
// breaking rate marked.
func curveCharts(d *results.Derived) (safeHTML, safeHTML) {
	if d == nil || len(d.Curve) == 0 {
		return "", ""
	}
	pts := append([]results.CurvePoint(nil), d.Curve...)
	sort.Slice(pts, func(i, j int) bool { return pts[i].OfferedRPS < pts[j].OfferedRPS })
	var ach, ideal, p95 []point
	for _, c := range pts {
		ach = append(ach, point{X: c.OfferedRPS, Y: c.AchievedRPS})
		ideal = append(ideal, point{X: c.OfferedRPS, Y: c.OfferedRPS})
		p95 = append(p95, point{X: c.OfferedRPS, Y: c.P95Ms})
	}
	var marks []vmark
	if d.MaxSustainableRPS > 0 {
		marks = append(marks, vmark{X: d.MaxSustainableRPS, Name: fmt.Sprintf("knee: %s sustainable", formatValue(d.MaxSustainableRPS, "rps")), Color: colGreen, Dash: dashSolid})
	}
	if d.BreakingRPS > 0 {
		marks = append(marks, vmark{X: d.BreakingRPS, Name: fmt.Sprintf("broke at %s", formatValue(d.BreakingRPS, "rps")), Color: colVermilion, Dash: dashDotted})
	}
	t := &lineChart{Kind: "curve-throughput", XLabel: "offered rate (requests/s)", YLabel: "achieved (requests/s)", YFromZero: true, Marks: marks,
		Series: []lineSeries{
			{Name: "offered = achieved", Pts: ideal, Color: colBlack, Dash: dashDot, Width: 1},
			{Name: "achieved", Pts: ach, Color: colBlue, Dash: dashSolid, Width: 2},
		}}
	l := &lineChart{Kind: "curve-latency", XLabel: "offered rate (requests/s)", YLabel: "p95 latency (ms)", YFromZero: true, Marks: marks,
		Series: []lineSeries{{Name: "p95", Pts: p95, Color: colOrange, Dash: dashSolid, Width: 2}}}
	return t.render(), l.render()
}

// spikeChart plots p95 over time with the spike and the recovery marked.
func spikeChart(f *results.File, ws []results.Window) safeHTML {
	d := f.Derived
	if d == nil || len(ws) == 0 {
		return ""
	}
	t0 := f.Run.Started
	spikeStart, spikeEnd, ok := spikeWindow(f.Profile)
	if !ok {
		return ""
	}
	var p95 []point
	for _, w := range ws {
		if w.Requests == 0 {
			continue
		}
		p95 = append(p95, point{X: windowSeconds(w, t0) + w.Width.D().Seconds()/2, Y: w.P95})
	}
	if len(p95) == 0 {
		return ""
	}
	c := &lineChart{Kind: "spike", XLabel: "time (s)", YLabel: "p95 latency (ms)", YFromZero: true,
		Bands:  []band{{X0: spikeStart.Seconds(), X1: spikeEnd.Seconds(), Name: "spike"}},
		Series: []lineSeries{{Name: "p95", Pts: p95, Color: colOrange, Dash: dashSolid, Width: 2}}}
	if d.PreSpikeP95Ms > 0 {
		c.Series = append(c.Series, lineSeries{Name: "pre-spike p95", Pts: []point{{X: 0, Y: d.PreSpikeP95Ms}, {X: p95[len(p95)-1].X, Y: d.PreSpikeP95Ms}}, Color: colBlack, Dash: dashDot, Width: 1})
	}
	if d.Recovered != nil && *d.Recovered && spikeDegraded(d) {
		c.Marks = append(c.Marks, vmark{X: spikeEnd.Seconds() + d.RecoveryMs/1000, Name: fmt.Sprintf("recovered after %.1f s", d.RecoveryMs/1000), Color: colGreen, Dash: dashLong})
	}
	return c.render()
}

// spikeWindow finds the spike stage (highest rate) in the schedule as run.
func spikeWindow(pr results.Profile) (time.Duration, time.Duration, bool) {
	var at, start, end time.Duration
	best := -1.0
	for _, s := range pr.Stages {
		r := math.Max(s.StartRate, s.EndRate)
		if r > best {
			best, start, end = r, at, at+s.Duration.D()
		}
		at += s.Duration.D()
	}
	return start, end, best > 0
}

// enduranceChart plots p95 over time with the least-squares drift line.
func enduranceChart(f *results.File, ws []results.Window) safeHTML {
	t0 := f.Run.Started
	var xs, ys []float64
	for _, w := range ws {
		if w.Warmup || w.Requests == 0 {
			continue
		}
		xs = append(xs, windowSeconds(w, t0)+w.Width.D().Seconds()/2)
		ys = append(ys, w.P95)
	}
	if len(xs) < 2 {
		return ""
	}
	var pts []point
	for i := range xs {
		pts = append(pts, point{X: xs[i], Y: ys[i]})
	}
	slope, icept := leastSquares(xs, ys)
	if f.Derived != nil && f.Derived.P95DriftMsPerHour != 0 {
		// Draw the slope the results report, through the data's centre.
		slope = f.Derived.P95DriftMsPerHour / 3600
		icept = mean(ys) - slope*mean(xs)
	}
	x0, x1 := xs[0], xs[len(xs)-1]
	c := &lineChart{Kind: "endurance", XLabel: "time (s)", YLabel: "p95 latency (ms)", YFromZero: true, Series: []lineSeries{
		{Name: "p95 per window", Pts: pts, Color: colOrange, Dash: dashSolid, Width: 1.5},
		{Name: fmt.Sprintf("drift %+.2f ms/h", slope*3600), Pts: []point{{X: x0, Y: icept + slope*x0}, {X: x1, Y: icept + slope*x1}}, Color: colBlue, Dash: dashLong, Width: 2},
	}}
	return c.render()
}

// payloadCharts plot p95 and p50, and bytes moved per second, against
// request payload size (volume).
func payloadCharts(d *results.Derived) (safeHTML, safeHTML) {
	if d == nil || len(d.Payloads) == 0 {
		return "", ""
	}
	pts := append([]results.PayloadPoint(nil), d.Payloads...)
	sort.Slice(pts, func(i, j int) bool { return pts[i].PayloadBytes < pts[j].PayloadBytes })
	var p50, p95, bps []point
	for _, x := range pts {
		kib := float64(x.PayloadBytes) / 1024
		p50 = append(p50, point{X: kib, Y: x.P50Ms})
		p95 = append(p95, point{X: kib, Y: x.P95Ms})
		bps = append(bps, point{X: kib, Y: x.BytesPerSec / (1 << 20)})
	}
	l := &lineChart{Kind: "payload-latency", XLabel: "payload (KiB)", YLabel: "latency (ms)", YFromZero: true, Series: []lineSeries{
		{Name: "p95", Pts: p95, Color: colOrange, Dash: dashLong, Width: 2},
		{Name: "p50", Pts: p50, Color: colSky, Dash: dashSolid, Width: 2},
	}}
	t := &lineChart{Kind: "payload-bytes", XLabel: "payload (KiB)", YLabel: "MiB/s moved", YFromZero: true, Series: []lineSeries{
		{Name: "bytes/s (sent + received)", Pts: bps, Color: colBlue, Dash: dashSolid, Width: 2},
	}}
	return l.render(), t.render()
}

func leastSquares(xs, ys []float64) (slope, icept float64) {
	mx, my := mean(xs), mean(ys)
	var num, den float64
	for i := range xs {
		num += (xs[i] - mx) * (ys[i] - my)
		den += (xs[i] - mx) * (xs[i] - mx)
	}
	if den == 0 {
		return 0, my
	}
	slope = num / den
	return slope, my - slope*mx
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s / float64(len(v))
}

// runWindows merges all endpoints' windows by start time (exactly, via their
// histograms) for run-level charts; the Total's windows are used when present.
func runWindows(f *results.File) []results.Window {
	if len(f.Total.Windows) > 0 {
		return f.Total.Windows
	}
	byStart := map[time.Time]*results.Window{}
	var order []time.Time
	for _, e := range f.Endpoints {
		for _, w := range e.Windows {
			m := byStart[w.Start]
			if m == nil {
				m = &results.Window{Start: w.Start, Width: w.Width, Warmup: w.Warmup, Histogram: results.NewHistogram()}
				byStart[w.Start] = m
				order = append(order, w.Start)
			}
			m.Requests += w.Requests
			m.Errors += w.Errors
			m.OfferedRPS += w.OfferedRPS
			if w.Histogram != nil {
				_ = m.Histogram.Merge(w.Histogram)
			}
		}
	}
	sort.Slice(order, func(i, j int) bool { return order[i].Before(order[j]) })
	out := make([]results.Window, 0, len(order))
	for _, t := range order {
		w := byStart[t]
		if w.Histogram.Count() > 0 {
			s := w.Histogram.Summary()
			w.P50, w.P90, w.P95, w.P99, w.Max, w.Mean = s.P50, s.P90, s.P95, s.P99, s.Max, s.Mean
		}
		out = append(out, *w)
	}
	return out
}
