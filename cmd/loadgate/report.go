package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/report"
	"github.com/loadgate/loadgate/results"
)

// formatByExt infers --format from -o's extension ("" when it cannot); a
// switch, not a map, so other commands do no start-up work for it.
func formatByExt(ext string) string {
	switch ext {
	case ".txt":
		return report.FormatText
	case ".md", ".markdown":
		return report.FormatMarkdown
	case ".json":
		return report.FormatJSON
	case ".xml":
		return report.FormatJUnit
	case ".html", ".htm":
		return report.FormatHTML
	}
	return ""
}

func newReportCmd(a *app) *cobra.Command {
	var (
		baselinePath, verdictPath, planPath string
		format, outPath, title              string
		maxChars                            int
		color, exitCode                     bool
		gf                                  pipeline.PolicyOptions
	)
	cmd := &cobra.Command{
		Use:   "report RESULTS [--baseline BASELINE | --verdict VERDICT] [--format FORMAT] [-o FILE]",
		Short: "Render a results file (and its verdict) as text, Markdown, JSON, JUnit or HTML",
		Long: `Render a report from a results file. With --baseline the verdict is computed
(gate.Compare with the plan's thresholds when --plan is given, otherwise the
default policy); with --verdict a JSON verdict written earlier (--format json)
is rendered as is, and --baseline then only adds the baseline's curves to the
HTML charts. Without either, the verdict checks SLOs only.

Formats: text (terminal table), markdown (job summary / PR comment), json (the
machine-readable verdict), junit (JUnit XML for CI test dashboards), html (one
self-contained page with charts). --format defaults from the -o extension
(.txt .md .json .xml .html), else text.

The command exits 0 once the report is written; --exit-code makes it exit with
the verdict's code instead (1 regression, 4 invalid run).`,
		Example: `  loadgate report results.json --baseline baselines/checkout.json --format html -o report.html
  loadgate report results.json -b baselines/checkout.json -o junit.xml
  loadgate report results.json --verdict verdict.json --format markdown --max-chars 65000
  loadgate report results.json -o run.html                     # a run alone, no comparison`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := gf.Validate(); err != nil {
				return withCode(exitUsage, err)
			}
			if format == "" {
				format = formatByExt(strings.ToLower(filepath.Ext(outPath)))
				if format == "" {
					format = report.FormatText
				}
			}
			format = strings.ToLower(format)
			if !slices.Contains(report.Formats(), format) {
				return withCode(exitUsage, fmt.Errorf("--format %q: want one of %s", format, strings.Join(report.Formats(), ", ")))
			}
			if maxChars < 0 {
				return withCode(exitUsage, fmt.Errorf("--max-chars %d: must be ≥ 0", maxChars))
			}
			head, err := results.ReadFile(args[0])
			if err != nil {
				return withCode(exitUsage, err)
			}
			var base []*results.File
			if baselinePath != "" {
				b, err := baselines.Load(baselinePath)
				if err != nil {
					return withCode(exitUsage, err)
				}
				base = b.Runs
			}
			var v *gate.Verdict
			if verdictPath != "" {
				doc, err := readVerdict(verdictPath)
				if err != nil {
					return withCode(exitUsage, err)
				}
				if doc.Verdict == nil {
					return withCode(exitUsage, fmt.Errorf("%s: the document holds no verdict", verdictPath))
				}
				v = doc.Verdict
				if title == "" {
					title = doc.Title
				}
			} else {
				var p *plan.Plan
				if planPath != "" {
					if p, err = a.loadPlan(planPath); err != nil {
						return err
					}
				}
				v = pipeline.Verdict(p, base, head, gf)
			}
			in := report.Input{Verdict: v, Head: head, Base: base, Title: title}
			opt := report.Options{MaxChars: maxChars, Color: color || (outPath == "" && format == report.FormatText && isTerminal(a.stdout))}
			if err := writeReport(a, format, outPath, in, opt); err != nil {
				return withCode(exitInfra, err)
			}
			if outPath != "" {
				fmt.Fprintf(a.stderr, "%s report written to %s\n", format, outPath)
			}
			if exitCode {
				if c := v.ExitCode(); c != exitPass {
					return silentExit(c)
				}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVarP(&baselinePath, "baseline", "b", "", "baseline file (or a results file used as a one-run baseline) to compare with")
	f.StringVar(&verdictPath, "verdict", "", "render this JSON verdict (from --format json) instead of computing one")
	f.StringVar(&planPath, "plan", "", "take thresholds and SLOs from this plan")
	f.StringVarP(&format, "format", "f", "", "text, markdown, json, junit or html (default: from -o's extension, else text)")
	f.StringVarP(&outPath, "output", "o", "", "write the report to FILE (default: standard output)")
	f.StringVar(&title, "title", "", "report heading (default: the plan name)")
	f.IntVar(&maxChars, "max-chars", 0, "markdown: shorten the report to at most N characters, saying what was left out (GitHub comments: 65536)")
	f.BoolVar(&color, "color", false, "text: colour regressions and improvements (default: when writing to a terminal)")
	f.BoolVar(&exitCode, "exit-code", false, "exit with the verdict's code (1 regression, 4 invalid) instead of 0")
	pipeline.BindPolicyFlags(f, &gf)
	return cmd
}

func readVerdict(path string) (*report.VerdictDoc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	doc, err := report.DecodeVerdict(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return doc, nil
}

// writeReport renders to memory first so a failed render never leaves half a
// file, then writes atomically (temp file + rename) or to standard output.
func writeReport(a *app, format, path string, in report.Input, opt report.Options) error {
	var buf bytes.Buffer
	if err := report.WriteOptions(format, &buf, in, opt); err != nil {
		return err
	}
	if path == "" || path == "-" {
		if _, err := a.stdout.Write(buf.Bytes()); err != nil {
			return fmt.Errorf("write %s report: %w", format, err)
		}
		return nil
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("write %s report: %w", format, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return errors.Join(fmt.Errorf("write %s report: %w", format, err), os.Remove(tmp))
	}
	return nil
}
