package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/loadgate/loadgate/internal/provenance"
	"github.com/loadgate/loadgate/internal/version"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
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

// progressPrinter returns a ProgressFunc: on a TTY one status line updated in
// place, otherwise a plain line every plainEvery, so CI logs stay readable.
func progressPrinter(w io.Writer, tty bool) (runners.ProgressFunc, func()) {
	const plainEvery = 5 * time.Second
	var last time.Duration = -plainEvery
	wrote := false
	fn := func(p runners.Progress) {
		line := fmt.Sprintf("%5.1fs/%s  %7.1f req/s  p95 %-9s  requests %d  errors %d",
			p.Elapsed.Seconds(), p.Total.Round(time.Second), p.RPS, fmtMs(p.P95), p.Requests, p.Errors)
		if p.Dropped > 0 {
			line += fmt.Sprintf("  dropped %d", p.Dropped)
		}
		if p.Stage != "" {
			line += "  [" + p.Stage + "]"
		}
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			wrote = true
			return
		}
		if p.Elapsed-last >= plainEvery {
			fmt.Fprintln(w, line)
			last = p.Elapsed
		}
	}
	done := func() {
		if tty && wrote {
			fmt.Fprint(w, "\r\033[K")
		}
	}
	return fn, done
}

func fmtMs(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}

// stampEnv fills the run's environment provenance that only cmd can know.
func (a *app) stampEnv(r *results.File) {
	env := &r.Run.Env
	env.ToolVersion = version.String()
	env.GoVersion = runtime.Version()
	env.OS, env.Arch = runtime.GOOS, runtime.GOARCH
	if env.CPUs == 0 {
		env.CPUs = runtime.NumCPU()
	}
	if h, err := os.Hostname(); err == nil && env.Host == "" {
		env.Host = h
	}
	if sha := a.getenv("GITHUB_SHA"); sha != "" && env.GitSHA == "" {
		env.GitSHA = sha
		env.Ref = a.getenv("GITHUB_REF")
	}
	if env.GitSHA == "" {
		env.GitSHA, env.Ref = gitHead()
	}
	if r.Run.StartedBy == nil {
		// Detect says "action" (with repository, run id, actor) inside GitHub
		// Actions and "cli" elsewhere.
		provenance.Stamp(r, provenance.Detect(provenance.ViaCLI, a.getenv))
	}
}

// gitHead reads HEAD from the .git directory of the working tree, without
// running git (the container image has no git).
func gitHead() (sha, ref string) {
	dir, err := os.Getwd()
	if err != nil {
		return "", ""
	}
	for {
		head, err := os.ReadFile(dir + "/.git/HEAD")
		if err == nil {
			s := strings.TrimSpace(string(head))
			if r, ok := strings.CutPrefix(s, "ref: "); ok {
				b, err := os.ReadFile(dir + "/.git/" + r)
				if err != nil {
					return "", r
				}
				return strings.TrimSpace(string(b)), r
			}
			return s, ""
		}
		parent := dir[:max(strings.LastIndexByte(dir, '/'), 0)]
		if parent == dir || parent == "" {
			return "", ""
		}
		dir = parent
	}
}

// writeResults writes r to path (if set) and says where.
func (a *app) writeResults(path string, r *results.File) error {
	if path == "" {
		return nil
	}
	if err := results.WriteFile(path, r); err != nil {
		return withCode(exitInfra, fmt.Errorf("write results: %w", err))
	}
	fmt.Fprintf(a.stderr, "results written to %s\n", path)
	return nil
}

// interrupted reports whether err came from a cancelled run (signal).
func interrupted(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
