package main

import (
	"io"
	"os"

	"golang.org/x/term"

	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

// loadPlan reads and validates a plan; every problem is a usage error (exit 2).
func (a *app) loadPlan(path string) (*plan.Plan, error) {
	p, err := plan.Load(path, a.getenv)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return p, nil
}

// isTerminal reports whether w is an interactive terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// env is the process boundary the pipeline writes to and reads from.
func (a *app) env() pipeline.Env {
	return pipeline.Env{Stdout: a.stdout, Stderr: a.stderr, Getenv: a.getenv,
		Color: isTerminal(a.stdout), TTY: isTerminal(a.stderr)}
}

// judge runs a job through the pipeline and ends the command with its exit code.
func (a *app) judge(job pipeline.Job) error {
	job.Env = a.env()
	o := pipeline.Run(a.ctx, job)
	if o.Err != nil {
		return withCode(o.Exit, o.Err)
	}
	if o.Exit != exitPass {
		return silentExit(o.Exit)
	}
	return nil
}

// execute runs a plan without judging it (run, baseline update).
func (a *app) execute(p *plan.Plan, o pipeline.RunOptions) (*results.File, error) {
	return pipeline.Execute(a.ctx, a.env(), p, o)
}
