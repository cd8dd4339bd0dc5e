package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"

	"github.com/loadgate/loadgate/results"
)

// Charts are drawn by gonum.org/v1/plot into SVG that is inlined in the HTML
// report. No user-controlled string is ever drawn into a chart (names go in
// the surrounding HTML, escaped by html/template), so the SVG is trusted.

// Okabe–Ito palette: distinguishable with every common colour-vision
// deficiency. Series also differ by dash pattern, so colour is never the only cue.
var (
	colBlue      = color.RGBA{0x00, 0x72, 0xB2, 0xff}
	colVermilion = color.RGBA{0xD5, 0x5E, 0x00, 0xff}
	colGreen     = color.RGBA{0x00, 0x9E, 0x73, 0xff}
	colOrange    = color.RGBA{0xE6, 0x9F, 0x00, 0xff}
	colPurple    = color.RGBA{0xCC, 0x79, 0xA7, 0xff}
	colSky       = color.RGBA{0x56, 0xB4, 0xE9, 0xff}
	colBlack     = color.RGBA{0x00, 0x00, 0x00, 0xff}
	colShade     = color.RGBA{0xE0, 0xE0, 0xE0, 0xff}
)

var (
	dashSolid  []vg.Length
	dashLong   = []vg.Length{vg.Points(6), vg.Points(3)}
	dashDot    = []vg.Length{vg.Points(1.5), vg.Points(2.5)}
	dashDotted = []vg.Length{vg.Points(6), vg.Points(2), vg.Points(1.5), vg.Points(2)}
)

const (
	chartW = 5.2 * vg.Inch
	chartH = 2.8 * vg.Inch
	// maxNines bounds the percentile chart's x axis at 99.999 %: beyond that
	// even a long CI run has too few samples for the tail to mean anything.
	maxNines = 5.0
	// ninesStep is the x resolution of the percentile curve (0.02 nines).
	ninesStep = 0.02
	// legendRoom scales the y axis of time charts above the data so the
	// legend (top right) does not cover the lines.
	legendRoom = 1.45
)

// newPlot returns a plot styled for the report: sans-serif text, light grid.
func newPlot(xLabel, yLabel string) *plot.Plot {
	p := plot.New()
	for _, ts := range []*draw.TextStyle{&p.Title.TextStyle, &p.X.Label.TextStyle, &p.Y.Label.TextStyle,
		&p.X.Tick.Label, &p.Y.Tick.Label, &p.Legend.TextStyle} {
		ts.Font.Variant = "Sans"
	}
	p.X.Label.Text, p.Y.Label.Text = xLabel, yLabel
	p.X.Label.TextStyle.Font.Size = vg.Points(10)
	p.Y.Label.TextStyle.Font.Size = vg.Points(10)
	p.X.Tick.Label.Font.Size = vg.Points(9)
	p.Y.Tick.Label.Font.Size = vg.Points(9)
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.ThumbnailWidth = vg.Points(22)
	g := plotter.NewGrid()
	g.Vertical.Color = color.Gray{0xe8}
	g.Horizontal.Color = color.Gray{0xe8}
	p.Add(g)
	p.Y.Min = 0
	p.X.Tick.Marker = plainTicks{}
	p.Y.Tick.Marker = plainTicks{}
	return p
}

// plainTicks are gonum's default ticks with labels in the shortest exact
// form ("25", not "25.00").
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			// Round away float noise (0.30000000000000004) before printing.
			v, _ := strconv.ParseFloat(strconv.FormatFloat(ts[i].Value, 'g', 10, 64), 64)
			ts[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ts
}

// svgOf renders p as an inline SVG element (no XML prolog).
func svgOf(p *plot.Plot) (template.HTML, error) {
	c := vgsvg.New(chartW, chartH)
	p.Draw(draw.New(c))
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("render chart: %w", err)
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i >= 0 {
		s = s[i:]
	}
	// Let CSS size the chart; the viewBox keeps the aspect ratio.
	s = strings.Replace(s, `<svg width="`, `<svg role="img" aria-hidden="true" data-w="`, 1)
	s = strings.Replace(s, `" height="`, `" data-h="`, 1)
	return template.HTML(s), nil // #nosec: drawn from numbers and fixed labels only
}

func addLine(p *plot.Plot, pts plotter.XYs, c color.Color, dash []vg.Length, width float64, legend string) error {
	if len(pts) == 0 {
		return nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return fmt.Errorf("chart line %s: %w", legend, err)
	}
	l.Color = c
	l.Dashes = dash
	l.Width = vg.Points(width)
	p.Add(l)
	if legend != "" {
		p.Legend.Add(legend, l)
	}
	return nil
}

// vline marks x with a vertical line from 0 to top.
func vline(p *plot.Plot, x, top float64, c color.Color, dash []vg.Length, legend string) error {
	return addLine(p, plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}}, c, dash, 1.5, legend)
}

// shade draws a grey band over [x0, x1] (warm-up), below the data.
func shade(p *plot.Plot, x0, x1, top float64, legend string) error {
	if x1 <= x0 || top <= 0 {
		return nil
	}
	poly, err := plotter.NewPolygon(plotter.XYs{{X: x0, Y: 0}, {X: x1, Y: 0}, {X: x1, Y: top}, {X: x0, Y: top}})
	if err != nil {
		return err
	}
	poly.Color = colShade
	poly.LineStyle.Width = 0
	p.Add(poly)
	if legend != "" {
		p.Legend.Add(legend, poly)
	}
	return nil
}

// ninesTicks labels the percentile axis: 0 → 0 %, 1 → 90 %, 2 → 99 % …
type ninesTicks struct{ max float64 }

func (t ninesTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	for n := 0.0; n <= t.max+1e-9; n++ {
		ts = append(ts, plot.Tick{Value: n, Label: ninesLabel(n)})
		if n+0.5 <= t.max {
			ts = append(ts, plot.Tick{Value: n + math.Log10(2)}) // minor tick at 50 % of the way in quantile terms
		}
	}
	return ts
}

func ninesLabel(n float64) string {
	if n == 0 {
		return "0%"
	}
	q := 100 * (1 - math.Pow(10, -n))
	return fmt.Sprintf("%.*f%%", max(0, int(n)-2), q)
}

// percentileSeries samples h at evenly spaced "nines" (x = -log10(1-q)).
func percentileSeries(h *results.Histogram, maxN float64) plotter.XYs {
	if h == nil || h.Count() == 0 {
		return nil
	}
	var pts plotter.XYs
	for x := 0.0; x <= maxN+1e-9; x += ninesStep {
		q := 1 - math.Pow(10, -x)
		pts = append(pts, plotter.XY{X: x, Y: float64(h.Quantile(q)) / 1000})
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
func percentileChart(base, head *results.Histogram) (template.HTML, error) {
	var bc, hc int64
	if base != nil {
		bc = base.Count()
	}
	if head != nil {
		hc = head.Count()
	}
	if bc == 0 && hc == 0 {
		return "", nil
	}
	maxN := ninesFor(bc, hc)
	p := newPlot("percentile", "latency (ms)")
	p.X.Min, p.X.Max = 0, maxN
	p.X.Tick.Marker = ninesTicks{max: maxN}
	if err := addLine(p, percentileSeries(base, maxN), colBlue, dashLong, 2, "baseline"); err != nil {
		return "", err
	}
	if err := addLine(p, percentileSeries(head, maxN), colVermilion, dashSolid, 2, "current"); err != nil {
		return "", err
	}
	return svgOf(p)
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

// latencyOverTime plots p50/p95/p99 per window with warm-up shaded.
func latencyOverTime(ws []results.Window, t0 time.Time) (template.HTML, error) {
	if len(ws) == 0 {
		return "", nil
	}
	p := newPlot("time (s)", "latency (ms)")
	var p50, p95, p99 plotter.XYs
	top := 0.0
	for _, w := range ws {
		if w.Requests == 0 {
			continue
		}
		x := windowSeconds(w, t0) + w.Width.D().Seconds()/2
		p50 = append(p50, plotter.XY{X: x, Y: w.P50})
		p95 = append(p95, plotter.XY{X: x, Y: w.P95})
		p99 = append(p99, plotter.XY{X: x, Y: w.P99})
		top = math.Max(top, w.P99)
	}
	// Head room above the data keeps the legend clear of the lines.
	top *= legendRoom
	p.Y.Max = top
	lo, hi := warmupSpan(ws, t0)
	if err := shade(p, lo, hi, top, "warm-up (excluded)"); err != nil {
		return "", err
	}
	for _, s := range []struct {
		pts  plotter.XYs
		c    color.Color
		d    []vg.Length
		name string
	}{{p99, colPurple, dashDot, "p99"}, {p95, colOrange, dashLong, "p95"}, {p50, colGreen, dashSolid, "p50"}} {
		if err := addLine(p, s.pts, s.c, s.d, 1.8, s.name); err != nil {
			return "", err
		}
	}
	p.Legend.Left = false
	return svgOf(p)
}

// throughputOverTime plots achieved and offered requests/s and errors/s.
func throughputOverTime(ws []results.Window, t0 time.Time) (template.HTML, error) {
	if len(ws) == 0 {
		return "", nil
	}
	p := newPlot("time (s)", "requests/s")
	var got, offered, errs plotter.XYs
	top := 0.0
	for _, w := range ws {
		width := w.Width.D().Seconds()
		if width <= 0 {
			width = 1
		}
		x := windowSeconds(w, t0) + width/2
		got = append(got, plotter.XY{X: x, Y: float64(w.Requests) / width})
		errs = append(errs, plotter.XY{X: x, Y: float64(w.Errors) / width})
		if w.OfferedRPS > 0 {
			offered = append(offered, plotter.XY{X: x, Y: w.OfferedRPS})
		}
		top = math.Max(top, math.Max(float64(w.Requests)/width, w.OfferedRPS))
	}
	top *= legendRoom
	p.Y.Max = top
	lo, hi := warmupSpan(ws, t0)
	if err := shade(p, lo, hi, top, "warm-up"); err != nil {
		return "", err
	}
	if err := addLine(p, offered, colBlack, dashDot, 1.2, "offered"); err != nil {
		return "", err
	}
	if err := addLine(p, got, colBlue, dashSolid, 1.8, "achieved"); err != nil {
		return "", err
	}
	if err := addLine(p, errs, colVermilion, dashLong, 1.8, "errors/s"); err != nil {
		return "", err
	}
	p.Legend.Left = false
	return svgOf(p)
}

// curveCharts are the stress/scalability curves: achieved vs offered rate and
// p95 vs offered rate, with the knee (highest sustainable rate) and the first
// breaking rate marked.
func curveCharts(d *results.Derived) (template.HTML, template.HTML, error) {
	if d == nil || len(d.Curve) == 0 {
		return "", "", nil
	}
	pts := append([]results.CurvePoint(nil), d.Curve...)
	sort.Slice(pts, func(i, j int) bool { return pts[i].OfferedRPS < pts[j].OfferedRPS })
	var ach, ideal, p95 plotter.XYs
	topT, topL := 0.0, 0.0
	for _, c := range pts {
		ach = append(ach, plotter.XY{X: c.OfferedRPS, Y: c.AchievedRPS})
		ideal = append(ideal, plotter.XY{X: c.OfferedRPS, Y: c.OfferedRPS})
		p95 = append(p95, plotter.XY{X: c.OfferedRPS, Y: c.P95Ms})
		topT = math.Max(topT, math.Max(c.AchievedRPS, c.OfferedRPS))
		topL = math.Max(topL, c.P95Ms)
	}
	mark := func(p *plot.Plot, top float64) error {
		if d.MaxSustainableRPS > 0 {
			if err := vline(p, d.MaxSustainableRPS, top, colGreen, dashSolid, fmt.Sprintf("knee: %s sustainable", formatValue(d.MaxSustainableRPS, "rps"))); err != nil {
				return err
			}
		}
		if d.BreakingRPS > 0 {
			if err := vline(p, d.BreakingRPS, top, colVermilion, dashDotted, fmt.Sprintf("broke at %s", formatValue(d.BreakingRPS, "rps"))); err != nil {
				return err
			}
		}
		return nil
	}
	t := newPlot("offered rate (requests/s)", "achieved (requests/s)")
	if err := addLine(t, ideal, colBlack, dashDot, 1, "offered = achieved"); err != nil {
		return "", "", err
	}
	if err := addLine(t, ach, colBlue, dashSolid, 2, "achieved"); err != nil {
		return "", "", err
	}
	if err := mark(t, topT*1.05); err != nil {
		return "", "", err
	}
	l := newPlot("offered rate (requests/s)", "p95 latency (ms)")
	if err := addLine(l, p95, colOrange, dashSolid, 2, "p95"); err != nil {
		return "", "", err
	}
	if err := mark(l, topL*1.05); err != nil {
		return "", "", err
	}
	ts, err := svgOf(t)
	if err != nil {
		return "", "", err
	}
	ls, err := svgOf(l)
	return ts, ls, err
}

// spikeChart plots p95 over time with the spike and the recovery marked.
func spikeChart(f *results.File, ws []results.Window) (template.HTML, error) {
	d := f.Derived
	if d == nil || len(ws) == 0 {
		return "", nil
	}
	t0 := f.Run.Started
	spikeStart, spikeEnd, ok := spikeWindow(f.Profile)
	if !ok {
		return "", nil
	}
	p := newPlot("time (s)", "p95 latency (ms)")
	var p95 plotter.XYs
	top := 0.0
	for _, w := range ws {
		if w.Requests == 0 {
			continue
		}
		p95 = append(p95, plotter.XY{X: windowSeconds(w, t0) + w.Width.D().Seconds()/2, Y: w.P95})
		top = math.Max(top, w.P95)
	}
	top *= 1.05
	if err := shade(p, spikeStart.Seconds(), spikeEnd.Seconds(), top, "spike"); err != nil {
		return "", err
	}
	if err := addLine(p, p95, colOrange, dashSolid, 2, "p95"); err != nil {
		return "", err
	}
	if d.PreSpikeP95Ms > 0 {
		lo, hi := 0.0, p95[len(p95)-1].X
		if err := addLine(p, plotter.XYs{{X: lo, Y: d.PreSpikeP95Ms}, {X: hi, Y: d.PreSpikeP95Ms}}, colBlack, dashDot, 1, "pre-spike p95"); err != nil {
			return "", err
		}
	}
	if d.Recovered != nil && *d.Recovered {
		x := spikeEnd.Seconds() + d.RecoveryMs/1000
		if err := vline(p, x, top, colGreen, dashLong, fmt.Sprintf("recovered after %.1f s", d.RecoveryMs/1000)); err != nil {
			return "", err
		}
	}
	p.Legend.Left = false
	return svgOf(p)
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
func enduranceChart(f *results.File, ws []results.Window) (template.HTML, error) {
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
		return "", nil
	}
	p := newPlot("time (s)", "p95 latency (ms)")
	var pts plotter.XYs
	top := 0.0
	for i := range xs {
		pts = append(pts, plotter.XY{X: xs[i], Y: ys[i]})
		top = math.Max(top, ys[i])
	}
	if err := addLine(p, pts, colOrange, dashSolid, 1.5, "p95 per window"); err != nil {
		return "", err
	}
	slope, icept := leastSquares(xs, ys)
	if f.Derived != nil && f.Derived.P95DriftMsPerHour != 0 {
		// Draw the slope the results report, through the data's centre.
		slope = f.Derived.P95DriftMsPerHour / 3600
		icept = mean(ys) - slope*mean(xs)
	}
	x0, x1 := xs[0], xs[len(xs)-1]
	drift := fmt.Sprintf("drift %+.2f ms/h", slope*3600)
	if err := addLine(p, plotter.XYs{{X: x0, Y: icept + slope*x0}, {X: x1, Y: icept + slope*x1}}, colBlue, dashLong, 2, drift); err != nil {
		return "", err
	}
	p.Legend.Left = false
	p.Legend.Top = false
	return svgOf(p)
}

// payloadChart plots p95 and p50 against request payload size (volume).
func payloadChart(d *results.Derived) (template.HTML, error) {
	if d == nil || len(d.Payloads) == 0 {
		return "", nil
	}
	pts := append([]results.PayloadPoint(nil), d.Payloads...)
	sort.Slice(pts, func(i, j int) bool { return pts[i].PayloadBytes < pts[j].PayloadBytes })
	var p50, p95 plotter.XYs
	for _, x := range pts {
		kib := float64(x.PayloadBytes) / 1024
		p50 = append(p50, plotter.XY{X: kib, Y: x.P50Ms})
		p95 = append(p95, plotter.XY{X: kib, Y: x.P95Ms})
	}
	p := newPlot("payload (KiB)", "latency (ms)")
	if err := addLine(p, p95, colOrange, dashLong, 2, "p95"); err != nil {
		return "", err
	}
	if err := addLine(p, p50, colSky, dashSolid, 2, "p50"); err != nil {
		return "", err
	}
	return svgOf(p)
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
