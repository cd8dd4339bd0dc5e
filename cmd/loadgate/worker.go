package main

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

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	awsrunner "github.com/loadgate/loadgate/runners/aws"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/local"
)

// workerFlags are `loadgate worker`'s flags.
type workerFlags struct {
	store       string
	storeRegion string
	runID       string
	index       int
	region      string
	synthetic   int
}

func newWorkerCmd(a *app) *cobra.Command {
	var f workerFlags
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run one shard of a distributed run (started by a coordinator)",
		Long: `Run one worker of a distributed run. The coordinator (loadgate run --workers N,
or loadgate aws run) starts workers; you normally do not run this by hand.

The worker reads the plan and the run manifest from the store, reports ready,
waits for its region's start signal (the barrier), runs its share of the
arrival rate from the common start instant, and uploads its results file to
<run-id>/workers/<region>/<index>.json. On ECS (--index -1) it learns its task
ID from the task metadata endpoint and reads its index from the store.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWorker(a, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.store, "store", "", "exchange store: a directory, or s3://bucket/prefix")
	fl.StringVar(&f.storeRegion, "store-region", "", "AWS region of the S3 bucket (default: AWS_REGION, else --region)")
	fl.StringVar(&f.runID, "run-id", "", "run ID")
	fl.IntVar(&f.index, "index", -1, "worker index; -1: from the ECS task metadata and the store's assignment")
	fl.StringVar(&f.region, "region", "local", "the worker's region (a label for local runs)")
	fl.IntVar(&f.synthetic, "synthetic", 0, "send no traffic: record this many seeded synthetic samples per endpoint (tests of coordination at scale)")
	_ = fl.MarkHidden("synthetic")
	_ = cmd.MarkFlagRequired("store")
	_ = cmd.MarkFlagRequired("run-id")
	return cmd
}

func runWorker(a *app, f *workerFlags) error {
	ctx := a.ctx
	store, err := openStore(ctx, a, f.store, f.storeRegion, f.region)
	if err != nil {
		return withCode(exitUsage, err)
	}
	index, host := f.index, ""
	if index < 0 {
		task, err := awsrunner.TaskID(ctx, a.getenv("ECS_CONTAINER_METADATA_URI_V4"))
		if err != nil {
			return withCode(exitUsage, err)
		}
		host = task
		if index, err = distributed.WaitAssignment(ctx, store, f.runID, f.region, task, 2*time.Minute); err != nil {
			return withCode(exitInfra, err)
		}
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	err = distributed.RunWorker(ctx, distributed.WorkerOptions{
		Store: store, RunID: f.runID, Index: index, Region: f.region, Host: host,
		NewRunner: workerRunner(f.synthetic), Log: a.stderr, Getenv: a.getenv,
	})
	var envErr *distributed.EnvError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &envErr):
		// A configuration problem of the worker, found before any request.
		return withCode(exitUsage, err)
	case errors.Is(err, distributed.ErrExcluded):
		fmt.Fprintln(a.stderr, "loadgate worker: excluded from the run; exiting")
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, distributed.ErrAborted):
		return withCode(exitInvalid, err)
	default:
		return withCode(exitInfra, err)
	}
}

// workerRunner builds the runner of a worker's share: the local generator,
// or the synthetic one for coordination tests.
func workerRunner(synthetic int) distributed.RunnerFactory {
	return func(sh distributed.Share) (runners.Runner, error) {
		if synthetic > 0 {
			return &distributed.Synthetic{Share: sh, Requests: synthetic, MaxWindows: 3}, nil
		}
		return local.New(local.Options{RateScale: sh.RateScale, StartAt: sh.StartAt, Label: sh.Label, Shard: sh.Index, Shards: sh.Workers}), nil
	}
}

// openStore opens a directory store or, for s3://, an S3 store.
func openStore(ctx context.Context, a *app, spec, storeRegion, region string) (distributed.Store, error) {
	if !strings.HasPrefix(spec, "s3://") {
		if spec == "" {
			return nil, errors.New("--store is required")
		}
		return &distributed.DirStore{Root: spec}, nil
	}
	if storeRegion == "" {
		storeRegion = a.getenv("AWS_REGION")
	}
	if storeRegion == "" {
		storeRegion = region
	}
	return awsrunner.NewS3Store(ctx, spec, storeRegion, awsrunner.Env{Getenv: a.getenv})
}

// distributedFlags are the options of local multi-process runs
// (`loadgate run|gate --workers N`).
type distributedFlags struct {
	workers      int
	minLoadShare float64
	startTimeout time.Duration
	storeDir     string
	// binary and synthetic are for tests: the worker executable (default:
	// this one) and synthetic workers.
	binary    string
	synthetic int
}

func (f *distributedFlags) bind(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.IntVar(&f.workers, "workers", 0, "run the plan on N local worker processes (each with 1/N of the rate; results merged exactly); needs the target in targets.allow")
	fl.Float64Var(&f.minLoadShare, "min-load-share", distributed.DefaultMinLoadShare, "with --workers: below this fraction of the intended load (lost workers) the run is invalid (exit 4)")
	fl.DurationVar(&f.startTimeout, "start-timeout", 30*time.Second, "with --workers: how long to wait for workers to be ready; late ones are excluded")
	fl.StringVar(&f.storeDir, "store-dir", "", "with --workers: keep the coordinator/worker exchange in this directory (default: a temporary one, removed)")
	fl.StringVar(&f.binary, "worker-binary", "", "with --workers: the loadgate executable workers run (default: this one)")
	fl.IntVar(&f.synthetic, "synthetic-workers", 0, "with --workers: workers send no traffic and record this many synthetic samples per endpoint")
	_ = fl.MarkHidden("worker-binary")
	_ = fl.MarkHidden("synthetic-workers")
}

// selectRunnerWith is selectRunner, or the local multi-process coordinator
// when --workers asks for more than one worker.
func (a *app) selectRunnerWith(p *plan.Plan, f *distributedFlags, lo local.Options) (runners.Runner, error) {
	if f == nil || f.workers <= 1 {
		return a.selectRunner(p, lo)
	}
	return distributedRunner(a, p, *f)
}

// distributedRunner returns the coordinator of a local multi-process run.
func distributedRunner(a *app, p *plan.Plan, f distributedFlags) (runners.Runner, error) {
	if err := distributed.CheckTargets(p); err != nil {
		return nil, withCode(exitUsage, err)
	}
	if p.Runner.Exec != "" || p.Runner.Import != nil {
		return nil, withCode(exitUsage, errors.New("--workers runs the built-in generator; this plan uses runner.exec/import"))
	}
	specs, err := distributed.Split(f.workers, nil, nil)
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	bin := f.binary
	if bin == "" {
		if bin, err = os.Executable(); err != nil {
			return nil, withCode(exitInfra, fmt.Errorf("--workers: locating the loadgate executable: %w", err))
		}
	}
	return &localDistributed{a: a, f: f, specs: specs, bin: bin}, nil
}

// localDistributed runs a Coordinator over a directory store and local
// processes, and removes a temporary store afterwards.
type localDistributed struct {
	a     *app
	f     distributedFlags
	specs []distributed.WorkerSpec
	bin   string
	coord *distributed.Coordinator
}

var (
	_ runners.Runner  = (*localDistributed)(nil)
	_ runners.Cleaner = (*localDistributed)(nil)
)

func (l *localDistributed) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	dir := l.f.storeDir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "loadgate-workers-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	var extra []string
	if l.f.synthetic > 0 {
		extra = []string{"--synthetic", fmt.Sprint(l.f.synthetic)}
	}
	// Workers' output and the coordinator's progress share stderr.
	log := &syncWriter{w: l.a.stderr}
	launcher := &distributed.ProcessLauncher{Binary: l.bin, Store: dir, ExtraArgs: extra, Output: log, Env: workerEnv(l.a, p)}
	l.coord = distributed.New(distributed.Options{
		Store: &distributed.DirStore{Root: dir}, Launcher: launcher, RunID: newRunID(), Workers: l.specs,
		Runner: "local", RunnerClass: fmt.Sprintf("local/%dproc", len(l.specs)),
		MinLoadShare: l.f.minLoadShare, StartTimeout: l.f.startTimeout,
		PollInterval: 100 * time.Millisecond, StartLead: time.Second, ResultGrace: 30 * time.Second,
		Log: log,
	})
	return l.coord.Run(ctx, p)
}

// workerEnv is the environment of local worker processes: this process's,
// with the variables the plan's secrets come from as the coordinator sees them
// (the same unless the CLI runs in process with its own getenv). Secret values
// pass from process to process only, never through the store.
func workerEnv(a *app, p *plan.Plan) []string {
	env := os.Environ()
	names := map[string]bool{}
	for _, n := range p.SecretEnv {
		names[n] = true
	}
	for n := range names {
		if v := a.getenv(n); v != "" {
			env = append(env, n+"="+v)
		}
	}
	return env
}

func (l *localDistributed) Cleanup(ctx context.Context) error {
	if l.coord == nil {
		return nil
	}
	return l.coord.Cleanup(ctx)
}

// newRunID is "lg-<UTC time>-<random>": sortable, unique, and valid as an S3
// key part, an ECS startedBy and a tag value.
func newRunID() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "lg-" + time.Now().UTC().Format("20060102t150405") + "-" + hex.EncodeToString(b[:])
}

// syncWriter serializes writes from several goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}
