package main

import (
	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/pipeline"
)

func newWorkerCmd(a *app) *cobra.Command {
	var f pipeline.WorkerSettings
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
			return pipeline.RunWorker(a.ctx, f, a.env())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.Store, "store", "", "exchange store: a directory, or s3://bucket/prefix")
	fl.StringVar(&f.StoreRegion, "store-region", "", "AWS region of the S3 bucket (default: AWS_REGION, else --region)")
	fl.StringVar(&f.RunID, "run-id", "", "run ID")
	fl.IntVar(&f.Index, "index", -1, "worker index; -1: from the ECS task metadata and the store's assignment")
	fl.StringVar(&f.Region, "region", "local", "the worker's region (a label for local runs)")
	fl.IntVar(&f.Synthetic, "synthetic", 0, "send no traffic: record this many seeded synthetic samples per endpoint (tests of coordination at scale)")
	_ = fl.MarkHidden("synthetic")
	_ = cmd.MarkFlagRequired("store")
	_ = cmd.MarkFlagRequired("run-id")
	return cmd
}
