package pipeline

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/report"
	"github.com/loadgate/loadgate/results"
)

// run is a results file of one endpoint: 10 one-second windows of 60
// requests around medianMs (deterministic per seed).
func run(t *testing.T, seed uint64, medianMs float64) *results.File {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	start := time.Date(2026, 11, 26, 1, 0, 0, 0, time.UTC)
	ep := results.Endpoint{Name: "list", Method: "GET", Precision: results.PrecisionExact, Histogram: results.NewHistogram(), Status: map[string]int64{}}
	for w := 0; w < 10; w++ {
		win := results.Window{Start: start.Add(time.Duration(w) * time.Second), Width: results.Duration(time.Second), Histogram: results.NewHistogram(), OfferedRPS: 60}
		for i := 0; i < 60; i++ {
			d := time.Duration(medianMs * (0.9 + 0.2*rng.Float64()) * float64(time.Millisecond))
			win.Histogram.Record(d)
			ep.Histogram.Record(d)
			win.Requests++
		}
		ep.Requests += win.Requests
		ep.Windows = append(ep.Windows, win)
	}
	ep.Status["200"] = ep.Requests
	f := &results.File{
		Schema:    results.Schema,
		Plan:      results.PlanRef{Name: "api", Hash: "h1"},
		Run:       results.Run{ID: "r", Started: start, Ended: start.Add(10 * time.Second), Runner: "local", RunnerClass: "local/test", Workers: 1},
		Profile:   results.Profile{Type: "load", Model: "open", Rate: 60, Duration: results.Duration(10 * time.Second)},
		Validity:  results.Validity{Valid: true, Scheduled: ep.Requests, Sent: ep.Requests},
		Endpoints: []results.Endpoint{ep},
	}
	f.Finalize(10 * time.Second)
	return f
}

func testEnv() (Env, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return Env{Stdout: &out, Stderr: &errOut, Getenv: func(string) string { return "" }}, &out, &errOut
}

func TestRunJudgesExistingResultsAndWritesReports(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	basePath := filepath.Join(dir, "base.json")
	if err := results.WriteFile(basePath, run(t, 1, 10)); err != nil {
		t.Fatal(err)
	}
	env, out, _ := testEnv()
	verdictPath := filepath.Join(dir, "verdict.json")
	o := Run(context.Background(), Job{Env: env, Head: run(t, 2, 15), Baseline: BaselineSource{Path: basePath, Required: true},
		Reports: []ReportSpec{{Format: report.FormatJSON, Path: verdictPath}}})
	if o.Err != nil || o.Verdict == nil || o.Verdict.Decision != gate.Regressed || o.Exit != ExitFail || len(o.Base) != 1 {
		t.Fatalf("outcome %+v", o)
	}
	if !strings.Contains(out.String(), "list") {
		t.Errorf("no terminal report:\n%s", out.String())
	}
	f, err := os.Open(verdictPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := report.DecodeVerdict(f)
	if err != nil || doc.Verdict == nil || doc.ExitCode != ExitFail {
		t.Errorf("verdict report: %v %+v", err, doc)
	}
}

func TestRunRefusesAnIncompatibleBaseline(t *testing.T) {
	t.Parallel()
	other := run(t, 2, 10)
	other.Plan.Hash = "h2"
	env, _, _ := testEnv()
	job := Job{Env: env, Head: other, Baseline: BaselineSource{Runs: []*results.File{run(t, 1, 10)}}}
	o := Run(context.Background(), job)
	if o.Exit != ExitUsage || o.Verdict != nil || o.Err == nil || !strings.Contains(o.Err.Error(), "--allow-plan-change") {
		t.Fatalf("incompatible baseline: %+v", o)
	}
	job.Policy.AllowPlanChange = true
	if o := Run(context.Background(), job); o.Err != nil || o.Verdict == nil || o.Verdict.Decision == gate.Incompatible {
		t.Errorf("allowed plan change: %+v", o)
	}
	// The MCP server's Verdict says "incompatible" instead of failing.
	if v := Verdict(nil, []*results.File{run(t, 1, 10)}, other, PolicyOptions{}); v.Decision != gate.Incompatible || len(v.Incompatible) == 0 {
		t.Errorf("Verdict: %q %q", v.Decision, v.Incompatible)
	}
}

func TestRunMissingBaseline(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "baselines", "api.json")
	env, _, errOut := testEnv()
	o := Run(context.Background(), Job{Env: env, Head: run(t, 1, 10), Baseline: BaselineSource{Path: missing}})
	if o.Err != nil || o.Verdict == nil || len(o.Base) != 0 || !strings.Contains(errOut.String(), "SLOs only") {
		t.Errorf("missing baseline, not required: %+v\n%s", o, errOut.String())
	}
	o = Run(context.Background(), Job{Env: env, Head: run(t, 1, 10), Baseline: BaselineSource{Path: missing, Required: true}})
	if o.Exit != ExitUsage || o.Verdict != nil {
		t.Errorf("missing baseline, required: %+v", o)
	}
}

func TestRunUpdatesTheBaselineOnlyOnAPass(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "api.json")
	env, _, _ := testEnv()
	job := Job{Env: env, Head: run(t, 1, 10), Baseline: BaselineSource{Path: path}, UpdateBaseline: true, Keep: 3}
	if o := Run(context.Background(), job); o.Exit != ExitPass || o.Err != nil {
		t.Fatalf("first run: %+v", o)
	}
	b, err := baselines.Load(path)
	if err != nil || len(b.Runs) != 1 {
		t.Fatalf("baseline after a pass: %v %+v", err, b)
	}
	job.Head = run(t, 2, 20) // twice as slow: regressed, not appended
	if o := Run(context.Background(), job); o.Exit != ExitFail {
		t.Fatalf("slow run: %+v", o)
	}
	if b, err := baselines.Load(path); err != nil || len(b.Runs) != 1 {
		t.Errorf("a regressed run was appended: %v", err)
	}
}

func TestRunValidatesThePolicyFirst(t *testing.T) {
	t.Parallel()
	env, _, _ := testEnv()
	o := Run(context.Background(), Job{Env: env, HeadFile: "does-not-matter.json", Policy: PolicyOptions{Confidence: 2}})
	if o.Exit != ExitUsage || !strings.Contains(o.Err.Error(), "--confidence") {
		t.Errorf("%+v", o)
	}
}

// cleanRunner fails like an interrupted distributed run and records how it
// was cleaned up.
type cleanRunner struct {
	cleaned  bool
	cleanCtx error
}

func (r *cleanRunner) Run(ctx context.Context, _ *plan.Plan) (*results.File, error) {
	<-ctx.Done()
	return nil, fmt.Errorf("distributed run interrupted: %w", ctx.Err())
}

func (r *cleanRunner) Cleanup(ctx context.Context) error {
	r.cleaned, r.cleanCtx = true, ctx.Err()
	return nil
}

// An interrupted run whose runner holds resources (worker processes, ECS
// tasks) is cleaned up with a context that is still live, and ends with
// exit 4 even when it stopped before any result.
func TestExecuteCleansUpAnInterruptedRun(t *testing.T) {
	t.Parallel()
	p, err := plan.Parse([]byte("name: p\ntarget: http://127.0.0.1:1\nendpoints:\n  - name: a\n    request: GET /\nprofile:\n  type: load\n  rate: 1/s\n  duration: 1s\n"), "p.yaml", "", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	r := &cleanRunner{}
	env, _, _ := testEnv()
	_, err = Execute(ctx, env, p, RunOptions{Runner: r})
	if Code(err) != ExitInvalid || !strings.Contains(err.Error(), "interrupted") {
		t.Errorf("exit %d: %v", Code(err), err)
	}
	if !r.cleaned || r.cleanCtx != nil {
		t.Errorf("cleaned %v with context error %v; want a cleanup with a live context", r.cleaned, r.cleanCtx)
	}
}
