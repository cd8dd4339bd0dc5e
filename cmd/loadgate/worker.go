package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

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
