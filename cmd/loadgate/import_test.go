package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/results"
)

const peersDir = "../../testdata/peers"

func TestImportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	out := filepath.Join(dir, "results.json")
	code, stdout, stderr := cli(t, context.Background(), nil, "import", "--from", "vegeta-json",
		filepath.Join(peersDir, "vegeta-12.13.0/regen/results.jsonl"), "-o", out, "--rename", "/users/{id}")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stdout, "imported 180 requests in 4 endpoints") || !strings.Contains(stdout, "GET /users/{id}") {
		t.Errorf("stdout:\n%s", stdout)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.Runner != "import:vegeta-json" || r.Total.Requests != 180 {
		t.Errorf("results: %s %d", r.Run.Runner, r.Total.Requests)
	}
	// The imported file is a normal results file: compare against itself passes.
	base := filepath.Join(dir, "base.json")
	if code, o, e := cli(t, context.Background(), nil, "baseline", "update", out, "--baseline", base); code != 0 {
		t.Fatalf("baseline update: exit %d\n%s\n%s", code, o, e)
	}
	if code, o, e := cli(t, context.Background(), nil, "compare", "--baseline", base, out); code != 0 {
		t.Fatalf("compare: exit %d\n%s\n%s", code, o, e)
	}
}

func TestImportBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	jtl := writeFile(t, dir, "results.jtl", "timeStamp,elapsed,label,responseCode,success\n"+
		"1795652827384,27,GET fast,200,true\n1795652827385,abc,GET fast,200,true\n1795652827386,3,GET fast,200,true\n")
	out := filepath.Join(dir, "r.json")
	code, _, stderr := cli(t, context.Background(), nil, "import", "--from", "jmeter-csv", jtl, "-o", out)
	if code != exitUsage || !strings.Contains(stderr, jtl+`:3: column "elapsed": not a number "abc"`) {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("results written despite the error")
	}
	code, stdout, stderr := cli(t, context.Background(), nil, "import", "--from", "jmeter-csv", jtl, "-o", out, "--skip-bad-lines")
	if code != 0 || !strings.Contains(stdout, "imported 2 requests") || !strings.Contains(stdout, "skipped 1 malformed line(s)") ||
		!strings.Contains(stderr, "skipped "+jtl+":3") {
		t.Errorf("exit %d\nstdout %s\nstderr %s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"import", "--from", "wrk", jtl, "-o", out},
		{"import", "--from", "jmeter-csv", filepath.Join(dir, "missing.jtl"), "-o", out},
		{"import", "--from", "jmeter-csv", jtl},
		{"import", "--from", "auto", writeFile(t, dir, "x.txt", "hello\n"), "-o", out},
	} {
		if code, _, stderr := cli(t, context.Background(), nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d (%s)", args, code, exitUsage, stderr)
		}
	}
}

// TestExecPlan runs a plan whose runner is a fake tool that writes a real
// vegeta output and exits 99 (as k6 does on failed thresholds): loadgate
// imports it, records the exit code, and its own exit stays its own.
func TestExecPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fixture, err := filepath.Abs(filepath.Join(peersDir, "vegeta-12.13.0/regen/results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	// A child shell writes the tool (see copyFile: ETXTBSY).
	w := exec.Command("sh", "-c", `cat > tool.sh && chmod 755 tool.sh`)
	w.Dir, w.Stdin = dir, strings.NewReader("#!/bin/sh\necho fake tool running\ncp '"+fixture+"' out.jsonl\nexit 99\n")
	if out, err := w.CombinedOutput(); err != nil {
		t.Fatalf("write tool.sh: %v: %s", err, out)
	}
	planPath := writeFile(t, dir, "plan.yaml", `name: fake-tool
runner:
  exec: ./tool.sh --out json=out.jsonl
  timeout: 1m
  import: { from: vegeta-json, file: out.jsonl, rename: ["/users/{id}"] }
`)
	out := filepath.Join(dir, "results.json")
	code, stdout, stderr := cli(t, context.Background(), map[string]string{"GITHUB_ACTIONS": "true"}, "run", planPath, "-o", out, "-q")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "::group::./tool.sh --out json=out.jsonl\nfake tool running\n") || !strings.Contains(stderr, "::endgroup::") {
		t.Errorf("tool output not grouped:\n%s", stderr)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Run.ToolExitCode == nil || *r.Run.ToolExitCode != 99 || r.Run.Runner != "exec:vegeta-json" || r.Total.Requests != 180 {
		t.Errorf("results: exit %v runner %s requests %d", r.Run.ToolExitCode, r.Run.Runner, r.Total.Requests)
	}
}
