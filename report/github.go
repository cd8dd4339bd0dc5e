package report

import (
	"fmt"
	"math"
	"strings"

	"github.com/loadgate/loadgate/gate"
)

// Annotation is a check-run annotation on the plan file.
type Annotation struct {
	Path               string
	StartLine, EndLine int
	// Level is AnnotationFailure, AnnotationWarning or AnnotationNotice.
	Level          string
	Title, Message string
}

// Annotation levels, as GitHub's check-run API names them.
const (
	AnnotationFailure = "failure"
	AnnotationWarning = "warning"
	AnnotationNotice  = "notice"
)

// CheckTitle is the one-line outcome used as check-run title and status description.
func CheckTitle(v *gate.Verdict) string {
	reg := v.Regressions()
	switch {
	case v.Decision == gate.Invalid:
		return "Run invalid: the load generator did not hold the schedule"
	case len(reg) > 0:
		var parts []string
		for _, e := range SortEndpoints(v) {
			if e.Decision != gate.Regressed {
				continue
			}
			if c := worstCheck(e); c != nil {
				parts = append(parts, fmt.Sprintf("%s %s %s", e.Name, c.Label(), ShortChange(*c)))
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

// GitHubOptions add context to the GitHub rendering.
type GitHubOptions struct {
	// RunURL links the workflow run (job summary, artifacts), last.
	RunURL string
	// Note is a callout under the headline (e.g. why GitHub reporting fell back).
	Note string
	// ChartLimit bounds the endpoints in the chart (0 = the report's default).
	ChartLimit int
	// MaxChars bounds the rendering in bytes: 0 (unlimited) for the job
	// summary, the body limit of a comment, an issue or a check-run summary
	// (ghclient.BodyLimit) for those.
	MaxChars int
}

// GitHub is the GitHub Markdown report of a verdict, used for the job summary,
// the PR comment and the check-run summary. It is the Markdown report
// (MarkdownWith, what `loadgate report --format markdown` writes) with
// the options' note and run link, so the comment and the report cannot drift
// apart: headline, changed endpoints first (regressions on top) with interval
// and p-value, unchanged endpoints collapsed in <details>, a Mermaid xychart
// of p50/p95/p99 baseline vs current, and warnings as footnotes. Every string
// of the verdict is escaped. v must not be nil.
func GitHub(v *gate.Verdict, o GitHubOptions) string {
	var b strings.Builder
	// Writing to a strings.Builder cannot fail; the only error is a nil verdict.
	_ = MarkdownWith(&b, Input{Verdict: v}, MarkdownOptions{
		MaxChars: o.MaxChars, Note: o.Note, RunURL: o.RunURL, ChartLimit: o.ChartLimit,
	})
	return b.String()
}

// Annotations are check-run annotations for the plan file: a failure
// per regressed endpoint, a warning per inconclusive or invalid one, and a
// notice per passing endpoint whose checks carry a warning (a pass that a
// longer run might overturn should be visible on the plan line, not only in
// the comment's footnotes). line gives an endpoint's line in the plan (0 when
// unknown: line 1 is used).
func Annotations(v *gate.Verdict, planPath string, line func(endpoint string) int) []Annotation {
	var out []Annotation
	for _, e := range SortEndpoints(v) {
		level := ""
		switch {
		case e.Decision == gate.Regressed:
			level = AnnotationFailure
		case e.Decision == gate.Inconclusive, e.Decision == gate.Invalid, e.Decision == gate.Missing:
			level = AnnotationWarning
		case checksWarn(e):
			level = AnnotationNotice
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
		part := fmt.Sprintf("%s %s", c.Decision, CheckMessage(c))
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
