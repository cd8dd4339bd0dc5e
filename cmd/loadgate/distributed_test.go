package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/loadgate/loadgate/internal/ecsemu"
	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/results"
	awsrunner "github.com/loadgate/loadgate/runners/aws"
	"github.com/loadgate/loadgate/runners/distributed"
)

// The worker binary is built once per test process into a temporary
// directory (removed by TestMain).
var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
	// staticDir holds the composite-action tests' release-style binary
	// (action_composite_test.go, Linux only).
	staticDir string
)

func TestMain(m *testing.M) {
	code := m.Run()
	for _, d := range []string{binDir, staticDir} {
		if d != "" {
			os.RemoveAll(d)
		}
	}
	os.Exit(code)
}

func workerBinary(tb testing.TB) string {
	tb.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "loadgate-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "loadgate")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		tb.Fatal(binErr)
	}
	return binPath
}

// heavyMu runs the tests that start worker processes one at a time, so they
// do not starve the package's other (timing-sensitive) tests of CPU.
var heavyMu sync.Mutex

func serializeHeavy(t *testing.T) {
	heavyMu.Lock()
	t.Cleanup(heavyMu.Unlock)
}

// distPlan is a plan against url that allows loopback targets.
func distPlan(url string, rate int, duration time.Duration) string {
	return fmt.Sprintf(`name: dist
target: %s
targets:
  allow: [127.0.0.1, "::1"]
endpoints:
  - name: fast
    request: GET /fast
    weight: 2
  - name: slow
    request: GET /delay?ms=3
profile:
  type: load
  rate: %d/s
  duration: %s
`, url, rate, duration)
}

// workerFiles reads every worker results file a run left in its store.
func workerFiles(t *testing.T, store string) []*results.File {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(store, "*", "workers", "*", "*.json"))
	var out []*results.File
	for _, p := range paths {
		f, err := results.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// checkExactMerge checks merged counts against the sum of the workers' and
// merged percentiles against one histogram holding every worker's samples.
func checkExactMerge(t *testing.T, merged *results.File, workers []*results.File) {
	t.Helper()
	for _, me := range merged.Endpoints {
		all := results.NewHistogram()
		var requests, errs int64
		for _, w := range workers {
			e := w.Endpoint(me.Name)
			if e == nil {
				continue
			}
			requests += e.Requests
			errs += e.Errors
			// Re-record every sample (at histogram precision) into one histogram.
			e.Histogram.Distribution(func(us, n int64) { all.RecordMicrosN(us, n) })
		}
		if me.Requests != requests || me.Errors != errs {
			t.Errorf("%s: merged %d requests/%d errors, workers' sum %d/%d", me.Name, me.Requests, me.Errors, requests, errs)
		}
		if me.Latency != all.Summary() {
			t.Errorf("%s: merged latency %+v, one histogram of all samples %+v", me.Name, me.Latency, all.Summary())
		}
	}
	var sum int64
	for _, w := range merged.Workers {
		sum += w.Requests
	}
	if sum != merged.Total.Requests {
		t.Errorf("per-worker requests sum to %d, total %d", sum, merged.Total.Requests)
	}
}

func TestWorkersLocalEndToEnd(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	srv := httptest.NewServer(target.New(target.Options{}))
	defer srv.Close()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	planPath := writeFile(t, dir, "plan.yaml", distPlan(srv.URL, 90, 2*time.Second))
	out := filepath.Join(dir, "results.json")
	code, stdout, stderr := cli(t, context.Background(), nil, "run", planPath, "--workers", "3", "--worker-binary", bin,
		"--store-dir", store, "-o", out, "-q")
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatalf("exit %d, no results: %v\n%s\n%s", code, err, stdout, stderr)
	}
	// On a saturated machine the generators may fall behind (exit 4, said in
	// the reasons); the merge must be exact either way.
	if code != 0 && !(code == exitInvalid && strings.Contains(strings.Join(r.Validity.Reasons, " "), "behind")) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if r.Run.Workers != 3 || len(r.Workers) != 3 || r.Validity.LoadShare != 1 || r.Validity.Degraded || r.Run.Runner != "local" {
		t.Fatalf("workers %d %+v validity %+v", r.Run.Workers, r.Workers, r.Validity)
	}
	// The plan's rate, not one worker's third: a single-process baseline compares.
	if r.Profile.Rate != 90 {
		t.Errorf("merged profile rate %v, want the plan's 90/s", r.Profile.Rate)
	}
	ws := workerFiles(t, store)
	if len(ws) != 3 {
		t.Fatalf("%d worker files", len(ws))
	}
	checkExactMerge(t, r, ws)
	if r.Total.Requests < 90 {
		t.Errorf("only %d requests for 90/s × 2s", r.Total.Requests)
	}
	t.Logf("start skew %.3f ms; %d requests", r.Validity.StartSkewMs, r.Total.Requests)
}

func TestWorkersSyntheticMergeIsExact(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", distPlan("http://127.0.0.1:9", 100, time.Second))
	out := filepath.Join(dir, "results.json")
	code, stdout, stderr := cli(t, context.Background(), nil, "run", planPath, "--workers", "4", "--worker-binary", bin,
		"--synthetic-workers", "300", "-o", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for j, name := range []string{"fast", "slow"} {
		want := results.NewHistogram()
		for i := range 4 {
			for _, us := range distributed.SyntheticLatencies(distributed.SyntheticSeed(i, j), 300) {
				want.RecordMicros(us)
			}
		}
		if e := r.Endpoint(name); e.Requests != 1200 || e.Latency != want.Summary() {
			t.Errorf("%s: %d requests %+v; want 1200 %+v", name, e.Requests, e.Latency, want.Summary())
		}
	}
}

// workerPIDs finds the worker processes whose command line mentions store.
func workerPIDs(store string, index string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) < 2 || args[1] != "worker" || !strings.Contains(string(b), store) {
			continue
		}
		if index != "" && !strings.Contains(string(b), "--index\x00"+index+"\x00") {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

func started(store string) bool {
	m, _ := filepath.Glob(filepath.Join(store, "*", "start", "*.json"))
	return len(m) > 0
}

func TestWorkersCancelStopsEveryProcess(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	srv := httptest.NewServer(target.New(target.Options{}))
	defer srv.Close()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	planPath := writeFile(t, dir, "plan.yaml", distPlan(srv.URL, 30, time.Minute))
	out := filepath.Join(dir, "results.json")
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		deadline := time.Now().Add(60 * time.Second)
		for !started(store) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(time.Second) // mid-run
	}()
	code, _, stderr := cli(t, ctx, nil, "run", planPath, "--workers", "3", "--worker-binary", bin, "--store-dir", store, "-o", out, "-q")
	if code != exitInvalid || !strings.Contains(stderr, "partial") {
		t.Fatalf("exit %d, want %d with partial results\n%s", code, exitInvalid, stderr)
	}
	if pids := workerPIDs(store, ""); len(pids) > 0 {
		t.Fatalf("worker processes still alive after cancel: %v", pids)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Run.Partial {
		t.Errorf("results not marked partial")
	}
}

// Ctrl-C while the workers start (launched, not yet given the start time)
// stops every worker process too, and the run ends as interrupted (exit 4).
func TestWorkersCancelDuringStartStopsEveryProcess(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	srv := httptest.NewServer(target.New(target.Options{}))
	defer srv.Close()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	planPath := writeFile(t, dir, "plan.yaml", distPlan(srv.URL, 30, time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		defer cancel()
		deadline := time.Now().Add(60 * time.Second)
		for len(workerPIDs(store, "")) == 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
	}()
	code, _, stderr := cli(t, ctx, nil, "run", planPath, "--workers", "3", "--worker-binary", bin, "--store-dir", store,
		"--start-timeout", "50s", "-o", filepath.Join(dir, "results.json"), "-q")
	if code != exitInvalid || !strings.Contains(stderr, "interrupted") {
		t.Fatalf("exit %d, want %d (interrupted)\n%s", code, exitInvalid, stderr)
	}
	if pids := workerPIDs(store, ""); len(pids) > 0 {
		t.Fatalf("worker processes still alive after cancel: %v", pids)
	}
}

func TestWorkersDeadWorkerMakesRunInvalid(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	srv := httptest.NewServer(target.New(target.Options{}))
	defer srv.Close()
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	planPath := writeFile(t, dir, "plan.yaml", distPlan(srv.URL, 30, 4*time.Second))
	out := filepath.Join(dir, "results.json")
	go func() {
		deadline := time.Now().Add(60 * time.Second)
		for !started(store) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		for _, pid := range workerPIDs(store, "1") {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}()
	code, _, stderr := cli(t, context.Background(), nil, "run", planPath, "--workers", "3", "--worker-binary", bin, "--store-dir", store, "-o", out, "-q")
	if code != exitInvalid {
		t.Fatalf("exit %d, want %d\n%s", code, exitInvalid, stderr)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	v := r.Validity
	if v.Valid || !v.Degraded || len(v.MissingWorkers) != 1 || v.MissingWorkers[0] != "local/1" || v.LoadShare > 0.67 {
		t.Fatalf("validity %+v", v)
	}
	if !strings.Contains(strings.Join(v.Reasons, " "), "below the minimum") {
		t.Errorf("reasons %v", v.Reasons)
	}
}

func TestWorkersRefuseUnlistedTarget(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", strings.Replace(distPlan("http://10.9.8.7", 10, time.Second), "allow: [127.0.0.1, \"::1\"]", "allow: [127.0.0.1]", 1))
	code, _, stderr := cli(t, context.Background(), nil, "run", planPath, "--workers", "2", "--worker-binary", "/nonexistent")
	if code != exitUsage || !strings.Contains(stderr, "targets.allow") {
		t.Fatalf("exit %d: %s", code, stderr)
	}
}

// TestWorkersRefuseMoreThanMaxWorkers: limits.max_workers is a safety rail
// checked before anything starts, a usage error (exit 2) like the other limits
// (docs/safety.md), not an infrastructure failure.
func TestWorkersRefuseMoreThanMaxWorkers(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", strings.Replace(distPlan("http://127.0.0.1:9", 10, time.Second), "targets:", "limits: {max_workers: 1}\ntargets:", 1))
	code, _, stderr := cli(t, context.Background(), nil, "run", planPath, "--workers", "2", "--worker-binary", "/nonexistent")
	if code != exitUsage || !strings.Contains(stderr, "max_workers") {
		t.Fatalf("exit %d, want %d naming max_workers: %s", code, exitUsage, stderr)
	}
}

// awsFixture is gofakes3 and the ECS emulator, starting real worker processes.
type awsFixture struct {
	env map[string]string
	emu *ecsemu.Server
}

func newAWSFixture(t *testing.T, o ecsemu.Options) *awsFixture {
	t.Helper()
	be := s3mem.New()
	if err := be.CreateBucket("lg-bucket"); err != nil {
		t.Fatal(err)
	}
	s3ts := httptest.NewServer(gofakes3.New(be).Server())
	env := map[string]string{
		"AWS_ACCESS_KEY_ID": "AKIDEMU", "AWS_SECRET_ACCESS_KEY": "emu-secret", "AWS_REGION": "eu-west-1",
		"AWS_ENDPOINT_URL_S3": s3ts.URL, "AWS_EC2_METADATA_DISABLED": "true",
	}
	for k, v := range env {
		o.Env = append(o.Env, k+"="+v)
	}
	o.Env = append(o.Env, "PATH="+os.Getenv("PATH"), "HOME="+t.TempDir())
	f := &awsFixture{env: env, emu: ecsemu.New(o)}
	env["AWS_ENDPOINT_URL_ECS"] = f.emu.URL
	t.Cleanup(func() { f.emu.Close(); s3ts.Close() })
	return f
}

func TestAWSRunAgainstEmulators(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	var logs bytes.Buffer
	var mu sync.Mutex
	// The plan's Authorization header comes from LG_TEST_TOKEN: the
	// coordinator has it in its environment, the tasks get it from the task
	// definition's secrets (an SSM parameter), and S3 never sees it.
	const ssmArn = "arn:aws:ssm:eu-west-1:123456789012:parameter/loadgate/LG_TEST_TOKEN"
	f := newAWSFixture(t, ecsemu.Options{Binary: bin, ProvisionDelay: 200 * time.Millisecond, Output: lockedBuf{&mu, &logs},
		Throttle:              func(op string, n int) bool { return op == "RunTask" && n == 0 },
		TaskDefinitionSecrets: map[string][]ecsemu.Secret{"loadgate-worker": {{Name: "LG_TEST_TOKEN", ValueFrom: ssmArn}}},
		SecretValues:          map[string]string{ssmArn: cliSecret}})
	srv := newAuthServer(t, cliSecret)
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", secretDistPlan(srv.URL, 60, 2*time.Second))
	out := filepath.Join(dir, "results.json")
	coordEnv := map[string]string{"LG_TEST_TOKEN": cliSecret}
	for k, v := range f.env {
		coordEnv[k] = v
	}
	code, stdout, stderr := cli(t, context.Background(), coordEnv, "aws", "run", planPath, "--store", "s3://lg-bucket/runs",
		"--regions", "eu-west-1:2,us-east-1:1", "--subnets", "subnet-1", "--security-groups", "sg-1",
		"--pace-scale", "50", "--poll-interval", "200ms", "--max-cost", "1", "-o", out)
	r, err := results.ReadFile(out)
	if err != nil {
		mu.Lock()
		t.Fatalf("exit %d: %v\n%s\n%s\nworkers:\n%s", code, err, stdout, stderr, logs.String())
	}
	if code != 0 && !(code == exitInvalid && strings.Contains(strings.Join(r.Validity.Reasons, " "), "behind")) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	for _, want := range []string{"cost estimate", "NOTICE", "Simulated Events", "eu-west-1: 2 tasks"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if r.Run.Runner != "aws" || r.Run.Workers != 3 || r.Validity.Degraded || !strings.HasPrefix(r.Run.RunnerClass, "aws/1vcpu-2gb/x3/") {
		t.Fatalf("run %+v validity %+v", r.Run, r.Validity)
	}
	var regions = map[string]int{}
	for _, w := range r.Workers {
		regions[w.Region]++
	}
	if regions["eu-west-1"] != 2 || regions["us-east-1"] != 1 {
		t.Errorf("workers per region %v", regions)
	}
	var sum int64
	for _, e := range r.Endpoints {
		sum += e.Requests
	}
	if sum != r.Total.Requests || r.Total.Requests < 60 {
		t.Errorf("endpoint sum %d, total %d", sum, r.Total.Requests)
	}
	if f.emu.Calls()["RunTask:throttled"] != 1 {
		t.Errorf("calls %v", f.emu.Calls())
	}
	for _, tk := range f.emu.Tasks() {
		if tk.LastStatus != "STOPPED" || tk.ExitCode == nil || *tk.ExitCode != 0 {
			t.Errorf("task %d: %s exit %v", tk.Ordinal, tk.LastStatus, tk.ExitCode)
		}
	}
	if good, bad, badSeen := srv.counts(); int64(good) != r.Total.Requests || bad != 0 {
		t.Errorf("target saw %d requests with the token, %d without %q; results count %d", good, bad, badSeen, r.Total.Requests)
	}
	st, err := awsrunner.NewS3Store(context.Background(), "s3://lg-bucket/runs", "eu-west-1", awsrunner.Env{Getenv: func(k string) string { return f.env[k] }})
	if err != nil {
		t.Fatal(err)
	}
	keys, err := st.List(context.Background(), "")
	if err != nil || len(keys) < 3*3 {
		t.Fatalf("S3 objects %v %v", keys, err)
	}
	for _, k := range keys {
		if b, err := st.Get(context.Background(), k); err != nil || bytes.Contains(b, []byte(cliSecret)) {
			t.Errorf("S3 object %s holds the token (%v)", k, err)
		}
	}
	for _, raw := range f.emu.RunTaskRequests() {
		if bytes.Contains(raw, []byte(cliSecret)) {
			t.Errorf("RunTask request holds the token")
		}
	}
	if b, _ := os.ReadFile(out); bytes.Contains(b, []byte(cliSecret)) || strings.Contains(stderr, cliSecret) {
		t.Errorf("results or output hold the token")
	}
	t.Logf("start skew %.3f ms", r.Validity.StartSkewMs)
}

func TestAWSRunRefusals(t *testing.T) {
	t.Parallel()
	f := newAWSFixture(t, ecsemu.Options{Binary: "/nonexistent"})
	dir := t.TempDir()
	ok := distPlan("http://127.0.0.1:9", 10, time.Second)
	cases := []struct {
		name, plan string
		args       []string
		want       string
	}{
		{"target not allowed", strings.Replace(ok, "http://127.0.0.1:9", "https://example.org", 1), nil, "targets.allow"},
		{"cost", ok, []string{"--max-cost", "0.001"}, "exceeds --max-cost"},
		{"tasks", ok, []string{"--max-tasks", "2"}, "exceed --max-tasks"},
		{"hard cap", ok, []string{"--regions", "eu-west-1:10001", "--max-tasks", "20000"}, "hard cap"},
		{"duration", ok, []string{"--max-duration", "500ms"}, "exceeds --max-duration"},
		{"max_workers", strings.Replace(ok, "targets:", "limits: {max_workers: 2}\ntargets:", 1), nil, "max_workers"},
	}
	for _, tc := range cases {
		p := writeFile(t, dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml", tc.plan)
		args := append([]string{"aws", "run", p, "--store", "s3://lg-bucket/x", "--regions", "eu-west-1:3", "--subnets", "s"}, tc.args...)
		code, _, stderr := cli(t, context.Background(), f.env, args...)
		if code != exitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%s: exit %d, want %d with %q:\n%s", tc.name, code, exitUsage, tc.want, stderr)
		}
	}
	if n := f.emu.Calls()["RunTask"]; n != 0 {
		t.Fatalf("%d RunTask calls despite refusals", n)
	}
}

type lockedBuf struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (l lockedBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// BenchmarkAWSCoordinator500Tasks runs `loadgate aws run` (the real binary, a
// separate process, so its time and peak memory are the coordinator's own)
// over 500 emulated Fargate tasks in two regions. The tasks run `loadgate
// worker --synthetic` in this test process (500 worker processes would not
// fit a CI machine) against gofakes3. Run with -benchtime=1x.
func BenchmarkAWSCoordinator500Tasks(b *testing.B) {
	const tasks = 500
	bin := workerBinary(b)
	for range b.N {
		b.StopTimer()
		o := ecsemu.Options{Exec: func(ctx context.Context, args, env []string) error {
			em := map[string]string{}
			for _, kv := range env {
				k, v, _ := strings.Cut(kv, "=")
				em[k] = v
			}
			if code := run(ctx, args, io.Discard, io.Discard, func(k string) string { return em[k] }); code != 0 {
				return fmt.Errorf("worker exit %d", code)
			}
			return nil
		}}
		be := s3mem.New()
		if err := be.CreateBucket("lg-bucket"); err != nil {
			b.Fatal(err)
		}
		s3ts := httptest.NewServer(gofakes3.New(be).Server())
		env := []string{"AWS_ACCESS_KEY_ID=AKIDEMU", "AWS_SECRET_ACCESS_KEY=emu", "AWS_REGION=eu-west-1",
			"AWS_ENDPOINT_URL_S3=" + s3ts.URL, "AWS_EC2_METADATA_DISABLED=true"}
		o.Env = env
		emu := ecsemu.New(o)
		dir := b.TempDir()
		planPath := filepath.Join(dir, "plan.yaml")
		if err := os.WriteFile(planPath, []byte(distPlan("http://127.0.0.1:9", 1000, 2*time.Second)), 0o644); err != nil {
			b.Fatal(err)
		}
		cmd := exec.Command(bin, "aws", "run", planPath, "--store", "s3://lg-bucket/runs",
			"--regions", fmt.Sprintf("eu-west-1:%d,us-east-1:%d", tasks/2, tasks-tasks/2), "--subnets", "subnet-1",
			"--synthetic", "200", "--pace-scale", "100", "--max-tasks", fmt.Sprint(tasks), "--max-cost", "100",
			"--cleanup-older-than", "0", "-o", filepath.Join(dir, "results.json"))
		cmd.Env = append(env, "AWS_ENDPOINT_URL_ECS="+emu.URL, "PATH="+os.Getenv("PATH"), "HOME="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b.StartTimer()
		start := time.Now()
		err := cmd.Run()
		wall := time.Since(start)
		b.StopTimer()
		emu.Close()
		s3ts.Close()
		if err != nil {
			b.Fatalf("aws run: %v\n%s", err, stderr.String())
		}
		r, err := results.ReadFile(filepath.Join(dir, "results.json"))
		if err != nil {
			b.Fatal(err)
		}
		if r.Run.Workers != tasks || r.Total.Requests != int64(tasks*200*2) {
			b.Fatalf("%d workers, %d requests\n%s", r.Run.Workers, r.Total.Requests, stderr.String())
		}
		if testing.Verbose() {
			b.Logf("coordinator output:\n%s", stderr.String())
		}
		ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
		b.ReportMetric(float64(ru.Maxrss)/1024, "coord-maxrss-MB")
		b.ReportMetric(float64(ru.Utime.Nano()+ru.Stime.Nano())/1e9, "coord-cpu-s")
		b.ReportMetric(wall.Seconds(), "coord-wall-s")
		b.ReportMetric(r.Validity.StartSkewMs, "start-skew-ms")
		b.StartTimer()
	}
}

const cliSecret = "lg-cli-T0KEN-9a8b7c"

// authServer counts requests that carry "Bearer <token>" and those that do not.
type authServer struct {
	*httptest.Server
	mu        sync.Mutex
	good, bad int
	badSeen   []string
}

func newAuthServer(t *testing.T, token string) *authServer {
	s := &authServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Header.Get("Authorization") == "Bearer "+token {
			s.good++
		} else {
			s.bad++
			if len(s.badSeen) < 5 {
				s.badSeen = append(s.badSeen, r.Method+" "+r.URL.String()+" auth="+r.Header.Get("Authorization"))
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *authServer) counts() (int, int, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.good, s.bad, append([]string(nil), s.badSeen...)
}

// secretDistPlan is distPlan with an Authorization header from LG_TEST_TOKEN.
func secretDistPlan(url string, rate int, d time.Duration) string {
	return strings.Replace(distPlan(url, rate, d), "endpoints:\n", "defaults:\n  headers: {Authorization: \"Bearer ${LG_TEST_TOKEN}\"}\nendpoints:\n", 1)
}

// treeHolding lists the files under root that contain s.
func treeHolding(t *testing.T, root, s string) (holding []string, n int) {
	t.Helper()
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(p)
		if err == nil && bytes.Contains(b, []byte(s)) {
			holding = append(holding, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return holding, n
}

func TestWorkersSecretsStayOutOfTheStore(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	srv := newAuthServer(t, cliSecret)
	dir := t.TempDir()
	store := filepath.Join(dir, "store")
	planPath := writeFile(t, dir, "plan.yaml", secretDistPlan(srv.URL, 30, time.Second))
	out := filepath.Join(dir, "results.json")
	// The token is only in the coordinator's (in-process) environment: the
	// worker processes get it from the coordinator, never from the store.
	env := map[string]string{"LG_TEST_TOKEN": cliSecret}
	code, stdout, stderr := cli(t, context.Background(), env, "run", planPath, "--workers", "2", "--worker-binary", bin,
		"--store-dir", store, "-o", out, "-q")
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatalf("exit %d, no results: %v\n%s\n%s", code, err, stdout, stderr)
	}
	if code != 0 && !(code == exitInvalid && strings.Contains(strings.Join(r.Validity.Reasons, " "), "behind")) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	good, bad, badSeen := srv.counts()
	if r.Run.Workers != 2 || good < 20 || bad != 0 || int64(good) != r.Total.Requests {
		t.Fatalf("workers %d; target saw %d requests with the token, %d without %q; results count %d", r.Run.Workers, good, bad, badSeen, r.Total.Requests)
	}
	holding, n := treeHolding(t, store, cliSecret)
	if len(holding) > 0 || n < 7 { // plan, manifest, start, ready ×2, results ×2
		t.Errorf("%d files in the exchange; holding the token: %v", n, holding)
	}
	if b, _ := os.ReadFile(out); bytes.Contains(b, []byte(cliSecret)) {
		t.Errorf("merged results hold the token")
	}
	if strings.Contains(stderr+stdout, cliSecret) {
		t.Errorf("output holds the token:\n%s", stderr)
	}

	// The same run's worker, started without the variable, refuses before
	// sending anything: exit 2, naming the variable.
	plans, _ := filepath.Glob(filepath.Join(store, "*", "plan.json"))
	if len(plans) != 1 {
		t.Fatalf("plans in the store: %v", plans)
	}
	runID := filepath.Base(filepath.Dir(plans[0]))
	code, _, stderr = cli(t, context.Background(), map[string]string{}, "worker", "--store", store, "--run-id", runID, "--index", "0")
	if code != exitUsage || !strings.Contains(stderr, "LG_TEST_TOKEN not set") || !strings.Contains(stderr, "task definition") {
		t.Fatalf("worker without the variable: exit %d, want %d naming LG_TEST_TOKEN:\n%s", code, exitUsage, stderr)
	}
	if g, b, _ := srv.counts(); g != good || b != 0 {
		t.Errorf("the worker without the variable sent requests (%d/%d → %d/%d)", good, 0, g, b)
	}
}
