package aws

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
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
	DescribeTaskDefinition(context.Context, *ecs.DescribeTaskDefinitionInput, ...func(*ecs.Options)) (*ecs.DescribeTaskDefinitionOutput, error)
}

// Eventual consistency. "The Amazon ECS API follows an eventual consistency
// model … you might not be able to immediately view a task that you just
// started" (Amazon ECS API Reference, RunTask; "Request eventual
// consistency"). DescribeTasks then answers MISSING and StopTask "not found".
const (
	// DefaultMissingGrace is how long after RunTask a MISSING task counts as
	// not yet known rather than lost.
	DefaultMissingGrace = time.Minute
	// DefaultSettleTime is how long Stop keeps looking (ListTasks by run)
	// for tasks of a RunTask call whose answer never arrived (interrupted).
	DefaultSettleTime = 5 * time.Second
)

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
	// MissingGrace (default DefaultMissingGrace) and SettleTime (default
	// DefaultSettleTime): see their defaults.
	MissingGrace time.Duration
	SettleTime   time.Duration
	Log          io.Writer
	Now          func() time.Time
}

// RegionError is a non-retryable ECS failure of a whole region (access
// denied, cluster not found, bad task definition): an infrastructure error,
// not lost workers.
type RegionError struct {
	Region string
	Op     string
	Err    error
}

func (e *RegionError) Error() string { return fmt.Sprintf("ecs %s: %s: %v", e.Region, e.Op, e.Err) }
func (e *RegionError) Unwrap() error { return e.Err }

// ECSLauncher is a distributed.Launcher on ECS Fargate.
type ECSLauncher struct {
	o       ECSOptions
	regions map[string]*regionState

	mu    sync.Mutex
	tasks map[string]*task // by worker ID
	runID string
	// uncertain is set when a RunTask call was cut off (interrupted): ECS
	// may have started tasks whose ARNs never arrived.
	uncertain map[string]time.Time // region → when
	swept     map[string]bool      // ARNs stopped by sweep
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
	spec     distributed.WorkerSpec
	arn      string
	state    distributed.TaskState
	launched time.Time
	// gone: ECS reported the task stopped, or accepted StopTask; a task only
	// presumed lost (MISSING too long) is still stopped by Stop.
	gone bool
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
	if o.MissingGrace <= 0 {
		o.MissingGrace = DefaultMissingGrace
	}
	if o.SettleTime <= 0 {
		o.SettleTime = DefaultSettleTime
	}
	var errs []error
	if o.Container == "" {
		errs = append(errs, errors.New("ecs: container name is required"))
	}
	if o.StoreURL == "" || o.Store == nil {
		errs = append(errs, errors.New("ecs: store is required"))
	}
	pc := o.Pacing.withDefaults()
	l := &ECSLauncher{o: o, regions: map[string]*regionState{}, tasks: map[string]*task{}, uncertain: map[string]time.Time{}, swept: map[string]bool{}}
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
// call. Indices whose task did not start are reported stopped with ECS's
// reason. A region whose RunTask fails with an API error (after the SDK's
// retries of throttling) fails the launch with a *RegionError: a
// misconfigured or forbidden region is an infrastructure error, not lost
// workers.
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
				errs = append(errs, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
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
		called := l.o.Now()
		out, err := r.api.RunTask(ctx, l.runTaskInput(r, runID, chunk, len(part)))
		if err != nil {
			if ctx.Err() != nil {
				// The request may have reached ECS: Stop looks for its tasks.
				l.mu.Lock()
				l.uncertain[r.spec.Name] = l.o.Now()
				l.mu.Unlock()
				return launched, ctx.Err()
			}
			// A non-throttling error (the SDK already retried throttling) will
			// repeat for every call: fail the rest of the region.
			rerr := &RegionError{Region: r.spec.Name, Op: "RunTask", Err: err}
			l.fail(specs[chunk*maxTasksPerRunTask:], rerr.Error())
			return launched, rerr
		}
		for i, t := range out.Tasks {
			if i >= len(part) {
				break
			}
			arn := aws.ToString(t.TaskArn)
			// Known before anything else can fail: Stop stops every task
			// with an ARN, assigned or not.
			l.mu.Lock()
			tk := l.tasks[part[i].ID()]
			tk.arn, tk.launched = arn, called
			tk.state = phaseOf(t)
			tk.gone = tk.state.Phase == distributed.PhaseStopped
			l.mu.Unlock()
			if err := distributed.PutAssignment(ctx, l.o.Store, runID, r.spec.Name, taskIDOf(arn), part[i].Index); err != nil {
				l.mu.Lock()
				tk.state = distributed.TaskState{Phase: distributed.PhaseStopped, Reason: "assign index: " + err.Error(), Task: arn}
				l.mu.Unlock()
				continue
			}
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
	case "RUNNING", "DEACTIVATING", "STOPPING":
		// While stopping, the container still runs: a worker that got
		// SIGTERM uploads what it measured before it exits.
		st.Phase = distributed.PhaseRunning
	case "DEPROVISIONING", "STOPPED", "DELETED":
		st.Phase = distributed.PhaseStopped
		st.Reason = strings.TrimSpace(string(t.StopCode) + " " + aws.ToString(t.StoppedReason))
		for _, c := range t.Containers {
			// The container's own reason says what the task's does not:
			// "OutOfMemoryError: Container killed due to memory usage".
			var parts []string
			if r := aws.ToString(c.Reason); r != "" {
				parts = append(parts, r)
			}
			if c.ExitCode != nil {
				parts = append(parts, fmt.Sprintf("exit %d", *c.ExitCode))
			}
			if len(parts) > 0 {
				st.Reason += fmt.Sprintf(" (container %s: %s)", aws.ToString(c.Name), strings.Join(parts, ", "))
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
		if t.arn != "" && !t.gone && t.state.Phase != distributed.PhaseStopped {
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
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				return nil, &RegionError{Region: region, Op: "DescribeTasks", Err: err}
			}
			now := l.o.Now()
			l.mu.Lock()
			for _, t := range out.Tasks {
				if tk := byARN[aws.ToString(t.TaskArn)]; tk != nil {
					tk.state = phaseOf(t)
					tk.gone = tk.state.Phase == distributed.PhaseStopped
				}
			}
			for _, f := range out.Failures {
				tk := byARN[aws.ToString(f.Arn)]
				if tk == nil || aws.ToString(f.Reason) != "MISSING" {
					continue
				}
				// Not yet known (eventual consistency) until the grace
				// passes; then presumed lost, but still stopped by Stop.
				if waited := now.Sub(tk.launched); waited >= l.o.MissingGrace {
					tk.state = distributed.TaskState{Phase: distributed.PhaseStopped, Task: tk.arn,
						Reason: fmt.Sprintf("task missing: DescribeTasks has not known it for %s since RunTask", waited.Round(10*time.Millisecond))}
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

// Stop calls StopTask for every task not known to be stopped, including
// tasks presumed lost because DescribeTasks did not know them yet. A task ECS
// does not know yet (eventual consistency) is retried until it is known, for
// MissingGrace after its launch and at least SettleTime. When a RunTask call was cut off, tasks ECS
// started without our learning their ARNs are found by run ID (ListTasks,
// startedBy) for SettleTime and stopped too.
func (l *ECSLauncher) Stop(ctx context.Context, reason string) error {
	if _, err := l.State(ctx); err != nil {
		fmt.Fprintf(l.o.Log, "ecs: refreshing states before stop: %v\n", err)
	}
	l.mu.Lock()
	var live []*task
	for _, t := range l.tasks {
		if t.arn != "" && !t.gone {
			live = append(live, t)
		}
	}
	uncertain := maps.Clone(l.uncertain)
	runID := l.runID
	l.mu.Unlock()
	var errs []error
	stopped := 0
	settle := l.o.Now().Add(l.o.SettleTime)
	for len(live) > 0 {
		var later []*task
		for _, t := range live {
			r := l.regions[t.spec.Region]
			err := l.stopTask(ctx, r, t.arn, reason)
			switch {
			case err == nil:
				stopped++
				l.mu.Lock()
				t.gone = true
				t.state = distributed.TaskState{Phase: distributed.PhaseStopped, Reason: "stopped by loadgate: " + reason, Task: t.arn}
				l.mu.Unlock()
			case notFound(err) && (l.o.Now().Sub(t.launched) < l.o.MissingGrace || l.o.Now().Before(settle)) && ctx.Err() == nil:
				later = append(later, t)
			default:
				errs = append(errs, fmt.Errorf("StopTask %s: %w", t.arn, err))
			}
		}
		live = later
		if len(live) > 0 {
			if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
				for _, t := range live {
					errs = append(errs, fmt.Errorf("StopTask %s: not known to ECS yet, and %w", t.arn, err))
				}
				break
			}
		}
	}
	for region, since := range uncertain {
		n, err := l.sweep(ctx, l.regions[region], runID, since, reason)
		stopped += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		l.mu.Lock()
		delete(l.uncertain, region) // swept: a second Stop need not wait again
		l.mu.Unlock()
	}
	if stopped > 0 {
		fmt.Fprintf(l.o.Log, "ecs: stopped %d tasks (%s)\n", stopped, reason)
	}
	return errors.Join(errs...)
}

func (l *ECSLauncher) stopTask(ctx context.Context, r *regionState, arn, reason string) error {
	if err := r.stop.Wait(ctx, 1); err != nil {
		return err
	}
	_, err := r.api.StopTask(ctx, &ecs.StopTaskInput{Cluster: aws.String(r.spec.Cluster), Task: aws.String(arn),
		Reason: aws.String(truncate("loadgate: "+reason, stopReasonMax))})
	return err
}

// sweep stops the run's tasks in r that loadgate has no ARN of, listing them
// by startedBy until SettleTime after the interrupted RunTask call.
func (l *ECSLauncher) sweep(ctx context.Context, r *regionState, runID string, since time.Time, reason string) (int, error) {
	cl := &Cleaner{API: r.api, Cluster: r.spec.Cluster, Pacing: l.o.Pacing}
	n := 0
	for {
		arns, err := cl.list(ctx, truncate(runID, startedByMax))
		if err != nil {
			return n, fmt.Errorf("ecs %s: finding tasks of an interrupted RunTask: %w", r.spec.Name, err)
		}
		l.mu.Lock()
		known := maps.Clone(l.swept)
		for _, t := range l.tasks {
			if t.gone {
				known[t.arn] = true
			}
		}
		l.mu.Unlock()
		for _, arn := range arns {
			if known[arn] {
				continue
			}
			if err := l.stopTask(ctx, r, arn, reason); err != nil && !notFound(err) {
				return n, fmt.Errorf("StopTask %s: %w", arn, err)
			}
			n++
			l.mu.Lock()
			l.swept[arn] = true
			l.mu.Unlock()
		}
		if !l.o.Now().Before(since.Add(l.o.SettleTime)) {
			return n, nil
		}
		if err := sleepCtx(ctx, 250*time.Millisecond); err != nil {
			return n, err
		}
	}
}

// notFound reports ECS's answer for a task it does not know (yet).
func notFound(err error) bool {
	var ip *types.InvalidParameterException
	return errors.As(err, &ip) && strings.Contains(strings.ToLower(ip.ErrorMessage()), "not found")
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
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
