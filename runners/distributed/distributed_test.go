package distributed

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// goLauncher runs workers as goroutines of the test, with faults by index.
type goLauncher struct {
	store    Store
	requests int
	never    map[int]bool // never starts (stays pending)
	fail     map[int]bool // runner fails: no results
	block    map[int]bool // runs until stopped

	mu     sync.Mutex
	states map[string]TaskState
	cancel map[string]context.CancelFunc
	wg     sync.WaitGroup
}

func (l *goLauncher) Launch(ctx context.Context, run string, specs []WorkerSpec) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states, l.cancel = map[string]TaskState{}, map[string]context.CancelFunc{}
	for _, s := range specs {
		if l.never[s.Index] {
			l.states[s.ID()] = TaskState{Phase: PhasePending}
			continue
		}
		wctx, cancel := context.WithCancel(context.Background())
		l.cancel[s.ID()] = cancel
		l.states[s.ID()] = TaskState{Phase: PhaseRunning}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			err := RunWorker(wctx, WorkerOptions{Store: l.store, RunID: run, Index: s.Index, Region: s.Region,
				NewRunner: func(sh Share) (runners.Runner, error) {
					switch {
					case l.fail[s.Index]:
						return failRunner{}, nil
					case l.block[s.Index]:
						return blockRunner{}, nil
					}
					return &Synthetic{Share: sh, Requests: l.requests, MaxWindows: 5}, nil
				}})
			l.mu.Lock()
			reason := "exit 0"
			if err != nil {
				reason = err.Error()
			}
			l.states[s.ID()] = TaskState{Phase: PhaseStopped, Reason: reason}
			l.mu.Unlock()
		}()
	}
	return nil
}

func (l *goLauncher) State(context.Context) (map[string]TaskState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]TaskState{}
	for k, v := range l.states {
		out[k] = v
	}
	return out, nil
}

func (l *goLauncher) Stop(context.Context, string) error {
	l.mu.Lock()
	for _, c := range l.cancel {
		c()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return nil
}

type failRunner struct{}

func (failRunner) Run(context.Context, *plan.Plan) (*results.File, error) {
	return nil, errors.New("generator crashed")
}

type blockRunner struct{}

func (blockRunner) Run(ctx context.Context, _ *plan.Plan) (*results.File, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

func testPlan() *plan.Plan {
	return &plan.Plan{
		Name: "t", Target: "http://127.0.0.1:9", Targets: plan.Targets{Allow: []string{"127.0.0.0/8"}},
		Endpoints: []plan.Endpoint{{Name: "a", Method: "GET", Path: "/a", Weight: 1}, {Name: "b", Method: "GET", Path: "/b", Weight: 1}},
		Profile:   plan.Profile{Type: plan.ProfileLoad, Rate: 100, Duration: 3 * time.Second},
	}
}

func fastOptions(t *testing.T, l *goLauncher, n int) Options {
	specs, err := Split(n, []string{"r1", "r2"}, []float64{1, 1})
	if err != nil {
		t.Fatal(err)
	}
	return Options{Store: l.store, Launcher: l, RunID: "run-1", Workers: specs, PollInterval: 20 * time.Millisecond,
		StartLead: 50 * time.Millisecond, StartTimeout: 20 * time.Second, ResultGrace: 30 * time.Second}
}

func TestCoordinatorMergesExactly(t *testing.T) {
	t.Parallel()
	store := &DirStore{Root: t.TempDir()}
	l := &goLauncher{store: store, requests: 500}
	f, err := New(fastOptions(t, l, 4)).Run(context.Background(), testPlan())
	if err != nil {
		t.Fatal(err)
	}
	if !f.Validity.Valid || f.Validity.Degraded || f.Validity.LoadShare != 1 || f.Run.Workers != 4 {
		t.Fatalf("validity %+v workers %d %+v", f.Validity, f.Run.Workers, f.Workers)
	}
	for j, name := range []string{"a", "b"} {
		want := results.NewHistogram()
		for i := range 4 {
			for _, us := range SyntheticLatencies(SyntheticSeed(i, j), 500) {
				want.RecordMicros(us)
			}
		}
		e := f.Endpoint(name)
		if e.Requests != 2000 {
			t.Errorf("%s: requests %d, want 2000 (sum of workers)", name, e.Requests)
		}
		if e.Latency != want.Summary() {
			t.Errorf("%s: merged latency %+v, want that of one histogram of all samples %+v", name, e.Latency, want.Summary())
		}
	}
	var sum int64
	for _, w := range f.Workers {
		sum += w.Requests
		if w.Missing || w.Started.IsZero() {
			t.Errorf("worker %+v", w)
		}
	}
	if sum != f.Total.Requests {
		t.Errorf("workers' requests %d != total %d", sum, f.Total.Requests)
	}
	if f.Validity.StartSkewMs < 0 || f.Validity.StartSkewMs > 1000 {
		t.Errorf("start skew %v ms", f.Validity.StartSkewMs)
	}
}

func TestCoordinatorDegradedAndInvalid(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		l         *goLauncher
		n         int
		min       float64
		wantValid bool
		missing   string
	}{
		{"one of ten fails: degraded, still valid", &goLauncher{fail: map[int]bool{3: true}}, 10, 0.85, true, "generator crashed"},
		{"one of three fails: invalid", &goLauncher{fail: map[int]bool{1: true}}, 3, 0.9, false, "generator crashed"},
		{"one never starts: excluded", &goLauncher{never: map[int]bool{2: true}}, 10, 0.85, true, "not ready"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := tc.l
			l.store, l.requests = &DirStore{Root: t.TempDir()}, 100
			o := fastOptions(t, l, tc.n)
			o.MinLoadShare = tc.min
			if l.never != nil {
				o.StartTimeout = 3 * time.Second
			}
			f, err := New(o).Run(context.Background(), testPlan())
			if err != nil {
				t.Fatal(err)
			}
			if !f.Validity.Degraded || f.Validity.Valid != tc.wantValid || len(f.Validity.MissingWorkers) != 1 {
				t.Fatalf("validity %+v", f.Validity)
			}
			var found bool
			for _, w := range f.Workers {
				if w.Missing {
					found = strings.Contains(w.Reason, tc.missing)
					t.Logf("missing %s: %s", w.ID, w.Reason)
				}
			}
			if !found {
				t.Errorf("missing worker's reason does not say %q: %+v", tc.missing, f.Workers)
			}
			if want := float64(tc.n-1) / float64(tc.n); f.Validity.LoadShare < want-1e-9 || f.Validity.LoadShare > want+1e-9 {
				t.Errorf("load share %v, want %v", f.Validity.LoadShare, want)
			}
		})
	}
}

func TestCoordinatorTooFewReadyIsInvalid(t *testing.T) {
	t.Parallel()
	l := &goLauncher{never: map[int]bool{0: true, 1: true}}
	l.store, l.requests = &DirStore{Root: t.TempDir()}, 10
	o := fastOptions(t, l, 3)
	o.StartTimeout = 200 * time.Millisecond
	f, err := New(o).Run(context.Background(), testPlan())
	if err != nil {
		t.Fatal(err)
	}
	if f.Validity.Valid || len(f.Validity.MissingWorkers) != 3 || f.Total.Requests != 0 || !strings.Contains(f.Validity.Reasons[0], "1 of 3 workers ready") {
		t.Fatalf("validity %+v", f.Validity)
	}
	// The waiting worker saw the abort and exited.
	l.wg.Wait()
}

func TestCoordinatorCancelStopsWorkers(t *testing.T) {
	t.Parallel()
	l := &goLauncher{block: map[int]bool{0: true, 1: true, 2: true}}
	l.store = &DirStore{Root: t.TempDir()}
	ctx, cancel := context.WithCancel(context.Background())
	c := New(fastOptions(t, l, 3))
	done := make(chan error, 1)
	go func() { _, err := c.Run(ctx, testPlan()); done <- err }()
	// Cancel once every worker runs (the start signal is out).
	for {
		keys, _ := l.store.List(ctx, "run-1/start/")
		if len(keys) == 2 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	err := <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	st, _ := l.State(context.Background())
	for id, s := range st {
		if s.Phase != PhaseStopped {
			t.Errorf("worker %s still %s after cancel", id, s.Phase)
		}
	}
	if err := c.Cleanup(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestCoordinatorRefusesUnlistedTarget(t *testing.T) {
	t.Parallel()
	p := testPlan()
	p.Target = "https://example.com"
	p.Limits.MaxWorkers = 2
	l := &goLauncher{store: &DirStore{Root: t.TempDir()}}
	_, err := New(fastOptions(t, l, 4)).Run(context.Background(), p)
	var te *TargetError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "max_workers") {
		t.Fatalf("err %v, want target and max_workers refusals", err)
	}
	if l.states != nil {
		t.Fatal("workers launched despite refusal")
	}
}

func TestCheckTargets(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		target string
		allow  []string
		ok     bool
	}{
		{"http://127.0.0.1:8080", []string{"127.0.0.0/8"}, true},
		{"http://[::1]:8080", []string{"::1"}, true},
		{"https://api.example.com/x", []string{"API.example.com"}, true},
		{"https://api.example.com", []string{"example.com"}, false},
		{"https://10.1.2.3", []string{"10.0.0.0/16"}, false},
		{"https://10.1.2.3", nil, false},
		{"not a url", []string{"*"}, false},
	} {
		err := CheckTargets(&plan.Plan{Target: tc.target, Targets: plan.Targets{Allow: tc.allow}})
		if (err == nil) != tc.ok {
			t.Errorf("%s allow %v: err %v", tc.target, tc.allow, err)
		}
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	specs, err := Split(10, []string{"a", "b", "c"}, []float64{1, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	var sum float64
	for i, s := range specs {
		if s.Index != i {
			t.Fatalf("index %d at %d", s.Index, i)
		}
		count[s.Region]++
		sum += s.RateScale
	}
	if count["a"]+count["b"]+count["c"] != 10 || count["a"] < 3 || count["c"] < 3 || sum < 0.999999 || sum > 1.000001 {
		t.Fatalf("counts %v sum %v", count, sum)
	}
	if _, err := Split(0, nil, nil); err == nil {
		t.Fatal("0 workers accepted")
	}
	if _, err := Split(2, []string{"a"}, []float64{-1}); err == nil {
		t.Fatal("negative weight accepted")
	}
}

func TestDirStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := &DirStore{Root: t.TempDir()}
	for i := range 3 {
		if err := s.Put(ctx, fmt.Sprintf("r/workers/x/%d.json", i), []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.List(ctx, "r/workers/")
	if err != nil || len(keys) != 3 || keys[0] != "r/workers/x/0.json" {
		t.Fatalf("list %v %v", keys, err)
	}
	if b, err := s.Get(ctx, "r/workers/x/2.json"); err != nil || b[0] != 2 {
		t.Fatalf("get %v %v", b, err)
	}
	if _, err := s.Get(ctx, "r/nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	if err := s.Put(ctx, "../escape", nil); err == nil {
		t.Fatal("key escaping the root accepted")
	}
	if err := s.Delete(ctx, "r/"); err != nil {
		t.Fatal(err)
	}
	if keys, _ := s.List(ctx, "r/"); len(keys) != 0 {
		t.Fatalf("after delete: %v", keys)
	}
}

func TestPlanRoundTrip(t *testing.T) {
	t.Parallel()
	p := testPlan()
	p.Secrets = []string{"tok"}
	p.Defaults.Headers = map[string]string{"Authorization": "Bearer tok"}
	b, err := encodePlan(p)
	if err != nil {
		t.Fatal(err)
	}
	q, err := decodePlan(b)
	if err != nil {
		t.Fatal(err)
	}
	if p.Hash() != q.Hash() || q.Secrets[0] != "tok" || q.Endpoints[1].Path != "/b" || q.Profile.Rate != 100 {
		t.Fatalf("round trip: %+v", q)
	}
}

func FuzzDecodePlan(f *testing.F) {
	b, _ := encodePlan(testPlan())
	f.Add(b)
	f.Add([]byte(`{"plan":null}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodePlan(data)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same hash.
		b, err := encodePlan(p)
		if err != nil {
			return // body_file that cannot be read
		}
		q, err := decodePlan(b)
		if err != nil || q.Hash() != p.Hash() {
			t.Fatalf("round trip: %v", err)
		}
	})
}
