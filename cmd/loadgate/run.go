package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/report"
	"github.com/loadgate/loadgate/results"
)

// runFlags are the load-producing options shared by run and baseline update.
type runFlags struct {
	o pipeline.RunOptions
}

func (f *runFlags) bind(cmd *cobra.Command) { pipeline.BindRunFlags(cmd.Flags(), &f.o) }

func newRunCmd(a *app) *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run PLAN",
		Short: "Run a plan and write its results",
		Long: `Run a plan with its runner (the built-in open-model generator unless the plan
says otherwise) and write the results file: per-endpoint HdrHistograms, counts,
status codes, error kinds, 1-second windows and run validity.

Ctrl-C or SIGTERM stops the run; the partial results are still written, marked
"partial", and the exit code is 4 (run invalid).`,
		Example: `  loadgate run plan.yaml -o results.json
  loadgate run plan.yaml --target http://127.0.0.1:9000 --duration 30s -o results.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.loadPlan(args[0])
			if err != nil {
				return err
			}
			res, err := a.execute(p, f.o)
			if err != nil {
				return err
			}
			printRunSummary(a, res)
			return pipeline.ValidityErr(res)
		},
	}
	f.bind(cmd)
	return cmd
}

func printRunSummary(a *app, r *results.File) {
	fmt.Fprintf(a.stdout, "%-28s %9s %7s %9s %9s %9s %9s %9s\n", "ENDPOINT", "REQUESTS", "ERR%", "RPS", "P50", "P95", "P99", "MAX")
	for _, e := range append(append([]results.Endpoint{}, r.Endpoints...), r.Total) {
		fmt.Fprintf(a.stdout, "%-28s %9d %6.2f%% %9.1f %7.2fms %7.2fms %7.2fms %7.2fms\n",
			e.Name, e.Requests, e.ErrorRatePct(), e.ThroughputRPS, e.Latency.P50, e.Latency.P95, e.Latency.P99, e.Latency.Max)
	}
	v := r.Validity
	fmt.Fprintf(a.stdout, "scheduled %d, sent %d, dropped %d, late %d, schedule lag p99 %.2fms, generator CPU %.0f%%\n",
		v.Scheduled, v.Sent, v.Dropped, v.Late, v.LagP99Ms, v.GeneratorCPU*100)
	if !v.Valid {
		fmt.Fprintf(a.stdout, "RUN INVALID: %s\n", strings.Join(v.Reasons, "; "))
	}
	if err := report.WriteProfile(a.stdout, r); err != nil {
		fmt.Fprintf(a.stderr, "warning: %v\n", err)
	}
}
