package pipeline

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/plan"
	awsrunner "github.com/loadgate/loadgate/runners/aws"
	"github.com/loadgate/loadgate/runners/distributed"
)

// loadgate's own hard caps on AWS runs, whatever the flags say: a typo must not
// start a hundred thousand tasks or leave them running for days.
const (
	AWSHardMaxTasks    = 10000
	AWSHardMaxDuration = 12 * time.Hour
)

// AWSOptions are the settings of `loadgate aws run` (its flags bind here, and
// the action's mode aws parses the same flags).
type AWSOptions struct {
	Target             string
	Duration           time.Duration
	Store, StoreRegion string
	Regions            string // "eu-west-1:10,us-east-1:5"
	Cluster, TaskDef   string
	Container          string
	Subnets, SGs       []string // plain or "region=value" entries
	PublicIP, Spot     bool
	CPU, MemGB         float64 // deprecated and ignored: the task definition decides
	MaxCost            float64
	MaxTasks           int
	MaxDuration        time.Duration
	MinLoadShare       float64
	StartTimeout       time.Duration
	CleanupOlderThan   time.Duration
	Synthetic          int
	PaceScale          float64
	PollInterval       time.Duration
}

// BindAWSRunFlags binds the flags of `loadgate aws run` (but -o and the
// required marks), which the action's mode aws parses too.
func BindAWSRunFlags(fs *pflag.FlagSet, o *AWSOptions) {
	fs.StringVar(&o.Target, "target", "", "override the plan's target URL")
	fs.DurationVar(&o.Duration, "duration", 0, "override the profile's duration")
	fs.StringVar(&o.Store, "store", "", "S3 exchange location, s3://bucket/prefix (required)")
	fs.StringVar(&o.StoreRegion, "store-region", "", "the bucket's region (default: AWS_REGION, else the first region)")
	fs.StringVar(&o.Regions, "regions", "", `tasks per region, "eu-west-1:10,us-east-1:5" (required)`)
	fs.StringVar(&o.Cluster, "cluster", "loadgate", "ECS cluster (same name in every region)")
	fs.StringVar(&o.TaskDef, "task-definition", "loadgate-worker", "task definition family[:revision] or ARN")
	fs.StringVar(&o.Container, "container", "loadgate", "container name in the task definition")
	fs.StringSliceVar(&o.Subnets, "subnets", nil, `subnets for awsvpc; "region=subnet-…" entries apply to one region`)
	fs.StringSliceVar(&o.SGs, "security-groups", nil, `security groups; "region=sg-…" entries apply to one region`)
	fs.BoolVar(&o.PublicIP, "assign-public-ip", false, "give tasks public IPs (public subnets without a NAT gateway)")
	fs.BoolVar(&o.Spot, "spot", false, "use the FARGATE_SPOT capacity provider (cheaper; tasks may be reclaimed)")
	fs.Float64Var(&o.CPU, "task-cpu", 0, "ignored: the task size is read from the task definition")
	fs.Float64Var(&o.MemGB, "task-memory-gb", 0, "ignored: the task size is read from the task definition")
	_ = fs.MarkDeprecated("task-cpu", "the cost estimate reads CPU and memory from the task definition (ecs:DescribeTaskDefinition)")
	_ = fs.MarkDeprecated("task-memory-gb", "the cost estimate reads CPU and memory from the task definition (ecs:DescribeTaskDefinition)")
	fs.Float64Var(&o.MaxCost, "max-cost", 10, "refuse to start when the estimate exceeds this many USD")
	fs.IntVar(&o.MaxTasks, "max-tasks", 100, fmt.Sprintf("refuse more tasks than this (hard cap %d)", AWSHardMaxTasks))
	fs.DurationVar(&o.MaxDuration, "max-duration", time.Hour, fmt.Sprintf("refuse plans longer than this (hard cap %s)", AWSHardMaxDuration))
	fs.Float64Var(&o.MinLoadShare, "min-load-share", distributed.DefaultMinLoadShare, "below this fraction of the intended load (lost tasks) the run is invalid (exit 4)")
	fs.DurationVar(&o.StartTimeout, "start-timeout", 5*time.Minute, "how long to wait for tasks to run; late ones are excluded and reported")
	fs.DurationVar(&o.CleanupOlderThan, "cleanup-older-than", 6*time.Hour, "before launching, stop loadgate tasks older than this in the clusters (0: skip)")
	fs.IntVar(&o.Synthetic, "synthetic", 0, "workers send no traffic and record this many synthetic samples per endpoint")
	fs.Float64Var(&o.PaceScale, "pace-scale", 1, "multiply loadgate's ECS API rates (accounts with raised quotas; emulators)")
	fs.DurationVar(&o.PollInterval, "poll-interval", time.Second, "how often coordinator and workers poll the store")
	for _, h := range []string{"synthetic", "pace-scale", "poll-interval"} {
		_ = fs.MarkHidden(h)
	}
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

// AWSRunOptions checks an AWS run against the safety rails and the cost cap,
// and returns the run options that run it on ECS (the coordinator as runner)
// and the number of tasks. It applies o.Target and o.Duration to p.
func AWSRunOptions(ctx context.Context, p *plan.Plan, o AWSOptions, e Env) (RunOptions, int, error) {
	if o.Target != "" {
		p.Target = o.Target
	}
	if o.Duration > 0 {
		p.Profile.Duration = o.Duration
	}
	names, counts, err := parseRegions(o.Regions)
	if err != nil {
		return RunOptions{}, 0, WithCode(ExitUsage, err)
	}
	specs, err := splitCounts(names, counts)
	if err != nil {
		return RunOptions{}, 0, WithCode(ExitUsage, err)
	}
	if err := awsPreflight(p, o, len(specs)); err != nil {
		return RunOptions{}, 0, WithCode(ExitUsage, err)
	}
	storeRegion := o.StoreRegion
	if storeRegion == "" {
		storeRegion = e.getenv("AWS_REGION")
	}
	if storeRegion == "" {
		storeRegion = names[0]
	}
	env := awsrunner.Env{Getenv: e.getenv}
	pacing := awsrunner.Pacing{}
	if o.PaceScale > 0 && o.PaceScale != 1 {
		pacing = awsrunner.Pacing{RunTaskPerSecond: 20 * o.PaceScale, LaunchBurst: 100 * o.PaceScale, LaunchPerSecond: 20 * o.PaceScale,
			ReadPerSecond: 10 * o.PaceScale, StopPerSecond: 10 * o.PaceScale}
	}

	var regions []awsrunner.Region
	for _, r := range names {
		regions = append(regions, awsrunner.Region{Name: r, Cluster: o.Cluster, TaskDefinition: o.TaskDef,
			Subnets: perRegion(o.Subnets, r), SecurityGroups: perRegion(o.SGs, r)})
	}
	// Cost: every task is billed from launch to stop; bound it by the launch
	// time, the start timeout, the run and the result upload, at the size the
	// task definition really has.
	sizes, err := awsrunner.TaskSizes(ctx, regions, env.ECS)
	if err != nil {
		return RunOptions{}, 0, WithCode(ExitInfra, fmt.Errorf("reading the task definition for the cost estimate: %w", err))
	}
	if err := checkTaskEnv(p, sizes, regions, o.Container); err != nil {
		return RunOptions{}, 0, WithCode(ExitUsage, err)
	}
	var launch time.Duration
	for _, c := range counts {
		launch = max(launch, pacing.LaunchTime(c))
	}
	perTask := launch + o.StartTimeout + p.TotalDuration() + time.Minute
	est := awsrunner.EstimateCost(awsrunner.Counts(specs), sizes, perTask)
	fmt.Fprintf(e.Stderr, "cost estimate (upper bound: each task billed %s):\n%s\n", perTask.Round(time.Second), indent(est.String()))
	if est.USD > o.MaxCost {
		return RunOptions{}, 0, WithCode(ExitUsage, fmt.Errorf("estimated cost %s exceeds --max-cost $%s", awsrunner.USD(est.USD), strconv.FormatFloat(o.MaxCost, 'f', -1, 64)))
	}
	fmt.Fprintf(e.Stderr, consentNotice, p.Redact(p.Target), len(specs), strings.Join(names, ", "))

	store, err := awsrunner.NewS3Store(ctx, o.Store, storeRegion, env)
	if err != nil {
		return RunOptions{}, 0, WithCode(ExitUsage, err)
	}
	if o.CleanupOlderThan > 0 {
		for _, r := range regions {
			cl, err := awsrunner.NewCleaner(ctx, r.Name, r.Cluster, env)
			if err != nil {
				return RunOptions{}, 0, WithCode(ExitInfra, err)
			}
			cl.Pacing = pacing
			if n, err := cl.StopOlder(ctx, o.CleanupOlderThan); err != nil {
				fmt.Fprintf(e.Stderr, "warning: cleanup of old tasks in %s: %v\n", r.Name, err)
			} else if n > 0 {
				fmt.Fprintf(e.Stderr, "stopped %d leftover loadgate tasks older than %s in %s\n", n, o.CleanupOlderThan, r.Name)
			}
		}
	}
	runID := NewRunID()
	log := &SyncWriter{W: e.Stderr}
	workerArgs := []string{"--store-region", storeRegion}
	if o.Synthetic > 0 {
		workerArgs = append(workerArgs, "--synthetic", strconv.Itoa(o.Synthetic))
	}
	launcher, err := awsrunner.NewECSLauncher(ctx, awsrunner.ECSOptions{
		Regions: regions, Container: o.Container, AssignPublicIP: o.PublicIP, Spot: o.Spot,
		StoreURL: store.URL(), Store: store, WorkerArgs: workerArgs, Env: env, Pacing: pacing, Log: log,
	})
	if err != nil {
		return RunOptions{}, 0, WithCode(ExitUsage, err)
	}
	class := awsrunner.RunnerClass(sizes, names, len(specs))
	coord := distributed.New(distributed.Options{
		Store: store, Launcher: launcher, RunID: runID, Workers: specs, Runner: "aws", RunnerClass: class,
		MinLoadShare: o.MinLoadShare, StartTimeout: o.StartTimeout, PollInterval: o.PollInterval,
		LaunchAllowance: launch, Log: log,
	})
	fmt.Fprintf(e.Stderr, "run %s: %d tasks; stop them with: loadgate aws cleanup --run-id %s --regions %s --cluster %s\n",
		runID, len(specs), runID, strings.Join(names, ","), o.Cluster)
	return RunOptions{Runner: &awsCoordinator{coord, runID},
		RunErr: func(err error) error {
			var te *distributed.TargetError
			var ce *distributed.ConfigError
			if errors.As(err, &te) || errors.As(err, &ce) {
				return WithCode(ExitUsage, fmt.Errorf("aws run %s: %w", runID, err))
			}
			return WithCode(ExitInfra, fmt.Errorf("aws run %s: %w", runID, err))
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
func awsPreflight(p *plan.Plan, o AWSOptions, tasks int) error {
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
	if tasks > o.MaxTasks {
		errs = append(errs, fmt.Errorf("%d tasks exceed --max-tasks %d", tasks, o.MaxTasks))
	}
	if tasks > AWSHardMaxTasks {
		errs = append(errs, fmt.Errorf("%d tasks exceed loadgate's hard cap of %d", tasks, AWSHardMaxTasks))
	}
	if mw := p.Limits.MaxWorkers; mw > 0 && tasks > mw {
		errs = append(errs, fmt.Errorf("limits.max_workers: %d tasks requested, the plan allows %d", tasks, mw))
	}
	d := p.TotalDuration()
	if d > o.MaxDuration {
		errs = append(errs, fmt.Errorf("plan duration %s exceeds --max-duration %s", d, o.MaxDuration))
	}
	if d > AWSHardMaxDuration {
		errs = append(errs, fmt.Errorf("plan duration %s exceeds loadgate's hard cap of %s", d, AWSHardMaxDuration))
	}
	if len(o.Subnets) == 0 {
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

// AWSCleanup stops the ECS tasks of runID, or every loadgate task older than
// older (exactly one of them), in each of the comma-separated regions,
// printing what it stopped to e.Stdout.
func AWSCleanup(ctx context.Context, regions, cluster, runID string, older time.Duration, e Env) error {
	if (runID == "") == (older == 0) {
		return WithCode(ExitUsage, errors.New("give exactly one of --run-id and --older-than"))
	}
	var errs []error
	for _, r := range strings.Split(regions, ",") {
		r = strings.TrimSpace(r)
		if r == "" {
			continue
		}
		cl, err := awsrunner.NewCleaner(ctx, r, cluster, awsrunner.Env{Getenv: e.getenv})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		var n int
		if runID != "" {
			n, err = cl.StopRun(ctx, runID)
		} else {
			n, err = cl.StopOlder(ctx, older)
		}
		fmt.Fprintf(e.Stdout, "%s: stopped %d tasks\n", r, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", r, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return WithCode(ExitInfra, err)
	}
	return nil
}

// checkTaskEnv refuses, before any task starts, a run whose task definition
// does not give the worker container a variable the workers need (a ${VAR}
// secret, or distributed.TLSKeyEnv for a client certificate): every task
// would start, be billed, and refuse its share.
func checkTaskEnv(p *plan.Plan, sizes map[string]awsrunner.TaskSize, regions []awsrunner.Region, container string) error {
	needs, err := distributed.WorkerEnv(p)
	if err != nil {
		return err
	}
	var errs []error
	for _, r := range regions {
		sz := sizes[r.Name]
		missing := sz.MissingEnv(container, needs)
		if len(missing) == 0 {
			continue
		}
		what, them := "the plan's ${VAR} secrets", "it"
		if slices.Contains(missing, distributed.TLSKeyEnv) {
			what = distributed.TLSKeyEnv + " holds the client key of tls.key_file (PEM)"
		}
		if len(missing) > 1 {
			them = "them"
		}
		errs = append(errs, fmt.Errorf("%s: task definition %s gives container %q no %s (%s): add %s to the container's secrets "+
			"(valueFrom an SSM parameter or a Secrets Manager secret; see docs/aws.md), or every task would refuse to run",
			r.Name, sz.TaskDefinition, container, strings.Join(missing, ", "), what, them))
	}
	return errors.Join(errs...)
}
