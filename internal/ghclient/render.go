package ghclient

import (
	"fmt"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/report"
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
		for _, e := range report.SortEndpoints(v) {
			if e.Decision != gate.Regressed {
				continue
			}
			if c := worstCheck(e); c != nil {
				parts = append(parts, fmt.Sprintf("%s %s %s", e.Name, c.Metric, report.ShortChange(*c)))
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

// worstCheck is the regressed check with the largest change, or nil.
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

// RenderOptions add context to a rendering.
type RenderOptions struct {
	// RunURL links the workflow run (job summary, artifacts), last.
	RunURL string
	// Note is a callout under the headline (e.g. why GitHub reporting fell back).
	Note string
	// ChartLimit bounds the endpoints in the chart (0 = the report's default).
	ChartLimit int
	// MaxChars bounds the rendering in bytes: 0 (unlimited) for the job
	// summary, BodyLimit(plan) for a comment, an issue or a check-run summary.
	MaxChars int
}

// BodyLimit is the longest rendering that fits both a comment or issue body
// after the Marker line and a check-run summary. Render shortens to it by
// leaving out whole parts of the report (chart, unchanged endpoints, notes,
// then rows) and saying so, rather than cutting text as Truncate must.
func BodyLimit(plan string) int {
	return max(min(MaxCheckOutput, MaxCommentBody-len(Marker(plan))-len("\n")), 1)
}

// Render is the GitHub Markdown report of a verdict, used for the job summary,
// the PR comment and the check-run summary. It is the Markdown report
// (report.MarkdownWith, what `loadgate report --format markdown` writes) with
// the options' note and run link, so the comment and the report cannot drift
// apart: headline, changed endpoints first (regressions on top) with interval
// and p-value, unchanged endpoints collapsed in <details>, a Mermaid xychart
// of p50/p95/p99 baseline vs current, and warnings as footnotes. Every string
// of the verdict is escaped. v must not be nil.
func Render(v *gate.Verdict, o RenderOptions) string {
	var b strings.Builder
	// Writing to a strings.Builder cannot fail; the only error is a nil verdict.
	_ = report.MarkdownWith(&b, report.Input{Verdict: v}, report.MarkdownOptions{
		MaxChars: o.MaxChars, Note: o.Note, RunURL: o.RunURL, ChartLimit: o.ChartLimit,
	})
	return b.String()
}

// VerdictAnnotations are check-run annotations for the plan file: a failure
// per regressed endpoint, a warning per inconclusive or invalid one, and a
// notice per passing endpoint whose checks carry a warning (a pass that a
// longer run might overturn should be visible on the plan line, not only in
// the comment's footnotes). line gives an endpoint's line in the plan (0 when
// unknown: line 1 is used).
func VerdictAnnotations(v *gate.Verdict, planPath string, line func(endpoint string) int) []Annotation {
	var out []Annotation
	for _, e := range report.SortEndpoints(v) {
		level := ""
		switch {
		case e.Decision == gate.Regressed:
			level = LevelFailure
		case e.Decision == gate.Inconclusive, e.Decision == gate.Invalid, e.Decision == gate.Missing:
			level = LevelWarning
		case checksWarn(e):
			level = LevelNotice
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

func checksWarn(e gate.EndpointVerdict) bool {
	for _, c := range e.Checks {
		if len(c.Warnings) > 0 {
			return true
		}
	}
	return false
}

// EndpointMessage is a plain-text line about an endpoint's non-pass checks
// and checks with warnings, each as the reports' one-line check summary and
// its warnings: "create-order: regressed p95 120 ms → 151 ms +26.0% [+18.0,
// +33.0] p<0.001 (tolerance +5%)".
func EndpointMessage(e gate.EndpointVerdict) string {
	var parts []string
	for _, c := range e.Checks {
		if c.Decision == gate.Pass && len(c.Warnings) == 0 {
			continue
		}
		part := fmt.Sprintf("%s %s", c.Decision, report.CheckMessage(c))
		if len(c.Warnings) > 0 {
			part += ": " + strings.Join(c.Warnings, ", ")
		}
		parts = append(parts, part)
	}
	parts = append(parts, e.Warnings...)
	if len(parts) == 0 {
		return fmt.Sprintf("%s: %s", e.Name, e.Decision)
	}
	return fmt.Sprintf("%s: %s", e.Name, strings.Join(parts, "; "))
}
