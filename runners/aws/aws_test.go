package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/loadgate/loadgate/internal/ecsemu"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/runnertest"
)

const bucket = "loadgate-test"

// fixture is gofakes3 + the ECS emulator running workers in process through
// the real SDK clients.
type fixture struct {
	env  map[string]string
	emu  *ecsemu.Server
	s3ts *httptest.Server
	// plan replaces testPlan(); probe makes every worker send one request
	// per endpoint of the plan as it decoded it before its synthetic samples.
	plan  *plan.Plan
	probe bool
	// partial makes workers upload what they measured when stopped
	// mid-run, as the local runner does; ecs adjusts the launcher's options.
	partial bool
	ecs     func(*ECSOptions)
}

func (f *fixture) getenv(k string) string { return f.env[k] }

func newFixture(t *testing.T, o ecsemu.Options) *fixture {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	s3ts := httptest.NewServer(gofakes3.New(be).Server())
	f := &fixture{s3ts: s3ts, env: map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDTEST", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_REGION": "us-east-1",
		"AWS_ENDPOINT_URL_S3": s3ts.URL, "AWS_EC2_METADATA_DISABLED": "true",
	}}
	o.Exec = f.inProcessWorker
	for k, v := range f.env {
		o.Env = append(o.Env, k+"="+v)
	}
	o.Output = testWriter{t}
	f.emu = ecsemu.New(o)
	f.env["AWS_ENDPOINT_URL_ECS"] = f.emu.URL
	t.Cleanup(func() { f.emu.Close(); s3ts.Close() })
	return f
}

// inProcessWorker is `loadgate worker` as the CLI runs it, minus the CLI:
// task metadata → assignment → RunWorker with synthetic samples.
func (f *fixture) inProcessWorker(ctx context.Context, args, env []string) error {
	fs := flag.NewFlagSet("worker", flag.ContinueOnError)
	store := fs.String("store", "", "")
	storeRegion := fs.String("store-region", "", "")
	runID := fs.String("run-id", "", "")
	region := fs.String("region", "", "")
	index := fs.Int("index", -1, "")
	synthetic := fs.Int("synthetic", 100, "")
	if len(args) == 0 || args[0] != "worker" {
		return errors.New("not a worker command")
	}
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	em := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		em[k] = v
	}
	getenv := func(k string) string { return em[k] }
	task, err := TaskID(ctx, getenv("ECS_CONTAINER_METADATA_URI_V4"))
	if err != nil {
		return err
	}
	st, err := NewS3Store(ctx, *store, *storeRegion, Env{Getenv: getenv})
	if err != nil {
		return err
	}
	if *index < 0 {
		if *index, err = distributed.WaitAssignment(ctx, st, *runID, *region, task, 20*time.Second); err != nil {
			return err
		}
	}
	err = distributed.RunWorker(ctx, distributed.WorkerOptions{Store: st, RunID: *runID, Index: *index, Region: *region, Host: task,
		Getenv: getenv,
		NewRunner: func(sh distributed.Share) (runners.Runner, error) {
			syn := &distributed.Synthetic{Share: sh, Requests: *synthetic, MaxWindows: 3, Hold: true, PartialOnCancel: f.partial}
			if f.probe {
				return runnertest.Probe{Next: syn}, nil
			}
			return syn, nil
		}})
	if errors.Is(err, distributed.ErrExcluded) {
		return nil
	}
	return err
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("%s", strings.TrimSpace(string(b)))
	return len(b), nil
}

func testPlan() *plan.Plan {
	return &plan.Plan{
		Name: "aws", Target: "http://127.0.0.1:9", Targets: plan.Targets{Allow: []string{"127.0.0.1"}},
		Endpoints: []plan.Endpoint{{Name: "a", Method: "GET", Path: "/a", Weight: 1}},
		Profile:   plan.Profile{Type: plan.ProfileLoad, Rate: 100, Duration: time.Second},
	}
}

var fast = Pacing{RunTaskPerSecond: 1000, LaunchBurst: 1000, LaunchPerSecond: 1000, ReadPerSecond: 1000, StopPerSecond: 1000}

func (f *fixture) run(t *testing.T, ctx context.Context, regions map[string]int, o distributed.Options) (*results.File, *ECSLauncher, error) {
	t.Helper()
	env := Env{Getenv: f.getenv}
	st, err := NewS3Store(ctx, "s3://"+bucket+"/runs", "us-east-1", env)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	var weights []float64
	var rs []Region
	for _, r := range []string{"eu-west-1", "us-east-1"} {
		if n := regions[r]; n > 0 {
			names, weights = append(names, r), append(weights, float64(n))
			rs = append(rs, Region{Name: r, Cluster: "lg", TaskDefinition: "loadgate-worker:3", Subnets: []string{"subnet-1"}, SecurityGroups: []string{"sg-1"}})
		}
	}
	total := 0
	for _, n := range regions {
		total += n
	}
	specs, err := distributed.Split(total, names, weights)
	if err != nil {
		t.Fatal(err)
	}
	eo := ECSOptions{Regions: rs, Container: "loadgate", StoreURL: st.URL(), Store: st,
		WorkerArgs: []string{"--store-region", "us-east-1", "--synthetic", "200"}, Env: env, Pacing: fast, Spot: true}
	if f.ecs != nil {
		f.ecs(&eo)
	}
	l, err := NewECSLauncher(ctx, eo)
	if err != nil {
		t.Fatal(err)
	}
	o.Store, o.Launcher, o.Workers, o.Runner = st, l, specs, "aws"
	if o.Log == nil {
		o.Log = testWriter{t}
	}
	if o.RunID == "" {
		o.RunID = "lg-test-1"
	}
	if o.PollInterval == 0 {
		o.PollInterval = 50 * time.Millisecond
	}
	o.StartLead = 300 * time.Millisecond
	if o.StartTimeout == 0 {
		o.StartTimeout = 30 * time.Second
	}
	o.ResultGrace = 30 * time.Second
	p := f.plan
	if p == nil {
		p = testPlan()
	}
	res, err := distributed.New(o).Run(ctx, p)
	return res, l, err
}

func TestECSEndToEnd(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 100 * time.Millisecond,
		// Throttle the first RunTask and every third DescribeTasks: the SDK's
		// retryer must absorb them.
		Throttle: func(op string, n int) bool { return op == "RunTask" && n == 0 || op == "DescribeTasks" && n%3 == 0 }})
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 12, "us-east-1": 3}, distributed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Validity.Valid || res.Run.Workers != 15 || res.Validity.LoadShare != 1 {
		t.Fatalf("validity %+v workers %d: %+v", res.Validity, res.Run.Workers, res.Workers)
	}
	// Exact merge: one histogram of every worker's samples.
	want := results.NewHistogram()
	for i := range 15 {
		for _, us := range distributed.SyntheticLatencies(distributed.SyntheticSeed(i, 0), 200) {
			want.RecordMicros(us)
		}
	}
	if got := res.Endpoint("a"); got.Requests != 3000 || got.Latency != want.Summary() {
		t.Fatalf("merged %d requests %+v, want 3000 %+v", got.Requests, got.Latency, want.Summary())
	}
	calls := f.emu.Calls()
	if calls["RunTask:throttled"] == 0 || calls["DescribeTasks:throttled"] == 0 {
		t.Fatalf("no throttling injected: %v", calls)
	}
	// eu-west-1: 12 tasks → 2 calls (10 + 2); us-east-1: 1 call; the
	// throttled attempt was retried.
	reqs := f.emu.RunTaskRequests()
	if len(reqs) != 3 {
		t.Fatalf("%d RunTask calls accepted, want 3", len(reqs))
	}
	for _, raw := range reqs {
		var in struct {
			Count                    int
			StartedBy                string
			CapacityProviderStrategy []struct{ CapacityProvider string }
			Tags                     []struct{ Key, Value string }
			Overrides                struct {
				ContainerOverrides []struct {
					Name    string
					Command []string
				}
			}
			NetworkConfiguration struct {
				AwsvpcConfiguration struct{ AssignPublicIp string }
			}
		}
		if err := json.Unmarshal(raw, &in); err != nil {
			t.Fatal(err)
		}
		cmd := strings.Join(in.Overrides.ContainerOverrides[0].Command, " ")
		if in.Count > maxTasksPerRunTask || in.StartedBy != "lg-test-1" || in.CapacityProviderStrategy[0].CapacityProvider != "FARGATE_SPOT" ||
			!strings.Contains(cmd, "worker --store s3://"+bucket+"/runs --run-id lg-test-1") || in.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp != "DISABLED" {
			t.Errorf("RunTask request %s", raw)
		}
		if len(in.Tags) == 0 || in.Tags[0].Key != TagRunID || in.Tags[0].Value != "lg-test-1" {
			t.Errorf("tags %+v", in.Tags)
		}
	}
	for _, tk := range f.emu.Tasks() {
		if tk.LastStatus != "STOPPED" {
			t.Errorf("task %d %s after the run", tk.Ordinal, tk.LastStatus)
		}
	}
}

func TestECSFaults(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond,
		NeverStart: func(n int) bool { return n == 1 },
		SlowStart: func(n int) time.Duration {
			if n == 2 {
				return 500 * time.Millisecond
			}
			return 0
		},
		DieAfter: func(n int) time.Duration {
			if n == 3 {
				return 1500 * time.Millisecond // after the barrier, during the 1s run
			}
			return 0
		},
		OOMAfter: func(n int) time.Duration {
			if n == 4 {
				return 1500 * time.Millisecond
			}
			return 0
		},
	})
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 10}, distributed.Options{MinLoadShare: 0.6, StartTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	missing := map[string]string{}
	for _, w := range res.Workers {
		if w.Missing {
			missing[w.ID] = w.Reason
		}
	}
	t.Logf("missing: %v", missing)
	if !strings.Contains(missing["eu-west-1/1"], "not ready") {
		t.Errorf("never-started task: %q", missing["eu-west-1/1"])
	}
	if _, ok := missing["eu-west-1/2"]; ok {
		t.Errorf("slow-starting task excluded: %q", missing["eu-west-1/2"])
	}
	if _, ok := missing["eu-west-1/3"]; !ok {
		t.Errorf("task that died mid-run not reported missing")
	}
	// The container's own stop reason survives: ECS's task-level reason
	// only says "Essential container in task exited".
	if r := missing["eu-west-1/4"]; !strings.Contains(r, "OutOfMemoryError: Container killed due to memory usage") || !strings.Contains(r, "exit 137") {
		t.Errorf("out-of-memory task: %q", r)
	}
	if !res.Validity.Valid || !res.Validity.Degraded || len(res.Validity.MissingWorkers) != 3 {
		t.Fatalf("validity %+v", res.Validity)
	}
	for _, tk := range f.emu.Tasks() {
		if tk.LastStatus != "STOPPED" {
			t.Errorf("task %d %s after the run: never-started tasks must be stopped", tk.Ordinal, tk.LastStatus)
		}
	}
}

func TestECSCancelStopsEveryTask(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond, StopGrace: 5 * time.Second})
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	go func() {
		// Cancel once every task runs.
		for ctx.Err() == nil {
			ts := f.emu.Tasks()
			running := 0
			for _, tk := range ts {
				if tk.LastStatus == "RUNNING" {
					running++
				}
			}
			if running == 4 {
				once.Do(cancel)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	_, _, err := f.run(t, ctx, map[string]int{"us-east-1": 4}, distributed.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	// StopTask was called for every task; ECS (and the emulator) then stop
	// them asynchronously: SIGTERM, then SIGKILL after the grace.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var live []string
		for _, tk := range f.emu.Tasks() {
			if tk.LastStatus != "STOPPED" {
				live = append(live, fmt.Sprintf("%d:%s", tk.Ordinal, tk.LastStatus))
			}
		}
		if len(live) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks not stopped after cancel: %v", live)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Tasks whose worker saw the abort and exited need no StopTask.
	if n := f.emu.Calls()["StopTask"]; n == 0 || n > 4 {
		t.Errorf("StopTask calls %d, want 1..4", n)
	}
}

func TestCleaner(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ecsemu.Options{NeverStart: func(int) bool { return true }})
	ctx := context.Background()
	env := Env{Getenv: f.getenv}
	st := &distributed.DirStore{Root: t.TempDir()}
	l, err := NewECSLauncher(ctx, ECSOptions{Regions: []Region{{Name: "eu-west-1", Cluster: "lg", TaskDefinition: "td", Subnets: []string{"s"}}},
		Container: "loadgate", StoreURL: "s3://x/y", Store: st, Env: env, Pacing: fast})
	if err != nil {
		t.Fatal(err)
	}
	specs, _ := distributed.Split(25, []string{"eu-west-1"}, []float64{1})
	if err := l.Launch(ctx, "lg-orphans", specs); err != nil {
		t.Fatal(err)
	}
	cl, err := NewCleaner(ctx, "eu-west-1", "lg", env)
	if err != nil {
		t.Fatal(err)
	}
	cl.Pacing = fast
	if n, err := cl.StopOlder(ctx, time.Hour); err != nil || n != 0 {
		t.Fatalf("young tasks stopped: %d %v", n, err)
	}
	cl.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if n, err := cl.StopOlder(ctx, time.Hour); err != nil || n != 25 {
		t.Fatalf("StopOlder: %d %v", n, err)
	}
	if n, err := cl.StopRun(ctx, "lg-orphans"); err != nil || n != 0 {
		t.Fatalf("StopRun after StopOlder: %d %v", n, err)
	}
}

func TestEstimateCost(t *testing.T) {
	t.Parallel()
	small := map[string]TaskSize{"us-east-1": {VCPU: 1, MemoryGB: 2}, "xx-nowhere-1": {VCPU: 1, MemoryGB: 2}}
	e := EstimateCost(map[string]int{"us-east-1": 10}, small, 30*time.Second)
	// 10 tasks × 60 s minimum: 600 vCPU-s, 1200 GB-s.
	want := 600.0/3600*0.04048 + 1200.0/3600*0.004445
	if e.VCPUSeconds != 600 || e.GBSeconds != 1200 || e.USD < want-1e-9 || e.USD > want+1e-9 || len(e.Assumptions) != 0 {
		t.Fatalf("estimate %+v, want $%v", e, want)
	}
	// A region outside the table: twice the dearest listed price, said so.
	u := EstimateCost(map[string]int{"xx-nowhere-1": 1}, small, time.Hour)
	dear := 2 * (0.05056 + 2*0.00553)
	if len(u.Assumptions) != 1 || !strings.Contains(u.String(), "assumption: xx-nowhere-1 is not in loadgate's price table") ||
		u.USD < dear-1e-9 || u.USD > dear+1e-9 {
		t.Fatalf("unknown region: $%v, want $%v\n%s", u.USD, dear, u)
	}
}

func TestUSD(t *testing.T) {
	t.Parallel()
	for v, want := range map[float64]string{0.001: "$0.001", 0.0012345: "$0.00123", 0: "$0.00", 1.5: "$1.50", 12.345: "$12.35", 0.01: "$0.01"} {
		if got := USD(v); got != want {
			t.Errorf("USD(%v) = %s, want %s", v, got, want)
		}
	}
}

func TestLaunchTime(t *testing.T) {
	t.Parallel()
	// 10,000 tasks: the first 100 from the burst, the rest at 20/s.
	if d := (Pacing{}).LaunchTime(10000); d != 495*time.Second {
		t.Fatalf("LaunchTime(10000) = %s", d)
	}
}

func TestParseS3URL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"s3://b":      {"b", ""},
		"s3://b/":     {"b", ""},
		"s3://b/x/y":  {"b", "x/y/"},
		"s3://b/x/y/": {"b", "x/y/"},
	} {
		b, p, err := ParseS3URL(in)
		if err != nil || b != want[0] || p != want[1] {
			t.Errorf("%s: %q %q %v", in, b, p, err)
		}
	}
	for _, bad := range []string{"", "/tmp/x", "s3:///x", "http://b/x"} {
		if _, _, err := ParseS3URL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func FuzzParseS3URL(f *testing.F) {
	for _, s := range []string{"s3://b/p", "s3://b", "s3:///", "http://x", "s3://b/a/../b", "s3://b?x=1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		b, p, err := ParseS3URL(s)
		if err != nil {
			return
		}
		if b == "" || strings.HasPrefix(p, "/") || p != "" && !strings.HasSuffix(p, "/") {
			t.Fatalf("%q → bucket %q prefix %q", s, b, p)
		}
	})
}

const (
	awsToken    = "lg-aws-T0KEN-5e6f7a"
	tokenSSMArn = "arn:aws:ssm:eu-west-1:123456789012:parameter/loadgate/LG_TEST_TOKEN"
)

// secretPlan has the token (from LG_TEST_TOKEN) in a header and a body.
func secretPlan(t *testing.T, target string) *plan.Plan {
	t.Helper()
	src := "name: aws-secret\ntarget: " + target + `
targets: {allow: [127.0.0.1]}
endpoints:
  - name: a
    request: POST /a
    headers: {Authorization: "Bearer ${LG_TEST_TOKEN}"}
    body: '{"password":"${LG_TEST_TOKEN}"}'
profile: {type: load, rate: 100/s, duration: 1s}
`
	p, err := plan.Parse([]byte(src), "secret.yaml", ".", func(k string) string {
		if k == "LG_TEST_TOKEN" {
			return awsToken
		}
		return ""
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tokenTarget counts requests carrying the token in header and body.
func tokenTarget(t *testing.T) (*httptest.Server, func() (good, bad int)) {
	var mu sync.Mutex
	var good, bad int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") == "Bearer "+awsToken && string(b) == `{"password":"`+awsToken+`"}` {
			good++
		} else {
			bad++
		}
	}))
	t.Cleanup(srv.Close)
	return srv, func() (int, int) { mu.Lock(); defer mu.Unlock(); return good, bad }
}

// objectsHolding lists the bucket's objects and those holding s.
func (f *fixture) objectsHolding(t *testing.T, s string) (holding []string, n int) {
	t.Helper()
	st, err := NewS3Store(context.Background(), "s3://"+bucket, "us-east-1", Env{Getenv: f.getenv})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.List(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		b, err := st.Get(context.Background(), k)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(s)) {
			holding = append(holding, k)
		}
	}
	return holding, len(keys)
}

func TestECSSecretsFromTaskDefinitionNotS3(t *testing.T) {
	t.Parallel()
	srv, counts := tokenTarget(t)
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond,
		TaskDefinitionSecrets: map[string][]ecsemu.Secret{"loadgate-worker": {{Name: "LG_TEST_TOKEN", ValueFrom: tokenSSMArn}}},
		SecretValues:          map[string]string{tokenSSMArn: awsToken}})
	f.plan, f.probe = secretPlan(t, srv.URL), true
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 3, "us-east-1": 2}, distributed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Validity.Valid || res.Run.Workers != 5 {
		t.Fatalf("validity %+v workers %+v", res.Validity, res.Workers)
	}
	if good, bad := counts(); good != 5 || bad != 0 {
		t.Fatalf("target: %d requests with the token from the task's environment, %d without", good, bad)
	}
	holding, n := f.objectsHolding(t, awsToken)
	if len(holding) > 0 || n < 5*3 {
		t.Errorf("%d objects in S3; holding the token: %v", n, holding)
	}
	for _, raw := range f.emu.RunTaskRequests() {
		if bytes.Contains(raw, []byte(awsToken)) {
			t.Errorf("RunTask request holds the token: %s", raw)
		}
	}
	var merged bytes.Buffer
	if err := results.Encode(&merged, res); err != nil || bytes.Contains(merged.Bytes(), []byte(awsToken)) {
		t.Errorf("merged results hold the token (%v)", err)
	}
}

func TestECSWorkerWithoutSecretRefuses(t *testing.T) {
	t.Parallel()
	srv, counts := tokenTarget(t)
	// The task definition has no secrets: workers lack LG_TEST_TOKEN.
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond})
	f.plan, f.probe = secretPlan(t, srv.URL), true
	_, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 2}, distributed.Options{StartTimeout: 10 * time.Second})
	var ce *distributed.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "LG_TEST_TOKEN not set") {
		t.Fatalf("err %v, want a ConfigError naming LG_TEST_TOKEN", err)
	}
	if good, bad := counts(); good+bad != 0 {
		t.Fatalf("target got %d requests", good+bad)
	}
	if holding, _ := f.objectsHolding(t, awsToken); len(holding) > 0 {
		t.Errorf("S3 objects hold the token: %v", holding)
	}
}
