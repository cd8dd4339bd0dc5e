package aws

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/ecsemu"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners/distributed"
)

// These tests hold the fan-out to what real ECS does and the project's first
// emulator did not: eventual consistency, tasks stopped by someone else,
// regions that refuse, task sizes the flags do not know.

// allStopped waits until the emulator reports every task STOPPED.
func allStopped(t *testing.T, f *fixture, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var live []string
		for _, tk := range f.emu.Tasks() {
			if tk.LastStatus != "STOPPED" {
				live = append(live, fmt.Sprintf("%d:%s", tk.Ordinal, tk.LastStatus))
			}
		}
		if len(live) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks still alive: %v", live)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestECSEventualConsistencyMissingIsNotLost(t *testing.T) {
	t.Parallel()
	// Every task is unknown to DescribeTasks for its first 6 lookups (300 ms
	// and more at loadgate's 50 ms polls), and to StopTask and ListTasks for
	// 300 ms after RunTask.
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond,
		ConsistencyLag:  func(int) time.Duration { return 300 * time.Millisecond },
		DescribeMissing: func(_, n int) bool { return n < 6 }})
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 3, "us-east-1": 2}, distributed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Validity.Valid || res.Validity.Degraded || res.Run.Workers != 5 {
		t.Fatalf("validity %+v workers %+v", res.Validity, res.Workers)
	}
	if n := f.emu.Calls()["DescribeTasks:missing"]; n == 0 {
		t.Fatalf("the emulator never answered MISSING: %v", f.emu.Calls())
	}
	allStopped(t, f, 10*time.Second)
}

func TestECSMissingTooLongIsStoppedAnyway(t *testing.T) {
	t.Parallel()
	// Task 1 never starts and DescribeTasks never knows it, beyond the
	// 300 ms grace: presumed lost, the run goes on without it, and it is
	// still sent StopTask (which knows it).
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond,
		NeverStart:      func(n int) bool { return n == 1 },
		DescribeMissing: func(n, _ int) bool { return n == 1 }})
	f.ecs = func(o *ECSOptions) { o.MissingGrace = 300 * time.Millisecond }
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 5}, distributed.Options{StartTimeout: 60 * time.Second, MinLoadShare: 0.75})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Validity.Valid || len(res.Validity.MissingWorkers) != 1 || res.Validity.MissingWorkers[0] != "eu-west-1/1" {
		t.Fatalf("validity %+v", res.Validity)
	}
	if r := res.Workers[1].Reason; !strings.Contains(r, "task missing") || strings.Contains(r, "1m0s") || strings.Contains(r, "not ready within") {
		t.Errorf("reason %q, want the time it really waited", r)
	}
	allStopped(t, f, 10*time.Second)
}

func TestECSWorkerInterruptedMidRunCountsItsRealShare(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond})
	f.partial = true
	p := testPlan()
	p.Profile.Duration = 2 * time.Second
	f.plan = p
	env := Env{Getenv: f.getenv}
	st, err := NewS3Store(context.Background(), "s3://"+bucket+"/runs", "us-east-1", env)
	if err != nil {
		t.Fatal(err)
	}
	// A Spot reclaim of task 0 a quarter of the way through the measured interval.
	startAt := make(chan time.Time, 1)
	go func() {
		var sig distributed.StartSignal
		for {
			b, err := st.Get(context.Background(), "lg-test-1/start/eu-west-1.json")
			if err == nil && json.Unmarshal(b, &sig) == nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		startAt <- sig.StartAt
		time.Sleep(time.Until(sig.StartAt.Add(500 * time.Millisecond)))
		if !f.emu.Interrupt(0) {
			t.Errorf("task 0 was not running at the interrupt")
		}
	}()
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 3}, distributed.Options{MinLoadShare: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	w := res.Workers[0]
	if w.Missing && strings.Contains(w.Reason, "start signal") {
		// A busy machine: the worker was still polling for the start signal
		// when it was reclaimed, so nothing was interrupted mid-run. The run
		// must still be refused for the missing third.
		if v := res.Validity; v.Valid || !v.Degraded || v.LoadShare > 0.7 {
			t.Fatalf("a worker lost before its start left the run %+v", v)
		}
		t.Skipf("worker 0 had not seen the start signal when it was reclaimed (busy machine): %s", w.Reason)
	}
	if w.Missing || w.Requests == 0 || w.Requests >= 200 || !strings.Contains(w.Reason, "partial") {
		t.Fatalf("interrupted worker %+v", w)
	}
	// Its share is the part of the measured 2 s it ran: from the start (or
	// from when it saw the start signal, if a busy machine made it late) to
	// the interrupt — about a quarter.
	late := max(0, w.Started.Sub(<-startAt))
	want := (2 + float64(w.Requests)/200 - late.Seconds()/2) / 3
	v := res.Validity
	if v.Valid || !v.Degraded || math.Abs(v.LoadShare-want) > 0.03 || v.LoadShare > 0.9 {
		t.Fatalf("load share %.3f (want ≈ %.3f, invalid below 0.9): %+v", v.LoadShare, want, v)
	}
	joined := strings.Join(v.Reasons, " ")
	if !strings.Contains(joined, "worker eu-west-1/0 ran ") || !strings.Contains(joined, "below the minimum 90.0%") {
		t.Errorf("reasons %q", v.Reasons)
	}
	if res.Total.Requests != 400+w.Requests {
		t.Errorf("total %d, want %d", res.Total.Requests, 400+w.Requests)
	}
}

func TestECSMergedProfileIsThePlans(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond})
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 3}, distributed.Options{RunnerClass: "aws/1vcpu-2gb/x3/eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Profile.Rate != 100 || res.Profile.Model != "open" {
		t.Fatalf("merged profile %+v, want the plan's rate 100/s", res.Profile)
	}
	// A single-process baseline of the same plan: only a runner-class warning.
	single := &distributed.Synthetic{Share: distributed.Share{RateScale: 1, StartAt: time.Now()}, Requests: 50}
	base, err := single.Run(context.Background(), testPlan())
	if err != nil {
		t.Fatal(err)
	}
	base.Run.RunnerClass = "local/4cpu"
	warnings, err := gate.Compatible([]*results.File{base}, res, gate.Policy{})
	if err != nil {
		t.Fatalf("a single-process baseline of the same plan is refused: %v", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "runner class") {
		t.Errorf("warnings %q, want one about the runner class", warnings)
	}
}

func TestECSInterruptDuringLaunchStopsEveryTask(t *testing.T) {
	t.Parallel()
	// 25 tasks: the first RunTask (10) answers at once; the second starts
	// its 10 tasks but its answer is held until the client gives up, so
	// loadgate never learns their ARNs; the third is never sent. The tasks
	// are also unknown to the API for 300 ms (eventual consistency).
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond, StopGrace: time.Second,
		ReplyDelay: func(op string, n int) time.Duration {
			if op == "RunTask" && n == 1 {
				return time.Minute
			}
			return 0
		},
		ConsistencyLag: func(int) time.Duration { return 300 * time.Millisecond }})
	f.ecs = func(o *ECSOptions) { o.SettleTime = time.Second }
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if len(f.emu.Tasks()) >= 20 {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	res, _, err := f.run(t, ctx, map[string]int{"eu-west-1": 25}, distributed.Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if res == nil || !res.Run.Partial || res.Validity.Valid || res.Total.Requests != 0 ||
		!strings.Contains(strings.Join(res.Validity.Reasons, " "), "interrupted while launching workers") {
		t.Fatalf("results %+v", res)
	}
	if n := len(f.emu.Tasks()); n != 20 {
		t.Fatalf("%d tasks started, want 20", n)
	}
	allStopped(t, f, 15*time.Second)
	if f.emu.Calls()["ListTasks"] == 0 {
		t.Errorf("the tasks of the cut-off RunTask were not looked for: %v", f.emu.Calls())
	}
}

func TestECSRegionRefusingIsInfrastructure(t *testing.T) {
	t.Parallel()
	// us-east-1 denies RunTask (a role without the permission there).
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond,
		Fault: func(op, region string) string {
			if op == "RunTask" && region == "us-east-1" {
				return "AccessDeniedException"
			}
			return ""
		}})
	// 9 of 10 tasks in the healthy region: losing the other one would only
	// degrade the run, which is not what an access error means.
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 9, "us-east-1": 1}, distributed.Options{})
	var ie *distributed.InfraError
	var re *RegionError
	var denied *types.AccessDeniedException
	if res != nil || !errors.As(err, &ie) || !errors.As(err, &re) || re.Region != "us-east-1" || !errors.As(err, &denied) {
		t.Fatalf("res %v err %v, want an InfraError for us-east-1's AccessDeniedException", res != nil, err)
	}
	if n := f.emu.Calls()["RunTask"]; n > 3 {
		t.Errorf("RunTask %d calls: an access error is not retried", n)
	}
	allStopped(t, f, 15*time.Second)
}

func TestTaskSizeFromTaskDefinition(t *testing.T) {
	t.Parallel()
	f := newFixture(t, ecsemu.Options{TaskDefinitions: map[string]ecsemu.TaskDefinition{
		"loadgate-worker": {Revision: 3, CPU: "4096", Memory: "8192"}}})
	env := Env{Getenv: f.getenv}
	regions := []Region{{Name: "eu-west-1", TaskDefinition: "loadgate-worker:3"}, {Name: "us-east-1", TaskDefinition: "loadgate-worker"}}
	sizes, err := TaskSizes(context.Background(), regions, env.ECS)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range regions {
		if s := sizes[r.Name]; s.VCPU != 4 || s.MemoryGB != 8 || !strings.HasSuffix(s.TaskDefinition, "task-definition/loadgate-worker:3") {
			t.Errorf("%s: size %+v", r.Name, s)
		}
	}
	// 4 vCPU / 8 GB tasks cost 4 times the flags' old default of 1 vCPU / 2 GB.
	e := EstimateCost(map[string]int{"eu-west-1": 10}, sizes, time.Hour)
	small := EstimateCost(map[string]int{"eu-west-1": 10}, map[string]TaskSize{"eu-west-1": {VCPU: 1, MemoryGB: 2}}, time.Hour)
	if math.Abs(e.USD-4*small.USD) > 1e-9 || !strings.Contains(e.String(), "4 vCPU, 8 GB (loadgate-worker:3)") {
		t.Errorf("estimate $%v (small $%v):\n%s", e.USD, small.USD, e)
	}
	if c := RunnerClass(sizes, []string{"eu-west-1", "us-east-1"}, 10); c != "aws/4vcpu-8gb/x10/eu-west-1+us-east-1" {
		t.Errorf("runner class %s", c)
	}
	// A family the region does not have: the estimate cannot be made.
	_, err = TaskSizes(context.Background(), []Region{{Name: "eu-west-1", TaskDefinition: "other:1"}}, env.ECS)
	var re *RegionError
	var ce *types.ClientException
	if !errors.As(err, &re) || re.Op != "DescribeTaskDefinition" || !errors.As(err, &ce) {
		t.Errorf("unknown task definition: %v", err)
	}
}

// forbidMissing answers a GET of a missing object 403 AccessDenied, as S3
// does for a caller whose ListBucket grant does not cover the key, and
// refuses GETs of keys under "secret/" outright.
type forbidMissing struct{ next http.Handler }

func (h forbidMissing) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && !r.URL.Query().Has("list-type") {
		rec := httptest.NewRecorder()
		h.next.ServeHTTP(rec, r)
		if rec.Code == http.StatusNotFound || strings.Contains(r.URL.Path, "/secret/") {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`)
			return
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	h.next.ServeHTTP(w, r)
}

func TestS3MissingKeyAnsweredForbidden(t *testing.T) {
	t.Parallel()
	be := s3mem.New()
	if err := be.CreateBucket(bucket); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(forbidMissing{gofakes3.New(be).Server()})
	defer srv.Close()
	env := Env{Getenv: envMap{"AWS_ACCESS_KEY_ID": "AKID", "AWS_SECRET_ACCESS_KEY": "s", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ENDPOINT_URL_S3": srv.URL}.get}
	ctx := context.Background()
	st, err := NewS3Store(ctx, "s3://"+bucket+"/runs", "us-east-1", env)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "r/start/eu-west-1.json"); !errors.Is(err, distributed.ErrNotFound) {
		t.Fatalf("missing key: %v, want ErrNotFound", err)
	}
	if err := st.Put(ctx, "r/start/eu-west-1.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if b, err := st.Get(ctx, "r/start/eu-west-1.json"); err != nil || string(b) != "{}" {
		t.Fatalf("written key: %q %v", b, err)
	}
	// A key that exists but is forbidden stays an error.
	if err := st.Put(ctx, "secret/x.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Get(ctx, "secret/x.json"); err == nil || errors.Is(err, distributed.ErrNotFound) || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("forbidden key: %v", err)
	}
}

type envMap map[string]string

func (m envMap) get(k string) string { return m[k] }

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]float64{"1024": 1, "256": 0.25, "4096": 4, "1 vCPU": 1, "0.5 vcpu": 0.5} {
		if got, err := parseSize(in, "vcpu", 1024); err != nil || got != want {
			t.Errorf("parseSize(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "-1024", "NaN", "x vCPU", "1 GB", "+Inf"} {
		if got, err := parseSize(bad, "vcpu", 1024); err == nil {
			t.Errorf("parseSize(%q) = %v, want an error", bad, got)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1024", "2048", "1 vCPU", "8 GB", "0.25 vcpu", "", "-1", "NaN", "1e400", "Inf gb"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := parseSize(s, "gb", 1024)
		if err == nil && !(v > 0 && !math.IsInf(v, 0)) {
			t.Fatalf("parseSize(%q) = %v without an error", s, v)
		}
	})
}
