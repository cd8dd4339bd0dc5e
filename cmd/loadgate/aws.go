package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/plan"
	awsrunner "github.com/loadgate/loadgate/runners/aws"
	"github.com/loadgate/loadgate/runners/distributed"
)

// loadgate's own hard caps on AWS runs, whatever the flags say: a typo must not
// start a hundred thousand tasks or leave them running for days.
const (
	awsHardMaxTasks    = 10000
	awsHardMaxDuration = 12 * time.Hour
)

type awsRunFlags struct {
	out, target        string
	duration           time.Duration
	store, storeRegion string
	regions            string
	cluster, taskDef   string
	container          string
	subnets, sgs       []string
	publicIP, spot     bool
	cpu, memGB         float64
	maxCost            float64
	maxTasks           int
	maxDuration        time.Duration
	minLoadShare       float64
	startTimeout       time.Duration
	cleanupOlderThan   time.Duration
	synthetic          int
	paceScale          float64
	pollInterval       time.Duration
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
	fl.StringVar(&f.target, "target", "", "override the plan's target URL")
	fl.DurationVar(&f.duration, "duration", 0, "override the profile's duration")
	fl.StringVar(&f.store, "store", "", "S3 exchange location, s3://bucket/prefix (required)")
	fl.StringVar(&f.storeRegion, "store-region", "", "the bucket's region (default: AWS_REGION, else the first region)")
	fl.StringVar(&f.regions, "regions", "", `tasks per region, "eu-west-1:10,us-east-1:5" (required)`)
	fl.StringVar(&f.cluster, "cluster", "loadgate", "ECS cluster (same name in every region)")
	fl.StringVar(&f.taskDef, "task-definition", "loadgate-worker", "task definition family[:revision] or ARN")
	fl.StringVar(&f.container, "container", "loadgate", "container name in the task definition")
	fl.StringSliceVar(&f.subnets, "subnets", nil, `subnets for awsvpc; "region=subnet-…" entries apply to one region`)
	fl.StringSliceVar(&f.sgs, "security-groups", nil, `security groups; "region=sg-…" entries apply to one region`)
	fl.BoolVar(&f.publicIP, "assign-public-ip", false, "give tasks public IPs (public subnets without a NAT gateway)")
	fl.BoolVar(&f.spot, "spot", false, "use the FARGATE_SPOT capacity provider (cheaper; tasks may be reclaimed)")
	fl.Float64Var(&f.cpu, "task-cpu", 0, "ignored: the task size is read from the task definition")
	fl.Float64Var(&f.memGB, "task-memory-gb", 0, "ignored: the task size is read from the task definition")
	_ = fl.MarkDeprecated("task-cpu", "the cost estimate reads CPU and memory from the task definition (ecs:DescribeTaskDefinition)")
	_ = fl.MarkDeprecated("task-memory-gb", "the cost estimate reads CPU and memory from the task definition (ecs:DescribeTaskDefinition)")
	fl.Float64Var(&f.maxCost, "max-cost", 10, "refuse to start when the estimate exceeds this many USD")
	fl.IntVar(&f.maxTasks, "max-tasks", 100, fmt.Sprintf("refuse more tasks than this (hard cap %d)", awsHardMaxTasks))
	fl.DurationVar(&f.maxDuration, "max-duration", time.Hour, fmt.Sprintf("refuse plans longer than this (hard cap %s)", awsHardMaxDuration))
	fl.Float64Var(&f.minLoadShare, "min-load-share", distributed.DefaultMinLoadShare, "below this fraction of the intended load (lost tasks) the run is invalid (exit 4)")
	fl.DurationVar(&f.startTimeout, "start-timeout", 5*time.Minute, "how long to wait for tasks to run; late ones are excluded and reported")
	fl.DurationVar(&f.cleanupOlderThan, "cleanup-older-than", 6*time.Hour, "before launching, stop loadgate tasks older than this in the clusters (0: skip)")
	fl.IntVar(&f.synthetic, "synthetic", 0, "workers send no traffic and record this many synthetic samples per endpoint")
	fl.Float64Var(&f.paceScale, "pace-scale", 1, "multiply loadgate's ECS API rates (accounts with raised quotas; emulators)")
	fl.DurationVar(&f.pollInterval, "poll-interval", time.Second, "how often coordinator and workers poll the store")
	for _, h := range []string{"synthetic", "pace-scale", "poll-interval"} {
		_ = fl.MarkHidden(h)
	}
	_ = cmd.MarkFlagRequired("store")
	_ = cmd.MarkFlagRequired("regions")
	return cmd, &f
}

// parseRegions parses "eu-west-1:10,us-east-1:5".
func parseRegions(s string) (names []string, counts []int, err error) {
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, n, ok := strings.Cut(part, ":")
		c, cerr := strconv.Atoi(n)
		if !ok || name == "" || cerr != nil || c <= 0 {
			return nil, nil, fmt.Errorf("--regions: %q: want region:count with count > 0", part)
		}
		names, counts = append(names, name), append(counts, c)
	}
	if len(names) == 0 {
		return nil, nil, errors.New("--regions: no regions")
	}
	return names, counts, nil
}

// perRegion resolves "region=value" and plain entries for region.
func perRegion(entries []string, region string) []string {
	var own, all []string
	for _, e := range entries {
		if r, v, ok := strings.Cut(e, "="); ok {
			if r == region {
				own = append(own, v)
			}
			continue
		}
		all = append(all, e)
	}
	if len(own) > 0 {
		return own
	}
	return all
}

// consentNotice is printed before every AWS run (docs/aws.md explains it).
const consentNotice = `NOTICE: this run sends HTTP load from AWS to %s (%d Fargate tasks in %s).
  - Only test systems you own or whose owner has agreed in writing to this test.
  - Large tests from AWS can look like a DDoS attack to AWS and to the target's
    providers. Read AWS's "Simulated Events" policy (DDoS simulation testing,
    https://aws.amazon.com/security/ddos-simulation-testing/) and notify AWS
    through its simulated events form when your test falls under it.
`

func awsRun(a *app, planPath string, f *awsRunFlags) error {
	p, err := a.loadPlan(planPath)
	if err != nil {
		return err
	}
	ro, tasks, err := a.awsRunOptions(a.ctx, p, f)
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

// awsRunOptions checks an AWS run against the safety rails and the cost cap,
// and returns the run options that run it on ECS (the coordinator as runner)
// and the number of tasks.
func (a *app) awsRunOptions(ctx context.Context, p *plan.Plan, f *awsRunFlags) (pipeline.RunOptions, int, error) {
	if f.target != "" {
		p.Target = f.target
	}
	if f.duration > 0 {
		p.Profile.Duration = f.duration
	}
	names, counts, err := parseRegions(f.regions)
	if err != nil {
		return pipeline.RunOptions{}, 0, withCode(exitUsage, err)
	}
	specs, err := splitCounts(names, counts)
	if err != nil {
		return pipeline.RunOptions{}, 0, withCode(exitUsage, err)
	}
	if err := awsPreflight(p, f, len(specs)); err != nil {
		return pipeline.RunOptions{}, 0, withCode(exitUsage, err)
	}
	storeRegion := f.storeRegion
	if storeRegion == "" {
		storeRegion = a.getenv("AWS_REGION")
	}
	if storeRegion == "" {
		storeRegion = names[0]
	}
	env := awsrunner.Env{Getenv: a.getenv}
	pacing := awsrunner.Pacing{}
	if f.paceScale > 0 && f.paceScale != 1 {
		pacing = awsrunner.Pacing{RunTaskPerSecond: 20 * f.paceScale, LaunchBurst: 100 * f.paceScale, LaunchPerSecond: 20 * f.paceScale,
			ReadPerSecond: 10 * f.paceScale, StopPerSecond: 10 * f.paceScale}
	}

	var regions []awsrunner.Region
	for _, r := range names {
		regions = append(regions, awsrunner.Region{Name: r, Cluster: f.cluster, TaskDefinition: f.taskDef,
			Subnets: perRegion(f.subnets, r), SecurityGroups: perRegion(f.sgs, r)})
	}
	// Cost: every task is billed from launch to stop; bound it by the launch
	// time, the start timeout, the run and the result upload, at the size the
	// task definition really has.
	sizes, err := awsrunner.TaskSizes(ctx, regions, env.ECS)
	if err != nil {
		return pipeline.RunOptions{}, 0, withCode(exitInfra, fmt.Errorf("reading the task definition for the cost estimate: %w", err))
	}
	var launch time.Duration
	for _, c := range counts {
		launch = max(launch, pacing.LaunchTime(c))
	}
	perTask := launch + f.startTimeout + p.TotalDuration() + time.Minute
	est := awsrunner.EstimateCost(awsrunner.Counts(specs), sizes, perTask)
	fmt.Fprintf(a.stderr, "cost estimate (upper bound: each task billed %s):\n%s\n", perTask.Round(time.Second), indent(est.String()))
	if est.USD > f.maxCost {
		return pipeline.RunOptions{}, 0, withCode(exitUsage, fmt.Errorf("estimated cost %s exceeds --max-cost $%s", awsrunner.USD(est.USD), strconv.FormatFloat(f.maxCost, 'f', -1, 64)))
	}
	fmt.Fprintf(a.stderr, consentNotice, p.Redact(p.Target), len(specs), strings.Join(names, ", "))

	store, err := awsrunner.NewS3Store(ctx, f.store, storeRegion, env)
	if err != nil {
		return pipeline.RunOptions{}, 0, withCode(exitUsage, err)
	}
	if f.cleanupOlderThan > 0 {
		for _, r := range regions {
			cl, err := awsrunner.NewCleaner(ctx, r.Name, r.Cluster, env)
			if err != nil {
				return pipeline.RunOptions{}, 0, withCode(exitInfra, err)
			}
			cl.Pacing = pacing
			if n, err := cl.StopOlder(ctx, f.cleanupOlderThan); err != nil {
				fmt.Fprintf(a.stderr, "warning: cleanup of old tasks in %s: %v\n", r.Name, err)
			} else if n > 0 {
				fmt.Fprintf(a.stderr, "stopped %d leftover loadgate tasks older than %s in %s\n", n, f.cleanupOlderThan, r.Name)
			}
		}
	}
	runID := pipeline.NewRunID()
	log := &pipeline.SyncWriter{W: a.stderr}
	workerArgs := []string{"--store-region", storeRegion}
	if f.synthetic > 0 {
		workerArgs = append(workerArgs, "--synthetic", strconv.Itoa(f.synthetic))
	}
	launcher, err := awsrunner.NewECSLauncher(ctx, awsrunner.ECSOptions{
		Regions: regions, Container: f.container, AssignPublicIP: f.publicIP, Spot: f.spot,
		StoreURL: store.URL(), Store: store, WorkerArgs: workerArgs, Env: env, Pacing: pacing, Log: log,
	})
	if err != nil {
		return pipeline.RunOptions{}, 0, withCode(exitUsage, err)
	}
	class := awsrunner.RunnerClass(sizes, names, len(specs))
	coord := distributed.New(distributed.Options{
		Store: store, Launcher: launcher, RunID: runID, Workers: specs, Runner: "aws", RunnerClass: class,
		MinLoadShare: f.minLoadShare, StartTimeout: f.startTimeout, PollInterval: f.pollInterval,
		LaunchAllowance: launch, Log: log,
	})
	fmt.Fprintf(a.stderr, "run %s: %d tasks; stop them with: loadgate aws cleanup --run-id %s --regions %s --cluster %s\n",
		runID, len(specs), runID, strings.Join(names, ","), f.cluster)
	return pipeline.RunOptions{Runner: &awsCoordinator{coord, runID},
		RunErr: func(err error) error {
			var te *distributed.TargetError
			var ce *distributed.ConfigError
			if errors.As(err, &te) || errors.As(err, &ce) {
				return withCode(exitUsage, fmt.Errorf("aws run %s: %w", runID, err))
			}
			return withCode(exitInfra, fmt.Errorf("aws run %s: %w", runID, err))
		}}, len(specs), nil
}

// awsCoordinator is the ECS coordinator as a runner; the pipeline cleans it
// up after a failed or interrupted run (Run stops its tasks on errors; this
// makes sure with a fresh context) and the warning says how to finish by hand.
type awsCoordinator struct {
	*distributed.Coordinator
	runID string
}

func (c *awsCoordinator) Cleanup(ctx context.Context) error {
	if err := c.Coordinator.Cleanup(ctx); err != nil {
		return fmt.Errorf("%w (run loadgate aws cleanup --run-id %s)", err, c.runID)
	}
	return nil
}

// awsPreflight refuses runs the safety rails forbid, collecting every problem.
func awsPreflight(p *plan.Plan, f *awsRunFlags, tasks int) error {
	var errs []error
	if err := distributed.CheckTargets(p); err != nil {
		errs = append(errs, err)
	}
	if err := p.CheckLimits(); err != nil {
		errs = append(errs, err)
	}
	if p.Runner.Exec != "" || p.Runner.Import != nil {
		errs = append(errs, errors.New("aws runs use the built-in generator; this plan uses runner.exec/import"))
	}
	if tasks > f.maxTasks {
		errs = append(errs, fmt.Errorf("%d tasks exceed --max-tasks %d", tasks, f.maxTasks))
	}
	if tasks > awsHardMaxTasks {
		errs = append(errs, fmt.Errorf("%d tasks exceed loadgate's hard cap of %d", tasks, awsHardMaxTasks))
	}
	if mw := p.Limits.MaxWorkers; mw > 0 && tasks > mw {
		errs = append(errs, fmt.Errorf("limits.max_workers: %d tasks requested, the plan allows %d", tasks, mw))
	}
	d := p.TotalDuration()
	if d > f.maxDuration {
		errs = append(errs, fmt.Errorf("plan duration %s exceeds --max-duration %s", d, f.maxDuration))
	}
	if d > awsHardMaxDuration {
		errs = append(errs, fmt.Errorf("plan duration %s exceeds loadgate's hard cap of %s", d, awsHardMaxDuration))
	}
	if len(f.subnets) == 0 {
		errs = append(errs, errors.New("--subnets is required (awsvpc networking)"))
	}
	return errors.Join(errs...)
}

// splitCounts turns per-region task counts into worker specs with equal rate
// shares.
func splitCounts(names []string, counts []int) ([]distributed.WorkerSpec, error) {
	total := 0
	w := make([]float64, len(counts))
	for i, c := range counts {
		total += c
		w[i] = float64(c)
	}
	return distributed.Split(total, names, w)
}

func indent(s string) string { return "  " + strings.ReplaceAll(s, "\n", "\n  ") }

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
			if (runID == "") == (older == 0) {
				return withCode(exitUsage, errors.New("give exactly one of --run-id and --older-than"))
			}
			var errs []error
			for _, r := range strings.Split(regions, ",") {
				r = strings.TrimSpace(r)
				if r == "" {
					continue
				}
				cl, err := awsrunner.NewCleaner(a.ctx, r, cluster, awsrunner.Env{Getenv: a.getenv})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				var n int
				if runID != "" {
					n, err = cl.StopRun(a.ctx, runID)
				} else {
					n, err = cl.StopOlder(a.ctx, older)
				}
				fmt.Fprintf(a.stdout, "%s: stopped %d tasks\n", r, n)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", r, err))
				}
			}
			if err := errors.Join(errs...); err != nil {
				return withCode(exitInfra, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&runID, "run-id", "", "the run whose tasks to stop")
	cmd.Flags().DurationVar(&older, "older-than", 0, "stop every loadgate-tagged task created longer ago than this")
	cmd.Flags().StringVar(&regions, "regions", "", "comma-separated regions (required)")
	cmd.Flags().StringVar(&cluster, "cluster", "loadgate", "ECS cluster")
	_ = cmd.MarkFlagRequired("regions")
	return cmd
}
