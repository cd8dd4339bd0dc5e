package report

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// noVerdictTitleLen bounds NoVerdictTitle: GitHub shows 140 characters of a
// commit status description, and a check-run title should read the same.
const noVerdictTitleLen = 140

// NoVerdictMarkdown is the report of a run that ended without a verdict
// (bad plan or baseline, unreachable target, interrupted or failed run): it
// replaces an earlier run's PR comment and check-run summary, so the last
// verdict never stands for a run that reached none. plan, reason and runURL
// are escaped.
func NoVerdictMarkdown(plan, reason string, exitCode int, runURL string) string {
	var b strings.Builder
	name := plan
	if name == "" {
		name = "plan"
	}
	fmt.Fprintf(&b, "### ⛔ loadgate: %s — no verdict (exit %d)\n\n", EscapeMarkdown(name), exitCode)
	fmt.Fprintf(&b, "**no verdict: %s**\n\n", EscapeMarkdown(flattenSpace(reason)))
	b.WriteString("Nothing was compared in this run; an earlier verdict does not apply to it.\n")
	if runURL != "" {
		fmt.Fprintf(&b, "\n[Workflow run](%s)\n", runURL)
	}
	return b.String()
}

// NoVerdictTitle is the one-line "no verdict: <reason>" of a check run or
// commit status, at most noVerdictTitleLen bytes.
func NoVerdictTitle(reason string) string {
	s := "no verdict: " + flattenSpace(reason)
	if len(s) <= noVerdictTitleLen {
		return s
	}
	cut := noVerdictTitleLen - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func flattenSpace(s string) string { return strings.Join(strings.Fields(s), " ") }
