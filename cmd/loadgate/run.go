package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/local"
)

// runFlags are the load-producing options shared by run, gate and baseline update.
type runFlags struct {
	out      string
	quiet    bool
	duration time.Duration
	target   string
	maxLag   time.Duration
	dist     distributedFlags // worker.go: --workers N
}

// localOptions configures the built-in generator from the flags.
func (f *runFlags) localOptions() local.Options {
	return local.Options{MaxLagP99: f.maxLag}
}

func (f *runFlags) bind(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.out, "out", "o", "", "write the results file (JSON) here")
	cmd.Flags().BoolVarP(&f.quiet, "quiet", "q", false, "no live progress")
	cmd.Flags().DurationVar(&f.duration, "duration", 0, "override the profile's duration (load and endurance profiles)")
	cmd.Flags().StringVar(&f.target, "target", "", "override the plan's target URL")
	cmd.Flags().DurationVar(&f.maxLag, "max-schedule-lag", 0, "largest p99 schedule lag of a valid run (default 50ms); raise it only on hosts known to be oversubscribed")
	f.dist.bind(cmd)
}

// apply changes the plan according to overrides, before limits are checked.
func (f *runFlags) apply(p *plan.Plan) {
	if f.target != "" {
		p.Target = f.target
	}
	if f.duration > 0 {
		p.Profile.Duration = f.duration
	}
}

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
			res, err := a.execute(p, &f)
			if err != nil {
				return err
			}
			printRunSummary(a, res)
			return runValidityExit(res)
		},
	}
	f.bind(cmd)
	return cmd
}

// execute applies overrides, checks safety rails, runs the plan, stamps
// provenance and writes the results (also when interrupted).
func (a *app) execute(p *plan.Plan, f *runFlags) (*results.File, error) {
	f.apply(p)
	if err := p.CheckLimits(); err != nil {
		return nil, withCode(exitUsage, err)
	}
	if err := p.CheckTargets(); err != nil {
		fmt.Fprintf(a.stderr, "warning: %v (local runs proceed; distributed and MCP runs refuse)\n", err)
	}
	r, err := a.selectRunnerWith(p, &f.dist, f.localOptions())
	if err != nil {
		return nil, err
	}
	progressDone := func() {}
	if pr, ok := r.(runners.Progresser); ok && !f.quiet {
		var fn runners.ProgressFunc
		fn, progressDone = progressPrinter(a.stderr, isTerminal(a.stderr))
		pr.OnProgress(fn)
	}
	fmt.Fprintf(a.stderr, "running %q against %s: %s profile, %s\n", p.Name, p.Redact(p.Target), p.Profile.Type, p.TotalDuration())
	res, runErr := r.Run(a.ctx, p)
	progressDone()
	if res != nil {
		a.stampEnv(res)
	}
	if runErr != nil {
		if res != nil && interrupted(runErr) {
			return nil, a.savePartial(f.out, res)
		}
		var ce *distributed.ConfigError
		if errors.As(runErr, &ce) {
			return nil, withCode(exitUsage, fmt.Errorf("run %s: %w", p.Name, runErr))
		}
		return nil, withCode(exitInfra, fmt.Errorf("run %s: %w", p.Name, runErr))
	}
	if err := a.writeResults(f.out, res); err != nil {
		return nil, err
	}
	if unreachable(res) {
		// No request reached the target: there is nothing to judge, and the
		// cause is the environment (service not started, wrong port).
		return nil, withCode(exitInfra, fmt.Errorf("target %s unreachable: all %d requests failed to connect (%s)",
			p.Redact(p.Target), res.Total.Requests, errorKindsText(res.Total.ErrorKinds)))
	}
	return res, nil
}

// cleanup releases a runner's resources with a fresh, bounded context: the
// run's own context may already be cancelled.
func (a *app) cleanup(c runners.Cleaner) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(a.ctx), cleanupTimeout)
	defer cancel()
	if err := c.Cleanup(ctx); err != nil {
		fmt.Fprintf(a.stderr, "warning: cleanup: %v\n", err)
	}
}

// cleanupTimeout bounds how long releasing workers may take after a run.
const cleanupTimeout = 2 * time.Minute

// savePartial writes an interrupted run's results, marked partial, and ends
// the command with exit 4: partial results are kept, never judged.
func (a *app) savePartial(out string, res *results.File) error {
	res.Run.Partial = true
	if err := a.writeResults(out, res); err != nil {
		return err
	}
	return withCode(exitInvalid, fmt.Errorf("run interrupted: partial results%s", writtenTo(out)))
}

func writtenTo(path string) string {
	if path == "" {
		return " (not written: no -o)"
	}
	return " written to " + path
}

// runValidityExit turns an invalid run into exit 4.
func runValidityExit(r *results.File) error {
	if !r.Validity.Valid {
		return withCode(exitInvalid, fmt.Errorf("run invalid: %v", r.Validity.Reasons))
	}
	return nil
}

// unreachable reports a run in which every request failed before reaching
// the target (connection refused or name not resolved).
func unreachable(r *results.File) bool {
	if r.Total.Requests == 0 || r.Total.Errors != r.Total.Requests {
		return false
	}
	var n int64
	for k, v := range r.Total.ErrorKinds {
		switch k {
		case runners.ErrRefused, runners.ErrDNS:
			n += v
		}
	}
	return n == r.Total.Errors
}

func errorKindsText(kinds map[string]int64) string {
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, kinds[k]))
	}
	return strings.Join(parts, ", ")
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
		fmt.Fprintf(a.stdout, "RUN INVALID: %v\n", v.Reasons)
	}
	for _, w := range r.Run.Warnings {
		fmt.Fprintf(a.stdout, "WARNING: %s\n", w)
	}
}
