package pipeline

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/exec"
	"github.com/loadgate/loadgate/runners/local"
)

// selectRunner picks the runner a plan asks for: a tool (runner.exec or
// runner.import), local worker processes (Workers > 1) or the built-in
// generator.
func selectRunner(env Env, p *plan.Plan, o *RunOptions) (runners.Runner, error) {
	if o.Workers.Count > 1 {
		return distributedRunner(env, p, o.Workers)
	}
	if p.Runner.Exec != "" || p.Runner.Import != nil {
		return execRunner(env, p), nil
	}
	return local.New(o.localOptions()), nil
}

// WorkersOptions configure local multi-process runs (`--workers N`).
type WorkersOptions struct {
	Count        int
	MinLoadShare float64
	StartTimeout time.Duration
	// StoreDir keeps the coordinator/worker exchange ("" = a temporary
	// directory, removed after the run).
	StoreDir string
	// Binary is the loadgate executable workers run (default: this one);
	// Synthetic makes workers record synthetic samples instead of sending
	// traffic. Both are for tests.
	Binary    string
	Synthetic int
}

// distributedRunner returns the coordinator of a local multi-process run.
func distributedRunner(env Env, p *plan.Plan, f WorkersOptions) (runners.Runner, error) {
	if err := distributed.CheckTargets(p); err != nil {
		return nil, WithCode(ExitUsage, err)
	}
	// A safety rail like the other limits: refused before anything starts,
	// exit 2 (the coordinator's own check would come later, as exit 3).
	if err := p.CheckWorkers(f.Count); err != nil {
		return nil, WithCode(ExitUsage, err)
	}
	if p.Runner.Exec != "" || p.Runner.Import != nil {
		return nil, WithCode(ExitUsage, errors.New("--workers runs the built-in generator; this plan uses runner.exec/import"))
	}
	specs, err := distributed.Split(f.Count, nil, nil)
	if err != nil {
		return nil, WithCode(ExitUsage, err)
	}
	bin := f.Binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, WithCode(ExitInfra, fmt.Errorf("--workers: locating the loadgate executable: %w", err))
		}
	}
	return &localDistributed{env: env, f: f, specs: specs, bin: bin}, nil
}

// localDistributed runs a Coordinator over a directory store and local
// processes, and removes a temporary store afterwards.
type localDistributed struct {
	env   Env
	f     WorkersOptions
	specs []distributed.WorkerSpec
	bin   string
	coord *distributed.Coordinator
}

var (
	_ runners.Runner  = (*localDistributed)(nil)
	_ runners.Cleaner = (*localDistributed)(nil)
)

func (l *localDistributed) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	dir := l.f.StoreDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "loadgate-workers-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	var extra []string
	if l.f.Synthetic > 0 {
		extra = []string{"--synthetic", fmt.Sprint(l.f.Synthetic)}
	}
	// Workers' output and the coordinator's progress share stderr.
	log := &SyncWriter{W: l.env.Stderr}
	wenv, err := workerEnv(l.env, p)
	if err != nil {
		return nil, WithCode(ExitUsage, err)
	}
	launcher := &distributed.ProcessLauncher{Binary: l.bin, Store: dir, ExtraArgs: extra, Output: log, Env: wenv}
	l.coord = distributed.New(distributed.Options{
		Store: &distributed.DirStore{Root: dir}, Launcher: launcher, RunID: NewRunID(), Workers: l.specs,
		Runner: "local", RunnerClass: fmt.Sprintf("local/%dproc", len(l.specs)),
		MinLoadShare: l.f.MinLoadShare, StartTimeout: l.f.StartTimeout,
		PollInterval: 100 * time.Millisecond, StartLead: time.Second, ResultGrace: 30 * time.Second,
		Log: log,
	})
	return l.coord.Run(ctx, p)
}

func (l *localDistributed) Cleanup(ctx context.Context) error {
	if l.coord == nil {
		return nil
	}
	return l.coord.Cleanup(ctx)
}

// workerEnv is the environment of local worker processes: this process's,
// with the variables the plan's secrets come from as the coordinator sees them
// (the same unless the CLI runs in process with its own getenv), and the
// plan's TLS client key in distributed.TLSKeyEnv. Secret values pass from
// process to process only, never through the store or the command line.
func workerEnv(env Env, p *plan.Plan) ([]string, error) {
	keyPrefix := distributed.TLSKeyEnv + "="
	var out []string
	for _, kv := range os.Environ() {
		// The key workers use is the plan's, checked against its
		// certificate, never one left in this process's environment.
		if !strings.HasPrefix(kv, keyPrefix) {
			out = append(out, kv)
		}
	}
	names := map[string]bool{}
	for _, n := range p.SecretEnv {
		names[n] = true
	}
	for n := range names {
		if v := env.getenv(n); v != "" {
			out = append(out, n+"="+v)
		}
	}
	if p.TLS.CertFile != "" || p.TLS.CertPEM != "" {
		key, err := p.TLSKeyPEM()
		if err != nil {
			return nil, err
		}
		out = append(out, keyPrefix+string(key))
		clear(key)
	}
	return out, nil
}

// NewRunID is "lg-<UTC time>-<random>": sortable, unique, and valid as an S3
// key part, an ECS startedBy and a tag value.
func NewRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "lg-" + time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b[:])
}

// SyncWriter serializes writes from several goroutines.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

func (s *SyncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(b)
}

// execRunner is the runner for plans with `runner: exec` or `runner: import`:
// it streams the tool's output to stderr, inside a collapsible group on
// GitHub Actions.
func execRunner(env Env, p *plan.Plan) runners.Runner {
	out := env.Stderr
	if env.getenv("GITHUB_ACTIONS") == "true" && p.Runner.Exec != "" {
		out = &actionsGroup{w: env.Stderr, title: p.Redact(p.Runner.Exec)}
	}
	return &execWithGroup{
		Runner: exec.New(exec.Options{
			Output: out,
			Logf: func(format string, args ...any) {
				fmt.Fprintf(env.Stderr, "loadgate: exec: "+format+"\n", args...)
			},
		}),
		out: out,
	}
}

// execWithGroup closes the Actions log group when the tool is done.
type execWithGroup struct {
	*exec.Runner
	out io.Writer
}

func (e *execWithGroup) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	res, err := e.Runner.Run(ctx, p)
	if g, ok := e.out.(*actionsGroup); ok {
		g.end()
	}
	return res, err
}

// actionsGroup opens a ::group:: on the first line the tool writes.
type actionsGroup struct {
	w      io.Writer
	title  string
	opened bool
}

func (g *actionsGroup) Write(p []byte) (int, error) {
	if !g.opened {
		g.opened = true
		fmt.Fprintf(g.w, "::group::%s\n", strings.ReplaceAll(g.title, "\n", " "))
	}
	return g.w.Write(p)
}

func (g *actionsGroup) end() {
	if g.opened {
		fmt.Fprintln(g.w, "::endgroup::")
	}
}
