package distributed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/runnertest"
)

// goLauncher runs workers as goroutines of the test, with faults by index.
type goLauncher struct {
	store    Store
	requests int
	never    map[int]bool // never starts (stays pending)
	fail     map[int]bool // runner fails: no results
	block    map[int]bool // runs until stopped
	getenv   func(string) string
	probe    bool // each worker sends one real request per endpoint first

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
			err := RunWorker(wctx, WorkerOptions{Store: l.store, RunID: run, Index: s.Index, Region: s.Region, Getenv: l.getenv,
				NewRunner: func(sh Share) (runners.Runner, error) {
					switch {
					case l.fail[s.Index]:
						return failRunner{}, nil
					case l.block[s.Index]:
						return blockRunner{}, nil
					}
					syn := &Synthetic{Share: sh, Requests: l.requests, MaxWindows: 5}
					if l.probe {
						return runnertest.Probe{Next: syn}, nil
					}
					return syn, nil
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

func FuzzDecodePlan(f *testing.F) {
	b, _, _ := encodePlan(testPlan())
	f.Add(b)
	f.Add([]byte(`{"plan":null}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"plan":{"target":"${X}"}}`))
	f.Add([]byte(`{"plan":{"tls":{"key_env":"AWS_SECRET_ACCESS_KEY"}}}`))
	f.Add([]byte(`{"plan":{"tls":{"key_env":"LOADGATE_TLS_KEY","cert_pem":"x"}}}`))
	// A shipped mTLS plan, and workers that have its key.
	k := runnertest.NewPKI(f)
	p := testPlan()
	p.Target, p.Dir, p.TLS = "https://127.0.0.1:9", k.Dir, plan.TLS{CAFile: "ca.pem", CertFile: "client.pem", KeyFile: "client-key.pem"}
	mtls, _, err := encodePlan(p)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(mtls)
	env := func(name string) string {
		switch name {
		case "X":
			return "x"
		case TLSKeyEnv:
			return string(k.ClientKey)
		}
		return ""
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := decodePlan(data, env)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes and decodes to the same hash.
		b, _, err := encodePlan(p)
		if err != nil {
			return // body_file that cannot be read
		}
		q, err := decodePlan(b, env)
		if err != nil || q.Hash() != p.Hash() {
			t.Fatalf("round trip: %v", err)
		}
	})
}

// secretServer records what the target receives: requests whose
// Authorization header is exactly want, requests with anything else, and
// whether a body or URL carried want's token.
type secretServer struct {
	*httptest.Server
	mu        sync.Mutex
	good, bad int
	seen      []string
}

func newSecretServer(t *testing.T, token string) *secretServer {
	s := &secretServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		defer s.mu.Unlock()
		if r.Header.Get("Authorization") == "Bearer "+token && r.URL.Query().Get("key") == token && string(body) == `{"pw":"`+token+`"}` {
			s.good++
		} else {
			s.bad++
			s.seen = append(s.seen, fmt.Sprintf("%s %s auth=%q body=%q", r.Method, r.URL, r.Header.Get("Authorization"), body))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *secretServer) counts() (good, bad int, seen []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.good, s.bad, append([]string(nil), s.seen...)
}

const secretToken = "lg-s3cr3t-T0KEN-4f1c"

func secretPlan(t *testing.T, target string, getenv func(string) string) *plan.Plan {
	t.Helper()
	src := `name: secret
target: ` + target + `
targets: {allow: [127.0.0.1]}
defaults:
  headers: {Authorization: "Bearer ${LG_TEST_TOKEN}"}
endpoints:
  - name: a
    request: POST /a?key=${LG_TEST_TOKEN}
    body: '{"pw":"${LG_TEST_TOKEN}"}'
profile: {type: load, rate: 10/s, duration: 1s}
`
	p, err := plan.Parse([]byte(src), "secret.yaml", ".", getenv)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func tokenEnv(k string) string {
	if k == "LG_TEST_TOKEN" {
		return secretToken
	}
	return ""
}

// filesHolding returns the files under root whose content holds s.
func filesHolding(t *testing.T, root, s string) (holding []string, n int) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(s)) {
			holding = append(holding, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return holding, n
}

func TestSecretsStayOutOfTheStore(t *testing.T) {
	t.Parallel()
	srv := newSecretServer(t, secretToken)
	root := t.TempDir()
	l := &goLauncher{store: &DirStore{Root: root}, requests: 50, getenv: tokenEnv, probe: true}
	p := secretPlan(t, srv.URL, tokenEnv)
	f, err := New(fastOptions(t, l, 4)).Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Validity.Valid || f.Run.Workers != 4 {
		t.Fatalf("validity %+v workers %+v", f.Validity, f.Workers)
	}
	// Every worker resolved the reference from its environment and sent the
	// real values.
	if good, bad, seen := srv.counts(); good != 4 || bad != 0 {
		t.Fatalf("target saw %d requests with the token, %d without: %q", good, bad, seen)
	}
	holding, n := filesHolding(t, root, secretToken)
	if len(holding) > 0 {
		t.Errorf("the exchange holds the token in %v", holding)
	}
	if n < 4+4+2+2 { // plan, manifest, ready ×4, results ×4, start ×2
		t.Errorf("only %d files in the exchange", n)
	}
	stored, err := l.store.Get(context.Background(), planKey("run-1"))
	if err != nil || !bytes.Contains(stored, []byte("Bearer ${LG_TEST_TOKEN}")) || !bytes.Contains(stored, []byte(`"env":["LG_TEST_TOKEN"]`)) {
		t.Errorf("stored plan (%v): %s", err, stored)
	}
	var merged bytes.Buffer
	if err := results.Encode(&merged, f); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(merged.Bytes(), []byte(secretToken)) || !bytes.Contains(merged.Bytes(), []byte("key=***")) {
		t.Errorf("merged results hold the token or no redacted URL:\n%s", merged.Bytes())
	}
	if f.Plan.Hash != p.Hash() {
		t.Errorf("merged plan hash %s, plan's %s", f.Plan.Hash, p.Hash())
	}
}

func TestWorkerWithoutSecretVariableFailsBeforeSending(t *testing.T) {
	t.Parallel()
	srv := newSecretServer(t, secretToken)
	root := t.TempDir()
	l := &goLauncher{store: &DirStore{Root: root}, requests: 50, probe: true,
		getenv: func(k string) string { return "" }}
	o := fastOptions(t, l, 2)
	o.StartTimeout = 5 * time.Second
	_, err := New(o).Run(context.Background(), secretPlan(t, srv.URL, tokenEnv))
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "LG_TEST_TOKEN") || !strings.Contains(err.Error(), "task definition") {
		t.Fatalf("err %v, want a ConfigError naming LG_TEST_TOKEN", err)
	}
	if good, bad, seen := srv.counts(); good+bad != 0 {
		t.Fatalf("target got requests: %q", seen)
	}
	if holding, _ := filesHolding(t, root, secretToken); len(holding) > 0 {
		t.Errorf("the exchange holds the token in %v", holding)
	}
	// Directly: a worker never sends the literal reference.
	pb, _, err := encodePlan(secretPlan(t, srv.URL, tokenEnv))
	if err != nil {
		t.Fatal(err)
	}
	_, err = decodePlan(pb, nil)
	var ee *EnvError
	if !errors.As(err, &ee) || len(ee.Names) != 1 || ee.Names[0] != "LG_TEST_TOKEN" {
		t.Fatalf("decode without the variable: %v", err)
	}
}

func TestPlanRoundTrip(t *testing.T) {
	t.Parallel()
	p := secretPlan(t, "http://127.0.0.1:9", tokenEnv)
	b, needs, err := encodePlan(p)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(secretToken)) || len(needs) != 1 || needs[0] != "LG_TEST_TOKEN" {
		t.Fatalf("stored %s needs %v", b, needs)
	}
	q, err := decodePlan(b, tokenEnv)
	if err != nil {
		t.Fatal(err)
	}
	if p.Hash() != q.Hash() || len(q.Secrets) != 1 || q.Secrets[0] != secretToken || q.Defaults.Headers["Authorization"] != "Bearer "+secretToken ||
		q.Endpoints[0].Path != "/a?key="+secretToken || q.Profile.Rate != 10 {
		t.Fatalf("round trip: %+v", q)
	}
	// A plan whose secrets have no known variable is not stored at all.
	bad := testPlan()
	bad.Secrets = []string{"tok"}
	bad.Defaults.Headers = map[string]string{"Authorization": "Bearer tok"}
	if b, _, err := encodePlan(bad); err == nil {
		t.Fatalf("stored a secret of unknown origin: %s", b)
	}
}
