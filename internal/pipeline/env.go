package pipeline

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/provenance"
	"github.com/loadgate/loadgate/internal/version"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// StampEnv fills the run's environment provenance that only the process
// knows: tool version, host, commit, who started it.
func StampEnv(env Env, r *results.File) {
	e := &r.Run.Env
	e.ToolVersion = version.String()
	e.GoVersion = runtime.Version()
	e.OS, e.Arch = runtime.GOOS, runtime.GOARCH
	if e.CPUs == 0 {
		e.CPUs = runtime.NumCPU()
	}
	if h, err := os.Hostname(); err == nil && e.Host == "" {
		e.Host = h
	}
	if sha := env.getenv("GITHUB_SHA"); sha != "" && e.GitSHA == "" {
		e.GitSHA = sha
		e.Ref = env.getenv("GITHUB_REF")
	}
	if e.GitSHA == "" {
		e.GitSHA, e.Ref = gitHead()
	}
	if r.Run.StartedBy == nil {
		// Detect says "action" (with repository, run id, actor) inside GitHub
		// Actions and "cli" elsewhere.
		provenance.Stamp(r, provenance.Detect(provenance.ViaCLI, env.getenv))
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
