// Package ecsemu is an Amazon ECS emulator for tests: an HTTP server speaking
// the awsJson1_1 protocol (X-Amz-Target: AmazonEC2ContainerServiceV20141113.*)
// for RunTask, DescribeTasks, StopTask, ListTasks and DescribeTaskDefinition.
// RunTask really starts the
// container command (a `loadgate worker`) as a process — or through an injected
// function — and DescribeTasks reports PROVISIONING, PENDING, RUNNING and
// STOPPED as the process lives. It also serves the ECS task metadata endpoint
// (v4 /task) that workers read their task ARN from, models task-definition
// container secrets (resolved into the container's environment at start, as
// from SSM Parameter Store or Secrets Manager), and injects faults:
// throttling, tasks that never start, tasks that die mid-run (killed, out of
// memory, or stopped by someone else such as a Fargate Spot reclaim), slow
// starts, per-region API errors (AccessDeniedException,
// ClusterNotFoundException), and eventual consistency: like ECS, a task that
// RunTask just started may be unknown to DescribeTasks, StopTask and
// ListTasks for a while.
package ecsemu

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

const targetPrefix = "AmazonEC2ContainerServiceV20141113."

// ECS API limits the emulator enforces like the service.
const (
	maxRunTaskCount    = 10
	maxDescribeTasks   = 100
	maxListTasksResult = 100
)

// Options configure the emulator. Fault functions get the task's launch
// ordinal (0, 1, 2, … in RunTask order across all regions).
type Options struct {
	// Exec runs a task's container command with env and returns when it
	// exits; ctx is cancelled by StopTask (after SIGTERM semantics are
	// emulated by the caller). Nil: exec Binary as a process.
	Exec func(ctx context.Context, args []string, env []string) error
	// Binary is the executable for the container command (when Exec is nil).
	Binary string
	// Env is every task's base environment (e.g. AWS_ENDPOINT_URL_S3 and
	// dummy credentials); container overrides are appended.
	Env []string
	// Output receives the processes' stdout/stderr.
	Output io.Writer
	// ProvisionDelay is the time in PROVISIONING and PENDING before the
	// container starts (split evenly).
	ProvisionDelay time.Duration
	// NeverStart keeps a task PENDING until it is stopped.
	NeverStart func(ordinal int) bool
	// SlowStart adds to a task's PENDING time.
	SlowStart func(ordinal int) time.Duration
	// DieAfter kills a task's container (SIGKILL, exit 137) that long after
	// it started RUNNING; 0 means never.
	DieAfter func(ordinal int) time.Duration
	// OOMAfter kills a task's container that long after it started RUNNING
	// the way the kernel's OOM killer does: exit 137, container reason
	// "OutOfMemoryError: Container killed due to memory usage"; 0 means never.
	OOMAfter func(ordinal int) time.Duration
	// InterruptAfter stops a task that long after it started RUNNING as a
	// Fargate Spot reclaim does (stop code SpotInterruption): SIGTERM, and
	// SIGKILL after StopGrace; 0 means never.
	InterruptAfter func(ordinal int) time.Duration
	// ConsistencyLag is how long after RunTask a task stays unknown to
	// DescribeTasks (failure reason MISSING), StopTask ("The referenced task
	// was not found.") and ListTasks. The task itself runs meanwhile. The
	// RunTask docs: "the task might not be immediately visible".
	ConsistencyLag func(ordinal int) time.Duration
	// DescribeMissing makes the n-th DescribeTasks lookup (0-based) of a
	// task answer MISSING although the task exists: a lagging read path,
	// counted in lookups rather than time so tests do not depend on how fast
	// a busy machine launches.
	DescribeMissing func(ordinal, n int) bool
	// Throttle makes the n-th call (0-based, per operation) of op fail with
	// ThrottlingException.
	Throttle func(op string, n int) bool
	// ReplyDelay holds the answer to the n-th call (0-based, per operation)
	// of op after the call took effect, until the delay passes or the client
	// gives up: an interrupted RunTask whose tasks nevertheless started.
	ReplyDelay func(op string, n int) time.Duration
	// Fault makes a call fail with a non-retryable error: it returns the
	// error type ("AccessDeniedException", "ClusterNotFoundException", …) for
	// op in region, or "" to serve the call.
	Fault func(op, region string) string
	// StopGrace is the time between StopTask's SIGTERM and SIGKILL (ECS's
	// default stopTimeout is 30s; tests use less).
	StopGrace time.Duration
	Account   string
	// TaskDefinitions are the registered task definitions by family. Nil:
	// every family exists with revision 1, 1024 CPU units and 2048 MiB. Not
	// nil: RunTask and DescribeTaskDefinition of another family fail, as
	// ECS's do.
	TaskDefinitions map[string]TaskDefinition
	// TaskDefinitionSecrets are the container secrets of registered task
	// definitions, by family ("loadgate-worker"; RunTask may name it
	// family, family:revision or by ARN). Like ECS, the emulator resolves
	// them when the task starts and sets each as an environment variable of
	// the container; they appear in no API request or response.
	TaskDefinitionSecrets map[string][]Secret
	// SecretValues is the emulated SSM Parameter Store and Secrets Manager:
	// valueFrom → value. A secret whose valueFrom is missing stops the task
	// before its container starts (TaskFailedToStart,
	// ResourceInitializationError), as ECS does.
	SecretValues map[string]string
}

// TaskDefinition is a registered task definition: task-level size as ECS
// returns it (CPU units, MiB, as strings).
type TaskDefinition struct {
	Revision int
	CPU      string
	Memory   string
}

// Secret is a container definition's secret: the environment variable Name
// gets the value of ValueFrom (an SSM parameter or Secrets Manager ARN).
type Secret struct {
	Name      string
	ValueFrom string
}

// family returns the task definition family of "family", "family:rev" or
// "arn:…:task-definition/family:rev".
func family(taskDef string) string {
	if i := strings.LastIndex(taskDef, "task-definition/"); i >= 0 {
		taskDef = taskDef[i+len("task-definition/"):]
	}
	f, _, _ := strings.Cut(taskDef, ":")
	return f
}

// Server is a running emulator.
type Server struct {
	URL string
	o   Options
	srv *httptest.Server

	mu       sync.Mutex
	tasks    map[string]*task // by ARN
	order    []string
	tokens   map[string][]string // clientToken → ARNs
	calls    map[string]int
	throttle map[string]int
	runs     []json.RawMessage
	wg       sync.WaitGroup
	closed   bool
}

type task struct {
	ordinal       int
	arn, id       string
	region        string
	cluster       string
	taskDef       string
	startedBy     string
	lastStatus    string
	desiredStatus string
	created       time.Time
	started       time.Time
	stopped       time.Time
	stopCode      string
	stoppedReason string
	exitCode      *int
	tags          []tag
	capacity      string
	cmd           []string
	env           []string
	cancel        context.CancelFunc // kills the container
	term          func()             // SIGTERM
	stopRequested chan struct{}
	stopOnce      sync.Once
	containerName string
	// containerReason is the container's own stop reason (OutOfMemoryError).
	containerReason string
	visibleAt       time.Time
	describes       int // DescribeTasks lookups so far
}

type tag struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// New starts an emulator.
func New(o Options) *Server {
	if o.Account == "" {
		o.Account = "123456789012"
	}
	if o.StopGrace <= 0 {
		o.StopGrace = 2 * time.Second
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	s := &Server{o: o, tasks: map[string]*task{}, tokens: map[string][]string{}, calls: map[string]int{}, throttle: map[string]int{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	s.URL = s.srv.URL
	return s
}

// Close stops every task (killing its container) and the server.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	for _, t := range s.tasks {
		if t.cancel != nil {
			t.cancel()
		}
		t.stopOnce.Do(func() { close(t.stopRequested) })
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.srv.Close()
}

// Calls returns how many calls each operation received, how many were
// answered with ThrottlingException (key "<op>:throttled"), and how many task
// ARNs DescribeTasks answered MISSING ("DescribeTasks:missing").
func (s *Server) Calls() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]int{}
	for k, v := range s.calls {
		out[k] = v
	}
	for k, v := range s.throttle {
		out[k+":throttled"] = v
	}
	return out
}

// RunTaskRequests returns the bodies of the accepted RunTask requests.
func (s *Server) RunTaskRequests() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]json.RawMessage(nil), s.runs...)
}

// Interrupt stops the task of ordinal now as a Fargate Spot reclaim does
// (see Options.InterruptAfter). It reports whether the task was running.
func (s *Server) Interrupt(ordinal int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ordinal < 0 || ordinal >= len(s.order) {
		return false
	}
	t := s.tasks[s.order[ordinal]]
	if t.lastStatus != "RUNNING" || t.desiredStatus == "STOPPED" {
		return false
	}
	t.desiredStatus = "STOPPED"
	t.stopCode, t.stoppedReason = "SpotInterruption", "Your Spot Task was interrupted."
	t.stopOnce.Do(func() { close(t.stopRequested) })
	return true
}

// Status is a task's state as the emulator sees it.
type Status struct {
	Ordinal    int
	ARN        string
	Region     string
	LastStatus string
	ExitCode   *int
}

// Tasks lists every task in launch order.
func (s *Server) Tasks() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Status, 0, len(s.order))
	for _, arn := range s.order {
		t := s.tasks[arn]
		out = append(out, Status{Ordinal: t.ordinal, ARN: t.arn, Region: t.region, LastStatus: t.lastStatus, ExitCode: t.exitCode})
	}
	return out
}

type apiError struct {
	status int
	typ    string
	msg    string
}

var credentialRegion = regexp.MustCompile(`Credential=[^/]+/\d+/([^/]+)/`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/metadata/") {
		s.serveMetadata(w, r)
		return
	}
	target := r.Header.Get("X-Amz-Target")
	if r.Method != http.MethodPost || !strings.HasPrefix(target, targetPrefix) {
		writeErr(w, apiError{400, "UnknownOperationException", "not an ECS awsJson1_1 request: " + r.Method + " " + target})
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		writeErr(w, apiError{400, "SerializationException", "content type " + ct})
		return
	}
	op := strings.TrimPrefix(target, targetPrefix)
	region := "us-east-1"
	if m := credentialRegion.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		region = m[1]
	} else {
		writeErr(w, apiError{400, "MissingAuthenticationTokenException", "request is not signed"})
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, apiError{400, "SerializationException", err.Error()})
		return
	}
	s.mu.Lock()
	n := s.calls[op]
	s.calls[op]++
	throttled := s.o.Throttle != nil && s.o.Throttle(op, n)
	if throttled {
		s.throttle[op]++
	}
	s.mu.Unlock()
	if throttled {
		writeErr(w, apiError{400, "ThrottlingException", "Rate exceeded"})
		return
	}
	if s.o.Fault != nil {
		if typ := s.o.Fault(op, region); typ != "" {
			writeErr(w, faultError(typ, op, region, s.o.Account))
			return
		}
	}
	var out any
	var aerr *apiError
	switch op {
	case "RunTask":
		out, aerr = s.runTask(region, body)
	case "DescribeTasks":
		out, aerr = s.describeTasks(region, body)
	case "StopTask":
		out, aerr = s.stopTask(region, body)
	case "ListTasks":
		out, aerr = s.listTasks(region, body)
	case "DescribeTaskDefinition":
		out, aerr = s.describeTaskDefinition(region, body)
	default:
		aerr = &apiError{400, "UnknownOperationException", op + " is not emulated"}
	}
	if aerr != nil {
		writeErr(w, *aerr)
		return
	}
	if s.o.ReplyDelay != nil {
		if d := s.o.ReplyDelay(op, n); d > 0 {
			tm := time.NewTimer(d)
			select {
			case <-tm.C:
			case <-r.Context().Done():
				tm.Stop()
				return
			}
		}
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

func writeErr(w http.ResponseWriter, e apiError) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.typ)
	w.WriteHeader(e.status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "message": e.msg})
}

// faultError is the error ECS answers for typ, with its usual message.
func faultError(typ, op, region, account string) apiError {
	switch typ {
	case "AccessDeniedException":
		return apiError{400, typ, fmt.Sprintf("User: arn:aws:sts::%s:assumed-role/loadgate-ci/session is not authorized to perform: ecs:%s on resource: * because no identity-based policy allows the ecs:%s action", account, op, op)}
	case "ClusterNotFoundException":
		return apiError{400, typ, "Cluster not found."}
	default:
		return apiError{400, typ, "injected fault in " + region}
	}
}

func invalid(format string, a ...any) *apiError {
	return &apiError{400, "InvalidParameterException", fmt.Sprintf(format, a...)}
}

type runTaskInput struct {
	Cluster                  string `json:"cluster"`
	TaskDefinition           string `json:"taskDefinition"`
	Count                    *int   `json:"count"`
	LaunchType               string `json:"launchType"`
	CapacityProviderStrategy []struct {
		CapacityProvider string `json:"capacityProvider"`
		Weight           int    `json:"weight"`
	} `json:"capacityProviderStrategy"`
	NetworkConfiguration *struct {
		AwsvpcConfiguration *struct {
			Subnets        []string `json:"subnets"`
			SecurityGroups []string `json:"securityGroups"`
			AssignPublicIP string   `json:"assignPublicIp"`
		} `json:"awsvpcConfiguration"`
	} `json:"networkConfiguration"`
	Overrides *struct {
		ContainerOverrides []struct {
			Name        string   `json:"name"`
			Command     []string `json:"command"`
			Environment []struct {
				Name  string `json:"name"`
				Value string `json:"value"`
			} `json:"environment"`
		} `json:"containerOverrides"`
	} `json:"overrides"`
	StartedBy   string `json:"startedBy"`
	ClientToken string `json:"clientToken"`
	Tags        []tag  `json:"tags"`
}

var startedByRE = regexp.MustCompile(`^[A-Za-z0-9_/-]{1,128}$`)

func (s *Server) runTask(region string, body []byte) (any, *apiError) {
	var in runTaskInput
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{400, "SerializationException", err.Error()}
	}
	count := 1
	if in.Count != nil {
		count = *in.Count
	}
	switch {
	case in.TaskDefinition == "":
		return nil, invalid("taskDefinition is required")
	case count < 1 || count > maxRunTaskCount:
		return nil, invalid("count must be between 1 and %d", maxRunTaskCount)
	case in.LaunchType != "" && len(in.CapacityProviderStrategy) > 0:
		return nil, invalid("specifying both a launch type and capacity provider strategy is not supported")
	case in.NetworkConfiguration == nil || in.NetworkConfiguration.AwsvpcConfiguration == nil || len(in.NetworkConfiguration.AwsvpcConfiguration.Subnets) == 0:
		return nil, invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified")
	case in.StartedBy != "" && !startedByRE.MatchString(in.StartedBy):
		return nil, invalid("startedBy %q is not valid", in.StartedBy)
	case len(in.ClientToken) > 64:
		return nil, invalid("clientToken longer than 64 characters")
	}
	capacity := "FARGATE"
	if len(in.CapacityProviderStrategy) > 0 {
		capacity = in.CapacityProviderStrategy[0].CapacityProvider
		if capacity != "FARGATE" && capacity != "FARGATE_SPOT" {
			return nil, invalid("capacity provider %s is not associated with the cluster", capacity)
		}
	}
	var cmd []string
	var env []string
	container := "loadgate"
	if in.Overrides != nil && len(in.Overrides.ContainerOverrides) > 0 {
		co := in.Overrides.ContainerOverrides[0]
		cmd, container = co.Command, co.Name
		for _, kv := range co.Environment {
			env = append(env, kv.Name+"="+kv.Value)
		}
	}
	if len(cmd) == 0 {
		return nil, invalid("the emulator needs a container override command")
	}
	cluster := in.Cluster
	if cluster == "" {
		cluster = "default"
	}
	if _, ok := s.taskDefinition(in.TaskDefinition); !ok {
		return nil, invalid("TaskDefinition not found.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, &apiError{500, "ServerException", "emulator closed"}
	}
	if arns, ok := s.tokens[in.ClientToken]; ok && in.ClientToken != "" {
		// Idempotent retry: the same tasks again.
		return map[string]any{"tasks": s.describeLocked(arns, false), "failures": []any{}}, nil
	}
	s.runs = append(s.runs, append(json.RawMessage(nil), body...))
	var arns []string
	for range count {
		ord := len(s.order)
		id := fmt.Sprintf("%032x", ord+1)
		t := &task{
			ordinal: ord, id: id, region: region, cluster: cluster, taskDef: in.TaskDefinition,
			arn:       fmt.Sprintf("arn:aws:ecs:%s:%s:task/%s/%s", region, s.o.Account, cluster, id),
			startedBy: in.StartedBy, lastStatus: "PROVISIONING", desiredStatus: "RUNNING",
			created: time.Now(), tags: in.Tags, capacity: capacity, cmd: cmd, env: env,
			stopRequested: make(chan struct{}), containerName: container,
		}
		t.visibleAt = t.created
		if s.o.ConsistencyLag != nil {
			t.visibleAt = t.created.Add(s.o.ConsistencyLag(ord))
		}
		s.tasks[t.arn] = t
		s.order = append(s.order, t.arn)
		arns = append(arns, t.arn)
		s.wg.Add(1)
		go s.lifecycle(t)
	}
	if in.ClientToken != "" {
		s.tokens[in.ClientToken] = arns
	}
	return map[string]any{"tasks": s.describeLocked(arns, false), "failures": []any{}}, nil
}

func (s *Server) setStatus(t *task, st string) {
	s.mu.Lock()
	if t.lastStatus != "STOPPED" {
		t.lastStatus = st
	}
	s.mu.Unlock()
}

// lifecycle walks a task through its states and runs its container.
func (s *Server) lifecycle(t *task) {
	defer s.wg.Done()
	o := s.o
	wait := func(d time.Duration) bool {
		if d <= 0 {
			select {
			case <-t.stopRequested:
				return false
			default:
				return true
			}
		}
		tm := time.NewTimer(d)
		defer tm.Stop()
		select {
		case <-tm.C:
			return true
		case <-t.stopRequested:
			return false
		}
	}
	stopped := func(code, reason string, exit *int) {
		s.mu.Lock()
		t.lastStatus, t.desiredStatus = "STOPPED", "STOPPED"
		t.stopped = time.Now()
		if t.stopCode == "" {
			t.stopCode, t.stoppedReason = code, reason
		}
		t.exitCode = exit
		s.mu.Unlock()
	}
	if !wait(o.ProvisionDelay / 2) {
		stopped("UserInitiated", "stopped while provisioning", nil)
		return
	}
	s.setStatus(t, "PENDING")
	pending := o.ProvisionDelay / 2
	if o.SlowStart != nil {
		pending += o.SlowStart(t.ordinal)
	}
	if o.NeverStart != nil && o.NeverStart(t.ordinal) {
		<-t.stopRequested
		stopped("UserInitiated", "stopped while pending", nil)
		return
	}
	if !wait(pending) {
		stopped("UserInitiated", "stopped while pending", nil)
		return
	}
	// The agent fetches the task definition's secrets with the execution
	// role before the container starts; overrides come after them.
	var secretEnv []string
	for _, sec := range o.TaskDefinitionSecrets[family(t.taskDef)] {
		v, ok := o.SecretValues[sec.ValueFrom]
		if !ok {
			stopped("TaskFailedToStart", "ResourceInitializationError: unable to pull secrets or registry auth: "+
				"unable to retrieve secret from asm/ssm: "+sec.ValueFrom+" not found", nil)
			return
		}
		secretEnv = append(secretEnv, sec.Name+"="+v)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	env := append(append(append(append([]string(nil), o.Env...), secretEnv...), t.env...), "ECS_CONTAINER_METADATA_URI_V4="+s.URL+"/metadata/"+t.id)
	done := make(chan error, 1)
	var term func()
	if o.Exec != nil {
		// In-process containers: SIGTERM is a context cancellation.
		tctx, tcancel := context.WithCancel(ctx)
		term = tcancel
		go func() {
			err := o.Exec(tctx, t.cmd, env)
			if err != nil {
				fmt.Fprintf(o.Output, "ecsemu: task %d: %v\n", t.ordinal, err)
			}
			done <- err
		}()
	} else {
		c := exec.CommandContext(ctx, o.Binary, t.cmd...)
		c.Env = env
		c.Stdout, c.Stderr = o.Output, o.Output
		if err := c.Start(); err != nil {
			code := 127
			stopped("TaskFailedToStart", "CannotStartContainerError: "+err.Error(), &code)
			return
		}
		term = func() { _ = c.Process.Signal(syscall.SIGTERM) }
		go func() { done <- c.Wait() }()
	}
	s.mu.Lock()
	t.cancel, t.term = cancel, term
	t.lastStatus, t.started = "RUNNING", time.Now()
	s.mu.Unlock()
	timer := func(f func(int) time.Duration) <-chan time.Time {
		if f == nil {
			return nil
		}
		d := f(t.ordinal)
		if d <= 0 {
			return nil
		}
		tm := time.NewTimer(d)
		go func() { <-ctx.Done(); tm.Stop() }()
		return tm.C
	}
	die, oom, interrupt := timer(o.DieAfter), timer(o.OOMAfter), timer(o.InterruptAfter)
	kill := func(code int, containerReason string) {
		cancel()
		<-done
		s.mu.Lock()
		t.containerReason = containerReason
		s.mu.Unlock()
		stopped("EssentialContainerExited", "Essential container in task exited", &code)
	}
	terminate := func() error {
		s.setStatus(t, "DEACTIVATING")
		term()
		grace := time.NewTimer(o.StopGrace)
		defer grace.Stop()
		select {
		case err := <-done:
			return err
		case <-grace.C:
			cancel()
			return <-done
		}
	}
	var err error
	select {
	case err = <-done:
	case <-die:
		kill(137, "")
		return
	case <-oom:
		kill(137, "OutOfMemoryError: Container killed due to memory usage")
		return
	case <-interrupt:
		s.mu.Lock()
		if t.desiredStatus != "STOPPED" {
			t.desiredStatus = "STOPPED"
			t.stopCode, t.stoppedReason = "SpotInterruption", "Your Spot Task was interrupted."
		}
		s.mu.Unlock()
		err = terminate()
	case <-t.stopRequested:
		err = terminate()
	}
	code := exitCode(err)
	stopped("EssentialContainerExited", "Essential container in task exited", &code)
}

func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if e, ok := err.(*exec.ExitError); ok {
		ee = e
		if st, ok := ee.Sys().(syscall.WaitStatus); ok && st.Signaled() {
			return 128 + int(st.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

func (s *Server) describeLocked(arns []string, withTags bool) []map[string]any {
	out := make([]map[string]any, 0, len(arns))
	for _, arn := range arns {
		t := s.tasks[arn]
		if t == nil {
			continue
		}
		container := map[string]any{"name": t.containerName, "lastStatus": t.lastStatus, "exitCode": t.exitCode}
		if t.containerReason != "" {
			container["reason"] = t.containerReason
		}
		m := map[string]any{
			"taskArn": t.arn, "clusterArn": fmt.Sprintf("arn:aws:ecs:%s:%s:cluster/%s", t.region, s.o.Account, t.cluster),
			"taskDefinitionArn": t.taskDef, "lastStatus": t.lastStatus, "desiredStatus": t.desiredStatus,
			"createdAt": epoch(t.created), "capacityProviderName": t.capacity, "launchType": "FARGATE",
			"containers": []map[string]any{container},
		}
		if t.startedBy != "" {
			m["startedBy"] = t.startedBy
		}
		if !t.started.IsZero() {
			m["startedAt"] = epoch(t.started)
		}
		// Like ECS, the stop code and reason show from the stop request on.
		if t.stopCode != "" {
			m["stopCode"] = t.stopCode
			m["stoppedReason"] = t.stoppedReason
		}
		if !t.stopped.IsZero() {
			m["stoppedAt"] = epoch(t.stopped)
		}
		if withTags {
			m["tags"] = t.tags
		}
		out = append(out, m)
	}
	return out
}

func epoch(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func (s *Server) describeTasks(region string, body []byte) (any, *apiError) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
		Include []string `json:"include"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{400, "SerializationException", err.Error()}
	}
	if len(in.Tasks) == 0 || len(in.Tasks) > maxDescribeTasks {
		return nil, invalid("tasks must contain between 1 and %d entries", maxDescribeTasks)
	}
	withTags := false
	for _, f := range in.Include {
		withTags = withTags || f == "TAGS"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var found []string
	var failures []map[string]string
	for _, a := range in.Tasks {
		t := s.lookup(a)
		if t != nil {
			t.describes++
		}
		if t != nil && t.region == region && s.visible(t) && (s.o.DescribeMissing == nil || !s.o.DescribeMissing(t.ordinal, t.describes-1)) {
			found = append(found, t.arn)
		} else {
			failures = append(failures, map[string]string{"arn": a, "reason": "MISSING"})
			s.calls["DescribeTasks:missing"]++
		}
	}
	return map[string]any{"tasks": s.describeLocked(found, withTags), "failures": failures}, nil
}

// visible reports whether the API knows t yet (ConsistencyLag).
func (s *Server) visible(t *task) bool { return !time.Now().Before(t.visibleAt) }

// taskDefinition resolves "family", "family:rev" or an ARN.
func (s *Server) taskDefinition(ref string) (TaskDefinition, bool) {
	if s.o.TaskDefinitions == nil {
		return TaskDefinition{Revision: 1, CPU: "1024", Memory: "2048"}, true
	}
	td, ok := s.o.TaskDefinitions[family(ref)]
	if !ok {
		return td, false
	}
	if td.Revision == 0 {
		td.Revision = 1
	}
	if i := strings.LastIndex(ref, ":"); i >= 0 && !strings.Contains(ref[i:], "/") && ref[i+1:] != fmt.Sprint(td.Revision) {
		return td, false
	}
	return td, true
}

func (s *Server) describeTaskDefinition(region string, body []byte) (any, *apiError) {
	var in struct {
		TaskDefinition string   `json:"taskDefinition"`
		Include        []string `json:"include"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{400, "SerializationException", err.Error()}
	}
	if in.TaskDefinition == "" {
		return nil, invalid("taskDefinition is required")
	}
	td, ok := s.taskDefinition(in.TaskDefinition)
	if !ok {
		return nil, &apiError{400, "ClientException", "Unable to describe task definition."}
	}
	fam := family(in.TaskDefinition)
	var secrets []map[string]string
	for _, sec := range s.o.TaskDefinitionSecrets[fam] {
		secrets = append(secrets, map[string]string{"name": sec.Name, "valueFrom": sec.ValueFrom})
	}
	return map[string]any{"taskDefinition": map[string]any{
		"taskDefinitionArn": fmt.Sprintf("arn:aws:ecs:%s:%s:task-definition/%s:%d", region, s.o.Account, fam, td.Revision),
		"family":            fam, "revision": td.Revision, "cpu": td.CPU, "memory": td.Memory,
		"networkMode": "awsvpc", "requiresCompatibilities": []string{"FARGATE"}, "status": "ACTIVE",
		"containerDefinitions": []map[string]any{{"name": "loadgate", "essential": true, "secrets": secrets}},
	}}, nil
}

func (s *Server) lookup(a string) *task {
	if t := s.tasks[a]; t != nil {
		return t
	}
	for _, t := range s.tasks {
		if t.id == a {
			return t
		}
	}
	return nil
}

func (s *Server) stopTask(region string, body []byte) (any, *apiError) {
	var in struct {
		Cluster string `json:"cluster"`
		Task    string `json:"task"`
		Reason  string `json:"reason"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{400, "SerializationException", err.Error()}
	}
	if len(in.Reason) > 255 {
		return nil, invalid("reason longer than 255 characters")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.lookup(in.Task)
	if t == nil || t.region != region || !s.visible(t) {
		return nil, invalid("The referenced task was not found.")
	}
	if t.desiredStatus != "STOPPED" {
		t.desiredStatus = "STOPPED"
		t.stopCode, t.stoppedReason = "UserInitiated", in.Reason
	}
	t.stopOnce.Do(func() { close(t.stopRequested) })
	return map[string]any{"task": s.describeLocked([]string{t.arn}, false)[0]}, nil
}

func (s *Server) listTasks(region string, body []byte) (any, *apiError) {
	var in struct {
		Cluster       string `json:"cluster"`
		StartedBy     string `json:"startedBy"`
		DesiredStatus string `json:"desiredStatus"`
		NextToken     string `json:"nextToken"`
		MaxResults    int    `json:"maxResults"`
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{400, "SerializationException", err.Error()}
	}
	if in.MaxResults == 0 {
		in.MaxResults = maxListTasksResult
	}
	if in.MaxResults < 1 || in.MaxResults > maxListTasksResult {
		return nil, invalid("maxResults must be between 1 and %d", maxListTasksResult)
	}
	if in.DesiredStatus == "" {
		in.DesiredStatus = "RUNNING"
	}
	cluster := in.Cluster
	if cluster == "" {
		cluster = "default"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var arns []string
	for _, a := range s.order {
		t := s.tasks[a]
		if t.region != region || (t.cluster != cluster && !strings.HasSuffix(cluster, "/"+t.cluster)) || t.desiredStatus != in.DesiredStatus {
			continue
		}
		if in.StartedBy != "" && t.startedBy != in.StartedBy || !s.visible(t) {
			continue
		}
		arns = append(arns, a)
	}
	sort.Strings(arns)
	start := 0
	if in.NextToken != "" {
		start = sort.SearchStrings(arns, in.NextToken)
	}
	end := min(len(arns), start+in.MaxResults)
	out := map[string]any{"taskArns": arns[start:end]}
	if end < len(arns) {
		out["nextToken"] = arns[end]
	}
	return out, nil
}

// serveMetadata answers GET /metadata/<task-id>/task like the ECS task
// metadata endpoint v4.
func (s *Server) serveMetadata(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/metadata/")
	id, ep, _ := strings.Cut(rest, "/")
	s.mu.Lock()
	t := s.lookup(id)
	var m map[string]any
	if t != nil {
		m = map[string]any{"Cluster": t.cluster, "TaskARN": t.arn, "Family": t.taskDef, "DesiredStatus": t.desiredStatus,
			"KnownStatus": t.lastStatus, "AvailabilityZone": t.region + "a", "LaunchType": "FARGATE"}
	}
	s.mu.Unlock()
	if t == nil || ep != "task" {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(m)
}
