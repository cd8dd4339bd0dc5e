package report

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
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
	full := d.join(nil, 0) + d.footer
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

func (d mdDoc) rows() int {
	n := 0
	for _, s := range d.sections {
		n += len(s.lines)
	}
	return n
}

func (d mdDoc) joinNote(dropped map[int]bool, cut int, left []string, max int) string {
	var b strings.Builder
	b.WriteString(d.join(dropped, cut))
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
	fmt.Fprintf(&head, "### %s loadgate: %s — %s\n\n", mdHeadline(v.Decision), mdEscape(in.title()), mdEscape(overallWord(v.Decision)))
	fmt.Fprintf(&head, "**%s** · %s%s\n\n", mdFigure(counts(v)), mdFigure(modeLine(v)), mdNoteRefs(t.Overall))
	d.sections = append(d.sections, mdSection{text: head.String()})
	if opt.Note != "" {
		d.sections = append(d.sections, mdSection{text: "> [!NOTE]\n> " + mdEscape(opt.Note) + "\n\n"})
	}

	var attention, calm []endpointTable
	for _, e := range t.Endpoints {
		if unchanged(e.Decision) {
			calm = append(calm, e)
		} else {
			attention = append(attention, e)
		}
	}
	if len(attention) > 0 {
		d.sections = append(d.sections, mdSection{text: mdTableHeader, lines: mdRows(attention)})
	} else {
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
		if len(rows) == 0 {
			rows = []row{{Metric: "—"}}
		}
		for j, r := range rows {
			first := ""
			if j == 0 {
				first = "**" + mdEscape(e.Name) + "**<br>" + mdSymbol(e.Decision) + mdNoteRefs(e.Notes)
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
			check += mdNoteRefs(r.Notes)
			lines = append(lines, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |\n",
				first, mdFigure(r.Metric), mdFigure(r.Base), mdFigure(r.Head), mdFigure(r.Change), check))
		}
	}
	return lines
}

func mdNoteRefs(ns []int) string {
	if len(ns) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" <sup>")
	for i, n := range ns {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "[%d]", n)
	}
	b.WriteString("</sup>")
	return b.String()
}

// EscapeMarkdown makes a user-controlled string render literally in GitHub
// Markdown, in text, table cells and HTML blocks alike (see mdEscape).
func EscapeMarkdown(s string) string { return mdEscape(s) }

// mdEscape makes s render literally in GitHub Markdown, both in text and inside
// table cells and HTML blocks: characters with Markdown or HTML meaning become
// numeric character references (which GitHub decodes after parsing, so '|'
// cannot split a cell and '<' cannot open a tag); '@' and '#' are escaped so a
// name never mentions a user or links an issue; line breaks become spaces.
func mdEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\', '`', '*', '_', '{', '}', '[', ']', '(', ')', '#', '+', '!', '|', '~', '<', '>', '&', '@', ':', '"', '\'', '$', '^', '=':
			b.WriteString("&#")
			b.WriteString(strconv.Itoa(int(r)))
			b.WriteString(";")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			if r < 0x20 || r == 0x7f {
				continue
			}
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdFigure escapes loadgate's own figures ("+12.6% [+8.1, +16.9] p<0.001").
// They carry a verdict's metric names, units and tolerances, which a verdict
// read back from an untrusted run's artifact may set to anything: every
// character that could break a table cell or start markup is replaced ('(' and
// ')' so no inline link or image can form), while the brackets of intervals
// are kept so the Markdown source stays readable.
func mdFigure(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '|', '<', '>', '&', '~', '`', '@', '#', '*', '\\', '(', ')', '!', '$', '^':
			b.WriteString("&#")
			b.WriteString(strconv.Itoa(int(r)))
			b.WriteString(";")
		case '\n', '\r', '\t':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mermaidChart is an xychart-beta of p50/p95/p99 per endpoint: bars are the
// baseline, the line the current run. Endpoints that need attention come first;
// at most limit (0: maxChartEndpoints) are drawn. A verdict with no baseline
// figures at all (SLO only, e.g. a first run) charts the current run alone.
func mermaidChart(v *gate.Verdict, limit int) string {
	if limit <= 0 {
		limit = maxChartEndpoints
	}
	eps := SortEndpoints(v)
	compare := false
	for _, e := range eps {
		if e.Base != nil && e.Head != nil {
			compare = true
			break
		}
	}
	var labels []string
	var base, head []float64
	n := 0
	for _, e := range eps {
		if e.Head == nil || (compare && e.Base == nil) {
			continue
		}
		if n == limit {
			break
		}
		n++
		var bf gate.Figures
		if e.Base != nil {
			bf = *e.Base
		}
		name := mermaidLabel(e.Name)
		for _, p := range []struct {
			l    string
			b, h float64
		}{{"p50", bf.P50, e.Head.P50}, {"p95", bf.P95, e.Head.P95}, {"p99", bf.P99, e.Head.P99}} {
			labels = append(labels, strconv.Quote(name+" "+p.l))
			base = append(base, p.b)
			head = append(head, p.h)
		}
	}
	if n == 0 {
		return ""
	}
	var b bytes.Buffer
	b.WriteString("```mermaid\nxychart-beta\n")
	if compare {
		b.WriteString("    title \"Latency (ms): bars = baseline, line = current\"\n")
	} else {
		b.WriteString("    title \"Latency (ms) of the current run, no baseline\"\n")
	}
	fmt.Fprintf(&b, "    x-axis [%s]\n", strings.Join(labels, ", "))
	b.WriteString("    y-axis \"ms\"\n")
	if compare {
		fmt.Fprintf(&b, "    bar [%s]\n", joinFloats(base))
		fmt.Fprintf(&b, "    line [%s]\n", joinFloats(head))
	} else {
		fmt.Fprintf(&b, "    bar [%s]\n", joinFloats(head))
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

// mermaidLabel keeps a chart label inside Mermaid's quoted-string syntax:
// only letters, digits and a few safe punctuation marks, at most 24 runes.
func mermaidLabel(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 24 {
			b.WriteString("…")
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.', r == '/', r == ' ':
			b.WriteRune(r)
		default:
			b.WriteRune('_')
		}
		n++
	}
	return b.String()
}

func joinFloats(fs []float64) string {
	parts := make([]string, len(fs))
	for i, f := range fs {
		parts[i] = strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strings.Join(parts, ", ")
}
