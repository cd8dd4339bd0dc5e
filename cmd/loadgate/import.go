package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners/importers"
)

func newImportCmd(a *app) *cobra.Command {
	var (
		from, out, planName string
		rename, columns     []string
		skipBad             bool
		window              time.Duration
	)
	cmd := &cobra.Command{
		Use:   "import [--from FORMAT] FILE... -o FILE",
		Short: "Convert k6, JMeter, Locust, Vegeta or Gatling results into loadgate results",
		Long: `import reads the files another load-test tool wrote and writes a loadgate
results file that compare, gate and baseline accept.

Formats: ` + strings.Join(importers.Formats(), ", ") + `, or auto (detect from content).
Tools that record every request (k6 JSON, JMeter JTL, Vegeta results, Gatling
simulation.log) give exact histograms; summaries (k6 summary export, Locust
CSV, vegeta report) give endpoints marked precision "aggregate".
See docs/importers.md for the command that produces each format.`,
		Example: `  loadgate import --from k6-json out.json -o results.json
  loadgate import --from jmeter-csv results.jtl -o results.json --rename '/users/{id}'
  loadgate import --from locust-stats run_stats.csv run_stats_history.csv -o results.json
  loadgate import --from auto results.bin -o results.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			if out == "" {
				return withCode(exitUsage, errors.New("import: -o FILE is required"))
			}
			opts := importers.Options{
				SkipBadLines:  skipBad,
				Rename:        rename,
				Window:        window,
				JMeterColumns: columns,
				PlanName:      planName,
				Logf: func(format string, args ...any) {
					fmt.Fprintf(a.stderr, "loadgate: import: "+format+"\n", args...)
				},
			}
			f, err := importers.Import(a.ctx, from, files, opts)
			if err != nil {
				if a.ctx.Err() != nil {
					return withCode(exitInfra, err)
				}
				// Unknown format, unreadable or malformed input: the user's to fix.
				return withCode(exitUsage, err)
			}
			if err := results.WriteFile(out, f); err != nil {
				return withCode(exitInfra, fmt.Errorf("import: %w", err))
			}
			printImportSummary(a, f, out)
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&from, "from", importers.FormatAuto, "input format: "+strings.Join(importers.Formats(), ", ")+", or auto")
	fl.StringVarP(&out, "output", "o", "", "results file to write")
	fl.StringArrayVar(&rename, "rename", nil, "group URLs under a path pattern such as /users/{id} (repeatable)")
	fl.BoolVar(&skipBad, "skip-bad-lines", false, "skip malformed lines (counted and reported) instead of failing")
	fl.DurationVar(&window, "window", importers.DefaultWindow, "width of the results' time windows")
	fl.StringSliceVar(&columns, "jmeter-columns", nil, "column names of a JMeter CSV without a header (default: JMeter 2.13's default set)")
	fl.StringVar(&planName, "plan-name", "", "plan name recorded in the results (default: the first file's name)")
	return cmd
}

func printImportSummary(a *app, f *results.File, out string) {
	fmt.Fprintf(a.stdout, "imported %d requests in %d endpoints (%s) -> %s\n",
		f.Total.Requests, len(f.Endpoints), f.Run.Runner, out)
	for _, e := range f.Endpoints {
		fmt.Fprintf(a.stdout, "  %-32s %8d req  %6.2f%% err  p50 %8.3f ms  p95 %8.3f ms  p99 %8.3f ms  [%s]\n",
			e.Name, e.Requests, e.ErrorRate*100, e.Latency.P50, e.Latency.P95, e.Latency.P99, e.Precision)
	}
	if n := importers.Skipped(f); n > 0 {
		fmt.Fprintf(a.stdout, "skipped %d malformed line(s)\n", n)
	}
	for _, r := range f.Validity.Reasons {
		fmt.Fprintf(a.stdout, "note: %s\n", r)
	}
}
