package mcpserver

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/plan"
)

func mustPlan(t *testing.T, yaml string) *plan.Plan {
	t.Helper()
	p, err := plan.Parse([]byte(yaml), "t.yaml", t.TempDir(), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestApplyOverrides(t *testing.T) {
	t.Parallel()
	const stress = `name: s
target: http://127.0.0.1:9
endpoints: [{name: a, request: GET /a}]
profile: {type: stress, start_rate: 10/s, step_rate: 10/s, rate: 50/s, step_duration: 1s}
`
	p := mustPlan(t, stress)
	if err := applyOverrides(p, Overrides{Rate: 25}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if got := p.PeakRate(); got != 25 {
		t.Errorf("stress peak after rate override = %v, want 25", got)
	}
	if got := p.Schedule()[0].StartRate; got != 5 {
		t.Errorf("first step = %v, want 5 (scaled by 0.5)", got)
	}
	if err := applyOverrides(mustPlan(t, stress), Overrides{Duration: 2 * time.Second}, time.Minute); err == nil || !strings.Contains(err.Error(), "stress profile") {
		t.Errorf("duration override on stress: %v", err)
	}

	const load = `name: l
target: http://127.0.0.1:9
endpoints: [{name: a, request: GET /a}]
profile: {type: load, rate: 10/s, duration: 10s, warmup: 2s}
`
	p = mustPlan(t, load)
	if err := applyOverrides(p, Overrides{Duration: 5 * time.Second, Rate: 4}, time.Minute); err != nil {
		t.Fatal(err)
	}
	if p.TotalDuration() != 7*time.Second || p.PeakRate() != 4 {
		t.Errorf("load after overrides: total %v peak %v", p.TotalDuration(), p.PeakRate())
	}
	if err := applyOverrides(mustPlan(t, load), Overrides{Duration: 2 * time.Second}, time.Minute); err == nil || !strings.Contains(err.Error(), "warm-up") {
		t.Errorf("duration not longer than warm-up: %v", err)
	}
	vus := strings.Replace(load, "rate: 10/s", "vus: 5", 1)
	if err := applyOverrides(mustPlan(t, vus), Overrides{Rate: 1}, time.Minute); err == nil || !strings.Contains(err.Error(), "vus") {
		t.Errorf("rate override on closed model: %v", err)
	}
}

func TestRunPlanWaitWithBaselineAndRecentResources(t *testing.T) {
	t.Parallel()
	ts, _ := target(t)
	dir := t.TempDir()
	// A results file of an earlier session is listed as a resource at start-up.
	writeResults(t, dir, ".loadgate/runs/20261125T000000Z-aaaaaa/results.json", syntheticRun(t, 9, 10))
	os.MkdirAll(filepath.Join(dir, "baselines"), 0o755)
	if err := baselines.WriteFile(filepath.Join(dir, "baselines", "b.json"), baselines.New(syntheticRun(t, 1, 10), 5)); err != nil {
		t.Fatal(err)
	}
	te := newTestEnv(t, newHTTPRunner, func(o *Options) { o.Dir = dir })
	te.dir = dir

	lr, err := te.client.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Resources) != 1 || lr.Resources[0].URI != "loadgate://results/.loadgate/runs/20261125T000000Z-aaaaaa/results.json" {
		t.Fatalf("resources at start-up = %+v", lr.Resources)
	}

	pl := te.write(t, "p.yaml", planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", ""))
	var st RunStatus
	res := te.call(t, ToolRunPlan, map[string]any{"plan": pl, "baseline": "baselines/b.json", "wait": true}, &st)
	if res.IsError {
		t.Fatal(text(res))
	}
	if st.Status != StatusFinished || st.ResultsPath == "" {
		t.Fatalf("run_plan wait = %+v", st)
	}
	// The synthetic baseline is from another plan: the verdict says so
	// rather than comparing apples with oranges.
	if st.Verdict != "incompatible" || st.VerdictPath == "" {
		t.Errorf("verdict %q at %q", st.Verdict, st.VerdictPath)
	}
	if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(st.VerdictPath))); err != nil {
		t.Error(err)
	}
	lr, err = te.client.ListResources(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(lr.Resources) != 2 {
		t.Errorf("resources after a run = %d, want 2", len(lr.Resources))
	}
	rr, err := te.client.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "loadgate://runs/" + st.ID})
	if err != nil || !strings.Contains(rr.Contents[0].Text, `"status": "finished"`) {
		t.Errorf("run resource: %v %+v", err, rr)
	}

	// A baseline path outside the working directory is refused before the run.
	wantToolError(t, te.call(t, ToolRunPlan, map[string]any{"plan": pl, "baseline": "../b.json"}, nil), "outside the working directory")
}
