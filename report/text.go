package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/loadgate/loadgate/gate"
)

// ANSI colours for the text report; only used with Options.Color, and only on
// the last column so tabwriter's alignment (which counts bytes) is unaffected.
const (
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiBold   = "\x1b[1m"
	ansiReset  = "\x1b[0m"
)

// Text writes the terminal report: one block per endpoint (most urgent first)
// with baseline, current and change for p50/p95/p99, throughput and error rate,
// the verdict of each check and endpoint, warnings as numbered footnotes, and
// the overall verdict last.
func Text(w io.Writer, in Input, opt Options) error {
	if in.Verdict == nil {
		return fmt.Errorf("text: %w", ErrNoVerdict)
	}
	v := in.Verdict
	ew := &errWriter{w: w}
	t := buildTable(v)

	ew.printf("%s — %s\n", textSafe(in.title()), modeLine(v))
	if len(t.Overall) > 0 {
		ew.printf("warnings: %s\n", noteRefs(t.Overall))
	}
	ew.printf("\n")

	if len(t.Endpoints) == 0 {
		ew.printf("no endpoints were compared\n")
	}
	// tabwriter pads empty trailing cells; the buffer lets us trim them.
	var tbl bytes.Buffer
	tw := tabwriter.NewWriter(&tbl, 0, 0, 2, ' ', 0)
	if len(t.Endpoints) > 0 {
		fmt.Fprintf(tw, "ENDPOINT\tMETRIC\tBASELINE\tCURRENT\tCHANGE\tCHECK\n")
	}
	for i, e := range t.Endpoints {
		if i > 0 {
			// A line of empty cells keeps one column block across endpoints.
			fmt.Fprintf(tw, "\t\t\t\t\t\n")
		}
		name := textSafe(e.Name)
		word := decisionWord(e.Decision)
		if e.Unchecked {
			word = "not checked"
		}
		verdictCell := "→ " + word + spaced(noteRefs(e.Notes))
		rows := e.Rows
		if len(rows) == 0 {
			rows = []row{{Metric: "—"}}
		}
		for j, r := range rows {
			first := ""
			switch j {
			case 0:
				first = name
			case 1:
				first = "  " + verdictCell
			}
			check := withTolerance(decisionWord(r.Decision), r) + spaced(noteRefs(r.Notes))
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", first, r.Metric, r.Base, r.Head, r.Change, colorize(check, r.Decision, opt.Color))
		}
		if len(rows) == 1 {
			fmt.Fprintf(tw, "  %s\t\t\t\t\t\n", verdictCell)
		}
	}
	_ = tw.Flush() // cannot fail: it writes to a bytes.Buffer
	for _, l := range strings.SplitAfter(tbl.String(), "\n") {
		if t := strings.TrimRight(l, " \n"); t != "" || l != "" {
			if strings.HasSuffix(l, "\n") {
				t += "\n"
			}
			ew.printf("%s", t)
		}
	}

	if in.Head != nil && summarizeProfile(in.Head) != nil {
		ew.printf("\n")
		writeProfileText(ew, in.Head)
	}
	if len(t.Notes) > 0 {
		ew.printf("\n")
		for i, n := range t.Notes {
			ew.printf("[%d] %s\n", i+1, textSafe(n))
		}
	}
	ew.printf("\n")
	word := verdictWord(v)
	ew.printf("verdict: %s (%s; exit %d)\n", colorize(word, v.Decision, opt.Color), counts(v), v.ExitCode())
	if nothingChecked(v) {
		ew.printf("%s\n", nothingCheckedText)
	}
	if regs := v.Regressions(); len(regs) > 0 {
		for i := range regs {
			regs[i] = textSafe(regs[i])
		}
		ew.printf("regressed: %s\n", strings.Join(regs, ", "))
	}
	return ew.result("text")
}

func colorize(s string, d gate.Decision, on bool) string {
	if !on || s == "" {
		return s
	}
	switch d {
	case gate.Regressed, gate.Invalid, gate.Incompatible:
		return ansiBold + ansiRed + s + ansiReset
	case gate.Improved:
		return ansiGreen + s + ansiReset
	case gate.Inconclusive, gate.Missing:
		return ansiYellow + s + ansiReset
	}
	return s
}

// textSafe strips control characters (an endpoint name from a results file
// must not move the cursor or change terminal colours) and tabs, which would
// break the table.
func textSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || r == '\n' || r == '\r' {
			return ' '
		}
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return '?'
		}
		return r
	}, s)
}

func spaced(s string) string {
	if s == "" {
		return ""
	}
	return " " + s
}
