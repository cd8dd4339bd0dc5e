package action

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"html"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/actionsenv"
	"github.com/loadgate/loadgate/internal/fakegithub"
	"github.com/loadgate/loadgate/internal/ghclient"
	"github.com/loadgate/loadgate/internal/golden"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
)

type gateVerdict = gate.Verdict

const (
	exitPass    = pipeline.ExitPass
	exitFail    = pipeline.ExitFail
	exitUsage   = pipeline.ExitUsage
	exitInvalid = pipeline.ExitInvalid
)

func newTestActionsEnv(w *bytes.Buffer) *actionsenv.Env {
	return actionsenv.New(func(string) string { return "" }, w)
}

var _ = flag.Bool("update", false, "rewrite golden files under testdata/")

const (
	actionToken = "ghs_actiontesttoken"
	headSHA     = "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	repoRoot    = "../.."
)

// actionEnv is a runner's environment for a Docker action step.
type actionEnv struct {
	t      *testing.T
	ws     string
	vars   map[string]string
	stdout bytes.Buffer
	stderr bytes.Buffer
}

func newActionEnv(t *testing.T, gh *fakegithub.Server, event, eventFile string) *actionEnv {
	t.Helper()
	ws := t.TempDir()
	fc := filepath.Join(t.TempDir(), "file_commands")
	if err := os.MkdirAll(fc, 0o755); err != nil {
		t.Fatal(err)
	}
	eventPath, err := filepath.Abs(filepath.Join(repoRoot, "testdata", "github", "events", eventFile))
	if err != nil {
		t.Fatal(err)
	}
	e := &actionEnv{t: t, ws: ws, vars: map[string]string{
		"GITHUB_ACTIONS":      "true",
		"GITHUB_WORKSPACE":    ws,
		"GITHUB_EVENT_NAME":   event,
		"GITHUB_EVENT_PATH":   eventPath,
		"GITHUB_REPOSITORY":   "Codertocat/Hello-World",
		"GITHUB_SHA":          headSHA,
		"GITHUB_RUN_ID":       "4242",
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_OUTPUT":       filepath.Join(fc, "set_output"),
		"GITHUB_STEP_SUMMARY": filepath.Join(fc, "step_summary"),
		"INPUT_GITHUB-TOKEN":  actionToken,
	}}
	if gh != nil {
		e.vars["GITHUB_API_URL"] = gh.URL
	}
	return e
}

func (e *actionEnv) run() int {
	e.stdout.Reset()
	e.stderr.Reset()
	return Run(context.Background(), Options{Stdout: &e.stdout, Stderr: &e.stderr, Getenv: func(k string) string { return e.vars[k] }})
}

func (e *actionEnv) file(name string) string {
	data, err := os.ReadFile(e.vars[name])
	if err != nil {
		e.t.Fatalf("%s: %v", name, err)
	}
	return string(data)
}

// outputs parses GITHUB_OUTPUT as the runner does.
func (e *actionEnv) outputs() map[string]string {
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(e.file("GITHUB_OUTPUT"), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			continue
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

// writePreviousRun lays out what the pull_request half uploads as an artifact.
func writePreviousRun(t *testing.T, dir, verdictFixture, context string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "github", verdictFixture))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, verdictFile), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, contextFile), []byte(context), 0o644); err != nil {
		t.Fatal(err)
	}
}

func actionGolden(t *testing.T, name, got string) {
	t.Helper()
	golden.Check(t, filepath.Join("testdata", "action", name), []byte(got))
}

const prContextJSON = `{"pr_number": 2, "head_sha": "` + headSHA + `", "base_ref": "master", "fork": true, "plan": "checkout-api", "exit_code": 1}`

func TestActionWorkflowRunPostsOnceAndEditsOnRerun(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	e := newActionEnv(t, gh, "workflow_run", "workflow_run.pr.json")
	writePreviousRun(t, filepath.Join(e.ws, "artifact"), "verdict.regressed.json", prContextJSON)
	e.vars["INPUT_VERDICT-FROM"] = "artifact"
	e.vars["INPUT_PLAN"] = "plan.yaml"

	if code := e.run(); code != exitFail {
		t.Fatalf("exit %d, want %d (the first run's verdict)\nstderr:\n%s", code, exitFail, e.stderr.String())
	}
	comments := gh.Comments(2)
	if len(comments) != 1 || !strings.HasPrefix(comments[0].Body, "<!-- loadgate:plan=checkout-api -->") {
		t.Fatalf("comments %+v", comments)
	}
	runs := gh.CheckRuns()
	if len(runs) != 1 || runs[0].HeadSHA != headSHA || runs[0].Conclusion != "failure" || runs[0].Name != "loadgate / checkout-api" {
		t.Fatalf("check runs %+v", runs)
	}
	out := e.outputs()
	if out["verdict"] != "regressed" || out["regressions"] != "create-order" || out["comment-url"] == "" ||
		out["check-run-id"] != fmt.Sprint(runs[0].ID) || out["exit-code"] != "1" {
		t.Errorf("outputs %q", out)
	}
	if !strings.Contains(e.stdout.String(), "::warning file=plan.yaml,line=1,title=loadgate%3A create-order%3A regressed::") {
		t.Errorf("no warning annotation per regressed endpoint:\n%s", e.stdout.String())
	}
	actionGolden(t, "workflow_run.summary.md", e.file("GITHUB_STEP_SUMMARY"))
	actionGolden(t, "workflow_run.comment.md", comments[0].Body)
	actionGolden(t, "workflow_run.check.md", fmt.Sprintf("title: %s\nconclusion: %s\nannotations: %v\n\n%s", runs[0].Title, runs[0].Conclusion, runs[0].Annotations, runs[0].Summary))

	// Rerun: the same comment is found by its marker, never a second one;
	// an identical body is left as it is (no write), a changed one edited.
	if code := e.run(); code != exitFail {
		t.Fatalf("rerun exit %d", code)
	}
	comments = gh.Comments(2)
	if len(comments) != 1 || comments[0].Edits > 1 {
		t.Fatalf("after rerun: %+v", comments)
	}
	if gh.Calls(fakegithub.OpCreateComment) != 1 || gh.Calls(fakegithub.OpUpdateComment) != comments[0].Edits {
		t.Errorf("create %d update %d", gh.Calls(fakegithub.OpCreateComment), gh.Calls(fakegithub.OpUpdateComment))
	}
}

func TestActionForbiddenCommentKeepsVerdictAndSummary(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	gh.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: 403})
	e := newActionEnv(t, gh, "workflow_run", "workflow_run.pr.json")
	writePreviousRun(t, filepath.Join(e.ws, "artifact"), "verdict.regressed.json", prContextJSON)
	e.vars["INPUT_VERDICT-FROM"] = "artifact"
	if code := e.run(); code != exitFail {
		t.Fatalf("exit %d, want %d", code, exitFail)
	}
	if !strings.Contains(e.stderr.String(), "pull-requests: write") || !strings.Contains(e.stdout.String(), "::warning title=loadgate%3A GitHub comment on the pull request skipped::") {
		t.Errorf("no explanation of the 403:\nstdout:\n%s\nstderr:\n%s", e.stdout.String(), e.stderr.String())
	}
	sum := e.file("GITHUB_STEP_SUMMARY")
	if !strings.Contains(sum, "create-order") || !strings.Contains(sum, "GitHub refused to comment") {
		t.Errorf("summary lacks verdict or note:\n%s", sum)
	}
	if len(gh.CheckRuns()) != 1 {
		t.Errorf("check run not created after the comment failed")
	}
}

func TestActionCheckForbiddenFallsBackToStatus(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	gh.Fail(fakegithub.OpCreateCheckRun, fakegithub.Fault{Status: 403})
	e := newActionEnv(t, gh, "workflow_run", "workflow_run.pr.json")
	writePreviousRun(t, filepath.Join(e.ws, "artifact"), "verdict.pass.json", strings.Replace(prContextJSON, `"exit_code": 1`, `"exit_code": 0`, 1))
	e.vars["INPUT_VERDICT-FROM"] = "artifact"
	if code := e.run(); code != exitPass {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	st := gh.Statuses()
	if len(st) != 1 || st[0].State != "success" || st[0].SHA != headSHA || st[0].Context != "loadgate/checkout-api" {
		t.Fatalf("statuses %+v", st)
	}
	if _, ok := e.outputs()["check-run-id"]; ok {
		t.Error("check-run-id set without a check run")
	}
}

func TestActionRefusesArtifactForAnotherCommit(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	e := newActionEnv(t, gh, "workflow_run", "workflow_run.pr.json")
	writePreviousRun(t, filepath.Join(e.ws, "artifact"), "verdict.regressed.json",
		strings.Replace(prContextJSON, headSHA, "1111111111111111111111111111111111111111", 1))
	e.vars["INPUT_VERDICT-FROM"] = "artifact"
	if code := e.run(); code != exitFail {
		t.Fatalf("exit %d", code)
	}
	if len(gh.Requests()) != 0 {
		t.Errorf("GitHub called for a mismatched artifact: %+v", gh.Requests())
	}
}

func TestActionUntrustedPRNumberIsVerified(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	// A fork PR: the workflow_run event lists no pull request, so the number
	// comes from the artifact and must match a PR whose head is the run's commit.
	gh.AddPull(fakegithub.Pull{Number: 9, Head: "other", Base: "master", HeadSHA: "2222222222222222222222222222222222222222"})
	e := newActionEnv(t, gh, "workflow_run", "workflow_run.completed.json")
	writePreviousRun(t, filepath.Join(e.ws, "artifact"), "verdict.regressed.json",
		`{"pr_number": 9, "plan": "checkout-api", "exit_code": 1}`)
	e.vars["INPUT_VERDICT-FROM"] = "artifact"
	if code := e.run(); code != exitFail {
		t.Fatalf("exit %d", code)
	}
	if len(gh.Comments(9)) != 0 {
		t.Fatal("commented on a PR whose head is not the run's commit")
	}
	if !strings.Contains(e.stderr.String(), "refusing to report") {
		t.Errorf("stderr:\n%s", e.stderr.String())
	}
}

func TestActionServerErrorThenSuccessRetries(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	gh.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: 500, Times: 1})
	e := newActionEnv(t, gh, "workflow_run", "workflow_run.pr.json")
	writePreviousRun(t, filepath.Join(e.ws, "artifact"), "verdict.regressed.json", prContextJSON)
	e.vars["INPUT_VERDICT-FROM"] = "artifact"
	if code := e.run(); code != exitFail {
		t.Fatalf("exit %d", code)
	}
	if len(gh.Comments(2)) != 1 || gh.Calls(fakegithub.OpCreateComment) != 2 {
		t.Fatalf("comments %d, create calls %d", len(gh.Comments(2)), gh.Calls(fakegithub.OpCreateComment))
	}
}

func TestActionNoTokenStillSummarises(t *testing.T) {
	t.Parallel()
	e := newActionEnv(t, nil, "workflow_run", "workflow_run.pr.json")
	delete(e.vars, "INPUT_GITHUB-TOKEN")
	writePreviousRun(t, filepath.Join(e.ws, "artifact"), "verdict.inconclusive.json", strings.Replace(prContextJSON, `"exit_code": 1`, `"exit_code": 0`, 1))
	e.vars["INPUT_VERDICT-FROM"] = "artifact"
	if code := e.run(); code != exitPass {
		t.Fatalf("exit %d", code)
	}
	if out := e.outputs(); out["verdict"] != "inconclusive" {
		t.Errorf("outputs %q", out)
	}
	if !strings.Contains(e.file("GITHUB_STEP_SUMMARY"), "INCONCLUSIVE") {
		t.Error("no summary")
	}
}

func TestActionBadInputs(t *testing.T) {
	t.Parallel()
	e := newActionEnv(t, nil, "pull_request", "pull_request.opened.json")
	e.vars["INPUT_MODE"] = "cloud"
	e.vars["INPUT_FAIL-ON"] = "sometimes"
	e.vars["INPUT_COMMENT"] = "yes"
	if code := e.run(); code != exitUsage {
		t.Fatalf("exit %d, want %d", code, exitUsage)
	}
	out := e.stdout.String()
	for _, want := range []string{"::add-mask::" + actionToken, "::error title=loadgate%3A action inputs::", "input mode", "input fail-on", "input comment"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
}

func TestApplyFailOn(t *testing.T) {
	t.Parallel()
	inc := mustVerdict(t, "verdict.inconclusive.json")
	reg := mustVerdict(t, "verdict.regressed.json")
	tests := []struct {
		name         string
		code, want   int
		failOn       string
		inconclusive bool
	}{
		{"inconclusive fails when asked", 0, 1, "inconclusive", true},
		{"inconclusive passes by default", 0, 0, "regression", true},
		{"never hides regressions", 1, 0, "never", false},
		{"never keeps invalid", 4, 4, "never", false},
	}
	for _, tt := range tests {
		v := reg
		if tt.inconclusive {
			v = inc
		}
		if got := applyFailOn(v, tt.code, tt.failOn); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

func mustVerdict(t *testing.T, name string) *gateVerdict {
	t.Helper()
	v, _, err := readActionVerdict(filepath.Join(repoRoot, "testdata", "github", name))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAnnotatePlanErrors(t *testing.T) {
	t.Parallel()
	ws := t.TempDir()
	if err := os.MkdirAll(filepath.Join(ws, "perf"), 0o755); err != nil {
		t.Fatal(err)
	}
	bad := "name: bad\ntarget: http://127.0.0.1:1\nendpoints:\n  - name: a\n    request: GET /\n    weight: -1\nprofile:\n  type: load\n  rate: 10/s\n  duration: 1s\n"
	planPath := filepath.Join(ws, "perf", "plan.yaml")
	if err := os.WriteFile(planPath, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := plan.Load(planPath, func(string) string { return "" })
	if err == nil {
		t.Fatal("bad plan accepted")
	}
	var out bytes.Buffer
	env := newTestActionsEnv(&out)
	rc := runContext{ws: ws, workdir: filepath.Join(ws, "perf"), planRel: "perf/plan.yaml"}
	annotatePlanErrors(env, rc, err)
	if !strings.Contains(out.String(), "::error col=") || !strings.Contains(out.String(), "file=perf/plan.yaml,line=6,title=loadgate%3A invalid plan::endpoints[0].weight") {
		t.Errorf("annotations:\n%s", out.String())
	}
}

// dockerStage is one FROM … block of the Dockerfile.
type dockerStage struct {
	name, base string
	lines      []string // instructions after FROM, continuation lines joined
}

// parseDockerfile is a line parser: enough to check the image's structure
// without a Docker engine.
func parseDockerfile(t *testing.T, path string) []dockerStage {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var stages []dockerStage
	var cur strings.Builder
	flush := func() {
		ins := strings.TrimSpace(cur.String())
		cur.Reset()
		if ins == "" {
			return
		}
		f := strings.Fields(ins)
		if strings.EqualFold(f[0], "FROM") {
			st := dockerStage{base: f[1]}
			if len(f) >= 4 && strings.EqualFold(f[2], "AS") {
				st.name = f[3]
			}
			stages = append(stages, st)
			return
		}
		if len(stages) == 0 {
			t.Fatalf("instruction before FROM: %s", ins)
		}
		stages[len(stages)-1].lines = append(stages[len(stages)-1].lines, ins)
	}
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		flush()
	}
	flush()
	return stages
}

func instr(st dockerStage, name string) []string {
	var out []string
	for _, l := range st.lines {
		if f := strings.Fields(l); strings.EqualFold(f[0], name) {
			out = append(out, strings.TrimSpace(l[len(f[0]):]))
		}
	}
	return out
}

func TestDockerfileStructure(t *testing.T) {
	t.Parallel()
	stages := parseDockerfile(t, filepath.Join(repoRoot, "Dockerfile"))
	if len(stages) < 2 {
		t.Fatalf("%d stages, want a multi-stage build", len(stages))
	}
	build := stages[0]
	if !strings.HasPrefix(build.base, "golang:1.26") {
		t.Errorf("builder FROM %s, want golang:1.26", build.base)
	}
	runs := strings.Join(instr(build, "RUN"), " ")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w", "internal/version.Version=", "./cmd/loadgate"} {
		if !strings.Contains(runs, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	byName := map[string]dockerStage{}
	for _, s := range stages {
		byName[s.name] = s
	}
	final := stages[len(stages)-1]
	if final.name != "action" {
		t.Errorf("last stage %q: runs.image: Dockerfile builds the last stage, it must be the action", final.name)
	}
	for _, st := range []dockerStage{final, byName["worker"]} {
		if st.base != "scratch" && !strings.HasPrefix(st.base, "gcr.io/distroless/static") {
			t.Errorf("stage %s FROM %s, want scratch or distroless static", st.name, st.base)
		}
		copies := strings.Join(instr(st, "COPY"), "\n")
		for _, want := range []string{"/etc/ssl/certs/ca-certificates.crt", "/tmp", "/loadgate"} {
			if !strings.Contains(copies, want) {
				t.Errorf("stage %s does not copy %s", st.name, want)
			}
		}
		if ep := instr(st, "ENTRYPOINT"); len(ep) != 1 || ep[0] != `["/loadgate"]` {
			t.Errorf("stage %s ENTRYPOINT %v, want [\"/loadgate\"] (exec form)", st.name, ep)
		}
	}
	if cmd := instr(final, "CMD"); len(cmd) != 1 || cmd[0] != `["action"]` {
		t.Errorf("action CMD %v", cmd)
	}
	// GitHub runs Docker actions as the image's user and requires root
	// (docs: Dockerfile support for GitHub Actions, USER).
	if u := instr(final, "USER"); len(u) != 0 {
		t.Errorf("action stage sets USER %v: GitHub could not let it write the workspace", u)
	}
	worker, ok := byName["worker"]
	if !ok {
		t.Fatal("no worker stage")
	}
	u := instr(worker, "USER")
	if len(u) != 1 || strings.HasPrefix(u[0], "0") || strings.HasPrefix(u[0], "root") {
		t.Errorf("worker USER %v, want a non-root numeric user", u)
	}
}

func TestActionYAMLMatchesActionGo(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(repoRoot, "action.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		Name     string `yaml:"name"`
		Branding struct {
			Icon  string `yaml:"icon"`
			Color string `yaml:"color"`
		} `yaml:"branding"`
		Inputs map[string]struct {
			Description string  `yaml:"description"`
			Default     *string `yaml:"default"`
			Required    bool    `yaml:"required"`
		} `yaml:"inputs"`
		Outputs map[string]struct {
			Description string `yaml:"description"`
		} `yaml:"outputs"`
		Runs struct {
			Using string `yaml:"using"`
		} `yaml:"runs"`
	}
	if err := yaml.Unmarshal(data, &meta); err != nil {
		t.Fatal(err)
	}
	// The composite step itself is checked by TestActionCompositePassesEveryInput (cmd/loadgate).
	if meta.Runs.Using != "composite" {
		t.Errorf("runs %+v", meta.Runs)
	}
	if meta.Branding.Icon == "" || meta.Branding.Color == "" || meta.Name == "" {
		t.Error("name or branding missing")
	}
	want := map[string]bool{}
	for _, n := range actionInputNames() {
		want[n] = true
		in, ok := meta.Inputs[n]
		if !ok {
			t.Errorf("action.go reads input %q that action.yml does not declare", n)
			continue
		}
		if in.Description == "" || in.Default == nil {
			t.Errorf("input %q needs a description and a default", n)
		}
		if strings.HasPrefix(n, "aws-") && !strings.Contains(in.Description, "mode aws") {
			t.Errorf("input %q must say it is for mode aws", n)
		}
	}
	// Inputs the entrypoint (scripts/action.sh) reads to choose what to run.
	for _, n := range []string{"version", "image", "runtime"} {
		want[n] = true
	}
	for n := range meta.Inputs {
		if !want[n] {
			t.Errorf("action.yml declares input %q that action.go never reads", n)
		}
	}
	if d := meta.Inputs["github-token"].Default; d == nil || *d != "${{ github.token }}" {
		t.Errorf("github-token default %v", d)
	}
	outs := map[string]bool{}
	for _, n := range actionOutputNames() {
		outs[n] = true
		if o, ok := meta.Outputs[n]; !ok || o.Description == "" {
			t.Errorf("output %q not declared with a description", n)
		}
	}
	for n := range meta.Outputs {
		if !outs[n] {
			t.Errorf("action.yml declares output %q the action never sets", n)
		}
	}
	for _, n := range []string{"verdict", "regressions", "results-path", "report-path", "comment-url", "check-run-id"} {
		if !outs[n] {
			t.Errorf("required output %q missing", n)
		}
	}
}

// shopPlan gates the demo shop's three endpoints on an absolute SLO (p95 under
// 30 ms); 5 s at 40 req/s, 1 s warm-up. An SLO needs no baseline run, so the
// test does not depend on two live runs agreeing on this shared machine.
func shopPlan(url string) string {
	return `name: shop
target: ` + url + `
endpoints:
  - name: list-products
    request: GET /products
    weight: 2
  - name: get-product
    request: GET /products/42
    weight: 2
  - name: create-order
    request: POST /orders
    body: '{"sku":"A1"}'
    weight: 2
profile:
  type: load
  rate: 40/s
  duration: 5s
  warmup: 1s
gate:
  slo: { p95: 30ms }
`
}

// setUpDemoRepo writes the plan into the workspace and returns the demo target.
func setUpDemoRepo(t *testing.T, ws string) *target.Demo {
	t.Helper()
	demo := target.NewDemo()
	srv := httptest.NewServer(demo)
	t.Cleanup(srv.Close)
	if err := os.MkdirAll(filepath.Join(ws, "perf"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ws, "perf", "plan.yaml"), []byte(shopPlan(srv.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	return demo
}

func TestActionEndToEndPullRequest(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load for ~15 s")
	}
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	e := newActionEnv(t, gh, "pull_request", "pull_request.opened.json")
	demo := setUpDemoRepo(t, e.ws)
	// create-order (12 ms) becomes 48 ms: over the 30 ms p95 SLO.
	if err := demo.Regress("/orders", 4); err != nil {
		t.Fatal(err)
	}
	e.vars["INPUT_PLAN"] = "perf/plan.yaml"
	e.vars["INPUT_BASELINE"] = "perf/baseline.json"
	e.vars["INPUT_EXTRA-ARGS"] = "-q --min-windows 3"
	e.vars["INPUT_UPDATE-BASELINE"] = "true" // never from a PR's own run
	// The first comment creation meets a 500: retried, not lost.
	gh.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: 500, Times: 1})

	// The verdict is "regressed" (exit 1); on a machine too busy for the
	// generator to hold its schedule the run is "invalid" (exit 4), which the
	// action must report the same way. Either way it is never a pass.
	code := e.run()
	out := e.outputs()
	regressed := code == exitFail && out["verdict"] == "regressed" && strings.Contains(out["regressions"], "create-order")
	invalid := code == exitInvalid && out["verdict"] == "invalid"
	if !regressed && !invalid {
		t.Fatalf("exit %d outputs %q\nstdout:\n%s\nstderr:\n%s", code, out, e.stdout.String(), e.stderr.String())
	}
	if invalid {
		t.Logf("the head run was invalid on this machine (generator short of CPU); checking the GitHub side with that verdict")
	}
	if out["results-path"] != "loadgate-results" || out["report-path"] != "loadgate-results/report.md" || out["exit-code"] != fmt.Sprint(code) {
		t.Errorf("paths not workspace-relative: %q", out)
	}
	for _, f := range []string{resultsFile, verdictFile, reportFile, contextFile} {
		if _, err := os.Stat(filepath.Join(e.ws, "loadgate-results", f)); err != nil {
			t.Errorf("results dir: %v", err)
		}
	}
	comments := gh.Comments(2)
	if len(comments) != 1 || gh.Calls(fakegithub.OpCreateComment) != 2 {
		t.Fatalf("%d comments after %d create calls, want 1 after 2 (500 then retry)", len(comments), gh.Calls(fakegithub.OpCreateComment))
	}
	runs := gh.CheckRuns()
	if len(runs) != 1 || runs[0].HeadSHA != headSHA || runs[0].Conclusion != "failure" {
		t.Fatalf("check runs %+v", runs)
	}
	// The annotation points at create-order's line in the plan (line 10).
	var anchored bool
	for _, a := range runs[0].Annotations {
		if a["path"] == "perf/plan.yaml" && a["start_line"] == float64(10) && a["annotation_level"] == "failure" {
			anchored = true
		}
	}
	if regressed && !anchored {
		t.Errorf("no failure annotation on perf/plan.yaml:10: %v", runs[0].Annotations)
	}
	if regressed && !strings.Contains(e.stdout.String(), "::warning file=perf/plan.yaml,line=10,") {
		t.Errorf("no log annotation on the plan line:\n%s", e.stdout.String())
	}
	// The baseline is looked up at the PR's base commit first (none there
	// yet, nor in the workspace: the verdict is SLO-only).
	if gh.Calls(fakegithub.OpGetContent) != 1 {
		t.Errorf("baseline not looked up at the PR's base commit (%d calls)", gh.Calls(fakegithub.OpGetContent))
	}
	if !strings.Contains(e.file("GITHUB_STEP_SUMMARY"), "```mermaid\nxychart-beta") {
		t.Error("summary has no chart")
	}
	if _, err := os.Stat(filepath.Join(e.ws, "perf", "baseline.json")); err == nil || !strings.Contains(e.stdout.String(), "update-baseline ignored") {
		t.Errorf("a pull request's run updated the baseline (or did not say it would not): %v", err)
	}

	// Rerun of the job: the same comment is edited.
	if code := e.run(); code != exitFail && code != exitInvalid {
		t.Fatalf("rerun exit %d\n%s", code, e.stderr.String())
	}
	if c := gh.Comments(2); len(c) != 1 || c[0].Edits != 1 || c[0].ID != comments[0].ID {
		t.Fatalf("rerun comments %+v", c)
	}

	// A read-only token: comments are refused; exit code and summary stay.
	gh.Fail(fakegithub.OpListComments, fakegithub.Fault{Status: 403})
	before := len(e.file("GITHUB_STEP_SUMMARY"))
	if code := e.run(); code != exitFail && code != exitInvalid {
		t.Fatalf("403 run exit %d", code)
	}
	// What the reader sees: the note is escaped like every string in it.
	sum := html.UnescapeString(e.file("GITHUB_STEP_SUMMARY")[before:])
	if !strings.Contains(sum, "create-order") || !strings.Contains(sum, "pull-requests: write") || !strings.Contains(sum, "loadgate: shop") {
		t.Errorf("summary after 403:\n%s", sum)
	}
}

func TestActionInvalidPlanAnnotatesAndExits2(t *testing.T) {
	t.Parallel()
	e := newActionEnv(t, nil, "pull_request", "pull_request.opened.json")
	delete(e.vars, "INPUT_GITHUB-TOKEN")
	plan := "name: bad\ntarget: http://127.0.0.1:1\nendpoints:\n  - name: a\n    request: GET /\n    weight: 0\nprofile:\n  type: load\n  rate: 10/s\n  duration: 1s\n"
	if err := os.WriteFile(filepath.Join(e.ws, "loadgate.yaml"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := e.run(); code != exitUsage {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	if !strings.Contains(e.stdout.String(), "::error col=") || !strings.Contains(e.stdout.String(), "file=loadgate.yaml,line=6") {
		t.Errorf("no positioned annotation:\n%s", e.stdout.String())
	}
	if out := e.outputs(); out["verdict"] != "error" || out["exit-code"] != "2" {
		t.Errorf("outputs %q", out)
	}
	if !strings.Contains(e.file("GITHUB_STEP_SUMMARY"), "no verdict (exit 2)") {
		t.Error("summary does not say why")
	}
}

func TestActionMasksPlanSecrets(t *testing.T) {
	t.Parallel()
	e := newActionEnv(t, nil, "pull_request", "pull_request.opened.json")
	delete(e.vars, "INPUT_GITHUB-TOKEN")
	e.vars["API_TOKEN"] = "very-secret-value"
	plan := "name: s\ntarget: http://127.0.0.1:1\ndefaults:\n  headers: { Authorization: \"Bearer ${API_TOKEN}\" }\nendpoints:\n  - name: a\n    request: GET /\nprofile:\n  type: load\n  rate: 10/s\n  duration: 1s\n"
	if err := os.WriteFile(filepath.Join(e.ws, "loadgate.yaml"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	// (The exit code of an unreachable target is the gate's business; this
	// test is about the mask being issued before the gate runs.)
	e.run()
	if !strings.Contains(e.stdout.String(), "::add-mask::very-secret-value") {
		t.Errorf("secret not masked:\n%s", e.stdout.String())
	}
}

// TestActionInEmptyRoot runs the static binary as the container action would
// run, in an empty root holding only what the image holds (the binary, the CA
// bundle, /tmp) plus what the runner mounts (/github/workspace,
// /github/workflow/event.json, /github/file_commands): no shell, no libc, no
// /etc/passwd, no zoneinfo. `unshare -r -m --root --wd` is chroot + chdir in a
// user and mount namespace; the network namespace is shared, so the loopback
// target and the fake GitHub (over TLS, its certificate only trusted through
// the root's CA bundle) are reachable.
func TestActionInEmptyRoot(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs load for ~6 s")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not available")
	}
	if out, err := exec.Command(unshare, "-r", "-m", "true").CombinedOutput(); err != nil {
		t.Skipf("unshare -r -m not permitted here: %v %s", err, out)
	}
	t.Parallel()
	root := t.TempDir()
	mk := func(dir string, mode os.FileMode) string {
		p := filepath.Join(root, dir)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mk("tmp", 0o1777)
	mk("etc/ssl/certs", 0o755)
	ws := mk("github/workspace", 0o755)
	fc := mk("github/file_commands", 0o755)
	mk("github/workflow", 0o755)

	// The image's binary: static, trimmed, stripped, version stamped.
	bin := filepath.Join(root, "loadgate")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X github.com/loadgate/loadgate/internal/version.Version=v0.0.0-chroot", "-o", bin, "../../cmd/loadgate")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	fi, err := os.Stat(bin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("static binary: %.1f MB (image ≈ binary + %d kB CA bundle)", float64(fi.Size())/(1<<20), caBundleSize()/1024)

	gh := fakegithub.NewTLS(t, fakegithub.SpecPath, actionToken)
	// The root's CA bundle: the host's plus the fake GitHub's certificate.
	bundle, _ := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	bundle = append(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: gh.Certificate().Raw})...)
	if err := os.WriteFile(filepath.Join(root, "etc/ssl/certs/ca-certificates.crt"), bundle, 0o644); err != nil {
		t.Fatal(err)
	}
	event, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "github", "events", "pull_request.opened.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "github/workflow/event.json"), event, 0o644); err != nil {
		t.Fatal(err)
	}
	demo := setUpDemoRepo(t, ws)
	if err := demo.Regress("/orders", 4); err != nil {
		t.Fatal(err)
	}

	env := []string{
		"GITHUB_ACTIONS=true",
		"GITHUB_WORKSPACE=/github/workspace",
		"GITHUB_EVENT_NAME=pull_request",
		"GITHUB_EVENT_PATH=/github/workflow/event.json",
		"GITHUB_OUTPUT=/github/file_commands/set_output_1",
		"GITHUB_STEP_SUMMARY=/github/file_commands/step_summary_1",
		"GITHUB_REPOSITORY=Codertocat/Hello-World",
		"GITHUB_SHA=" + headSHA,
		"GITHUB_RUN_ID=99",
		"GITHUB_SERVER_URL=https://github.com",
		"GITHUB_API_URL=" + gh.URL,
		"HOME=/github/home",
		"TZ=Europe/Paris",
		"INPUT_PLAN=perf/plan.yaml",
		"INPUT_BASELINE=perf/baseline.json",
		"INPUT_EXTRA-ARGS=-q",
		"INPUT_GITHUB-TOKEN=" + actionToken,
	}
	chroot := func(args ...string) (int, string, string) {
		cmd := exec.Command(unshare, append([]string{"-r", "-m", "--root=" + root, "--wd=/github/workspace", "/loadgate"}, args...)...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("unshare: %v", err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}

	if code, out, errOut := chroot("version"); code != 0 || !strings.Contains(out, "v0.0.0-chroot") {
		t.Fatalf("version in the empty root: exit %d %q %q", code, out, errOut)
	}
	code, out, errOut := chroot("action")
	if code != exitFail && code != exitInvalid {
		t.Fatalf("action in the empty root: exit %d, want 1 (regressed) or 4 (invalid on a busy machine)\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	outputs, err := os.ReadFile(filepath.Join(fc, "set_output_1"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(outputs), "exit-code<<") || !strings.Contains(string(outputs), "\n"+fmt.Sprint(code)+"\n") {
		t.Errorf("outputs file:\n%s", outputs)
	}
	summary, err := os.ReadFile(filepath.Join(fc, "step_summary_1"))
	if err != nil || !strings.Contains(string(summary), "loadgate: shop") {
		t.Errorf("summary: %v\n%s", err, summary)
	}
	if n := len(gh.Comments(2)); n != 1 {
		t.Errorf("%d PR comments, want 1", n)
	}
	if runs := gh.CheckRuns(); len(runs) != 1 || runs[0].Conclusion != "failure" {
		t.Errorf("check runs %+v", runs)
	}
	if !strings.Contains(out, "::add-mask::"+actionToken) {
		t.Error("token not masked")
	}
	// The results were written by a process with no zoneinfo on disk: the
	// embedded time/tzdata gave it Paris time.
	res, err := os.ReadFile(filepath.Join(ws, "loadgate-results", resultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(res), "+01:00") {
		t.Errorf("results carry no +01:00 (Europe/Paris, November) timestamp: time/tzdata not in effect?")
	}
}

func caBundleSize() int64 {
	fi, err := os.Stat("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		return 0
	}
	return fi.Size()
}

// TestExampleWorkflows keeps examples/workflows honest: valid YAML, and every
// `with:` key of a loadgate step is an input action.yml declares.
func TestExampleWorkflows(t *testing.T) {
	t.Parallel()
	inputs := map[string]bool{}
	for _, n := range actionInputNames() {
		inputs[n] = true
	}
	files, err := filepath.Glob(filepath.Join(repoRoot, "examples", "workflows", "*.yml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("%d example workflows (%v), want ≥ 5", len(files), err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var wf struct {
			On   any `yaml:"on"`
			Jobs map[string]struct {
				Steps []struct {
					Uses string         `yaml:"uses"`
					With map[string]any `yaml:"with"`
				} `yaml:"steps"`
			} `yaml:"jobs"`
		}
		if err := yaml.Unmarshal(data, &wf); err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if wf.On == nil || len(wf.Jobs) == 0 {
			t.Errorf("%s: no trigger or jobs", f)
		}
		used := false
		for _, j := range wf.Jobs {
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "loadgate/loadgate@") {
					continue
				}
				used = true
				for k := range s.With {
					if !inputs[k] {
						t.Errorf("%s: input %q is not in action.yml", filepath.Base(f), k)
					}
				}
			}
		}
		if !used {
			t.Errorf("%s: no loadgate/loadgate step", filepath.Base(f))
		}
	}
}

func TestActionScheduledRegressionOpensIssue(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	e := newActionEnv(t, gh, "workflow_dispatch", "workflow_dispatch.json")
	e.vars["GITHUB_REPOSITORY"] = "octo-org/octo-repo"
	writePreviousRun(t, filepath.Join(e.ws, "artifact"), "verdict.regressed.json", `{"head_sha": "`+headSHA+`", "plan": "checkout-api", "exit_code": 1}`)
	e.vars["INPUT_VERDICT-FROM"] = "artifact"
	e.vars["INPUT_ISSUE-ON-REGRESSION"] = "true"
	e.vars["INPUT_ISSUE-LABELS"] = "performance, nightly"
	if code := e.run(); code != exitFail {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	is := gh.Issues()
	if len(is) != 1 || !strings.HasPrefix(is[0].Title, "Performance regression: 1 regression") || len(is[0].Labels) != 2 {
		t.Fatalf("issues %+v", is)
	}
	if len(gh.CheckRuns()) != 1 || gh.Calls(fakegithub.OpCreateComment) != 0 {
		t.Errorf("check runs %d, comment calls %d", len(gh.CheckRuns()), gh.Calls(fakegithub.OpCreateComment))
	}
	// With issue-number, the nightly keeps one sticky comment on that issue.
	e.vars["INPUT_ISSUE-NUMBER"] = fmt.Sprint(is[0].Number)
	for range 2 {
		if code := e.run(); code != exitFail {
			t.Fatalf("exit %d", code)
		}
	}
	if len(gh.Issues()) != 1 || len(gh.Comments(is[0].Number)) != 1 {
		t.Errorf("issues %d, comments on #%d: %d", len(gh.Issues()), is[0].Number, len(gh.Comments(is[0].Number)))
	}
}

func TestActionPushToDefaultBranchOpensBaselinePR(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	e := newActionEnv(t, gh, "push", "push.main.json")
	// An import plan (a tool's output from an earlier step): no live load, so
	// the run is valid whatever else this machine is doing.
	perf := filepath.Join(e.ws, "perf")
	if err := os.MkdirAll(perf, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(repoRoot, "testdata", "peers", "vegeta-12.13.0", "results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(perf, "results.jsonl"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	// The fixture's GET /err fails by design: the plan accepts it (without a
	// baseline, an endpoint with no successful response fails otherwise).
	plan := "name: imported\nrunner:\n  import: { from: vegeta-json, file: results.jsonl }\ngate:\n  p95: +10%\n  slo: { error_rate: 100% }\n"
	if err := os.WriteFile(filepath.Join(perf, "plan.yaml"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	e.vars["INPUT_PLAN"] = "perf/plan.yaml"
	e.vars["INPUT_BASELINE"] = "perf/baseline.json"
	e.vars["INPUT_UPDATE-BASELINE"] = "true"
	e.vars["INPUT_OPEN-PR"] = "true"
	if code := e.run(); code != exitPass {
		t.Fatalf("exit %d\n%s", code, e.stderr.String())
	}
	local, err := os.ReadFile(filepath.Join(perf, "baseline.json"))
	if err != nil {
		t.Fatalf("baseline not written: %v", err)
	}
	pulls := gh.Pulls()
	if len(pulls) != 1 || pulls[0].Head != "loadgate/baseline-imported" || pulls[0].Base != "master" {
		t.Fatalf("pulls %+v\n%s", pulls, e.stderr.String())
	}
	if got, ok := gh.File("loadgate/baseline-imported", "perf/baseline.json"); !ok || !bytes.Equal(got, local) {
		t.Errorf("branch file differs from the updated baseline (%v)", ok)
	}
	if _, ok := gh.File("master", "perf/baseline.json"); ok {
		t.Error("default branch written directly")
	}
	// A check run on the pushed commit, no PR comment.
	if len(gh.CheckRuns()) != 1 || gh.Calls(fakegithub.OpListComments) != 0 {
		t.Errorf("check runs %d, comment lists %d", len(gh.CheckRuns()), gh.Calls(fakegithub.OpListComments))
	}

	// Next push: the baseline gains a run; the same PR is reused.
	if code := e.run(); code != exitPass {
		t.Fatalf("second push: exit %d\n%s", code, e.stderr.String())
	}
	local2, _ := os.ReadFile(filepath.Join(perf, "baseline.json"))
	if got, _ := gh.File("loadgate/baseline-imported", "perf/baseline.json"); len(gh.Pulls()) != 1 || !bytes.Equal(got, local2) || bytes.Equal(local, local2) {
		t.Errorf("second update: %d pulls, branch file current %v", len(gh.Pulls()), bytes.Equal(got, local2))
	}
}

func TestOpenBaselinePRWiring(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	e := newActionEnv(t, gh, "push", "push.main.json")
	env := actionsenv.New(func(k string) string { return e.vars[k] }, &e.stdout)
	gctx, err := env.Context()
	if err != nil {
		t.Fatal(err)
	}
	a := &action{ctx: context.Background(), stdout: &e.stdout, stderr: &e.stderr, getenv: func(k string) string { return e.vars[k] }}
	side := newGitHubSide(a, env, gctx, actionInputs{Token: actionToken})
	baseline := filepath.Join(e.ws, "perf", "baseline.json")
	if err := os.MkdirAll(filepath.Dir(baseline), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(baseline, []byte(`{"schema":"x"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rc := runContext{ws: e.ws, workdir: e.ws, results: filepath.Join(e.ws, "loadgate-results")}
	side.openBaselinePR(rc, baseline, gctx.Event.DefaultBranch, &gate.Verdict{Plan: "checkout api/v2"})
	pulls := gh.Pulls()
	if len(pulls) != 1 || pulls[0].Head != "loadgate/baseline-checkout-api-v2" || pulls[0].Base != "master" {
		t.Fatalf("pulls %+v\n%s", pulls, e.stderr.String())
	}
	if got, ok := gh.File("loadgate/baseline-checkout-api-v2", "perf/baseline.json"); !ok || string(got) != `{"schema":"x"}` {
		t.Errorf("file %q %v", got, ok)
	}
}

func TestActionPairedMode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs load for ~12 s")
	}
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	e := newActionEnv(t, gh, "pull_request", "pull_request.opened.json")
	head := setUpDemoRepo(t, e.ws) // the plan's target: the head build
	if err := head.Regress("/orders", 4); err != nil {
		t.Fatal(err)
	}
	base := httptest.NewServer(target.NewDemo())
	t.Cleanup(base.Close)
	e.vars["INPUT_PLAN"] = "perf/plan.yaml"
	e.vars["INPUT_MODE"] = "paired"
	e.vars["INPUT_BASE-TARGET"] = base.URL
	e.vars["INPUT_EXTRA-ARGS"] = "-q"
	code := e.run()
	out := e.outputs()
	switch {
	case code == exitFail && strings.Contains(out["regressions"], "create-order"):
	case code == exitInvalid && out["verdict"] == "invalid":
		t.Logf("a run was invalid on this busy machine; the paired plumbing still ran")
	default:
		t.Fatalf("exit %d outputs %q\n%s", code, out, e.stderr.String())
	}
	for _, f := range []string{"results.base.json", resultsFile, verdictFile} {
		if _, err := os.Stat(filepath.Join(e.ws, "loadgate-results", f)); err != nil && code == exitFail {
			t.Errorf("paired results: %v", err)
		}
	}
	if len(gh.Comments(2)) != 1 || len(gh.CheckRuns()) != 1 {
		t.Errorf("comments %d check runs %d", len(gh.Comments(2)), len(gh.CheckRuns()))
	}
}

func TestAWSModeFlags(t *testing.T) {
	t.Parallel()
	in := actionInputs{Mode: "aws", ExtraArgs: []string{"--spot"}, AWS: map[string]string{
		"aws-region": "eu-west-1", "aws-workers": "10", "aws-bucket": "my-bucket",
		"aws-subnets": "subnet-1,subnet-2", "aws-security-groups": "sg-1", "aws-cluster": "lg",
		"aws-task-definition": "lg-worker:3", "aws-max-cost": "5",
	}}
	got := strings.Join(awsFlags(in), " ")
	want := "--store s3://my-bucket/loadgate --regions eu-west-1:10 " +
		"--cluster lg --task-definition lg-worker:3 --subnets subnet-1,subnet-2 --security-groups sg-1 --max-cost 5 --spot"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestAWSModeNeedsItsInputs(t *testing.T) {
	t.Parallel()
	e := newActionEnv(t, nil, "workflow_dispatch", "workflow_dispatch.json")
	e.vars["INPUT_MODE"] = "aws"
	if code := e.run(); code != exitUsage {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"input baseline", "input aws-region", "input aws-bucket", "input aws-subnets"} {
		if !strings.Contains(e.stdout.String(), want) {
			t.Errorf("no %q in:\n%s", want, e.stdout.String())
		}
	}
}

// A run that ends without a verdict (here: target unreachable, exit 3) must
// not publish what an earlier run left behind. Before this run the results
// directory holds a passing verdict and the PR carries the last run's ✅ PASS
// comment; afterwards the comment, a check run, the outputs and the job
// summary say "no verdict: …", the stale files are gone, and the fork-safe
// second half reading this run's artifact says the same.
func TestActionNoVerdictReplacesTheLastVerdict(t *testing.T) {
	t.Parallel()
	gh := fakegithub.New(t, fakegithub.SpecPath, actionToken)
	e := newActionEnv(t, gh, "pull_request", "pull_request.opened.json")
	delete(e.vars, "INPUT_UPDATE-BASELINE")
	// Port 1 on loopback refuses every connection.
	plan := "name: shop\ntarget: http://127.0.0.1:1\nendpoints:\n  - name: a\n    request: GET /\nprofile:\n  type: load\n  rate: 20/s\n  duration: 1s\n"
	if err := os.WriteFile(filepath.Join(e.ws, "loadgate.yaml"), []byte(plan), 0o644); err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(e.ws, "loadgate-results")
	writePreviousRun(t, results, "verdict.pass.json", strings.Replace(prContextJSON, `"exit_code": 1`, `"exit_code": 0`, 1))
	if err := os.WriteFile(filepath.Join(results, reportFile), []byte("✅ PASS (old)\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	client, err := ghclient.New(ghclient.Options{Token: actionToken, APIURL: gh.URL})
	if err != nil {
		t.Fatal(err)
	}
	old, err := client.UpsertComment(context.Background(), ghclient.Repo{Owner: "Codertocat", Name: "Hello-World"}, 2, "shop", "✅ PASS — the last run's verdict")
	if err != nil {
		t.Fatal(err)
	}

	if code := e.run(); code != pipeline.ExitInfra {
		t.Fatalf("exit %d, want %d (target unreachable)\nstderr:\n%s", code, pipeline.ExitInfra, e.stderr.String())
	}
	wantNoVerdict := func(what, s string) {
		t.Helper()
		s = html.UnescapeString(s) // what the reader sees
		if !strings.Contains(s, "no verdict: target http://127.0.0.1:1 unreachable") || strings.Contains(s, "PASS") {
			t.Errorf("%s does not say why there is no verdict (or still shows the old one):\n%s", what, s)
		}
	}
	comments := gh.Comments(2)
	if len(comments) != 1 || comments[0].ID != old.ID || comments[0].Edits != 1 {
		t.Fatalf("comments %+v: want the sticky comment edited", comments)
	}
	wantNoVerdict("PR comment", comments[0].Body)
	runs := gh.CheckRuns()
	if len(runs) != 1 || runs[0].Conclusion != "failure" || runs[0].Name != "loadgate / shop" || runs[0].HeadSHA != headSHA {
		t.Fatalf("check runs %+v", runs)
	}
	wantNoVerdict("check-run title", runs[0].Title)
	wantNoVerdict("check-run summary", runs[0].Summary)
	wantNoVerdict("job summary", e.file("GITHUB_STEP_SUMMARY"))
	out := e.outputs()
	if out["verdict"] != "error" || out["exit-code"] != "3" || out["regressions"] != "" || out["check-run-id"] != fmt.Sprint(runs[0].ID) {
		t.Errorf("outputs %q", out)
	}
	for _, f := range []string{verdictFile, reportFile} {
		if _, err := os.Stat(filepath.Join(results, f)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s from the earlier run still in the results directory (%v)", f, err)
		}
	}

	// The privileged second half reads this run's artifact: no verdict.json,
	// the reason in context.json.
	e2 := newActionEnv(t, gh, "workflow_run", "workflow_run.pr.json")
	if err := os.CopyFS(filepath.Join(e2.ws, "artifact"), os.DirFS(results)); err != nil {
		t.Fatal(err)
	}
	e2.vars["INPUT_VERDICT-FROM"] = "artifact"
	if code := e2.run(); code != pipeline.ExitInfra {
		t.Fatalf("verdict-from: exit %d, want 3\nstderr:\n%s", code, e2.stderr.String())
	}
	comments = gh.Comments(2)
	// The same reason gives the same body: the client leaves an identical
	// comment as it is (no edit), so one comment, still saying why.
	if len(comments) != 1 || comments[0].ID != old.ID {
		t.Fatalf("verdict-from: comments %+v", comments)
	}
	wantNoVerdict("verdict-from PR comment", comments[0].Body)
	if out := e2.outputs(); out["verdict"] != "error" || out["exit-code"] != "3" {
		t.Errorf("verdict-from outputs %q", out)
	}
}
