package actionsenv

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func envFunc(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func fixture(name string) string {
	return filepath.Join("..", "..", "testdata", "github", "events", name)
}

func TestInputs(t *testing.T) {
	t.Parallel()
	e := New(envFunc(map[string]string{
		"INPUT_GITHUB-TOKEN": " tok ",
		"INPUT_FAIL_ON":      "inconclusive",
		"INPUT_COMMENT":      "false",
		"INPUT_CHECK":        "maybe",
	}), &bytes.Buffer{})
	if got := e.Input("github-token"); got != "tok" {
		t.Errorf("github-token = %q", got)
	}
	if got := e.Input("fail-on"); got != "inconclusive" {
		t.Errorf("fail-on (underscore form) = %q", got)
	}
	if b, err := e.BoolInput("comment", true); err != nil || b {
		t.Errorf("comment = %v %v", b, err)
	}
	if b, err := e.BoolInput("missing", true); err != nil || !b {
		t.Errorf("default = %v %v", b, err)
	}
	if _, err := e.BoolInput("check", true); err == nil {
		t.Error("bad boolean accepted")
	}
}

func TestOutputsUseRandomHeredocDelimiter(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "output")
	e := New(envFunc(map[string]string{"GITHUB_OUTPUT": out}), &bytes.Buffer{})
	// A value trying to close go-githubactions' fixed delimiter and inject an output.
	evil := "line1\n_GitHubActionsFileCommandDelimeter_\nverdict<<X\npass\nX"
	if err := e.SetOutput("regressions", evil); err != nil {
		t.Fatal(err)
	}
	if err := e.SetOutput("verdict", "regressed"); err != nil {
		t.Fatal(err)
	}
	got := parseOutputs(t, out)
	if got["regressions"] != evil || got["verdict"] != "regressed" || len(got) != 2 {
		t.Fatalf("outputs %q", got)
	}
	data, _ := os.ReadFile(out)
	if strings.Contains(string(data), "regressions<<_GitHubActionsFileCommandDelimeter_") {
		t.Error("fixed delimiter used")
	}
}

func TestOutputDelimiterInjectable(t *testing.T) {
	t.Parallel()
	out := filepath.Join(t.TempDir(), "output")
	e := New(envFunc(map[string]string{"GITHUB_OUTPUT": out}), &bytes.Buffer{}, WithDelimiter(func() string { return "EOF" }))
	if err := e.SetOutput("a", "1"); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(out)
	if string(data) != "a<<EOF\n1\nEOF\n" {
		t.Fatalf("%q", data)
	}
	// A value containing the delimiter gets another one.
	if err := e.SetOutput("b", "x\nEOF\ny"); err != nil {
		t.Fatal(err)
	}
	if got := parseOutputs(t, out); got["b"] != "x\nEOF\ny" {
		t.Fatalf("%q", got)
	}
}

// parseOutputs reads a GITHUB_OUTPUT file as the runner does.
func parseOutputs(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			k, v, _ := strings.Cut(lines[i], "=")
			out[k] = v
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

func TestFileCommandsOutsideActions(t *testing.T) {
	t.Parallel()
	e := New(envFunc(nil), &bytes.Buffer{})
	if err := e.SetOutput("a", "b"); !errors.Is(err, ErrNotInActions) {
		t.Errorf("SetOutput: %v", err)
	}
	if err := e.AppendSummary("x"); !errors.Is(err, ErrNotInActions) {
		t.Errorf("AppendSummary: %v", err)
	}
}

func TestSummaryAppendsAndCaps(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "summary")
	e := New(envFunc(map[string]string{"GITHUB_STEP_SUMMARY": path}), &bytes.Buffer{})
	if err := e.AppendSummary("# one"); err != nil {
		t.Fatal(err)
	}
	if err := e.AppendSummary(strings.Repeat("é", MaxStepSummary)); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > MaxStepSummary {
		t.Fatalf("summary %d bytes > %d", fi.Size(), MaxStepSummary)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "# one\n") || !strings.Contains(string(data), "truncated") {
		t.Fatal("summary not appended/capped")
	}
}

func TestWorkflowCommands(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	e := New(envFunc(nil), &buf)
	_ = e.Annotate(Annotation{Level: Error, File: "plan.yaml", Line: 12, Column: 5, Msg: "endpoints[1].weight: must be > 0"})
	_ = e.Annotate(Annotation{Level: Warning, File: "plan.yaml", Line: 3, Title: "create-order: regressed", Msg: "p95 +26%\nsecond line"})
	end := e.Group("loadgate run")
	end()
	_ = e.Mask("s3cr3t-value", "ab", "multi\nline-secret")
	want := "::error col=5,file=plan.yaml,line=12::endpoints[1].weight: must be > 0\n" +
		"::warning file=plan.yaml,line=3,title=create-order%3A regressed::p95 +26%25%0Asecond line\n" +
		"::group::loadgate run\n" +
		"::endgroup::\n" +
		"::add-mask::s3cr3t-value\n" +
		"::add-mask::multi\n" +
		"::add-mask::line-secret\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestContextAndEvents(t *testing.T) {
	t.Parallel()
	tests := []struct {
		file, name string
		check      func(t *testing.T, ev Event)
	}{
		{"pull_request.opened.json", "pull_request", func(t *testing.T, ev Event) {
			pr := ev.PullRequest
			if pr == nil || pr.Number != 2 || pr.HeadSHA != "ec26c3e57ca3a959ca5aad62de7213c562f8c821" ||
				pr.BaseSHA != "f95f852bd8fca8fcc58a9a2d6c842781e32a215e" || pr.BaseRef != "master" || pr.Fork {
				t.Errorf("%+v", pr)
			}
		}},
		{"push.json", "push", func(t *testing.T, ev Event) {
			if ev.Push == nil || ev.Push.ToDefaultBranch || ev.Push.Ref != "refs/tags/simple-tag" {
				t.Errorf("%+v", ev.Push)
			}
		}},
		{"push.main.json", "push", func(t *testing.T, ev Event) {
			if ev.Push == nil || !ev.Push.ToDefaultBranch {
				t.Errorf("%+v", ev.Push)
			}
		}},
		{"workflow_dispatch.json", "workflow_dispatch", func(t *testing.T, ev Event) {
			if ev.PullRequest != nil || ev.Repository != "octo-org/octo-repo" || ev.DefaultBranch != "main" {
				t.Errorf("%+v", ev)
			}
		}},
		{"workflow_run.completed.json", "workflow_run", func(t *testing.T, ev Event) {
			w := ev.WorkflowRun
			if w == nil || w.ID != 1589141559 || w.Event != "workflow_dispatch" || len(w.PullRequests) != 0 {
				t.Errorf("%+v", w)
			}
		}},
		{"workflow_run.pr.json", "workflow_run", func(t *testing.T, ev Event) {
			w := ev.WorkflowRun
			if w == nil || w.Event != "pull_request" || len(w.PullRequests) != 1 || w.PullRequests[0] != 2 || w.Conclusion != "success" {
				t.Errorf("%+v", w)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			t.Parallel()
			e := New(envFunc(map[string]string{
				"GITHUB_EVENT_NAME": tt.name, "GITHUB_EVENT_PATH": fixture(tt.file),
				"GITHUB_RUN_ID": "77", "GITHUB_SERVER_URL": "https://ghes.example",
			}), &bytes.Buffer{})
			c, err := e.Context()
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, c.Event)
			if c.Repository == "" || c.RunURL() != "https://ghes.example/"+c.Repository+"/actions/runs/77" {
				t.Errorf("repo %q run URL %q", c.Repository, c.RunURL())
			}
		})
	}
}

func TestForkDetection(t *testing.T) {
	t.Parallel()
	payload := `{"pull_request":{"number":5,"head":{"sha":"h","ref":"f","repo":{"full_name":"evil/fork"}},"base":{"sha":"b","ref":"main","repo":{"full_name":"o/r"}}}}`
	ev, err := ParseEvent("pull_request", []byte(payload))
	if err != nil || !ev.PullRequest.Fork {
		t.Fatalf("%+v %v", ev, err)
	}
	deleted := `{"pull_request":{"number":5,"head":{"sha":"h","ref":"f","repo":null},"base":{"sha":"b","ref":"main","repo":{"full_name":"o/r"}}}}`
	if ev, err := ParseEvent("pull_request", []byte(deleted)); err != nil || !ev.PullRequest.Fork {
		t.Fatalf("deleted fork: %+v %v", ev, err)
	}
}

func FuzzParseEvent(f *testing.F) {
	for _, n := range []string{"pull_request.opened.json", "push.json", "workflow_run.pr.json"} {
		data, err := os.ReadFile(fixture(n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add("pull_request", data)
		f.Add("push", data)
		f.Add("workflow_run", data)
	}
	f.Add("pull_request", []byte(`{"pull_request":null}`))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		ev, err := ParseEvent(name, data)
		if err == nil && ev == nil {
			t.Fatal("nil event without error")
		}
	})
}
