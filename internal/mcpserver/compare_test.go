package mcpserver

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

// syntheticRun is a results file of one endpoint: 10 one-second windows of
// 60 requests with latencies around medianMs (deterministic per seed).
func syntheticRun(t *testing.T, seed uint64, medianMs float64) *results.File {
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

func writeResults(t *testing.T, dir, name string, f *results.File) string {
	t.Helper()
	var b bytes.Buffer
	if err := results.Encode(&b, f); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, filepath.FromSlash(name))
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

func TestCompareExplainAndBaselines(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, nil)
	base := syntheticRun(t, 1, 10)
	base.Run.StartedBy = &results.Launch{Via: "action", Repository: "o/r", RunID: "7"}
	bf := baselines.New(base, 5)
	if _, err := bf.Add(syntheticRun(t, 2, 10), 5); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(te.dir, "baselines"), 0o755)
	if err := baselines.WriteFile(filepath.Join(te.dir, "baselines", "api.json"), bf); err != nil {
		t.Fatal(err)
	}
	writeResults(t, te.dir, "same.json", syntheticRun(t, 3, 10))
	writeResults(t, te.dir, "slow.json", syntheticRun(t, 4, 15))

	var v gate.Verdict
	res := te.call(t, ToolCompare, map[string]any{"results": "slow.json", "baseline": "baselines/api.json"}, &v)
	if res.IsError {
		t.Fatal(text(res))
	}
	if v.Decision != gate.Regressed || len(v.Endpoints) != 1 || v.Endpoints[0].Name != "list" || len(v.Endpoints[0].Checks) == 0 {
		t.Errorf("slow vs baseline: %+v", v)
	}
	v = gate.Verdict{}
	te.call(t, ToolCompare, map[string]any{"results": "same.json", "base": "slow.json"}, &v)
	if v.Decision == gate.Regressed || v.Decision == "" {
		t.Errorf("same vs slow (faster) decided %q", v.Decision)
	}

	var ex ExplainOutput
	res = te.call(t, ToolExplainVerdict, map[string]any{"results": "slow.json", "baseline": "baselines/api.json"}, &ex)
	if ex.Decision != string(gate.Regressed) || !strings.Contains(ex.Markdown, "list") || text(res) != ex.Markdown {
		t.Errorf("explain_verdict: decision %q, markdown %.200q, text %.50q", ex.Decision, ex.Markdown, text(res))
	}

	wantToolError(t, te.call(t, ToolCompare, map[string]any{"results": "slow.json"}, nil), "exactly one of baseline")
	wantToolError(t, te.call(t, ToolCompare, map[string]any{"results": "slow.json", "baseline": "missing.json"}, nil), "missing.json")

	var lb ListBaselinesOutput
	te.call(t, ToolListBaselines, map[string]any{}, &lb)
	if len(lb.Baselines) != 1 {
		t.Fatalf("list_baselines = %+v (results files must not be listed)", lb)
	}
	b := lb.Baselines[0]
	if b.Path != "baselines/api.json" || b.Runs != 2 || b.Plan != "api" || b.URI != "loadgate://baselines/baselines/api.json" || len(b.Endpoints) != 1 {
		t.Errorf("baseline info = %+v", b)
	}
	rr, err := te.client.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: b.URI})
	if err != nil {
		t.Fatal(err)
	}
	if txt := rr.Contents[0].Text; !strings.Contains(txt, `"runs"`) || strings.Contains(txt, `"histogram"`) {
		t.Errorf("baseline resource: %.300s", txt)
	}
}

// The MCP compare tools take thresholds from the plan (the same mapping as
// `loadgate compare --plan`) instead of the default policy, and a baseline
// from another plan is an "incompatible" verdict, never a comparison.
func TestCompareUsesPlanPolicyAndChecksCompatibility(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, nil)
	writeResults(t, te.dir, "base.json", syntheticRun(t, 1, 10))
	writeResults(t, te.dir, "slow.json", syntheticRun(t, 4, 15))
	other := syntheticRun(t, 5, 10)
	other.Plan.Hash = "h2"
	writeResults(t, te.dir, "other.json", other)
	te.write(t, "lenient.yaml", planYAML("http://127.0.0.1:9", "", "gate: {p50: +100%, p90: +100%, p95: +100%, p99: +100%, max: +100%}\n"))

	var v gate.Verdict
	res := te.call(t, ToolCompare, map[string]any{"results": "slow.json", "base": "base.json"}, &v)
	if res.IsError || v.Decision != gate.Regressed {
		t.Fatalf("default policy: +50 %% latency decided %q (%s)", v.Decision, text(res))
	}
	v = gate.Verdict{}
	res = te.call(t, ToolCompare, map[string]any{"results": "slow.json", "base": "base.json", "plan": "lenient.yaml"}, &v)
	if res.IsError || v.Decision == gate.Regressed {
		t.Errorf("plan allowing +100 %%: decided %q (%s)", v.Decision, text(res))
	}
	var ex ExplainOutput
	res = te.call(t, ToolExplainVerdict, map[string]any{"results": "slow.json", "base": "base.json", "plan": "lenient.yaml"}, &ex)
	if res.IsError || ex.Decision == string(gate.Regressed) {
		t.Errorf("explain_verdict with the plan: decided %q (%s)", ex.Decision, text(res))
	}
	v = gate.Verdict{}
	res = te.call(t, ToolCompare, map[string]any{"results": "other.json", "base": "base.json", "plan": "lenient.yaml"}, &v)
	if res.IsError || v.Decision != gate.Incompatible || len(v.Incompatible) == 0 || len(v.Endpoints) != 0 {
		t.Errorf("baseline from another plan: decided %q, reasons %q (%s)", v.Decision, v.Incompatible, text(res))
	}
}
