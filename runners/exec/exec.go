// Package exec runs an existing load-test command (k6, JMeter, Locust,
// Vegeta, Gatling, or any script) named by a plan's `runner: {exec: …}` and
// imports the results it wrote with runners/importers.
//
// The command line is split into words like a POSIX shell would (quotes and
// backslashes) but is not run by a shell: no variables, globs, pipes or
// redirections. Write `sh -c '…'` to get a shell. The command runs in the
// plan's directory, in its own process group, with its output streamed to
// Options.Output; on timeout or cancellation the whole group gets SIGTERM, then
// SIGKILL after KillGrace. The files to import are the command's outputs: they
// are removed before it starts, so a stale or appended-to file is never imported.
package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/importers"
)

// DefaultTimeout bounds a command when the plan sets no runner.timeout.
const DefaultTimeout = 10 * time.Minute

// DefaultKillGrace is how long a command has to exit after SIGTERM before
// SIGKILL; k6 and Locust write their summaries on SIGTERM within a second or two.
const DefaultKillGrace = 5 * time.Second

// Options configure a Runner.
type Options struct {
	// Output receives the command's stdout and stderr, line by line (nil
	// discards them). The CLI wraps it in a collapsible group on GitHub Actions.
	Output io.Writer
	// Env is the command's environment; nil inherits loadgate's.
	Env []string
	// KillGrace overrides DefaultKillGrace.
	KillGrace time.Duration
	// SkipBadLines is passed to the importer.
	SkipBadLines bool
	// Logf receives notes (tool exit code, skipped lines).
	Logf func(format string, args ...any)
}

// Runner implements runners.Runner for plans with `runner: exec`.
type Runner struct {
	opts Options
}

var _ runners.Runner = (*Runner)(nil)

// New returns an exec runner.
func New(opts Options) *Runner {
	if opts.KillGrace <= 0 {
		opts.KillGrace = DefaultKillGrace
	}
	return &Runner{opts: opts}
}

// ToolError is a command that could not be run or that wrote no results.
// ExitCode is -1 when the command did not exit normally (not started, killed).
type ToolError struct {
	Command  string
	ExitCode int
	Err      error
}

func (e *ToolError) Error() string {
	if e.ExitCode >= 0 {
		return fmt.Sprintf("exec %s: exit code %d: %v", e.Command, e.ExitCode, e.Err)
	}
	return fmt.Sprintf("exec %s: %v", e.Command, e.Err)
}

func (e *ToolError) Unwrap() error { return e.Err }

// Run executes p.Runner.Exec (when set), then imports p.Runner.Import. The
// tool's exit code is recorded in Run.ToolExitCode and does not fail the run
// (k6 exits 99 on failed thresholds, Locust 1 on any failed request): the
// gate's verdict comes from the imported figures. When the command times out
// or ctx is cancelled, whatever it wrote is imported with bad lines skipped,
// Run.Partial is set, and the error wraps context.DeadlineExceeded or ctx.Err().
func (r *Runner) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	spec := p.Runner
	if spec.Import == nil || spec.Import.From == "" {
		return nil, errors.New("exec runner: runner.import.from is required (the format of the file the command writes)")
	}
	var files []string // a copy: the plan's slice must not change
	if spec.Import.File != "" {
		files = append(files, spec.Import.File)
	}
	files = append(files, spec.Import.Files...)
	if len(files) == 0 {
		return nil, errors.New("exec runner: runner.import.file is required (the file the command writes)")
	}
	for i, f := range files {
		if !filepath.IsAbs(f) {
			files[i] = filepath.Join(p.Dir, f)
		}
	}

	var exitCode *int
	var runErr error
	started := time.Now()
	skip := r.opts.SkipBadLines
	if spec.Exec != "" {
		args, err := Split(spec.Exec)
		if err != nil {
			return nil, fmt.Errorf("runner.exec: %w", err)
		}
		// The import files are the command's outputs. Old ones go first: JMeter
		// appends to an existing -l file, and a tool that fails early would
		// otherwise leave the last run's results to be imported as this one's.
		for _, f := range files {
			if err := os.Remove(f); err == nil {
				r.logf("removed %s from an earlier run", f)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("exec runner: %w", err)
			}
		}
		code, err := r.command(ctx, p, args, spec.Timeout)
		if code >= 0 {
			exitCode = &code
			r.logf("%s exited with code %d", args[0], code)
		}
		switch {
		case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
			runErr = err
			skip = true // a killed tool may leave a half-written last line
		case err != nil:
			return nil, &ToolError{Command: p.Redact(args[0]), ExitCode: -1, Err: err}
		}
		for _, f := range files {
			if _, err := os.Stat(f); err != nil {
				return nil, errors.Join(runErr, &ToolError{Command: p.Redact(args[0]), ExitCode: deref(exitCode),
					Err: fmt.Errorf("wrote no %s: %w", f, err)})
			}
		}
	}

	// Import even when ctx is done: the partial results are what the caller writes.
	res, err := importers.Import(context.WithoutCancel(ctx), spec.Import.From, files, importers.Options{
		SkipBadLines: skip,
		Rename:       spec.Import.Rename,
		PlanName:     p.Name,
		Logf:         r.opts.Logf,
	})
	if err != nil {
		return nil, errors.Join(runErr, fmt.Errorf("exec runner: import: %w", err))
	}
	res.Plan = results.PlanRef{Name: p.Name, Hash: p.Hash(), File: p.Source}
	res.Run.Runner = "exec:" + spec.Import.From
	if spec.Exec == "" {
		res.Run.Runner = "import:" + spec.Import.From
	}
	res.Run.ToolExitCode = exitCode
	res.Run.Target = p.RedactURL(p.Target)
	if exitCode != nil && *exitCode != 0 {
		res.Validity.Reasons = append(res.Validity.Reasons, fmt.Sprintf("the tool exited with code %d (its own verdict; loadgate's gate is separate)", *exitCode))
	}
	if res.Run.Started.IsZero() {
		res.Run.Started, res.Run.Ended = started.UTC(), time.Now().UTC()
	}
	if runErr != nil {
		res.Run.Partial = true
		return res, runErr
	}
	return res, nil
}

func deref(p *int) int {
	if p == nil {
		return -1
	}
	return *p
}

func (r *Runner) logf(format string, args ...any) {
	if r.opts.Logf != nil {
		r.opts.Logf(format, args...)
	}
}

// command runs args and returns its exit code (-1 when it did not exit by
// itself). err wraps context.DeadlineExceeded on timeout and ctx.Err() on
// cancellation; other errors mean it could not start.
func (r *Runner) command(ctx context.Context, p *plan.Plan, args []string, timeout time.Duration) (int, error) {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	runCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := osexec.Command(args[0], args[1:]...)
	cmd.Dir = p.Dir
	cmd.Env = r.opts.Env
	out := r.opts.Output
	if out == nil {
		out = io.Discard
	}
	lw := &lineWriter{w: out, redact: p.Redact}
	defer lw.flush()
	cmd.Stdout, cmd.Stderr = lw, lw
	// Grandchildren that keep the output pipe open must not hold Wait forever.
	cmd.WaitDelay = r.opts.KillGrace
	setGroup(cmd)
	if err := cmd.Start(); err != nil {
		return -1, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var waitErr error
	var stopErr error
	select {
	case waitErr = <-done:
	case <-runCtx.Done():
		if ctx.Err() != nil {
			stopErr = ctx.Err()
		} else {
			stopErr = fmt.Errorf("timed out after %s: %w", timeout, context.DeadlineExceeded)
		}
		terminate(cmd)
		select {
		case waitErr = <-done:
		case <-time.After(r.opts.KillGrace):
			kill(cmd)
			waitErr = <-done
		}
	}
	// Leftover processes of the group (a tool's workers) go with it.
	kill(cmd)
	code := -1
	if cmd.ProcessState != nil {
		code = cmd.ProcessState.ExitCode()
	}
	if stopErr != nil {
		return code, stopErr
	}
	var ee *osexec.ExitError
	if waitErr != nil && !errors.As(waitErr, &ee) && !errors.Is(waitErr, osexec.ErrWaitDelay) {
		return code, waitErr
	}
	return code, nil
}

// lineWriter forwards whole lines with secrets redacted; it is shared by
// stdout and stderr, so writes are serialised.
type lineWriter struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	redact func(string) string
}

// maxPending bounds a line without newline (progress bars redraw with \r).
const maxPending = 64 << 10

func (l *lineWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexAny(string(l.buf), "\n\r")
		if i < 0 {
			break
		}
		line := string(l.buf[:i+1])
		l.buf = l.buf[i+1:]
		if _, err := io.WriteString(l.w, l.redact(line)); err != nil {
			return len(p), nil // the tool must not die because the log writer did
		}
	}
	if len(l.buf) > maxPending {
		_, _ = io.WriteString(l.w, l.redact(string(l.buf)))
		l.buf = l.buf[:0]
	}
	return len(p), nil
}

func (l *lineWriter) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.buf) > 0 {
		_, _ = io.WriteString(l.w, l.redact(string(l.buf))+"\n")
		l.buf = nil
	}
}
