package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/local"
)

// testEnv is a server and a connected client over the SDK's in-memory transport.
type testEnv struct {
	dir      string
	srv      *Server
	client   *mcp.ClientSession
	runners  atomic.Int32 // runners the factory built
	progress chan *mcp.ProgressNotificationParams
}

type envOption func(*Options)

func newTestEnv(t *testing.T, factory func(p *plan.Plan) (runners.Runner, error), opts ...envOption) *testEnv {
	t.Helper()
	te := &testEnv{dir: t.TempDir(), progress: make(chan *mcp.ProgressNotificationParams, 1000)}
	o := Options{
		Dir:    te.dir,
		Getenv: func(k string) string { return map[string]string{"GITHUB_ACTIONS": ""}[k] },
		Now:    func() time.Time { return time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC) },
	}
	if factory != nil {
		o.NewRunner = func(p *plan.Plan) (runners.Runner, error) {
			te.runners.Add(1)
			return factory(p)
		}
	}
	for _, f := range opts {
		f(&o)
	}
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	te.srv = s
	ctx := context.Background()
	// The server speaks on pipes what it speaks on stdio; the SDK's client
	// is the reference for what it must accept.
	toServer, clientOut := io.Pipe()
	clientIn, fromServer := io.Pipe()
	served := make(chan error, 1)
	go func() { served <- s.Serve(ctx, toServer, fromServer) }()
	c := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1.0"}, &mcp.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
			select {
			case te.progress <- req.Params:
			default:
			}
		},
	})
	cs, err := c.Connect(ctx, &mcp.IOTransport{Reader: clientIn, Writer: clientOut}, nil)
	if err != nil {
		t.Fatal(err)
	}
	te.client = cs
	t.Cleanup(func() {
		cs.Close()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		s.Close()
	})
	return te
}

func (te *testEnv) write(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(te.dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return name
}

// call invokes a tool; out (if non-nil) receives the structured content.
func (te *testEnv) call(t *testing.T, tool string, args any, out any) *mcp.CallToolResult {
	t.Helper()
	return te.callMeta(t, tool, args, nil, out)
}

func (te *testEnv) callMeta(t *testing.T, tool string, args any, meta mcp.Meta, out any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := te.client.CallTool(ctx, &mcp.CallToolParams{Name: tool, Arguments: args, Meta: meta})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", tool, err)
	}
	if out != nil && !res.IsError {
		b, err := json.Marshal(res.StructuredContent)
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: structured content %s: %v", tool, b, err)
		}
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

// wantToolError asserts a tool-level error whose text contains every want.
func wantToolError(t *testing.T, res *mcp.CallToolResult, want ...string) {
	t.Helper()
	if !res.IsError {
		t.Fatalf("want a tool error containing %q, got success: %s", want, text(res))
	}
	for _, w := range want {
		if !strings.Contains(text(res), w) {
			t.Errorf("error %q does not contain %q", text(res), w)
		}
	}
}

// target is an httptest server counting requests.
func target(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "ok")
	}))
	t.Cleanup(ts.Close)
	return ts, &n
}

func planYAML(targetURL string, allow string, extra string) string {
	return fmt.Sprintf(`name: mcp-test
target: %s
%s
endpoints:
  - name: fast
    request: GET /fast
profile:
  type: load
  rate: 20/s
  duration: 1s
%s`, targetURL, allow, extra)
}

func TestListTools(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, nil)
	res, err := te.client.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		in, _ := json.Marshal(tool.InputSchema)
		if !strings.Contains(string(in), `"type":"object"`) {
			t.Errorf("%s: input schema %s", tool.Name, in)
		}
		if tool.OutputSchema == nil {
			t.Errorf("%s: no output schema", tool.Name)
		}
		if tool.Description == "" {
			t.Errorf("%s: no description", tool.Name)
		}
	}
	sort.Strings(names)
	want := []string{ToolCancelRun, ToolCompare, ToolExplainVerdict, ToolGetRun, ToolListBaselines, ToolReadResults, ToolRunPlan, ToolValidatePlan}
	sort.Strings(want)
	if strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("tools = %v, want %v", names, want)
	}
	tmpl, err := te.client.ListResourceTemplates(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var uris []string
	for _, rt := range tmpl.ResourceTemplates {
		uris = append(uris, rt.URITemplate)
	}
	sort.Strings(uris)
	if got := strings.Join(uris, " "); got != "loadgate://baselines/{+path} loadgate://results/{+path} loadgate://runs/{id}" {
		t.Errorf("resource templates = %s", got)
	}
}

func TestValidatePlan(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, nil)
	good := te.write(t, "plans/good.yaml", planYAML("http://127.0.0.1:9", "targets: {allow: [127.0.0.1]}", ""))

	var out ValidatePlanOutput
	res := te.call(t, ToolValidatePlan, map[string]any{"path": good}, &out)
	if res.IsError || !out.Valid || out.Plan == nil {
		t.Fatalf("good plan: %s", text(res))
	}
	if out.Plan.Name != "mcp-test" || out.Plan.PeakRate != 20 || out.Plan.TotalSeconds != 1 || !out.Plan.RunnableViaMCP {
		t.Errorf("summary = %+v", out.Plan)
	}

	// Not runnable over MCP: no allow list. Still valid.
	out = ValidatePlanOutput{}
	te.call(t, ToolValidatePlan, map[string]any{"yaml": planYAML("http://127.0.0.1:9", "", "")}, &out)
	if !out.Valid || out.Plan.RunnableViaMCP || !strings.Contains(out.Plan.Refusal, "targets.allow is empty") {
		t.Errorf("plan without allow list: %+v", out.Plan)
	}

	bad := `name: bad
target: http://127.0.0.1:9
endpoints:
  - name: x
    request: GET /x
    weight: -1
profile:
  type: load
  rate: fast
  duration: 1s
`
	out = ValidatePlanOutput{}
	res = te.call(t, ToolValidatePlan, map[string]any{"yaml": bad}, &out)
	if out.Valid || len(out.Problems) < 2 {
		t.Fatalf("bad plan: valid=%v problems=%+v text=%s", out.Valid, out.Problems, text(res))
	}
	for _, p := range out.Problems {
		if p.Line == 0 || p.Column == 0 || p.Message == "" || p.File != "inline.yaml" {
			t.Errorf("problem without position: %+v", p)
		}
	}
	if !strings.Contains(text(res), "inline.yaml:6:") {
		t.Errorf("text does not name file:line: %s", text(res))
	}

	wantToolError(t, te.call(t, ToolValidatePlan, map[string]any{}, nil), "exactly one")
	wantToolError(t, te.call(t, ToolValidatePlan, map[string]any{"path": "../outside.yaml"}, nil), "outside the working directory")
}

// httpRunner is a minimal open-model runner for tests: one GET per tick to
// the plan's first endpoint, progress every tick, partial results on cancel.
type httpRunner struct {
	fn runners.ProgressFunc
}

func (r *httpRunner) OnProgress(fn runners.ProgressFunc) { r.fn = fn }

func (r *httpRunner) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	total := p.TotalDuration()
	rate := p.PeakRate()
	ep := results.Endpoint{Name: p.Endpoints[0].Name, Method: "GET", Histogram: results.NewHistogram(), Status: map[string]int64{}}
	start := time.Now()
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	deadline := time.NewTimer(total)
	defer deadline.Stop()
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			runErr = fmt.Errorf("run interrupted: %w", ctx.Err())
			break loop
		case <-deadline.C:
			break loop
		case <-tick.C:
			t0 := time.Now()
			resp, err := http.Get(p.Target + p.Endpoints[0].Path)
			ep.Requests++
			if err != nil {
				ep.Errors++
			} else {
				resp.Body.Close()
				ep.Status[fmt.Sprint(resp.StatusCode)]++
			}
			ep.Histogram.Record(time.Since(t0))
			if r.fn != nil {
				r.fn(runners.Progress{Elapsed: time.Since(start), Total: total, Stage: "load", Requests: ep.Requests, Errors: ep.Errors, RPS: rate})
			}
		}
	}
	elapsed := time.Since(start)
	ep.Finalize(elapsed)
	f := &results.File{
		Plan: results.PlanRef{Name: p.Name, Hash: p.Hash()},
		// A runner (or a cmd wrapper) may stamp a launch; the server's wins.
		Run: results.Run{Started: start, Ended: time.Now(), Runner: "test", Workers: 1, Partial: runErr != nil,
			StartedBy: &results.Launch{Via: "cli"}},
		Profile:   results.Profile{Type: p.Profile.Type, Model: "open", Rate: rate, Duration: results.Duration(total)},
		Validity:  results.Validity{Valid: runErr == nil, Sent: ep.Requests, Scheduled: ep.Requests},
		Endpoints: []results.Endpoint{ep},
	}
	f.Finalize(elapsed)
	return f, runErr
}

func newHTTPRunner(*plan.Plan) (runners.Runner, error) { return &httpRunner{}, nil }

// TestRunPlan runs a plan with the real local runner against an httptest
// target, following it through progress notifications, get_run, the results
// file and its resource.
func TestRunPlan(t *testing.T) {
	t.Parallel()
	ts, hits := target(t)
	te := newTestEnv(t, func(*plan.Plan) (runners.Runner, error) { return local.New(local.Options{}), nil })
	pl := te.write(t, "plan.yaml", strings.Replace(planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", ""), "duration: 1s", "duration: 2s", 1))

	var st RunStatus
	res := te.callMeta(t, ToolRunPlan, map[string]any{"plan": pl}, mcp.Meta{"progressToken": "tok-1"}, &st)
	if res.IsError {
		t.Fatalf("run_plan: %s", text(res))
	}
	if st.ID == "" || st.Status != StatusRunning || st.Plan != "plan.yaml" {
		t.Fatalf("run_plan returned %+v; want a running run", st)
	}
	if !strings.HasPrefix(st.ID, "20261126T020000Z-") {
		t.Errorf("run id %q does not use the injected clock", st.ID)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := te.srv.WaitRun(ctx, st.ID); err != nil {
		t.Fatal(err)
	}
	var got GetRunOutput
	te.call(t, ToolGetRun, map[string]any{"id": st.ID}, &got)
	if got.Run == nil || got.Run.Status != StatusFinished {
		t.Fatalf("get_run = %+v", got.Run)
	}
	// Validity is reported, not asserted: under -race on a shared machine the
	// generator may fall behind its schedule, which is the runner's finding.
	if got.Run.ResultsPath != ".loadgate/runs/"+st.ID+"/results.json" || got.Run.Valid == nil {
		t.Errorf("get_run results = %+v", got.Run)
	}
	if len(got.Run.Endpoints) != 1 || got.Run.Endpoints[0].Requests == 0 {
		t.Errorf("get_run endpoints = %+v", got.Run.Endpoints)
	}
	if !strings.Contains(got.Run.StartedBy, "mcp") || !strings.Contains(got.Run.StartedBy, "test-client/1.0") {
		t.Errorf("started_by = %q", got.Run.StartedBy)
	}
	f, err := results.ReadFile(filepath.Join(te.dir, filepath.FromSlash(got.Run.ResultsPath)))
	if err != nil {
		t.Fatal(err)
	}
	if f.Run.StartedBy == nil || f.Run.StartedBy.Via != "mcp" || f.Run.StartedBy.Actor != "mcp-client:test-client/1.0" || f.Run.ID != st.ID {
		t.Errorf("results provenance = %+v id %q", f.Run.StartedBy, f.Run.ID)
	}
	if f.Plan.Hash == "" || f.Plan.Name != "mcp-test" {
		t.Errorf("results plan ref = %+v", f.Plan)
	}
	if hits.Load() == 0 {
		t.Error("target received no requests")
	}

	// Progress notifications on our token, increasing, the last one complete.
	var ps []*mcp.ProgressNotificationParams
	deadline := time.After(10 * time.Second)
collect:
	for {
		select {
		case p := <-te.progress:
			ps = append(ps, p)
			if p.Progress >= p.Total && p.Total > 0 {
				break collect
			}
		case <-deadline:
			break collect
		}
	}
	if len(ps) < 2 {
		t.Fatalf("got %d progress notifications, want ≥ 2", len(ps))
	}
	for i, p := range ps {
		if p.ProgressToken != "tok-1" {
			t.Errorf("notification %d token %v", i, p.ProgressToken)
		}
		if i > 0 && p.Progress <= ps[i-1].Progress {
			t.Errorf("progress not increasing: %v then %v", ps[i-1].Progress, p.Progress)
		}
	}
	if last := ps[len(ps)-1]; last.Progress < last.Total || !strings.Contains(last.Message, "finished") {
		t.Errorf("last notification %+v", last)
	}

	// The results are a resource now and readable through the template.
	rr, err := te.client.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "loadgate://results/" + got.Run.ResultsPath})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rr.Contents[0].Text, `"via": "mcp"`) || strings.Contains(rr.Contents[0].Text, `"histogram"`) {
		t.Errorf("results resource: %.300s", rr.Contents[0].Text)
	}
	var rv ResultsView
	te.call(t, ToolReadResults, map[string]any{"path": got.Run.ResultsPath}, &rv)
	if rv.Run.ID != st.ID || rv.Run.StartedBy == nil || len(rv.Endpoints) != 1 {
		t.Errorf("read_results = %+v", rv)
	}
}

func TestRunPlanRefusals(t *testing.T) {
	t.Parallel()
	ts, hits := target(t)
	te := newTestEnv(t, newHTTPRunner, func(o *Options) { o.MaxDuration = 5 * time.Second })
	for _, tt := range []struct {
		name string
		plan string
		args map[string]any
		want []string
	}{
		{"target not allowed", planYAML(ts.URL, "targets: {allow: [10.0.0.1, example.com]}", ""), nil,
			[]string{"not in targets.allow", "refused before start"}},
		{"empty allow list", planYAML(ts.URL, "", ""), nil,
			[]string{"targets.allow is empty"}},
		{"rate above limits", planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", "limits: {max_rate: 50/s}\n"), map[string]any{"rate": 100},
			[]string{"rate 100/s exceeds limits.max_rate 50/s"}},
		{"rate above the plan's own peak without limits", planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", ""), map[string]any{"rate": 21},
			[]string{"the plan's own peak rate"}},
		{"duration above cap", planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", ""), map[string]any{"duration": "1h"},
			[]string{"exceeds the MCP server's cap 5s"}},
		{"duration above limits", planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", "limits: {max_duration: 2s}\n"), map[string]any{"duration": "3s"},
			[]string{"exceeds limits.max_duration 2s"}},
		{"plan longer than cap", strings.Replace(planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", ""), "duration: 1s", "duration: 1m", 1), nil,
			[]string{"total duration 1m0s exceeds the MCP server's cap 5s"}},
		{"exec runner", planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", "runner: {exec: \"k6 run x.js\", import: {from: k6-summary, file: s.json}}\n"), nil,
			[]string{"cannot be started over MCP"}},
		{"body file outside", strings.Replace(planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", ""), "request: GET /fast", "request: POST /fast\n    body_file: ../outside.txt", 1), nil,
			[]string{"body_file", "outside the working directory"}},
	} {
		name := strings.ReplaceAll(tt.name, " ", "-") + ".yaml"
		if strings.Contains(tt.plan, "../outside.txt") {
			os.WriteFile(filepath.Join(filepath.Dir(te.dir), "outside.txt"), []byte("secret"), 0o644)
		}
		te.write(t, name, tt.plan)
		args := map[string]any{"plan": name}
		for k, v := range tt.args {
			args[k] = v
		}
		res := te.call(t, ToolRunPlan, args, nil)
		t.Run(tt.name, func(t *testing.T) { wantToolError(t, res, tt.want...) })
	}
	if n := te.runners.Load(); n != 0 {
		t.Errorf("runner factory called %d times for refused runs", n)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("target got %d requests from refused runs", n)
	}
	if _, err := os.Stat(filepath.Join(te.dir, runsDir)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("refused runs wrote %s: %v", runsDir, err)
	}
}

func TestRunPlanOverridesAndCancel(t *testing.T) {
	t.Parallel()
	ts, _ := target(t)
	var mu sync.Mutex
	var seen []*plan.Plan
	te := newTestEnv(t, func(p *plan.Plan) (runners.Runner, error) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
		return &httpRunner{}, nil
	})
	pl := te.write(t, "long.yaml", strings.Replace(planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", "limits: {max_rate: 40/s}\n"), "duration: 1s", "duration: 5m", 1))
	var st RunStatus
	res := te.call(t, ToolRunPlan, map[string]any{"plan": pl, "duration": "2m", "rate": 10}, &st)
	if res.IsError {
		t.Fatal(text(res))
	}
	mu.Lock()
	p := seen[0]
	mu.Unlock()
	if p.Profile.Duration != 2*time.Minute || p.PeakRate() != 10 {
		t.Errorf("overrides not applied: duration %v rate %v", p.Profile.Duration, p.PeakRate())
	}

	// One run at a time.
	wantToolError(t, te.call(t, ToolRunPlan, map[string]any{"plan": pl, "duration": "2m", "rate": 10}, nil), "still running")

	var cancelled RunStatus
	te.call(t, ToolCancelRun, map[string]any{"id": st.ID}, &cancelled)
	if cancelled.Status != StatusCancelled {
		t.Fatalf("cancel_run = %+v", cancelled)
	}
	if cancelled.ResultsPath == "" || cancelled.Error != "" {
		t.Errorf("cancelled run: results %q error %q", cancelled.ResultsPath, cancelled.Error)
	}
	f, err := results.ReadFile(filepath.Join(te.dir, filepath.FromSlash(cancelled.ResultsPath)))
	if err != nil || !f.Run.Partial {
		t.Fatalf("partial results: %v partial=%v", err, f != nil && f.Run.Partial)
	}
	if f.Run.StartedBy == nil || f.Run.StartedBy.Via != "mcp" {
		t.Errorf("started_by = %+v, want the MCP launch", f.Run.StartedBy)
	}
	var all GetRunOutput
	te.call(t, ToolGetRun, map[string]any{}, &all)
	if len(all.Runs) != 1 || all.Runs[0].ID != st.ID {
		t.Errorf("get_run without id = %+v", all)
	}
	wantToolError(t, te.call(t, ToolGetRun, map[string]any{"id": "nope"}, nil), "no run")
}

func TestPathEscapeRefused(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, newHTTPRunner)
	outside := filepath.Join(filepath.Dir(te.dir), "secret.json")
	os.WriteFile(outside, []byte(`{"schema":"loadgate/results/v1"}`), 0o644)
	if err := os.Symlink(outside, filepath.Join(te.dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{ToolValidatePlan, map[string]any{"path": "../secret.json"}},
		{ToolRunPlan, map[string]any{"plan": "/etc/passwd"}},
		{ToolReadResults, map[string]any{"path": outside}},
		{ToolReadResults, map[string]any{"path": "link.json"}},
		{ToolCompare, map[string]any{"results": "a/../../secret.json", "base": "x.json"}},
		{ToolExplainVerdict, map[string]any{"results": "link.json", "base": "x.json"}},
		{ToolListBaselines, map[string]any{"dir": ".."}},
	} {
		res := te.call(t, tc.tool, tc.args, nil)
		t.Run(tc.tool, func(t *testing.T) { wantToolError(t, res, "outside the working directory") })
	}
	for _, uri := range []string{
		"loadgate://results/..%2Fsecret.json",
		"loadgate://results/" + strings.TrimPrefix(outside, "/"),
		"loadgate://results/link.json",
		"loadgate://baselines/../secret.json",
	} {
		_, err := te.client.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: uri})
		if err == nil {
			t.Errorf("ReadResource(%s) succeeded", uri)
		}
	}
}
