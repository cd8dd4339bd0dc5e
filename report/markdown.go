package report

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/loadgate/loadgate/gate"
)

// maxChartEndpoints bounds the Mermaid chart by default: more categories than
// this make the x axis unreadable in a PR comment.
const maxChartEndpoints = 6

// MarkdownOptions add context to the Markdown report.
type MarkdownOptions struct {
	// MaxChars bounds the report in bytes (0 = unlimited); see MarkdownLimited.
	MaxChars int
	// Note is a callout under the headline (e.g. why part of the GitHub
	// reporting was skipped). It is escaped and never left out.
	Note string
	// RunURL links the CI run that holds the logs and artifacts, at the very
	// end (after the note saying what a shortened report left out, which
	// points there). Only http and https URLs are linked.
	RunURL string
	// ChartLimit bounds the endpoints in the Mermaid chart (0 = 6).
	ChartLimit int
}

// Markdown writes the verdict for a job summary or PR comment: a headline, the
// table of endpoints that need attention (regressions first), unchanged
// endpoints collapsed in <details>, a Mermaid xychart of p50/p95/p99 baseline
// vs current, and warnings as numbered footnotes. Every user-controlled string
// is escaped so it renders literally (no tables broken by '|', no HTML, no
// @mentions or #references).
func Markdown(w io.Writer, in Input) error {
	return MarkdownWith(w, in, MarkdownOptions{})
}

// MarkdownLimited is Markdown bounded to maxChars bytes (0 = unlimited; bytes
// never undercount characters, so the bound is safe for limits counted in
// characters such as GitHub's comment size). When the full report is too long
// it drops, in order, the chart, the unchanged endpoints, the warnings, and
// then table rows from the end, and says what it left out.
func MarkdownLimited(w io.Writer, in Input, maxChars int) error {
	return MarkdownWith(w, in, MarkdownOptions{MaxChars: maxChars})
}

// MarkdownWith is Markdown with options; the function GitHub uses it for the
// job summary, the PR comment and the check-run summary.
func MarkdownWith(w io.Writer, in Input, opt MarkdownOptions) error {
	if in.Verdict == nil {
		return fmt.Errorf("markdown: %w", ErrNoVerdict)
	}
	doc := buildMarkdown(in, opt)
	out := doc.render(opt.MaxChars)
	ew := &errWriter{w: w}
	_, _ = io.WriteString(ew, out)
	return ew.result("markdown")
}

// mdSection is one droppable part of the Markdown report.
type mdSection struct {
	name  string // what the truncation note calls it
	text  string
	lines []string // table rows that may be cut from the end (header kept)
	// drop is the order of removal (1 first); 0 = never dropped.
	drop int
}

type mdDoc struct {
	sections []mdSection
	// footer follows everything, the truncation note included, and is never
	// dropped.
	footer string
}

func (d mdDoc) render(max int) string {
	full := d.finish(d.join(nil, 0), nil) + d.footer
	if max <= 0 || len(full) <= max {
		return full
	}
	dropped := map[int]bool{}
	var left []string
	for order := 1; order <= len(d.sections); order++ {
		for i, s := range d.sections {
			if s.drop == order {
				dropped[i] = true
				if len(left) == 0 || left[len(left)-1] != s.name {
					left = append(left, s.name)
				}
			}
		}
		out := d.joinNote(dropped, 0, left, max)
		if len(out) <= max {
			return out
		}
	}
	// Still too long: cut the fewest table rows from the end that make it
	// fit. Each cut row shortens the report by more than the note's count
	// grows, so the length falls as cut grows and a binary search finds that
	// number with O(log rows) joins (a linear search took O(rows) joins of
	// the whole report: 40 s for a few thousand endpoints).
	rows := d.rows()
	if out := d.joinNote(dropped, rows, left, max); len(out) > max {
		// A pathological heading; cut bytes at a rune boundary.
		return truncateUTF8(out, max)
	}
	cut := 1 + sort.Search(rows-1, func(i int) bool { return len(d.joinNote(dropped, i+1, left, max)) <= max })
	return d.joinNote(dropped, cut, left, max)
}

// Footnote references are written between these markers (control
// characters no escaped string can hold) so a shortened report that dropped
// the notes can drop the references to them too.
const (
	refOpen  = "\x01"
	refClose = "\x02"
)

// finish resolves the footnote-reference markers: kept when the notes are
// in the report, removed with their references when the notes were dropped.
func (d mdDoc) finish(s string, dropped map[int]bool) string {
	keep := false
	for i, sec := range d.sections {
		if sec.name == "notes" && !dropped[i] {
			keep = true
		}
	}
	if keep {
		return strings.NewReplacer(refOpen, "", refClose, "").Replace(s)
	}
	var b strings.Builder
	for {
		i := strings.Index(s, refOpen)
		if i < 0 {
			break
		}
		j := strings.Index(s[i:], refClose)
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		s = s[i+j+len(refClose):]
	}
	b.WriteString(s)
	return b.String()
}

func (d mdDoc) rows() int {
	n := 0
	for _, s := range d.sections {
		n += len(s.lines)
	}
	return n
}

func (d mdDoc) joinNote(dropped map[int]bool, cut int, left []string, max int) string {
	var b strings.Builder
	b.WriteString(d.finish(d.join(dropped, cut), dropped))
	l := left
	if cut > 0 {
		l = append(append([]string(nil), left...), fmt.Sprintf("%d table rows", cut))
	}
	fmt.Fprintf(&b, "> [!NOTE]\n> Report shortened to fit %d characters; left out: %s. The full report is in the job summary or the report artifact.\n",
		max, strings.Join(l, ", "))
	if d.footer != "" {
		b.WriteString("\n")
		b.WriteString(d.footer)
	}
	return b.String()
}

// join concatenates the sections not dropped, cutting the last cut table rows.
func (d mdDoc) join(dropped map[int]bool, cut int) string {
	var b strings.Builder
	// Cut rows from the last table sections first.
	cuts := make([]int, len(d.sections))
	for i := len(d.sections) - 1; i >= 0 && cut > 0; i-- {
		if dropped[i] {
			continue
		}
		n := min(cut, len(d.sections[i].lines))
		cuts[i] = n
		cut -= n
	}
	for i, s := range d.sections {
		if dropped[i] {
			continue
		}
		b.WriteString(s.text)
		if s.lines != nil {
			keep := s.lines[:len(s.lines)-cuts[i]]
			for _, l := range keep {
				b.WriteString(l)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func truncateUTF8(s string, max int) string {
	for max > 0 && max < len(s) && !utf8Start(s[max]) {
		max--
	}
	return s[:max]
}

func utf8Start(b byte) bool { return b&0xC0 != 0x80 }

// mdSymbol pairs every decision with a symbol and a word, so meaning never
// rests on colour or an icon alone.
func mdSymbol(d gate.Decision) string {
	switch d {
	case gate.Regressed:
		return "❌ regressed"
	case gate.Invalid:
		return "⛔ invalid"
	case gate.Incompatible:
		return "⛔ incompatible"
	case gate.Inconclusive:
		return "❔ inconclusive"
	case gate.Missing:
		return "➖ missing"
	case gate.New:
		return "🆕 new"
	case gate.Improved:
		return "✨ improved"
	case gate.Pass:
		return "✅ pass"
	}
	return mdEscape(string(d))
}

func mdHeadline(d gate.Decision) string {
	switch d {
	case gate.Regressed:
		return "❌"
	case gate.Invalid, gate.Incompatible:
		return "⛔"
	case gate.Inconclusive:
		return "❔"
	case gate.Pass, gate.Improved:
		return "✅"
	}
	// A decision this version does not know (a verdict file from elsewhere)
	// must not look like a pass.
	return "❔"
}

const mdTableHeader = "| Endpoint | Metric | Baseline | Current | Change | Check |\n|---|---|--:|--:|---|---|\n"

func buildMarkdown(in Input, opt MarkdownOptions) mdDoc {
	v := in.Verdict
	t := buildTable(v)
	var d mdDoc

	var head strings.Builder
	icon := mdHeadline(v.Decision)
	if nothingChecked(v) {
		icon = "➖"
	}
	fmt.Fprintf(&head, "### %s loadgate: %s — %s\n\n", icon, mdEscape(in.title()), mdEscape(verdictWord(v)))
	fmt.Fprintf(&head, "**%s** · %s%s\n\n", mdFigure(counts(v)), mdFigure(modeLine(v)), mdNoteRefs(t.Overall))
	if nothingChecked(v) {
		head.WriteString("Nothing was checked: no baseline to compare with and no SLO in the plan; the run was measured, not judged.\n\n")
	}
	d.sections = append(d.sections, mdSection{text: head.String()})
	if opt.Note != "" {
		d.sections = append(d.sections, mdSection{text: "> [!NOTE]\n> " + mdEscape(opt.Note) + "\n\n"})
	}

	var attention, calm []endpointTable
	for _, e := range t.Endpoints {
		if unchanged(e.Decision) && !e.Unchecked {
			calm = append(calm, e)
		} else {
			attention = append(attention, e)
		}
	}
	if len(attention) > 0 {
		d.sections = append(d.sections, mdSection{text: mdTableHeader, lines: mdRows(attention)})
	} else if len(t.Endpoints) > 0 {
		d.sections = append(d.sections, mdSection{text: "No endpoint changed significantly.\n\n"})
	}
	if len(calm) > 0 {
		var s strings.Builder
		noun := "endpoints"
		if len(calm) == 1 {
			noun = "endpoint"
		}
		fmt.Fprintf(&s, "<details><summary>%d unchanged %s</summary>\n\n%s", len(calm), noun, mdTableHeader)
		sec := mdSection{name: "unchanged endpoints", text: s.String(), lines: mdRows(calm), drop: 2}
		d.sections = append(d.sections, sec)
		d.sections = append(d.sections, mdSection{name: "unchanged endpoints", text: "</details>\n\n", drop: 2})
	}
	if chart := mermaidChart(v, opt.ChartLimit); chart != "" {
		d.sections = append(d.sections, mdSection{name: "chart", text: chart, drop: 1})
	}
	if len(t.Notes) > 0 {
		var s strings.Builder
		s.WriteString("**Notes**\n\n")
		for i, n := range t.Notes {
			fmt.Fprintf(&s, "%d. %s\n", i+1, mdEscape(n))
		}
		s.WriteString("\n")
		d.sections = append(d.sections, mdSection{name: "notes", text: s.String(), drop: 3})
	}
	d.footer = mdRunLink(opt.RunURL)
	return d
}

// mdRunLink links the CI run, or is "" when u is not an absolute http(s) URL
// (a javascript: URL must not become a link). Bytes that could end the link
// destination or start markup are percent-encoded.
func mdRunLink(u string) string {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
		return ""
	}
	var b strings.Builder
	for _, c := range []byte(p.String()) {
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>[]{}\"'`\\|^", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return "[Workflow run and artifacts](" + b.String() + ")\n"
}

func mdRows(eps []endpointTable) []string {
	var lines []string
	for _, e := range eps {
		rows := e.Rows
		if compactEndpoint(e) {
			rows = []row{compactRow(e)}
		}
		if len(rows) == 0 {
			rows = []row{{Metric: "—"}}
		}
		for j, r := range rows {
			first := ""
			if j == 0 {
				sym := mdSymbol(e.Decision)
				if e.Unchecked {
					sym = "➖ not checked"
				}
				first = "**" + mdEscape(e.Name) + "**<br>" + sym + mdNoteRefs(e.Notes)
			}
			check := ""
			switch r.Decision {
			case "":
			case gate.Pass:
				check = "ok"
			default:
				check = mdSymbol(r.Decision)
			}
			if check != "" && r.Tolerance != "" {
				check += " (tol. " + mdFigure(r.Tolerance) + ")"
			}
			if r.more > 0 {
				check += " · " + plural(r.more, "more check") + " ok"
			}
			check += mdNoteRefs(r.Notes)
			lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n",
				first, mdFigure(r.Metric), mdFigure(r.Base), mdFigure(r.Head), mdFigure(r.Change), check))
		}
	}
	return lines
}

// compactEndpoint is an endpoint shown in one row: nothing in it regressed
// or improved, so its six metric rows would only repeat "no change".
func compactEndpoint(e endpointTable) bool {
	switch e.Decision {
	case gate.Inconclusive, gate.Missing, gate.New, gate.Pass:
		return len(e.Rows) > 1
	}
	return false
}

// compactRow is an endpoint's one row: the check that decided it (the first
// inconclusive one, else the first check, else p95), with every check's
// notes and, for a pass, how many checks passed.
func compactRow(e endpointTable) row {
	pick := -1
	checks := 0
	var notes []int
	seen := map[int]bool{}
	for i, r := range e.Rows {
		if r.Decision == "" {
			continue
		}
		checks++
		for _, n := range r.Notes {
			if !seen[n] {
				seen[n] = true
				notes = append(notes, n)
			}
		}
		if pick < 0 || (r.Decision == e.Decision && e.Rows[pick].Decision != e.Decision) {
			pick = i
		}
	}
	if pick < 0 {
		for i, r := range e.Rows {
			if r.Metric == string(gate.P95) {
				pick = i
			}
		}
	}
	if pick < 0 {
		pick = 0
	}
	r := e.Rows[pick]
	r.Notes = notes
	if e.Decision == gate.Pass {
		r.more = checks - 1
	}
	return r
}

func mdNoteRefs(ns []int) string {
	if len(ns) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(refOpen + " <sup>")
	for i, n := range ns {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "[%d]", n)
	}
	b.WriteString("</sup>" + refClose)
	return b.String()
}

// EscapeMarkdown makes a user-controlled string render literally in GitHub
// Markdown, in text, table cells and HTML blocks alike (see mdEscape).
func EscapeMarkdown(s string) string { return mdEscape(s) }

// mdEscape makes s render literally in GitHub Markdown, in text, table cells
// and HTML blocks, while the raw text (job logs, report.md) stays readable:
// only what Markdown, GitHub's extensions or HTML would interpret is escaped,
// where it would be interpreted. '|' (a cell boundary) and '`' always; '*',
// '_', '~' and '$' where they could open emphasis, strikethrough or math; a
// ']' that could close a link or image; '<' that could open a tag, comment or
// autolink; '&' that could start an entity; '\' before punctuation. '@'
// before a name and '#' before a number get a zero-width space so they
// neither mention a user nor link an issue. Line breaks become spaces and
// other control characters are dropped. Punctuation such as ( ) : " ' is
// left alone: without its partner it means nothing.
func mdEscape(s string) string { return markdownEscape(s) }

// mdFigure escapes loadgate's own figures ("+12.6% [+8.1, +16.9] p<0.001")
// with the same rules: a verdict read back from an untrusted run's artifact
// may set them to anything, and the rules keep them readable.
func mdFigure(s string) string { return markdownEscape(s) }

func markdownEscape(s string) string {
	// Control characters go first, so the characters around one are judged
	// as the neighbours they become ("@\x7f0" is "@0").
	rs := make([]rune, 0, len(s))
	for _, r := range s {
		switch {
		case r == '\n' || r == '\r' || r == '\t':
			rs = append(rs, ' ')
		case r < 0x20 || r == 0x7f:
		default:
			rs = append(rs, r)
		}
	}
	// Outside the string is unknown text (the report wraps names in
	// "**…**"): assume the worst of it.
	at := func(i int) rune {
		if i < 0 {
			return ' '
		}
		if i >= len(rs) {
			return '*'
		}
		return rs[i]
	}
	isSpace := func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }
	isWord := func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r >= 0x80
	}
	isLetter := func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
	var b strings.Builder
	for i, r := range rs {
		next := at(i + 1)
		switch {
		case r == '|' || r == '`':
			b.WriteString("\\" + string(r))
		case r == '\\':
			if strings.ContainsRune(mdPunct, next) {
				b.WriteString("\\\\")
			} else {
				b.WriteRune(r)
			}
		case r == '*':
			b.WriteString("\\*")
		case r == '~' || r == '$':
			// Strikethrough and math open only before a non-space; a
			// closer with no opener is plain text.
			if isSpace(next) {
				b.WriteRune(r)
			} else {
				b.WriteString("\\" + string(r))
			}
		case r == '_':
			// Intraword underscores never emphasise (error_rate).
			if isSpace(next) || isWord(at(i-1)) {
				b.WriteRune(r)
			} else {
				b.WriteString("\\_")
			}
		case r == ']':
			if next == '(' || next == '[' || next == ':' {
				b.WriteString("\\]")
			} else {
				b.WriteRune(r)
			}
		case r == '<':
			if isLetter(next) || next == '/' || next == '!' || next == '?' {
				b.WriteString("&lt;")
			} else {
				b.WriteRune(r)
			}
		case r == '&':
			if isLetter(next) || next == '#' {
				b.WriteString("&amp;")
			} else {
				b.WriteRune(r)
			}
		case r == '@' && isWord(next):
			b.WriteString("@&#8203;")
		case r == '#' && next >= '0' && next <= '9':
			b.WriteString("#&#8203;")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdPunct is CommonMark's ASCII punctuation: a backslash before one of these
// escapes it.
const mdPunct = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"

// mermaidChart is an xychart-beta with one bar per endpoint, those that need
// attention first, at most limit (0: maxChartEndpoints). With a baseline the
// bar is the current p95 as a percentage of the baseline's, and a line marks
// 100 (unchanged): endpoints of 1 ms and of 180 ms read on one axis, which
// milliseconds on a linear axis cannot do. Without any baseline (SLO only,
// e.g. a first run) the bars are the current p95 in milliseconds.
func mermaidChart(v *gate.Verdict, limit int) string {
	if limit <= 0 {
		limit = maxChartEndpoints
	}
	eps := SortEndpoints(v)
	// A p95 a side did not measure is 0 in its Figures: no bar.
	measured := func(f *gate.Figures) bool { return f != nil && !slices.Contains(f.Unmeasured, gate.P95) }
	compare := false
	for _, e := range eps {
		if measured(e.Base) && measured(e.Head) && e.Base.P95 > 0 {
			compare = true
			break
		}
	}
	var names []string
	var vals []float64
	for _, e := range eps {
		if len(names) == limit {
			break
		}
		switch {
		case !measured(e.Head):
			continue
		case compare && (!measured(e.Base) || e.Base.P95 <= 0):
			continue
		case compare:
			vals = append(vals, math.Round(1000*e.Head.P95/e.Base.P95)/10)
		default:
			vals = append(vals, e.Head.P95)
		}
		names = append(names, e.Name)
	}
	if len(names) == 0 {
		return ""
	}
	labels := mermaidLabels(names)
	for i := range labels {
		labels[i] = strconv.Quote(labels[i])
	}
	var b bytes.Buffer
	b.WriteString("```mermaid\nxychart-beta\n")
	if compare {
		lo, hi := 100.0, 100.0
		for _, v := range vals {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		// Whole tens around the data and 100, so ±5 % is visible and the
		// unchanged line is never on the frame.
		lo = math.Max(0, math.Floor(lo/10)*10-10)
		hi = math.Ceil(hi/10)*10 + 10
		b.WriteString("    title \"p95, current as % of baseline (line = 100 %, unchanged)\"\n")
		fmt.Fprintf(&b, "    x-axis [%s]\n", strings.Join(labels, ", "))
		fmt.Fprintf(&b, "    y-axis \"%% of baseline p95\" %s --> %s\n", joinFloats([]float64{lo}), joinFloats([]float64{hi}))
		fmt.Fprintf(&b, "    bar [%s]\n", joinFloats(vals))
		hundred := make([]float64, len(vals))
		for i := range hundred {
			hundred[i] = 100
		}
		fmt.Fprintf(&b, "    line [%s]\n", joinFloats(hundred))
	} else {
		b.WriteString("    title \"p95 (ms) of the current run, no baseline\"\n")
		fmt.Fprintf(&b, "    x-axis [%s]\n", strings.Join(labels, ", "))
		b.WriteString("    y-axis \"ms\"\n")
		fmt.Fprintf(&b, "    bar [%s]\n", joinFloats(vals))
	}
	b.WriteString("```\n\n")
	return b.String()
}

func findEndpoint(v *gate.Verdict, name string) *gate.EndpointVerdict {
	for i := range v.Endpoints {
		if v.Endpoints[i].Name == name {
			return &v.Endpoints[i]
		}
	}
	return nil
}

// mermaidLabelMax is the longest chart label in runes: longer ones crowd
// the x axis of a PR comment.
const mermaidLabelMax = 24

// mermaidLabels gives every endpoint a label that Mermaid's quoted-string
// syntax accepts (letters, digits and a few safe marks) and that differs from
// the others: a long name keeps its start and its end (names that share a
// prefix, "/api/v1/orders/…", differ at the end), and labels still equal
// after that are numbered.
func mermaidLabels(names []string) []string {
	out := make([]string, len(names))
	count := map[string]int{}
	for i, n := range names {
		out[i] = mermaidLabel(n)
		count[out[i]]++
	}
	seen := map[string]int{}
	for i, l := range out {
		if count[l] > 1 {
			seen[l]++
			out[i] = fmt.Sprintf("%s (%d)", l, seen[l])
		}
	}
	return out
}

// mermaidLabel keeps a chart label inside Mermaid's quoted-string syntax and
// at most mermaidLabelMax runes, eliding the middle of a long one.
func mermaidLabel(s string) string {
	rs := []rune(s)
	for i, r := range rs {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '/', r == ' ':
		default:
			rs[i] = '_'
		}
	}
	if len(rs) <= mermaidLabelMax {
		return string(rs)
	}
	head := (mermaidLabelMax - 1) / 3
	tail := mermaidLabelMax - 1 - head
	return string(rs[:head]) + "…" + string(rs[len(rs)-tail:])
}

func joinFloats(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}
