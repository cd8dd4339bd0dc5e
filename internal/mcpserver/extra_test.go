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
	uris := map[string]bool{}
	for _, r := range lr.Resources {
		uris[r.URI] = true
	}
	if len(lr.Resources) != 2 || !uris["loadgate://results/.loadgate/runs/20261125T000000Z-aaaaaa/results.json"] || !uris[planSchemaURI] {
		t.Fatalf("resources at start-up = %v", uris)
	}
	sch, err := te.client.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: planSchemaURI})
	if err != nil || !strings.Contains(sch.Contents[0].Text, "targets") {
		t.Errorf("plan schema resource: %v", err)
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
	if len(lr.Resources) != 3 {
		t.Errorf("resources after a run = %d, want 3", len(lr.Resources))
	}
	rr, err := te.client.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "loadgate://runs/" + st.ID})
	if err != nil || !strings.Contains(rr.Contents[0].Text, `"status": "finished"`) {
		t.Errorf("run resource: %v %+v", err, rr)
	}

	// A baseline path outside the working directory is refused before the run.
	wantToolError(t, te.call(t, ToolRunPlan, map[string]any{"plan": pl, "baseline": "../b.json"}, nil), "outside the working directory")
}

func TestServerAllowList(t *testing.T) {
	t.Parallel()
	if _, err := New(Options{Dir: t.TempDir(), AllowTargets: []string{"http://x"}}); err == nil {
		t.Error("a URL in --allow-target accepted")
	}
	if _, err := New(Options{Dir: t.TempDir(), AllowTargets: []string{"10.0.0.0/33"}}); err == nil {
		t.Error("a bad CIDR in --allow-target accepted")
	}
	te := newTestEnv(t, newHTTPRunner, func(o *Options) { o.AllowTargets = []string{"127.0.0.0/8", "staging.example.com"} })
	for _, tt := range []struct {
		target, allow string
		ok            bool
		want          string
	}{
		{"http://127.0.0.1:9", "[127.0.0.1]", true, ""},
		{"http://127.0.0.1:9", "[127.0.0.0/8]", true, ""},
		{"http://127.0.0.1:9", "[127.0.0.1, 10.0.0.0/8]", false, `entry "10.0.0.0/8" is wider`},
		{"http://127.0.0.1:9", "[127.0.0.0/7]", false, `entry "127.0.0.0/7" is wider`},
		{"http://staging.example.com", "[staging.example.com]", true, ""},
		{"http://api.example.com", "[api.example.com]", false, "target host api.example.com is not in the server's --allow-target list"},
		{"http://a.staging.example.com", "['*.staging.example.com']", false, "is wider"},
	} {
		var out ValidatePlanOutput
		te.call(t, ToolValidatePlan, map[string]any{"yaml": planYAML(tt.target, "targets: {allow: "+tt.allow+"}", "")}, &out)
		if out.Plan == nil {
			t.Errorf("%s %s: invalid plan %+v", tt.target, tt.allow, out.Problems)
			continue
		}
		if out.Plan.RunnableViaMCP != tt.ok || !strings.Contains(out.Plan.Refusal, tt.want) {
			t.Errorf("%s allow %s: runnable %v refusal %q; want %v %q", tt.target, tt.allow, out.Plan.RunnableViaMCP, out.Plan.Refusal, tt.ok, tt.want)
		}
	}
}
