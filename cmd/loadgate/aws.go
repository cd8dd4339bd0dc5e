package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/pipeline"
)

// awsRunFlags are `loadgate aws run`'s flags: the pipeline's options and
// where to write the results.
type awsRunFlags struct {
	pipeline.AWSOptions
	out string
}

func newAWSCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "aws",
		Short: "Run distributed load tests on AWS ECS Fargate, and clean up after them",
	}
	cmd.AddCommand(newAWSRunCmd(a), newAWSCleanupCmd(a))
	return cmd
}

func newAWSRunCmd(a *app) *cobra.Command {
	cmd, _ := awsRunCommand(a)
	return cmd
}

// awsRunCommand is `loadgate aws run` and the flags it binds.
func awsRunCommand(a *app) (*cobra.Command, *awsRunFlags) {
	var f awsRunFlags
	cmd := &cobra.Command{
		Use:   "run PLAN",
		Short: "Run a plan on ECS Fargate tasks and merge their results exactly",
		Long: `Run a plan on many ECS Fargate tasks (the loadgate image running
"loadgate worker"), each with its share of the arrival rate, started together
by a barrier once every task is running. Results travel through S3 and are
merged exactly (histograms summed). Needs the target's host in the plan's
targets.allow, prints a cost estimate first and refuses above --max-cost.

Credentials and endpoints come from the AWS SDK's default chain (environment,
OIDC web identity in GitHub Actions, profiles); AWS_ENDPOINT_URL_ECS and
AWS_ENDPOINT_URL_S3 override the endpoints. See docs/aws.md for the
CloudFormation stack this expects.

Exit codes: 0 valid run, 2 refused (flags, plan, allow list, cost, caps),
3 AWS failure, 4 invalid run (too few workers, generator behind, interrupted).`,
		Example: `  loadgate aws run plan.yaml --store s3://my-bucket/loadgate --regions eu-west-1:10 \
    --cluster loadgate --task-definition loadgate-worker --subnets subnet-1,subnet-2 \
    --security-groups sg-1 --max-cost 5 -o results.json
  loadgate aws run plan.yaml --store s3://b/p --regions eu-west-1:50,us-east-1:50 \
    --subnets eu-west-1=subnet-a --subnets us-east-1=subnet-b ...`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return awsRun(a, args[0], &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVarP(&f.out, "out", "o", "", "write the merged results file (JSON) here")
	pipeline.BindAWSRunFlags(fl, &f.AWSOptions)
	_ = cmd.MarkFlagRequired("store")
	_ = cmd.MarkFlagRequired("regions")
	return cmd, &f
}

func awsRun(a *app, planPath string, f *awsRunFlags) error {
	p, err := a.loadPlan(planPath)
	if err != nil {
		return err
	}
	ro, tasks, err := pipeline.AWSRunOptions(a.ctx, p, f.AWSOptions, a.env())
	if err != nil {
		return err
	}
	ro.Out = f.out
	res, err := a.execute(p, ro)
	if err != nil {
		return err
	}
	printRunSummary(a, res)
	fmt.Fprintf(a.stderr, "workers: %d of %d delivered (%.1f%% of the load), start skew %.1f ms\n",
		res.Run.Workers, tasks, 100*res.Validity.LoadShare, res.Validity.StartSkewMs)
	return pipeline.ValidityErr(res)
}

func newAWSCleanupCmd(a *app) *cobra.Command {
	var runID, regions, cluster string
	var older time.Duration
	cmd := &cobra.Command{
		Use:   "cleanup",
		Short: "Stop the ECS tasks of a run (--run-id), or all loadgate tasks older than --older-than",
		Example: `  loadgate aws cleanup --run-id lg-20260101t120000-1a2b3c4d --regions eu-west-1,us-east-1
  loadgate aws cleanup --older-than 2h --regions eu-west-1`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return pipeline.AWSCleanup(a.ctx, regions, cluster, runID, older, a.env())
		},
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "the run whose tasks to stop")
	cmd.Flags().DurationVar(&older, "older-than", 0, "stop every loadgate-tagged task created longer ago than this")
	cmd.Flags().StringVar(&regions, "regions", "", "comma-separated regions (required)")
	cmd.Flags().StringVar(&cluster, "cluster", "loadgate", "ECS cluster")
	_ = cmd.MarkFlagRequired("regions")
	return cmd
}
