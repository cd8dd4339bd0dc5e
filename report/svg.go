package report

import (
	"fmt"
	"html"
	"math"
	"strconv"
	"strings"
)

// A small SVG line-chart writer: the report needs axes with ticks, a few
// polylines, vertical marks, shaded bands and a legend, nothing more. It
// replaced gonum/plot, whose fonts alone weighed 4.3 MB of the binary.
//
// Layout: the plotting area on top, the axis labels around it and the legend
// in rows under the x-axis label, so the legend never covers a line.

// Chart geometry in SVG user units (CSS scales the chart; the viewBox keeps
// the aspect ratio).
const (
	svgWidth      = 520.0
	svgPlotTop    = 12.0
	svgPlotHeight = 200.0
	svgPlotLeft   = 58.0
	svgPlotRight  = 24.0
	svgAxisBelow  = 42.0 // tick labels and the x-axis label under the plot
	svgLegendRow  = 16.0
	svgFontSize   = 11.0
	// svgCharWidth estimates a character's width at svgFontSize in a
	// sans-serif font, to wrap legend rows without measuring text.
	svgCharWidth = 6.4
	svgThumb     = 22.0 // legend line sample
)

// Okabe–Ito palette: distinguishable with every common colour-vision
// deficiency. Series also differ by dash pattern, so colour is never the only cue.
const (
	colBlue      = "#0072B2"
	colVermilion = "#D55E00"
	colGreen     = "#009E73"
	colOrange    = "#E69F00"
	colPurple    = "#CC79A7"
	colSky       = "#56B4E9"
	colBlack     = "#000000"
	colShade     = "#E0E0E0"
	colGrid      = "#E8E8E8"
	colAxis      = "#5A5A5A"
)

// Dash patterns (stroke-dasharray), "" for solid.
const (
	dashSolid  = ""
	dashLong   = "6 3"
	dashDot    = "1.5 2.5"
	dashDotted = "6 2 1.5 2"
)

type point struct{ X, Y float64 }

type lineSeries struct {
	Name  string
	Pts   []point
	Color string
	Dash  string
	Width float64
}

// band shades [X0, X1] over the plot's full height (warm-up, spike).
type band struct {
	X0, X1 float64
	Name   string
}

// vmark is a vertical line at X over the plot's full height (knee, recovery).
type vmark struct {
	X     float64
	Name  string
	Color string
	Dash  string
}

type tick struct {
	V     float64
	Label string // "" for a minor tick
}

// lineChart is one chart. Axis ranges default to the data's (with "nice"
// rounding); YFromZero starts the y axis at 0, which suits rates, not
// latencies (a latency axis starts near the fastest request so the curve's
// shape is visible).
type lineChart struct {
	// Kind names the chart in a data-chart attribute (tests find it by it).
	Kind           string
	XLabel, YLabel string
	Series         []lineSeries
	Bands          []band
	Marks          []vmark
	YFromZero      bool
	// YFromMin starts the y axis exactly at the lowest value, labelled: the
	// percentile curve's first point is the fastest request, and the axis
	// must not suggest anything was faster.
	YFromMin bool
	// XMin/XMax fix the x range when XFixed; XTicks overrides the x ticks.
	XFixed     bool
	XMin, XMax float64
	XTicks     func(lo, hi float64) []tick
}

// dataRange is the extent of every drawn element along each axis.
func (c *lineChart) dataRange() (x0, x1, y0, y1 float64, ok bool) {
	x0, y0 = math.Inf(1), math.Inf(1)
	x1, y1 = math.Inf(-1), math.Inf(-1)
	see := func(x, y float64, withY bool) {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return
		}
		x0, x1 = math.Min(x0, x), math.Max(x1, x)
		if withY && !math.IsNaN(y) && !math.IsInf(y, 0) {
			y0, y1 = math.Min(y0, y), math.Max(y1, y)
			ok = true
		}
	}
	for _, s := range c.Series {
		for _, p := range s.Pts {
			see(p.X, p.Y, true)
		}
	}
	for _, b := range c.Bands {
		see(b.X0, 0, false)
		see(b.X1, 0, false)
	}
	for _, m := range c.Marks {
		see(m.X, 0, false)
	}
	return x0, x1, y0, y1, ok
}

// niceStep is a 1, 2 or 5 times a power of ten step giving about n intervals.
func niceStep(span float64, n int) float64 {
	if span <= 0 || math.IsNaN(span) || math.IsInf(span, 0) {
		return 1
	}
	raw := span / float64(n)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	switch f := raw / mag; {
	case f <= 1:
		return mag
	case f <= 2:
		return 2 * mag
	case f <= 5:
		return 5 * mag
	}
	return 10 * mag
}

// niceRange widens [lo, hi] to whole steps and returns the ticks.
func niceRange(lo, hi float64, n int) (float64, float64, []tick) {
	if hi <= lo {
		pad := math.Max(math.Abs(hi)*0.1, 1)
		lo, hi = lo-pad, hi+pad
		if lo < 0 && hi-pad >= 0 {
			lo = 0
		}
	}
	step := niceStep(hi-lo, n)
	lo = math.Floor(lo/step+1e-9) * step
	hi = math.Ceil(hi/step-1e-9) * step
	var ts []tick
	for i := 0; ; i++ {
		v := lo + float64(i)*step
		if v > hi+step*1e-6 {
			break
		}
		ts = append(ts, tick{V: v, Label: tickLabel(v)})
	}
	return lo, hi, ts
}

// tickLabel prints a tick value in its shortest exact form ("25", "0.3").
func tickLabel(v float64) string {
	v, _ = strconv.ParseFloat(strconv.FormatFloat(v, 'g', 10, 64), 64)
	if v == 0 {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// shortLabel prints v with three significant digits at most ("23.4", "0.512").
func shortLabel(v float64) string {
	var s string
	switch a := math.Abs(v); {
	case a >= 100:
		s = strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		s = strconv.FormatFloat(v, 'f', 1, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// legendItem is one legend entry with its position in the legend area.
type legendItem struct {
	x, y  float64
	name  string
	color string
	dash  string
	fill  bool // a band: a filled square instead of a line
}

// layoutLegend places the entries left to right in rows no wider than width.
func layoutLegend(c *lineChart, left, top, width float64) ([]legendItem, int) {
	var items []legendItem
	add := func(name, color, dash string, fill bool) {
		if name != "" {
			items = append(items, legendItem{name: name, color: color, dash: dash, fill: fill})
		}
	}
	for _, b := range c.Bands {
		add(b.Name, colShade, "", true)
	}
	for _, s := range c.Series {
		add(s.Name, s.Color, s.Dash, false)
	}
	for _, m := range c.Marks {
		add(m.Name, m.Color, m.Dash, false)
	}
	rows := 0
	x := left
	for i := range items {
		w := svgThumb + 6 + float64(len([]rune(items[i].name)))*svgCharWidth + 14
		if rows == 0 || (x+w > left+width && x > left) {
			rows++
			x = left
		}
		items[i].x, items[i].y = x, top+float64(rows-1)*svgLegendRow
		x += w
	}
	return items, rows
}

// render writes the chart as an inline SVG element. No user-controlled
// string is ever drawn (endpoint names go in the surrounding HTML); labels
// are escaped all the same.
func (c *lineChart) render() safeHTML {
	x0, x1, y0, y1, ok := c.dataRange()
	if !ok {
		return ""
	}
	var xt, yt []tick
	if c.XFixed {
		x0, x1 = c.XMin, c.XMax
	}
	if c.XTicks != nil {
		xt = c.XTicks(x0, x1)
	} else if c.XFixed {
		_, _, all := niceRange(x0, x1, 6)
		for _, t := range all {
			if t.V >= x0-1e-9 && t.V <= x1+1e-9 {
				xt = append(xt, t)
			}
		}
	} else {
		x0, x1, xt = niceRange(x0, x1, 6)
	}
	switch {
	case c.YFromMin && y1 > y0:
		lo := y0
		var all []tick
		_, y1, all = niceRange(y0, y1, 5)
		yt = []tick{{V: lo, Label: shortLabel(lo)}}
		for _, t := range all {
			// Skip ticks so close to the minimum that their labels collide.
			if t.V > lo+(y1-lo)*0.06 {
				yt = append(yt, t)
			}
		}
		y0 = lo
	case c.YFromZero:
		y0 = math.Min(0, y0)
		fallthrough
	default:
		y0, y1, yt = niceRange(y0, y1, 5)
	}

	plotW := svgWidth - svgPlotLeft - svgPlotRight
	legend, rows := layoutLegend(c, svgPlotLeft, svgPlotTop+svgPlotHeight+svgAxisBelow+4, plotW)
	height := svgPlotTop + svgPlotHeight + svgAxisBelow + float64(rows)*svgLegendRow + 6
	sx := func(x float64) float64 {
		if x1 == x0 {
			return svgPlotLeft
		}
		return svgPlotLeft + (x-x0)/(x1-x0)*plotW
	}
	sy := func(y float64) float64 {
		if y1 == y0 {
			return svgPlotTop + svgPlotHeight
		}
		return svgPlotTop + svgPlotHeight - (y-y0)/(y1-y0)*svgPlotHeight
	}
	clampX := func(x float64) float64 { return math.Min(math.Max(x, x0), x1) }
	clampY := func(y float64) float64 { return math.Min(math.Max(y, y0), y1) }

	var b strings.Builder
	fmt.Fprintf(&b, `<svg role="img" aria-hidden="true" xmlns="http://www.w3.org/2000/svg" data-chart="%s" viewBox="0 0 %s %s" data-xmin="%s" data-xmax="%s" data-ymin="%s" data-ymax="%s" font-family="system-ui,-apple-system,'Segoe UI',Roboto,'Liberation Sans',Arial,sans-serif" font-size="%s">`,
		html.EscapeString(c.Kind), num(svgWidth), num(height), tickLabel(x0), tickLabel(x1), tickLabel(y0), tickLabel(y1), num(svgFontSize))
	b.WriteString("\n")
	// The plotting area: the browser test checks the legend stays out of it.
	fmt.Fprintf(&b, `<rect class="plot-area" x="%s" y="%s" width="%s" height="%s" fill="#fff"/>`+"\n",
		num(svgPlotLeft), num(svgPlotTop), num(plotW), num(svgPlotHeight))
	for _, bd := range c.Bands {
		l, r := sx(clampX(bd.X0)), sx(clampX(bd.X1))
		if r > l {
			fmt.Fprintf(&b, `<rect class="band" x="%s" y="%s" width="%s" height="%s" fill="%s"/>`+"\n",
				num(l), num(svgPlotTop), num(r-l), num(svgPlotHeight), colShade)
		}
	}
	// Grid and ticks.
	b.WriteString(`<g class="grid" stroke="` + colGrid + `" stroke-width="1">`)
	for _, t := range xt {
		if t.Label != "" {
			fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(sx(t.V)), num(svgPlotTop), num(sx(t.V)), num(svgPlotTop+svgPlotHeight))
		}
	}
	for _, t := range yt {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(svgPlotLeft), num(sy(t.V)), num(svgPlotLeft+plotW), num(sy(t.V)))
	}
	b.WriteString("</g>\n")
	for _, s := range c.Series {
		if len(s.Pts) == 0 {
			continue
		}
		var d strings.Builder
		for i, p := range s.Pts {
			if i == 0 {
				d.WriteString("M")
			} else {
				d.WriteString(" L")
			}
			d.WriteString(num(sx(clampX(p.X))) + " " + num(sy(clampY(p.Y))))
		}
		fmt.Fprintf(&b, `<path class="series" d="%s" fill="none" stroke="%s" stroke-width="%s" stroke-linejoin="round"%s/>`+"\n",
			d.String(), s.Color, num(s.Width), dashAttr(s.Dash))
	}
	for _, m := range c.Marks {
		x := num(sx(clampX(m.X)))
		fmt.Fprintf(&b, `<path class="mark" d="M%s %s L%s %s" fill="none" stroke="%s" stroke-width="1.5"%s/>`+"\n",
			x, num(svgPlotTop), x, num(svgPlotTop+svgPlotHeight), m.Color, dashAttr(m.Dash))
	}
	// Axes: the x axis along the bottom of the range, the y axis on the left.
	bottom := svgPlotTop + svgPlotHeight
	fmt.Fprintf(&b, `<g class="axes" stroke="%s" stroke-width="1"><line x1="%s" y1="%s" x2="%s" y2="%s"/><line x1="%s" y1="%s" x2="%s" y2="%s"/>`,
		colAxis, num(svgPlotLeft), num(bottom), num(svgPlotLeft+plotW), num(bottom), num(svgPlotLeft), num(svgPlotTop), num(svgPlotLeft), num(bottom))
	for _, t := range xt {
		l := 5.0
		if t.Label == "" {
			l = 3
		}
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(sx(t.V)), num(bottom), num(sx(t.V)), num(bottom+l))
	}
	for _, t := range yt {
		fmt.Fprintf(&b, `<line x1="%s" y1="%s" x2="%s" y2="%s"/>`, num(svgPlotLeft-5), num(sy(t.V)), num(svgPlotLeft), num(sy(t.V)))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<g class="xticks" fill="%s" text-anchor="middle">`, colAxis)
	for _, t := range xt {
		if t.Label != "" {
			fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`, num(sx(t.V)), num(bottom+17), html.EscapeString(t.Label))
		}
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<g class="yticks" fill="%s" text-anchor="end">`, colAxis)
	for _, t := range yt {
		fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`, num(svgPlotLeft-8), num(sy(t.V)+4), html.EscapeString(t.Label))
	}
	b.WriteString("</g>\n")
	fmt.Fprintf(&b, `<text class="xlabel" x="%s" y="%s" text-anchor="middle">%s</text>`+"\n",
		num(svgPlotLeft+plotW/2), num(bottom+35), html.EscapeString(c.XLabel))
	fmt.Fprintf(&b, `<text class="ylabel" x="14" y="%s" text-anchor="middle" transform="rotate(-90 14 %s)">%s</text>`+"\n",
		num(svgPlotTop+svgPlotHeight/2), num(svgPlotTop+svgPlotHeight/2), html.EscapeString(c.YLabel))
	if len(legend) > 0 {
		b.WriteString(`<g class="legend">`)
		for _, it := range legend {
			mid := it.y + svgLegendRow/2
			if it.fill {
				fmt.Fprintf(&b, `<rect x="%s" y="%s" width="%s" height="10" fill="%s"/>`, num(it.x), num(mid-5), num(svgThumb), it.color)
			} else {
				fmt.Fprintf(&b, `<path d="M%s %s L%s %s" stroke="%s" stroke-width="2"%s/>`, num(it.x), num(mid), num(it.x+svgThumb), num(mid), it.color, dashAttr(it.dash))
			}
			fmt.Fprintf(&b, `<text x="%s" y="%s">%s</text>`, num(it.x+svgThumb+6), num(mid+4), html.EscapeString(it.name))
		}
		b.WriteString("</g>\n")
	}
	b.WriteString("</svg>")
	return safeHTML(b.String()) // #nosec: numbers and escaped fixed labels only
}

func dashAttr(d string) string {
	if d == "" {
		return ""
	}
	return ` stroke-dasharray="` + d + `"`
}

// num prints a coordinate with at most two decimals and no trailing zeros.
func num(v float64) string {
	s := strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
	if s == "-0" {
		return "0"
	}
	return s
}
