// Package pipeline is loadgate's one application layer: plan → policy →
// runner → baseline → compare → reports → exit code. The CLI, the GitHub
// action, the demo and the MCP server call it with values (writers, getenv),
// so the step that turns a plan into a verdict exists once.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/report"
	"github.com/loadgate/loadgate/results"
)

// Exit codes (README "Exit codes"; stable).
const (
	ExitPass    = 0
	ExitFail    = 1
	ExitUsage   = 2
	ExitInfra   = 3
	ExitInvalid = 4
)

// Error is a failure that ends the process with Code.
type Error struct {
	Code int
	Err  error
}

func (e *Error) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit %d", e.Code)
	}
	return e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// WithCode wraps err (nil stays nil) so that it ends the process with code.
func WithCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Code: code, Err: err}
}

// Code is the exit code of err: 0 for nil, an *Error's code, else 3.
func Code(err error) int {
	if err == nil {
		return ExitPass
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ExitInfra
}

// Env is the process boundary as values: where output goes and where
// variables come from. Tests pass their own.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Color asks for ANSI colours in the terminal report.
	Color bool
	// TTY updates the progress line in place instead of printing a line
	// every few seconds.
	TTY bool
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}

// Job is one verdict to reach: either run the plan (Run) or judge results
// that exist (HeadFile or Head), against a committed baseline or, in paired
// mode, against the base build measured in the same run.
type Job struct {
	Env Env
	// Plan is the loaded plan: what to run, and its gate thresholds. It may be
	// nil when judging existing results (default policy).
	Plan *plan.Plan
	// Run configures the run when there are no head results yet.
	Run RunOptions
	// Head or HeadFile are results to judge instead of running the plan.
	Head     *results.File
	HeadFile string
	Baseline BaselineSource
	// Paired measures the base build in the same run; no baseline file.
	Paired *PairedOptions
	Policy PolicyOptions
	// Reports are written after the terminal report.
	Reports []ReportSpec
	// UpdateBaseline appends the run to Baseline.Path when the verdict passes,
	// keeping Keep runs (baselines.DefaultKeep when 0).
	UpdateBaseline bool
	Keep           int
}

// BaselineSource says where the runs to compare with come from.
type BaselineSource struct {
	// Runs are used as they are when set (the demo's embedded baseline).
	Runs []*results.File
	// Path is a baseline file, or a results file used as a one-run baseline.
	Path string
	// Required makes a missing file exit 2; otherwise the verdict uses SLOs
	// only and says so.
	Required bool
}

// Outcome is how a job ended. Verdict is nil when the job ended before a
// verdict (bad input, unreachable target, interrupted run); Err then says why.
type Outcome struct {
	Head    *results.File
	Base    []*results.File
	Verdict *gate.Verdict
	Exit    int
	Err     error
}

// Run reaches the job's verdict: loads the baseline, runs the plan (or reads
// the head results), checks compatibility, compares, prints the terminal
// report, writes the reports and maps the verdict to an exit code.
func Run(ctx context.Context, job Job) Outcome {
	var o Outcome
	err := job.run(ctx, &o)
	if err != nil {
		o.Err = err
		o.Exit = Code(err)
		var e *Error
		if errors.As(err, &e) && e.Err == nil {
			o.Err = nil // the report already said everything
		}
	}
	return o
}

func (job *Job) run(ctx context.Context, o *Outcome) error {
	if err := job.Policy.Validate(); err != nil {
		return WithCode(ExitUsage, err)
	}
	if job.Paired != nil {
		return job.runPaired(ctx, o)
	}
	base, err := job.loadBaseline()
	if err != nil {
		return err
	}
	o.Base = base
	switch {
	case job.Head != nil:
		o.Head = job.Head
	case job.HeadFile != "":
		if o.Head, err = results.ReadFile(job.HeadFile); err != nil {
			return WithCode(ExitUsage, err)
		}
	default:
		if job.Plan == nil {
			return WithCode(ExitUsage, errors.New("nothing to judge: no plan and no results"))
		}
		if o.Head, err = Execute(ctx, job.Env, job.Plan, job.Run); err != nil {
			return err
		}
	}
	if o.Verdict, err = Judge(job.Plan, base, o.Head, job.Policy); err != nil {
		return err
	}
	if err := job.finish(o); err != nil {
		return err
	}
	if job.UpdateBaseline && o.Exit == ExitPass {
		keep := job.Keep
		if keep <= 0 {
			keep = baselines.DefaultKeep
		}
		if err := baselines.Append(job.Baseline.Path, o.Head, keep); err != nil {
			return WithCode(ExitUsage, err)
		}
		fmt.Fprintf(job.Env.Stderr, "baseline %s updated\n", job.Baseline.Path)
	}
	return nil
}

// Verdict compares head with the baseline runs under the plan's policy (p
// may be nil: the default policy). A baseline from another plan or profile
// gives an "incompatible" verdict that lists why (the MCP server's answer).
func Verdict(p *plan.Plan, base []*results.File, head *results.File, o PolicyOptions) *gate.Verdict {
	return gate.Compare(base, head, Policy(p, o))
}

// Judge is Verdict for the CLI and the action: an incompatible baseline is
// exit 2 with what to do about it, never a silent comparison;
// AllowPlanChange turns it into warnings in the verdict.
func Judge(p *plan.Plan, base []*results.File, head *results.File, o PolicyOptions) (*gate.Verdict, error) {
	pol := Policy(p, o)
	if len(base) > 0 {
		if _, err := gate.Compatible(base, head, pol); err != nil {
			return nil, WithCode(ExitUsage, fmt.Errorf("%w (rerun with --allow-plan-change to compare anyway, or refresh the baseline with `loadgate baseline update`)", err))
		}
	}
	return gate.Compare(base, head, pol), nil
}

// finish prints the verdict, writes the reports and sets the exit code.
func (job *Job) finish(o *Outcome) error {
	in := report.Input{Verdict: o.Verdict, Head: o.Head, Base: o.Base}
	if err := report.Text(job.Env.Stdout, in, report.Options{Color: job.Env.Color}); err != nil {
		return WithCode(ExitInfra, err)
	}
	if err := WriteReports(job.Reports, in); err != nil {
		return WithCode(ExitInfra, err)
	}
	o.Exit = o.Verdict.ExitCode()
	return nil
}

// loadBaseline returns the baseline runs; a missing file is no baseline
// (SLO-only verdict) unless required.
func (job *Job) loadBaseline() ([]*results.File, error) {
	src := job.Baseline
	if src.Runs != nil {
		return src.Runs, nil
	}
	if src.Path == "" {
		if src.Required {
			return nil, WithCode(ExitUsage, errors.New("no baseline file given"))
		}
		return nil, nil
	}
	b, err := baselines.Load(src.Path)
	if errors.Is(err, fs.ErrNotExist) && !src.Required {
		fmt.Fprintf(job.Env.Stderr, "warning: no baseline at %s yet: the verdict uses SLOs only (create one with `loadgate baseline update`)\n", src.Path)
		return nil, nil
	}
	if err != nil {
		return nil, WithCode(ExitUsage, err)
	}
	return b.Runs, nil
}

// DefaultBaselinePath is baselines/<plan name>.json.
func DefaultBaselinePath(p *plan.Plan) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, p.Name)
	return "baselines/" + name + ".json"
}
