package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/loadgate/loadgate/runners/distributed"
)

// ECS and Fargate limits.
const (
	// maxTasksPerRunTask: RunTask's count "can be up to 10 tasks for each
	// call" (Amazon ECS API Reference, RunTask).
	maxTasksPerRunTask = 10
	// maxTasksPerDescribe: DescribeTasks takes "a list of up to 100 task IDs
	// or full ARN entries" (Amazon ECS API Reference, DescribeTasks).
	maxTasksPerDescribe = 100
	// runTaskCallsPerSecond: "The rate quota for calls to the Amazon ECS
	// RunTask API is 20 calls per second (burst and sustained)" (Amazon ECS
	// Developer Guide, "AWS Fargate throttling quotas"), per account and region.
	runTaskCallsPerSecond = 20
	// fargateLaunchBurst and fargateLaunchPerSecond: the Fargate task launch
	// token bucket, "100 tokens, refill rate 20 tokens per second" (same
	// page), per account and region, for on-demand and Spot alike.
	fargateLaunchBurst     = 100
	fargateLaunchPerSecond = 20
	// readCallsPerSecond and stopCallsPerSecond pace DescribeTasks/ListTasks and
	// StopTask. ECS throttles them per account and region with token buckets
	// ("Request throttling for the Amazon ECS API"); these are loadgate's own
	// conservative rates, leaving room for other users of the account.
	readCallsPerSecond = 10
	stopCallsPerSecond = 10
	// startedByMax: RunTask's startedBy takes "up to 128 letters, numbers,
	// hyphens, forward slashes and underscores".
	startedByMax = 128
	// clientTokenMax: RunTask's idempotency token, "up to 64 ASCII characters".
	clientTokenMax = 64
	// stopReasonMax: StopTask's reason "up to 255 characters".
	stopReasonMax = 255

	// TagRunID tags every task (and tells cleanup what loadgate started).
	TagRunID = "loadgate:run-id"
	// TagCreated records the launch time (RFC 3339) for age-based cleanup.
	TagCreated = "loadgate:created"
)

// ECSAPI is the part of the ECS client the launcher uses.
type ECSAPI interface {
	RunTask(context.Context, *ecs.RunTaskInput, ...func(*ecs.Options)) (*ecs.RunTaskOutput, error)
	DescribeTasks(context.Context, *ecs.DescribeTasksInput, ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
	StopTask(context.Context, *ecs.StopTaskInput, ...func(*ecs.Options)) (*ecs.StopTaskOutput, error)
	ListTasks(context.Context, *ecs.ListTasksInput, ...func(*ecs.Options)) (*ecs.ListTasksOutput, error)
}

// Region is where and how workers run in one AWS region.
type Region struct {
	Name           string
	Cluster        string
	TaskDefinition string
	Subnets        []string
	SecurityGroups []string
}

// Pacing overrides the API rates (tests; accounts with raised quotas).
type Pacing struct {
	RunTaskPerSecond float64
	LaunchBurst      float64
	LaunchPerSecond  float64
	ReadPerSecond    float64
	StopPerSecond    float64
}

func (p Pacing) withDefaults() Pacing {
	def := func(v *float64, d float64) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&p.RunTaskPerSecond, runTaskCallsPerSecond)
	def(&p.LaunchBurst, fargateLaunchBurst)
	def(&p.LaunchPerSecond, fargateLaunchPerSecond)
	def(&p.ReadPerSecond, readCallsPerSecond)
	def(&p.StopPerSecond, stopCallsPerSecond)
	return p
}

// LaunchTime estimates how long launching n tasks in one region takes at p's
// rates (the launch bucket dominates: 10,000 tasks ≈ 8 min at 20/s).
func (p Pacing) LaunchTime(n int) time.Duration {
	p = p.withDefaults()
	rest := max(0, float64(n)-p.LaunchBurst)
	calls := float64((n + maxTasksPerRunTask - 1) / maxTasksPerRunTask)
	return time.Duration(max(rest/p.LaunchPerSecond, calls/p.RunTaskPerSecond) * float64(time.Second))
}

// ECSOptions configure an ECSLauncher.
type ECSOptions struct {
	Regions []Region
	// Container is the container name in the task definition that gets the
	// worker command.
	Container      string
	AssignPublicIP bool
	// Spot runs tasks on the FARGATE_SPOT capacity provider (else FARGATE).
	Spot bool
	// StoreURL is the s3:// URL workers get as --store; Store is the same
	// store, used to write task → index assignments.
	StoreURL string
	Store    distributed.Store
	// WorkerArgs are appended to every worker's command.
	WorkerArgs []string
	// ContainerEnv is added to the container's environment through RunTask
	// overrides. Never put secrets here: RunTask parameters are recorded in
	// CloudTrail and shown by DescribeTasks. Workers get the plan's secret
	// variables from the task definition's container secrets (SSM Parameter
	// Store, Secrets Manager); see docs/aws.md.
	ContainerEnv map[string]string
	// Clients returns the ECS client of a region (default: from LoadConfig).
	Clients func(ctx context.Context, region string) (ECSAPI, error)
	// Env configures the SDK clients (when Clients is nil).
	Env    Env
	Pacing Pacing
	Log    io.Writer
	Now    func() time.Time
}

// ECSLauncher is a distributed.Launcher on ECS Fargate.
type ECSLauncher struct {
	o       ECSOptions
	regions map[string]*regionState

	mu    sync.Mutex
	tasks map[string]*task // by worker ID
	runID string
}

type regionState struct {
	spec   Region
	api    ECSAPI
	run    *pacer // RunTask calls
	launch *pacer // Fargate task launches
	read   *pacer
	stop   *pacer
}

type task struct {
	spec  distributed.WorkerSpec
	arn   string
	state distributed.TaskState
}

var _ distributed.Launcher = (*ECSLauncher)(nil)

// NewECSLauncher builds per-region clients and pacers.
func NewECSLauncher(ctx context.Context, o ECSOptions) (*ECSLauncher, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Clients == nil {
		o.Clients = o.Env.ECS
	}
	var errs []error
	if o.Container == "" {
		errs = append(errs, errors.New("ecs: container name is required"))
	}
	if o.StoreURL == "" || o.Store == nil {
		errs = append(errs, errors.New("ecs: store is required"))
	}
	pc := o.Pacing.withDefaults()
	l := &ECSLauncher{o: o, regions: map[string]*regionState{}, tasks: map[string]*task{}}
	for _, r := range o.Regions {
		if r.Name == "" || r.Cluster == "" || r.TaskDefinition == "" || len(r.Subnets) == 0 {
			errs = append(errs, fmt.Errorf("ecs region %q: name, cluster, task definition and subnets are required", r.Name))
			continue
		}
		api, err := o.Clients(ctx, r.Name)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.regions[r.Name] = &regionState{spec: r, api: api,
			run:    newPacer(pc.RunTaskPerSecond, pc.RunTaskPerSecond),
			launch: newPacer(pc.LaunchPerSecond, pc.LaunchBurst),
			read:   newPacer(pc.ReadPerSecond, pc.ReadPerSecond),
			stop:   newPacer(pc.StopPerSecond, pc.StopPerSecond),
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return l, nil
}

// Launch runs the tasks region by region in parallel, at most
// maxTasksPerRunTask per call, paced under the RunTask and Fargate launch
// quotas. Each returned task's ID is assigned the next worker index of its
// call. Indices whose task did not start are reported stopped with ECS's reason.
func (l *ECSLauncher) Launch(ctx context.Context, runID string, specs []distributed.WorkerSpec) error {
	l.mu.Lock()
	l.runID = runID
	for _, s := range specs {
		l.tasks[s.ID()] = &task{spec: s, state: distributed.TaskState{Phase: distributed.PhasePending}}
	}
	l.mu.Unlock()
	byRegion := map[string][]distributed.WorkerSpec{}
	for _, s := range specs {
		if l.regions[s.Region] == nil {
			return fmt.Errorf("ecs: worker %s: region %s is not configured", s.ID(), s.Region)
		}
		byRegion[s.Region] = append(byRegion[s.Region], s)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	launched := 0
	for region, rs := range byRegion {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := l.launchRegion(ctx, l.regions[region], runID, rs)
			mu.Lock()
			launched += n
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", region, err))
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if launched == 0 && len(errs) > 0 {
		return errors.Join(errs...)
	}
	for _, err := range errs {
		fmt.Fprintf(l.o.Log, "ecs: %v\n", err)
	}
	return nil
}

func (l *ECSLauncher) launchRegion(ctx context.Context, r *regionState, runID string, specs []distributed.WorkerSpec) (int, error) {
	launched := 0
	for chunk := 0; chunk*maxTasksPerRunTask < len(specs); chunk++ {
		part := specs[chunk*maxTasksPerRunTask : min(len(specs), (chunk+1)*maxTasksPerRunTask)]
		if err := r.run.Wait(ctx, 1); err != nil {
			return launched, err
		}
		if err := r.launch.Wait(ctx, float64(len(part))); err != nil {
			return launched, err
		}
		out, err := r.api.RunTask(ctx, l.runTaskInput(r, runID, chunk, len(part)))
		if err != nil {
			if ctx.Err() != nil {
				return launched, ctx.Err()
			}
			// A non-throttling error (the SDK already retried throttling) will
			// repeat for every call: fail the rest of the region.
			l.fail(specs[chunk*maxTasksPerRunTask:], "RunTask: "+err.Error())
			return launched, err
		}
		for i, t := range out.Tasks {
			if i >= len(part) {
				break
			}
			arn := aws.ToString(t.TaskArn)
			if err := distributed.PutAssignment(ctx, l.o.Store, runID, r.spec.Name, taskIDOf(arn), part[i].Index); err != nil {
				l.fail(part[i:i+1], "assign index: "+err.Error())
				continue
			}
			l.mu.Lock()
			tk := l.tasks[part[i].ID()]
			tk.arn = arn
			tk.state = phaseOf(t)
			l.mu.Unlock()
			launched++
		}
		if len(out.Tasks) < len(part) {
			reason := "not placed"
			if len(out.Failures) > 0 {
				f := out.Failures[0]
				reason = strings.TrimSpace(aws.ToString(f.Reason) + " " + aws.ToString(f.Detail))
			}
			l.fail(part[len(out.Tasks):], "launch failed: "+reason)
		}
	}
	return launched, nil
}

func (l *ECSLauncher) runTaskInput(r *regionState, runID string, chunk, n int) *ecs.RunTaskInput {
	o := l.o
	cmd := []string{"worker", "--store", o.StoreURL, "--run-id", runID, "--region", r.spec.Name, "--index", "-1"}
	cmd = append(cmd, o.WorkerArgs...)
	var env []types.KeyValuePair
	keys := make([]string, 0, len(o.ContainerEnv))
	for k := range o.ContainerEnv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, types.KeyValuePair{Name: aws.String(k), Value: aws.String(o.ContainerEnv[k])})
	}
	provider := "FARGATE"
	if o.Spot {
		provider = "FARGATE_SPOT"
	}
	assign := types.AssignPublicIpDisabled
	if o.AssignPublicIP {
		assign = types.AssignPublicIpEnabled
	}
	token := fmt.Sprintf("%s-%s-%d", runID, r.spec.Name, chunk)
	return &ecs.RunTaskInput{
		Cluster:                  aws.String(r.spec.Cluster),
		TaskDefinition:           aws.String(r.spec.TaskDefinition),
		Count:                    aws.Int32(int32(n)),
		CapacityProviderStrategy: []types.CapacityProviderStrategyItem{{CapacityProvider: aws.String(provider), Weight: 1}},
		NetworkConfiguration: &types.NetworkConfiguration{AwsvpcConfiguration: &types.AwsVpcConfiguration{
			Subnets: r.spec.Subnets, SecurityGroups: r.spec.SecurityGroups, AssignPublicIp: assign,
		}},
		Overrides: &types.TaskOverride{ContainerOverrides: []types.ContainerOverride{{
			Name: aws.String(o.Container), Command: cmd, Environment: env,
		}}},
		StartedBy:   aws.String(truncate(runID, startedByMax)),
		ClientToken: aws.String(truncate(token, clientTokenMax)),
		Tags: []types.Tag{
			{Key: aws.String(TagRunID), Value: aws.String(runID)},
			{Key: aws.String(TagCreated), Value: aws.String(o.Now().UTC().Format(time.RFC3339))},
		},
		PropagateTags:        types.PropagateTagsTaskDefinition,
		EnableECSManagedTags: true,
	}
}

func (l *ECSLauncher) fail(specs []distributed.WorkerSpec, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range specs {
		l.tasks[s.ID()].state = distributed.TaskState{Phase: distributed.PhaseStopped, Reason: reason}
	}
}

// phaseOf maps an ECS task's lastStatus to a phase.
func phaseOf(t types.Task) distributed.TaskState {
	st := distributed.TaskState{Task: aws.ToString(t.TaskArn)}
	switch aws.ToString(t.LastStatus) {
	case "RUNNING":
		st.Phase = distributed.PhaseRunning
	case "DEACTIVATING", "STOPPING", "DEPROVISIONING", "STOPPED", "DELETED":
		st.Phase = distributed.PhaseStopped
		st.Reason = strings.TrimSpace(string(t.StopCode) + " " + aws.ToString(t.StoppedReason))
		for _, c := range t.Containers {
			if c.ExitCode != nil {
				st.Reason += fmt.Sprintf(" (%s exit %d)", aws.ToString(c.Name), *c.ExitCode)
			}
		}
	default: // PROVISIONING, PENDING, ACTIVATING
		st.Phase = distributed.PhasePending
	}
	return st
}

// State describes the tasks that are not stopped yet, 100 per call, paced.
func (l *ECSLauncher) State(ctx context.Context) (map[string]distributed.TaskState, error) {
	l.mu.Lock()
	byRegion := map[string][]string{}
	byARN := map[string]*task{}
	for _, t := range l.tasks {
		if t.arn != "" && t.state.Phase != distributed.PhaseStopped {
			byRegion[t.spec.Region] = append(byRegion[t.spec.Region], t.arn)
			byARN[t.arn] = t
		}
	}
	l.mu.Unlock()
	for region, arns := range byRegion {
		r := l.regions[region]
		for len(arns) > 0 {
			n := min(len(arns), maxTasksPerDescribe)
			if err := r.read.Wait(ctx, 1); err != nil {
				return nil, err
			}
			out, err := r.api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(r.spec.Cluster), Tasks: arns[:n]})
			if err != nil {
				return nil, fmt.Errorf("ecs %s: DescribeTasks: %w", region, err)
			}
			l.mu.Lock()
			for _, t := range out.Tasks {
				if tk := byARN[aws.ToString(t.TaskArn)]; tk != nil {
					tk.state = phaseOf(t)
				}
			}
			for _, f := range out.Failures {
				if tk := byARN[aws.ToString(f.Arn)]; tk != nil && aws.ToString(f.Reason) == "MISSING" {
					tk.state = distributed.TaskState{Phase: distributed.PhaseStopped, Reason: "task missing", Task: tk.arn}
				}
			}
			l.mu.Unlock()
			arns = arns[n:]
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	states := make(map[string]distributed.TaskState, len(l.tasks))
	for id, t := range l.tasks {
		states[id] = t.state
	}
	return states, nil
}

// Stop calls StopTask for every task not known to be stopped. Tasks already
// stopped by ECS are not an error.
func (l *ECSLauncher) Stop(ctx context.Context, reason string) error {
	if _, err := l.State(ctx); err != nil {
		fmt.Fprintf(l.o.Log, "ecs: refreshing states before stop: %v\n", err)
	}
	l.mu.Lock()
	var live []*task
	for _, t := range l.tasks {
		if t.arn != "" && t.state.Phase != distributed.PhaseStopped {
			live = append(live, t)
		}
	}
	l.mu.Unlock()
	var errs []error
	for _, t := range live {
		r := l.regions[t.spec.Region]
		if err := r.stop.Wait(ctx, 1); err != nil {
			return errors.Join(append(errs, err)...)
		}
		if _, err := r.api.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(r.spec.Cluster), Task: aws.String(t.arn),
			Reason: aws.String(truncate("loadgate: "+reason, stopReasonMax))}); err != nil {
			errs = append(errs, fmt.Errorf("StopTask %s: %w", t.arn, err))
			continue
		}
		l.mu.Lock()
		t.state = distributed.TaskState{Phase: distributed.PhaseStopped, Reason: "stopped by loadgate: " + reason, Task: t.arn}
		l.mu.Unlock()
	}
	if len(live) > 0 {
		fmt.Fprintf(l.o.Log, "ecs: stopped %d tasks (%s)\n", len(live)-len(errs), reason)
	}
	return errors.Join(errs...)
}

// Counts returns the number of tasks per region of specs.
func Counts(specs []distributed.WorkerSpec) map[string]int {
	m := map[string]int{}
	for _, s := range specs {
		m[s.Region]++
	}
	return m
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
