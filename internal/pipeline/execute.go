package pipeline

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/envprobe"
	"github.com/loadgate/loadgate/runners/local"
)

// RunOptions are the load-producing options shared by run, gate, baseline
// update and the action.
type RunOptions struct {
	// Out is where the results file goes ("" = not written).
	Out   string
	Quiet bool
	// Duration and Target override the plan's.
	Duration time.Duration
	Target   string
	// MaxLag is the largest p99 schedule lag of a valid run (0 = default).
	MaxLag  time.Duration
	Workers WorkersOptions
	// Runner, when set, runs the plan instead of the one the plan and Workers
	// select (the AWS coordinator). A runners.Cleaner is cleaned up after a
	// failed or interrupted run.
	Runner runners.Runner
	// RunErr turns a failed run's error into the error the job ends with
	// (nil: "run <plan>: …", exit 2 for a distributed.ConfigError, else 3).
	RunErr func(error) error
}

// localOptions configures the built-in generator.
func (o *RunOptions) localOptions() local.Options {
	return local.Options{MaxLagP99: o.MaxLag}
}

// Apply changes the plan according to the overrides, before limits are checked.
func (o *RunOptions) Apply(p *plan.Plan) {
	if o.Target != "" {
		p.Target = o.Target
	}
	if o.Duration > 0 {
		p.Profile.Duration = o.Duration
	}
}

// Execute applies overrides, checks the safety rails, runs the plan, stamps
// provenance and writes the results (also when interrupted: marked partial,
// exit 4). A run in which no request reached the target is exit 3.
func Execute(ctx context.Context, env Env, p *plan.Plan, o RunOptions) (*results.File, error) {
	o.Apply(p)
	if err := p.CheckLimits(); err != nil {
		return nil, WithCode(ExitUsage, err)
	}
	if err := p.CheckTargets(); err != nil && o.Runner == nil {
		fmt.Fprintf(env.Stderr, "warning: %v (local runs proceed; distributed and MCP runs refuse)\n", err)
	}
	r := o.Runner
	if r == nil {
		var err error
		if r, err = selectRunner(env, p, &o); err != nil {
			return nil, err
		}
	}
	progressDone := func() {}
	if pr, ok := r.(runners.Progresser); ok && !o.Quiet {
		var fn runners.ProgressFunc
		fn, progressDone = progressPrinter(env.Stderr, env.TTY)
		pr.OnProgress(fn)
	}
	if o.Runner == nil {
		fmt.Fprintf(env.Stderr, "running %q against %s: %s profile, %s\n", p.Name, p.RedactURL(p.Target), p.Profile.Type, p.TotalDuration())
	}
	// The machine's health before and after the load, when this machine
	// ran it (not a distributed run or the AWS coordinator): the gate uses
	// it to tell a slower machine from a slower build.
	thisMachine := o.Runner == nil && o.Workers.Count <= 1
	probe := envprobe.Start()
	res, runErr := r.Run(ctx, p)
	progressDone()
	if res != nil && thisMachine {
		res.Run.Health = probe.Finish()
	}
	if runErr != nil {
		if c, ok := r.(runners.Cleaner); ok {
			cleanup(ctx, env, c)
		}
	}
	if res != nil {
		StampEnv(env, res)
	}
	if runErr != nil {
		if Interrupted(runErr) {
			if res != nil {
				return nil, savePartial(env, o.Out, res)
			}
			// Stopped before any request: nothing to keep, and still an
			// interrupted run (exit 4), not an infrastructure failure.
			return nil, WithCode(ExitInvalid, fmt.Errorf("run %s interrupted before it started: %w", p.Name, runErr))
		}
		if o.RunErr != nil {
			return nil, o.RunErr(runErr)
		}
		var unreach *local.UnreachableError
		if errors.As(runErr, &unreach) {
			// The results are kept for the record (what failed, how); the
			// message already names the target and the first failure.
			if res != nil {
				if err := writeResults(env, o.Out, res); err != nil {
					return nil, err
				}
			}
			return nil, WithCode(ExitInfra, runErr)
		}
		code := ExitInfra
		var ce *distributed.ConfigError
		if errors.As(runErr, &ce) {
			code = ExitUsage
		}
		return nil, WithCode(code, fmt.Errorf("run %s: %w", p.Name, runErr))
	}
	if err := writeResults(env, o.Out, res); err != nil {
		return nil, err
	}
	if unreachable(res) {
		// No request reached the target: there is nothing to judge, and the
		// cause is the environment (service not started, wrong port).
		return nil, WithCode(ExitInfra, fmt.Errorf("target %s unreachable: all %d requests failed to connect (%s)",
			p.RedactURL(p.Target), res.Total.Requests, errorKindsText(res.Total.ErrorKinds)))
	}
	return res, nil
}

// cleanupTimeout bounds how long releasing workers may take after a run.
const cleanupTimeout = 2 * time.Minute

// cleanup releases a runner's resources (worker processes, ECS tasks) with a
// fresh, bounded context: the run's own context may already be cancelled.
func cleanup(ctx context.Context, env Env, c runners.Cleaner) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := c.Cleanup(ctx); err != nil {
		fmt.Fprintf(env.Stderr, "warning: cleanup: %v\n", err)
	}
}

// Interrupted reports whether err came from a cancelled run (signal).
func Interrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// writeResults writes r to path (if set) and says where.
func writeResults(env Env, path string, r *results.File) error {
	if path == "" {
		return nil
	}
	if err := results.WriteFile(path, r); err != nil {
		return WithCode(ExitInfra, fmt.Errorf("write results: %w", err))
	}
	fmt.Fprintf(env.Stderr, "results written to %s\n", path)
	return nil
}

// savePartial writes an interrupted run's results, marked partial, and ends
// with exit 4: partial results are kept, never judged.
func savePartial(env Env, out string, res *results.File) error {
	res.Run.Partial = true
	if err := writeResults(env, out, res); err != nil {
		return err
	}
	return WithCode(ExitInvalid, fmt.Errorf("run interrupted: partial results%s", writtenTo(out)))
}

func writtenTo(path string) string {
	if path == "" {
		return " (not written: no -o)"
	}
	return " written to " + path
}

// ValidityErr is exit 4 for an invalid run, nil for a valid one.
func ValidityErr(r *results.File) error {
	if !r.Validity.Valid {
		return WithCode(ExitInvalid, fmt.Errorf("run invalid: %s", strings.Join(r.Validity.Reasons, "; ")))
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
