package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/loadgate/loadgate/runners"
	awsrunner "github.com/loadgate/loadgate/runners/aws"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/local"
)

// WorkerSettings are `loadgate worker`'s flags: one shard of a distributed
// run, local (--workers N) or on ECS.
type WorkerSettings struct {
	Store       string // a directory, or s3://bucket/prefix
	StoreRegion string
	RunID       string
	Index       int // -1: from the ECS task metadata and the store's assignment
	Region      string
	Synthetic   int
}

// RunWorker runs one worker's share and maps its outcome to an exit code.
func RunWorker(ctx context.Context, f WorkerSettings, e Env) error {
	store, err := openStore(ctx, e.getenv, f.Store, f.StoreRegion, f.Region)
	if err != nil {
		return WithCode(ExitUsage, err)
	}
	index, host := f.Index, ""
	if index < 0 {
		task, err := awsrunner.TaskID(ctx, e.getenv("ECS_CONTAINER_METADATA_URI_V4"))
		if err != nil {
			return WithCode(ExitUsage, err)
		}
		host = task
		if index, err = distributed.WaitAssignment(ctx, store, f.RunID, f.Region, task, 2*time.Minute); err != nil {
			return WithCode(ExitInfra, err)
		}
	}
	if host == "" {
		host, _ = os.Hostname()
	}
	err = distributed.RunWorker(ctx, distributed.WorkerOptions{
		Store: store, RunID: f.RunID, Index: index, Region: f.Region, Host: host,
		NewRunner: workerRunner(f.Synthetic), Log: e.Stderr, Getenv: e.getenv,
	})
	switch {
	case err == nil:
		return nil
	case distributed.IsWorkerConfigError(err):
		// A configuration problem of the worker, found before any request.
		return WithCode(ExitUsage, err)
	case errors.Is(err, distributed.ErrExcluded):
		fmt.Fprintln(e.Stderr, "loadgate worker: excluded from the run; exiting")
		return nil
	case errors.Is(err, context.Canceled), errors.Is(err, distributed.ErrAborted):
		return WithCode(ExitInvalid, err)
	default:
		return WithCode(ExitInfra, err)
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
func openStore(ctx context.Context, getenv func(string) string, spec, storeRegion, region string) (distributed.Store, error) {
	if !strings.HasPrefix(spec, "s3://") {
		if spec == "" {
			return nil, errors.New("--store is required")
		}
		return &distributed.DirStore{Root: spec}, nil
	}
	if storeRegion == "" {
		storeRegion = getenv("AWS_REGION")
	}
	if storeRegion == "" {
		storeRegion = region
	}
	return awsrunner.NewS3Store(ctx, spec, storeRegion, awsrunner.Env{Getenv: getenv})
}
