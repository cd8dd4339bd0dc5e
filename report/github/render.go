package github

import (
	"fmt"
	"html"
	"math"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/loadgate/loadgate/gate"
)

const truncationNote = "\n\n> [!NOTE]\n> Truncated to GitHub's size limit; the full report is in the job summary and the results artifact.\n"

// Truncate shortens s to at most limit bytes (so at most limit characters),
// cutting at a line break when one is near, closing an open code fence or
// <details> block and appending note. Bytes bound characters from above, so
// the result is within GitHub's character limits whatever the text.
func Truncate(s string, limit int, note string) string {
	if len(s) <= limit {
		return s
	}
	const closers = "\n```\n</details>\n"
	keep := limit - len(note) - len(closers)
	if keep < 0 {
		keep = 0
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	cut := s[:keep]
	if i := strings.LastIndexByte(cut, '\n'); i > keep/2 {
		cut = cut[:i]
	}
	var b strings.Builder
	b.WriteString(cut)
	if strings.Count(cut, "```")%2 == 1 {
		b.WriteString("\n```")
	}
	if strings.Count(cut, "<details>") > strings.Count(cut, "</details>") {
		b.WriteString("\n</details>")
	}
	if len(note) > limit {
		note = ""
	}
	b.WriteString(note)
	out := b.String()
	if len(out) > limit { // tiny limits: hard cut
		out = out[:limit]
		for len(out) > 0 && !utf8.ValidString(out) {
			out = out[:len(out)-1]
		}
	}
	return out
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// mdReplacer escapes text for GitHub Markdown table cells and prose: HTML
// first (no tag or entity gets through), then Markdown syntax.
var mdReplacer = strings.NewReplacer(
	`\`, `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"|", `\|`, "#", `\#`, "~", `\~`, "!", `\!`, "@", "@\u200b", "$", `\$`,
)

// Esc makes a user-controlled string (endpoint name, URL, message) inert in
// GitHub Markdown: no HTML, no links, no mentions, no table breaks.
func Esc(s string) string {
	return mdReplacer.Replace(html.EscapeString(oneLine(s)))
}

// mermaidLabel makes s safe inside a double-quoted Mermaid label.
func mermaidLabel(s string) string {
	s = oneLine(s)
	s = strings.Map(func(r rune) rune {
		switch r {
		case '"', '`', '\\', '<', '>', '[', ']', '{', '}', ';', '#', '|':
			return '\''
		}
		return r
	}, s)
	if utf8.RuneCountInString(s) > 24 {
		s = string([]rune(s)[:23]) + "…"
	}
	return s
}

var decisionIcon = map[gate.Decision]string{
	gate.Pass:         "✅",
	gate.Improved:     "🟢",
	gate.New:          "🆕",
	gate.Missing:      "❔",
	gate.Inconclusive: "⚠️",
	gate.Regressed:    "❌",
	gate.Invalid:      "⛔",
}

// order sorts endpoint decisions for display: regressions first.
var order = map[gate.Decision]int{
	gate.Regressed: 0, gate.Invalid: 1, gate.Inconclusive: 2, gate.Missing: 3,
	gate.New: 4, gate.Improved: 5, gate.Pass: 6,
}

// Conclusion maps a verdict and the process exit code to a check-run
// conclusion: a failing exit is a failure, an inconclusive verdict neutral.
func Conclusion(v *gate.Verdict, exitCode int) string {
	switch {
	case exitCode != 0:
		return ConclusionFailure
	case v != nil && v.Decision == gate.Inconclusive:
		return ConclusionNeutral
	default:
		return ConclusionSuccess
	}
}

// StatusState maps a conclusion to a commit status state.
func StatusState(conclusion string) string {
	if conclusion == ConclusionFailure {
		return StateFailure
	}
	// A status has no "neutral": an inconclusive run does not block.
	return StateSuccess
}

// Title is the one-line outcome used as check-run title and status description.
func Title(v *gate.Verdict) string {
	reg := v.Regressions()
	switch {
	case v.Decision == gate.Invalid:
		return "Run invalid: the load generator did not hold the schedule"
	case len(reg) > 0:
		var parts []string
		for _, e := range sortedEndpoints(v) {
			if e.Decision != gate.Regressed {
				continue
			}
			if c := worstCheck(e); c != nil {
				parts = append(parts, fmt.Sprintf("%s %s %s", e.Name, c.Metric, fmtDelta(*c)))
			} else {
				parts = append(parts, e.Name)
			}
		}
		s := fmt.Sprintf("%d regression", len(reg))
		if len(reg) > 1 {
			s += "s"
		}
		return s + ": " + strings.Join(parts, ", ")
	case v.Decision == gate.Inconclusive:
		return fmt.Sprintf("Inconclusive: no regression proven in %d endpoints", len(v.Endpoints))
	default:
		return fmt.Sprintf("No regression in %d endpoints", len(v.Endpoints))
	}
}

func sortedEndpoints(v *gate.Verdict) []gate.EndpointVerdict {
	eps := append([]gate.EndpointVerdict(nil), v.Endpoints...)
	sort.SliceStable(eps, func(i, j int) bool { return order[eps[i].Decision] < order[eps[j].Decision] })
	return eps
}

// worstCheck is the regressed check with the largest change, or the first
// non-pass one.
func worstCheck(e gate.EndpointVerdict) *gate.Check {
	var best *gate.Check
	for i := range e.Checks {
		c := &e.Checks[i]
		if c.Decision != gate.Regressed {
			continue
		}
		if best == nil || math.Abs(c.Delta) > math.Abs(best.Delta) {
			best = c
		}
	}
	return best
}

func fmtDelta(c gate.Check) string {
	if c.Metric == gate.ErrorRate {
		return fmt.Sprintf("%+.2fpp", c.Delta)
	}
	if c.Kind == "slo" {
		return fmt.Sprintf("%s %s (limit %s)", fmtNum(c.Head), c.Unit, c.Tolerance)
	}
	return fmt.Sprintf("%+.1f%%", c.Delta*100)
}

func fmtNum(f float64) string {
	switch {
	case math.IsNaN(f) || math.IsInf(f, 0):
		return "–"
	case math.Abs(f) >= 100:
		return fmt.Sprintf("%.0f", f)
	case math.Abs(f) >= 10:
		return fmt.Sprintf("%.1f", f)
	default:
		return fmt.Sprintf("%.2f", f)
	}
}

func fmtCI(c gate.Check) string {
	if !c.HasCI {
		return "–"
	}
	if c.Metric == gate.ErrorRate {
		return fmt.Sprintf("[%+.2f, %+.2f]pp", c.CILow, c.CIHigh)
	}
	return fmt.Sprintf("[%+.1f%%, %+.1f%%]", c.CILow*100, c.CIHigh*100)
}

func fmtP(p float64) string {
	if p < 0 {
		return "–"
	}
	if p < 0.001 {
		return "<0.001"
	}
	return fmt.Sprintf("%.3f", p)
}

// RenderOptions add context to a rendering.
type RenderOptions struct {
	// RunURL links the workflow run (job summary, artifacts).
	RunURL string
	// Note is an extra line under the headline (e.g. why GitHub reporting fell back).
	Note string
	// ChartLimit bounds the endpoints in the chart (default 8).
	ChartLimit int
}

// Render is the GitHub Markdown report of a verdict, used for the job summary,
// the PR comment and the check-run summary: headline, changed endpoints first
// (regressions on top) with per-check statistics, unchanged endpoints collapsed
// in <details>, a Mermaid xychart of p50/p95/p99 base vs head, and warnings
// as footnotes. Every user-controlled string is escaped.
func Render(v *gate.Verdict, o RenderOptions) string {
	if o.ChartLimit <= 0 {
		o.ChartLimit = 8
	}
	var b strings.Builder
	icon := decisionIcon[v.Decision]
	if icon == "" {
		icon = "•"
	}
	fmt.Fprintf(&b, "### %s loadgate · %s · %s\n\n", icon, Esc(v.Plan), Esc(string(v.Decision)))
	fmt.Fprintf(&b, "**%s**\n\n", Esc(Title(v)))
	counts := map[gate.Decision]int{}
	for _, e := range v.Endpoints {
		counts[e.Decision]++
	}
	var cs []string
	for _, d := range []gate.Decision{gate.Regressed, gate.Invalid, gate.Inconclusive, gate.Missing, gate.New, gate.Improved, gate.Pass} {
		if counts[d] > 0 {
			cs = append(cs, fmt.Sprintf("%s %d %s", decisionIcon[d], counts[d], d))
		}
	}
	mode := v.Mode
	if mode == "" {
		mode = "baseline"
	}
	fmt.Fprintf(&b, "%s · mode %s", strings.Join(cs, " · "), Esc(mode))
	if v.BaseRuns > 0 {
		fmt.Fprintf(&b, " · %d baseline run(s)", v.BaseRuns)
	}
	if v.Confidence > 0 {
		fmt.Fprintf(&b, " · %.0f%% confidence", v.Confidence*100)
	}
	b.WriteString("\n\n")
	if o.Note != "" {
		fmt.Fprintf(&b, "> [!NOTE]\n> %s\n\n", Esc(o.Note))
	}

	var notes []string
	footnote := func(ws []string) string {
		var refs []string
		for _, w := range ws {
			notes = append(notes, w)
			refs = append(refs, fmt.Sprintf("<sup>%d</sup>", len(notes)))
		}
		return strings.Join(refs, "")
	}
	for _, w := range v.Warnings {
		notes = append(notes, w)
	}

	eps := sortedEndpoints(v)
	var changed, same []gate.EndpointVerdict
	for _, e := range eps {
		if e.Decision == gate.Pass && len(e.Warnings) == 0 {
			same = append(same, e)
		} else {
			changed = append(changed, e)
		}
	}
	if len(changed) > 0 {
		b.WriteString("| | Endpoint | Metric | Base | Head | Δ | CI | p | Tolerance |\n")
		b.WriteString("|---|---|---|---:|---:|---:|---|---:|---|\n")
		for _, e := range changed {
			shown := 0
			for _, c := range e.Checks {
				if c.Decision == gate.Pass && e.Decision != gate.Pass {
					continue
				}
				// Verdicts can come from an artifact an untrusted run wrote:
				// every string field is escaped, not only names.
				fmt.Fprintf(&b, "| %s | %s%s | %s | %s %s | %s %s | %s | %s | %s | %s |\n",
					decisionIcon[c.Decision], Esc(e.Name), footnote(c.Warnings), Esc(string(c.Metric)),
					fmtNum(c.Base), Esc(c.Unit), fmtNum(c.Head), Esc(c.Unit), Esc(fmtDelta(c)), fmtCI(c), fmtP(c.PValue), Esc(c.Tolerance))
				shown++
			}
			if shown == 0 {
				fmt.Fprintf(&b, "| %s | %s%s | – | – | – | – | – | – | – |\n", decisionIcon[e.Decision], Esc(e.Name), footnote(e.Warnings))
			} else if len(e.Warnings) > 0 {
				fmt.Fprintf(&b, "| | %s%s | | | | | | | |\n", Esc(e.Name), footnote(e.Warnings))
			}
		}
		b.WriteString("\n")
	}
	if len(same) > 0 {
		fmt.Fprintf(&b, "<details><summary>%d unchanged endpoint(s)</summary>\n\n", len(same))
		b.WriteString("| Endpoint | p50 ms | p95 ms | p99 ms | req/s | errors % |\n|---|---:|---:|---:|---:|---:|\n")
		for _, e := range same {
			f := e.Head
			if f == nil {
				f = &gate.Figures{}
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", Esc(e.Name), fmtNum(f.P50), fmtNum(f.P95), fmtNum(f.P99), fmtNum(f.Throughput), fmtNum(f.ErrorRatePct))
		}
		b.WriteString("\n</details>\n\n")
	}
	b.WriteString(chart(eps, o.ChartLimit))
	if len(notes) > 0 {
		b.WriteString("**Notes**\n\n")
		for i, n := range notes {
			fmt.Fprintf(&b, "%d. %s\n", i+1, Esc(n))
		}
		b.WriteString("\n")
	}
	if o.RunURL != "" {
		fmt.Fprintf(&b, "[Workflow run and artifacts](%s)\n", strings.ReplaceAll(html.EscapeString(o.RunURL), ")", "%29"))
	}
	return b.String()
}

// chart is a Mermaid xychart-beta (rendered natively by GitHub) of p50/p95/p99
// per endpoint: bars are the baseline, the line the head run.
func chart(eps []gate.EndpointVerdict, limit int) string {
	var labels []string
	var base, head []string
	n := 0
	for _, e := range eps {
		if e.Head == nil || n >= limit {
			continue
		}
		n++
		bf := e.Base
		if bf == nil {
			bf = &gate.Figures{}
		}
		for _, q := range []struct {
			name string
			b, h float64
		}{{"p50", bf.P50, e.Head.P50}, {"p95", bf.P95, e.Head.P95}, {"p99", bf.P99, e.Head.P99}} {
			labels = append(labels, `"`+mermaidLabel(e.Name)+" "+q.name+`"`)
			base = append(base, mermaidNum(q.b))
			head = append(head, mermaidNum(q.h))
		}
	}
	if n == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("```mermaid\nxychart-beta\n")
	b.WriteString("    title \"Latency ms: bars = base, line = head\"\n")
	fmt.Fprintf(&b, "    x-axis [%s]\n", strings.Join(labels, ", "))
	b.WriteString("    y-axis \"ms\"\n")
	fmt.Fprintf(&b, "    bar [%s]\n", strings.Join(base, ", "))
	fmt.Fprintf(&b, "    line [%s]\n", strings.Join(head, ", "))
	b.WriteString("```\n\n")
	return b.String()
}

func mermaidNum(f float64) string {
	if math.IsNaN(f) || math.IsInf(f, 0) || f < 0 {
		return "0"
	}
	return fmt.Sprintf("%.2f", f)
}

// VerdictAnnotations are check-run annotations for the plan file: a failure
// per regressed endpoint, a warning per inconclusive or invalid one. line
// gives an endpoint's line in the plan (0 when unknown: line 1 is used).
func VerdictAnnotations(v *gate.Verdict, planPath string, line func(endpoint string) int) []Annotation {
	var out []Annotation
	for _, e := range sortedEndpoints(v) {
		level := ""
		switch e.Decision {
		case gate.Regressed:
			level = LevelFailure
		case gate.Inconclusive, gate.Invalid, gate.Missing:
			level = LevelWarning
		default:
			continue
		}
		l := 1
		if line != nil {
			if n := line(e.Name); n > 0 {
				l = n
			}
		}
		out = append(out, Annotation{
			Path: planPath, StartLine: l, EndLine: l, Level: level,
			Title:   fmt.Sprintf("%s: %s", e.Name, e.Decision),
			Message: EndpointMessage(e),
		})
	}
	return out
}

// EndpointMessage is a plain-text line about an endpoint's non-pass checks.
func EndpointMessage(e gate.EndpointVerdict) string {
	var parts []string
	for _, c := range e.Checks {
		if c.Decision == gate.Pass {
			continue
		}
		s := fmt.Sprintf("%s %s: %s → %s %s (%s, tolerance %s", c.Metric, c.Decision, fmtNum(c.Base), fmtNum(c.Head), c.Unit, fmtDelta(c), c.Tolerance)
		if c.PValue >= 0 {
			s += ", p=" + fmtP(c.PValue)
		}
		parts = append(parts, s+")")
	}
	parts = append(parts, e.Warnings...)
	if len(parts) == 0 {
		return fmt.Sprintf("%s: %s", e.Name, e.Decision)
	}
	return fmt.Sprintf("%s: %s", e.Name, strings.Join(parts, "; "))
}
