// Package report renders a verdict and its results as text, Markdown, JSON,
// JUnit XML and a self-contained HTML page. It imports only gate and results;
// posting to GitHub lives in internal/action and internal/ghclient.
package report

import (
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

// Input is everything a renderer may show. Verdict is required by every format
// except html and json, which can also show a run without a verdict; Head and
// Base add run metadata, histograms and windows where a format uses them.
type Input struct {
	Verdict *gate.Verdict
	Head    *results.File
	Base    []*results.File
	// Title overrides the heading (default: the plan name).
	Title string
}

// Options tune the renderers that have choices.
type Options struct {
	// Color adds ANSI colours to the text report (regressions are marked by a
	// word as well, never by colour alone).
	Color bool
	// MaxChars bounds the Markdown output in bytes (0 = unlimited); see
	// MarkdownLimited.
	MaxChars int
}

// Format names accepted by Write.
const (
	FormatText     = "text"
	FormatMarkdown = "markdown"
	FormatJSON     = "json"
	FormatJUnit    = "junit"
	FormatHTML     = "html"
)

// Formats lists the formats Write accepts, in a stable order.
func Formats() []string {
	return []string{FormatText, FormatMarkdown, FormatJSON, FormatJUnit, FormatHTML}
}

// ErrUnknownFormat is returned (wrapped) by Write for a format it does not know.
var ErrUnknownFormat = errors.New("unknown report format")

// ErrNoVerdict is returned (wrapped) when a format needs a verdict and Input has none.
var ErrNoVerdict = errors.New("report needs a verdict")

// Write renders in as format to w with default options. "md" is accepted for
// markdown and "xml" for junit.
func Write(format string, w io.Writer, in Input) error {
	return WriteOptions(format, w, in, Options{})
}

// WriteOptions is Write with options.
func WriteOptions(format string, w io.Writer, in Input, opt Options) error {
	switch strings.ToLower(format) {
	case FormatText, "txt":
		return Text(w, in, opt)
	case FormatMarkdown, "md":
		if opt.MaxChars > 0 {
			return MarkdownLimited(w, in, opt.MaxChars)
		}
		return Markdown(w, in)
	case FormatJSON:
		return JSON(w, in)
	case FormatJUnit, "xml":
		return JUnit(w, in)
	case FormatHTML, "htm":
		return HTML(w, in)
	}
	return fmt.Errorf("%w %q (want one of %s)", ErrUnknownFormat, format, strings.Join(Formats(), ", "))
}

// errWriter remembers the first write error so renderers can write freely and
// report the failure once; a renderer never returns nil after a failed write.
type errWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.n += int64(n)
	if err == nil && n < len(p) {
		err = io.ErrShortWrite
	}
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) {
	fmt.Fprintf(e, format, args...)
}

func (e *errWriter) result(what string) error {
	if e.err != nil {
		return fmt.Errorf("write %s report: %w", what, e.err)
	}
	return nil
}

// title is the report heading.
func (in Input) title() string {
	if in.Title != "" {
		return in.Title
	}
	if in.Verdict != nil && in.Verdict.Plan != "" {
		return in.Verdict.Plan
	}
	if in.Head != nil && in.Head.Plan.Name != "" {
		return in.Head.Plan.Name
	}
	return "loadgate"
}

// ---- the table model shared by text, markdown, junit and html ----

// row is one metric of one endpoint in a verdict table.
type row struct {
	Metric string // "p95", "server p95", "p95 SLO"
	Base   string
	Head   string
	// Change is the benchstat-style delta: "+12.6% [+8.1, +16.9] p=0.002", "~ (p=0.41)", "+3.0%".
	Change   string
	Decision gate.Decision // "" when the metric is shown but not gated
	// Tolerance is a baseline check's allowed change as the plan wrote it
	// ("+10%"), shown with the decision so a reader sees why it was made.
	Tolerance string
	Notes     []int // footnote numbers
	check     *gate.Check
	// more counts the other passed checks a compact row stands for.
	more int
}

// endpointTable is one endpoint's block.
type endpointTable struct {
	Name     string
	Decision gate.Decision
	// Unchecked is an endpoint that passed without a single check.
	Unchecked bool
	Rows      []row
	Notes     []int
}

// table is a rendered-agnostic view of a verdict.
type table struct {
	Endpoints []endpointTable
	Notes     []string // footnotes, numbered from 1
	Overall   []int    // footnotes of verdict-level warnings
}

// metricOrder is the order metrics appear in; the first five are always shown.
var metricOrder = []gate.Metric{gate.P50, gate.P90, gate.P95, gate.P99, gate.Max, gate.Throughput, gate.ErrorRate}

func alwaysShown(m gate.Metric) bool {
	switch m {
	case gate.P50, gate.P95, gate.P99, gate.Throughput, gate.ErrorRate:
		return true
	}
	return false
}

// withTolerance appends a baseline check's tolerance to its decision word.
func withTolerance(word string, r row) string {
	if r.Tolerance == "" || word == "" {
		return word
	}
	return word + " (tol. " + r.Tolerance + ")"
}

// decisionRank orders endpoints: the ones that need attention first.
func decisionRank(d gate.Decision) int {
	switch d {
	case gate.Regressed:
		return 0
	case gate.Invalid:
		return 1
	case gate.Inconclusive:
		return 2
	case gate.Missing:
		return 3
	case gate.New:
		return 4
	case gate.Improved:
		return 5
	case gate.Pass:
		return 6
	}
	return 7
}

// SortEndpoints returns a copy of the verdict's endpoints in report order:
// the ones that need attention first (regressed, invalid, inconclusive,
// missing, new, improved, pass), the gate's order kept within a decision.
func SortEndpoints(v *gate.Verdict) []gate.EndpointVerdict {
	eps := make([]gate.EndpointVerdict, len(v.Endpoints))
	copy(eps, v.Endpoints)
	sort.SliceStable(eps, func(i, j int) bool { return decisionRank(eps[i].Decision) < decisionRank(eps[j].Decision) })
	return eps
}

// unchanged reports whether an endpoint needs no attention (collapsed in Markdown).
func unchanged(d gate.Decision) bool { return d == gate.Pass }

type notes struct {
	list  []string
	index map[string]int
}

func (n *notes) add(s string) int {
	if n.index == nil {
		n.index = map[string]int{}
	}
	if i, ok := n.index[s]; ok {
		return i
	}
	n.list = append(n.list, s)
	n.index[s] = len(n.list)
	return len(n.list)
}

func (n *notes) addAll(ws []string) []int {
	var out []int
	for _, w := range ws {
		out = append(out, n.add(w))
	}
	return out
}

// buildTable turns a verdict into rows, endpoints sorted by urgency then name
// (stable for equal ranks, so the gate's order is kept within a rank).
func buildTable(v *gate.Verdict) table {
	var t table
	var fn notes
	t.Overall = fn.addAll(v.Warnings)
	for _, r := range v.Incompatible {
		t.Overall = append(t.Overall, fn.add("incompatible baseline: "+r))
	}
	for _, e := range SortEndpoints(v) {
		et := endpointTable{Name: e.Name, Decision: e.Decision, Notes: fn.addAll(e.Warnings),
			Unchecked: e.Decision == gate.Pass && len(e.Checks) == 0}
		byMetric := map[gate.Metric]*gate.Check{}
		servers := map[gate.Metric]*gate.Check{}
		var slos []*gate.Check
		for i := range e.Checks {
			c := &e.Checks[i]
			if c.Kind == "slo" {
				slos = append(slos, c)
				continue
			}
			if c.Source == gate.SourceServer {
				if _, dup := servers[c.Metric]; !dup {
					servers[c.Metric] = c
				}
				continue
			}
			if _, dup := byMetric[c.Metric]; !dup {
				byMetric[c.Metric] = c
			}
		}
		for _, m := range metricOrder {
			c := byMetric[m]
			if c == nil && !alwaysShown(m) {
				continue
			}
			if c == nil && e.Base == nil && e.Head == nil {
				continue
			}
			r := row{Metric: string(m), check: c}
			r.Base, r.Head = figure(e.Base, m), figure(e.Head, m)
			if c != nil {
				// The check's own values are what its change was computed
				// from (e.g. pooled per-window figures), so show those.
				if e.Base != nil || c.Base != 0 || !c.Measured(gate.SideBase) {
					r.Base = checkValue(c, gate.SideBase)
				}
				if e.Head != nil || c.Head != 0 || !c.Measured(gate.SideHead) {
					r.Head = checkValue(c, gate.SideHead)
				}
				r.Change = checkChange(c)
				r.Decision = c.Decision
				if c.Kind == "baseline" {
					r.Tolerance = c.Tolerance
				}
				r.Notes = fn.addAll(c.Warnings)
			} else {
				r.Change = figureChange(e.Base, e.Head, m)
			}
			et.Rows = append(et.Rows, r)
		}
		// Server-time checks follow the latency rows they mirror, in the
		// same order; the figures are the check's own (Figures are the
		// client's).
		for _, m := range metricOrder {
			c := servers[m]
			if c == nil {
				continue
			}
			r := row{Metric: c.Label(), check: c, Base: checkValue(c, gate.SideBase), Head: checkValue(c, gate.SideHead),
				Change: checkChange(c), Decision: c.Decision, Tolerance: c.Tolerance, Notes: fn.addAll(c.Warnings)}
			et.Rows = append(et.Rows, r)
		}
		for _, c := range slos {
			r := row{Metric: string(c.Metric) + " SLO", check: c, Decision: c.Decision}
			r.Base = sloLimit(*c)
			r.Head = checkValue(c, gate.SideHead)
			switch {
			case len(c.NotMeasured) > 0:
				r.Change = notMeasured
			case c.Decision == gate.Regressed:
				r.Change = "breached"
			case c.Decision == gate.Pass, c.Decision == gate.Improved:
				r.Change = "met"
			}
			r.Notes = fn.addAll(c.Warnings)
			et.Rows = append(et.Rows, r)
		}
		t.Endpoints = append(t.Endpoints, et)
	}
	t.Notes = fn.list
	return t
}

// figure formats one side's headline figure for metric m ("—" when absent
// or not measured).
func figure(f *gate.Figures, m gate.Metric) string {
	if f == nil || slices.Contains(f.Unmeasured, m) {
		return absent
	}
	v, unit, ok := figureValue(f, m)
	if !ok {
		return absent
	}
	return formatValue(v, unit)
}

// absent stands for a figure nobody measured, and notMeasured for the
// change of a check that could not be made for want of it: a placeholder 0
// would read as a measured zero ("0.00 ms … +0.0%").
const (
	absent      = "—"
	notMeasured = "not measured"
)

// checkValue formats a check's figure on side (gate.SideBase, gate.SideHead).
func checkValue(c *gate.Check, side string) string {
	if !c.Measured(side) {
		return absent
	}
	if side == gate.SideBase {
		return formatValue(c.Base, c.Unit)
	}
	return formatValue(c.Head, c.Unit)
}

func figureValue(f *gate.Figures, m gate.Metric) (float64, string, bool) {
	switch m {
	case gate.P50:
		return f.P50, "ms", true
	case gate.P90:
		return f.P90, "ms", true
	case gate.P95:
		return f.P95, "ms", true
	case gate.P99:
		return f.P99, "ms", true
	case gate.Max:
		return f.Max, "ms", true
	case gate.Throughput:
		return f.Throughput, "rps", true
	case gate.ErrorRate:
		return f.ErrorRatePct, "%", true
	}
	return 0, "", false
}

// figureChange is the plain change of an ungated metric (no test ran).
func figureChange(b, h *gate.Figures, m gate.Metric) string {
	if b == nil || h == nil {
		return ""
	}
	if slices.Contains(b.Unmeasured, m) || slices.Contains(h.Unmeasured, m) {
		return notMeasured
	}
	bv, unit, _ := figureValue(b, m)
	hv, _, _ := figureValue(h, m)
	if unit == "%" {
		return formatPP(hv - bv)
	}
	if bv == 0 {
		return ""
	}
	return formatPct((hv - bv) / bv)
}

// checkChange renders a check's change benchstat style: the delta with its
// interval and p-value when significant, "~" with the p-value when not;
// "not measured" for a check a side had no figure for.
func checkChange(c *gate.Check) string {
	if len(c.NotMeasured) > 0 {
		return notMeasured
	}
	pp := c.Unit == "%" || c.Metric == gate.ErrorRate
	fd := formatPct
	if pp {
		fd = formatPP
	}
	var b strings.Builder
	tested := c.PValue >= 0
	if tested && !c.Significant {
		b.WriteString("~")
	} else {
		b.WriteString(fd(c.Delta))
	}
	if c.HasCI {
		if pp {
			fmt.Fprintf(&b, " [%s, %s]", signed(c.CILow, 2), signed(c.CIHigh, 2))
		} else {
			fmt.Fprintf(&b, " [%s, %s]", signed(c.CILow*100, 1), ciHigh(c.CIHigh))
		}
	}
	if tested {
		fmt.Fprintf(&b, " %s", formatP(c.PValue))
	}
	return b.String()
}

// CheckMessage is a check in one line of plain text, as the JUnit report
// gives it: "p95 68.2 ms → 80.0 ms +12.6% [+8.1, +16.9] p=0.002 (tolerance
// +10%)", or "p95 79.1 ms (SLO ≤ 300 ms)". Nothing is escaped.
func CheckMessage(c gate.Check) string { return checkMessage(&c) }

// ShortChange is a check's change in a few characters, for one-line titles:
// the estimate without interval or p-value ("+12.6%", "+0.20pp"), or for an
// SLO the value against its limit ("79.1 ms (limit ≤ 300 ms)"), or "not
// measured". Nothing is escaped.
func ShortChange(c gate.Check) string {
	switch {
	case len(c.NotMeasured) > 0:
		return notMeasured
	case c.Kind == "slo":
		return formatValue(c.Head, c.Unit) + " (limit " + sloLimit(c) + ")"
	case c.Unit == "%" || c.Metric == gate.ErrorRate:
		return formatPP(c.Delta)
	}
	return formatPct(c.Delta)
}

func signed(v float64, prec int) string {
	s := fmt.Sprintf("%+.*f", prec, v)
	if s == fmt.Sprintf("-%.*f", prec, 0.0) {
		return fmt.Sprintf("+%.*f", prec, 0.0)
	}
	return s
}

// ciHigh is a relative interval's upper end in percent; beyond +1000 % a
// figure says nothing but "too few samples", so it reads "> +1000".
func ciHigh(f float64) string {
	if f > 10 {
		return "> +1000"
	}
	return signed(f*100, 1)
}

func formatPct(f float64) string { return signed(f*100, 1) + "%" }
func formatPP(v float64) string  { return signed(v, 2) + "pp" }

func formatP(p float64) string {
	if p < 0.001 {
		return "p<0.001"
	}
	return fmt.Sprintf("p=%.3f", p)
}

// formatValue formats a figure in its unit with precision that suits its size.
func formatValue(v float64, unit string) string {
	switch unit {
	case "ms":
		return formatMs(v)
	case "rps":
		if v < 100 {
			return fmt.Sprintf("%.1f/s", v)
		}
		return fmt.Sprintf("%.0f/s", v)
	case "%":
		return fmt.Sprintf("%.2f%%", v)
	}
	return fmt.Sprintf("%g %s", v, unit)
}

func formatMs(ms float64) string {
	switch {
	case math.IsNaN(ms): // a figure the source did not measure (results.Unmeasured)
		return "unmeasured"
	case ms >= 10000:
		return fmt.Sprintf("%.1f s", ms/1000)
	case ms >= 100:
		return fmt.Sprintf("%.0f ms", ms)
	case ms >= 10:
		return fmt.Sprintf("%.1f ms", ms)
	default:
		return fmt.Sprintf("%.2f ms", ms)
	}
}

// counts summarises endpoint decisions: "1 regressed, 2 pass", or "2
// endpoints measured" when nothing was checked.
func counts(v *gate.Verdict) string {
	if nothingChecked(v) && len(v.Endpoints) > 0 {
		return plural(len(v.Endpoints), "endpoint") + " measured"
	}
	n := map[gate.Decision]int{}
	for _, e := range v.Endpoints {
		n[e.Decision]++
	}
	var parts []string
	for _, d := range []gate.Decision{gate.Regressed, gate.Invalid, gate.Inconclusive, gate.Missing, gate.New, gate.Improved, gate.Pass} {
		if n[d] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[d], d))
		}
	}
	if len(parts) == 0 {
		return "no endpoints"
	}
	return strings.Join(parts, ", ")
}

// wordNothingChecked heads a verdict that passed without a single check.
const wordNothingChecked = "NOTHING CHECKED"

// nothingChecked reports a verdict that passed without a single check (a run
// alone, with no baseline and no SLO): it exits 0, but "PASS" over an empty
// check column would claim a judgement nobody made.
func nothingChecked(v *gate.Verdict) bool {
	if v.Decision != gate.Pass && v.Decision != gate.Improved {
		return false
	}
	for _, e := range v.Endpoints {
		if len(e.Checks) > 0 {
			return false
		}
	}
	return true
}

// verdictWord is the headline for the whole verdict.
func verdictWord(v *gate.Verdict) string {
	if nothingChecked(v) {
		return wordNothingChecked
	}
	return overallWord(v.Decision)
}

// nothingCheckedText says why nothing was checked and how to check something.
const nothingCheckedText = "nothing was checked: no baseline to compare with and no SLO in the plan; the run was measured, not judged"

// overallWord is the headline for the whole verdict's decision.
func overallWord(d gate.Decision) string {
	switch d {
	case gate.Regressed:
		return "FAIL"
	case gate.Incompatible:
		return "INCOMPATIBLE BASELINE"
	case gate.Invalid:
		return "INVALID"
	case gate.Inconclusive:
		return "INCONCLUSIVE"
	case gate.Pass, gate.Improved:
		return "PASS"
	}
	return strings.ToUpper(string(d))
}

// decisionWord is the text-report label: bad outcomes in capitals so they stand
// out without colour.
func decisionWord(d gate.Decision) string {
	switch d {
	case gate.Regressed:
		return "REGRESSED"
	case gate.Invalid:
		return "INVALID"
	case gate.Incompatible:
		return "INCOMPATIBLE"
	case gate.Pass:
		return "ok"
	case "":
		return ""
	}
	return string(d)
}

// modeLine describes how the comparison was made.
func modeLine(v *gate.Verdict) string {
	var parts []string
	switch v.Mode {
	case "paired":
		parts = append(parts, "paired mode (base and head interleaved)")
	case "slo-only":
		parts = append(parts, "SLO only (no baseline)")
	default:
		if v.BaseRuns == 1 {
			parts = append(parts, "baseline: 1 run")
		} else {
			parts = append(parts, fmt.Sprintf("baseline: %d runs", v.BaseRuns))
		}
	}
	if v.Confidence > 0 {
		parts = append(parts, fmt.Sprintf("confidence %g%%", v.Confidence*100))
	}
	return strings.Join(parts, ", ")
}

func noteRefs(ns []int) string {
	if len(ns) == 0 {
		return ""
	}
	var b strings.Builder
	for _, n := range ns {
		fmt.Fprintf(&b, "[%d]", n)
	}
	return b.String()
}

// sloLimit shows an SLO check's limit with its direction, once: the gate
// writes "≤ 300 ms" itself, hand-built checks may carry only "300 ms".
func sloLimit(c gate.Check) string {
	if strings.HasPrefix(c.Tolerance, "≤") || strings.HasPrefix(c.Tolerance, "≥") {
		return c.Tolerance
	}
	if c.Metric == gate.Throughput {
		return "≥ " + c.Tolerance
	}
	return "≤ " + c.Tolerance
}
