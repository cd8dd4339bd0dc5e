//go:build unix

package exec

import (
	"bytes"
	"context"
	"errors"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
)

const fixture = "../../testdata/peers/vegeta-12.13.0/regen/results.jsonl"

// fakeTool writes a shell script standing in for k6: it prints to stdout and
// stderr, copies a real vegeta output to out.jsonl and exits with code.
// A child shell writes it: had this process held the file open for writing,
// a parallel test forking at that moment could carry the descriptor into its
// child and make exec of the script fail with "text file busy" (ETXTBSY).
func fakeTool(t *testing.T, dir, body string) {
	t.Helper()
	w := osexec.Command("sh", "-c", `cat > tool.sh && chmod 755 tool.sh`)
	w.Dir, w.Stdin = dir, strings.NewReader("#!/bin/sh\n"+body+"\n")
	if out, err := w.CombinedOutput(); err != nil {
		t.Fatalf("write tool.sh: %v: %s", err, out)
	}
}

func testPlan(t *testing.T, exec string, timeout time.Duration) *plan.Plan {
	t.Helper()
	dir := t.TempDir()
	abs, err := filepath.Abs(fixture)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(abs, filepath.Join(dir, "fixture.jsonl")); err != nil {
		t.Fatal(err)
	}
	return &plan.Plan{
		Name: "api",
		Dir:  dir,
		Runner: plan.RunnerSpec{
			Exec:    exec,
			Timeout: timeout,
			Import:  &plan.ImportSpec{From: "vegeta-json", File: "out.jsonl", Rename: []string{"/users/{id}"}},
		},
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestExitCodeReportedNotFatal(t *testing.T) {
	t.Parallel()
	p := testPlan(t, "./tool.sh --out 'json=out.jsonl'", time.Minute)
	fakeTool(t, p.Dir, `echo "running $1 $2"; echo "thresholds crossed" >&2; cp fixture.jsonl out.jsonl; exit 99`)
	var out syncBuf
	res, err := New(Options{Output: &out}).Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.ToolExitCode == nil || *res.Run.ToolExitCode != 99 {
		t.Errorf("ToolExitCode = %v, want 99", res.Run.ToolExitCode)
	}
	if res.Run.Runner != "exec:vegeta-json" || res.Plan.Name != "api" || res.Plan.Hash != p.Hash() {
		t.Errorf("run %+v plan %+v", res.Run, res.Plan)
	}
	if res.Total.Requests != 180 || res.Endpoint("GET /users/{id}") == nil || res.Run.Partial {
		t.Errorf("imported %d requests, endpoints %d, partial %v", res.Total.Requests, len(res.Endpoints), res.Run.Partial)
	}
	if !res.Validity.Valid || !strings.Contains(strings.Join(res.Validity.Reasons, ";"), "exited with code 99") {
		t.Errorf("validity %+v", res.Validity)
	}
	if got := out.String(); !strings.Contains(got, "running --out json=out.jsonl\n") || !strings.Contains(got, "thresholds crossed\n") {
		t.Errorf("output not streamed: %q", got)
	}
}

func TestExitZero(t *testing.T) {
	t.Parallel()
	p := testPlan(t, "sh -c 'cp fixture.jsonl out.jsonl'", 0)
	res, err := New(Options{}).Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.ToolExitCode == nil || *res.Run.ToolExitCode != 0 || len(res.Validity.Reasons) != 0 {
		t.Errorf("exit %v reasons %v", res.Run.ToolExitCode, res.Validity.Reasons)
	}
}

func TestTimeoutKillsGroup(t *testing.T) {
	t.Parallel()
	// Long enough for the tool to write its partial output on a busy
	// runner: the test is about what happens after the timeout.
	p := testPlan(t, "./tool.sh", 3*time.Second)
	// The tool writes part of its output, starts a child that would outlive
	// it, and hangs; both must be gone after the timeout.
	fakeTool(t, p.Dir, `head -c 3000 fixture.jsonl > out.jsonl; sleep 60 & echo $! > child.pid; trap '' TERM; wait`)
	start := time.Now()
	res, err := New(Options{KillGrace: 200 * time.Millisecond}).Run(context.Background(), p)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if time.Since(start) > 20*time.Second {
		t.Errorf("took %v", time.Since(start))
	}
	if res == nil || !res.Run.Partial || res.Total.Requests == 0 {
		t.Fatalf("want partial results, got %+v", res)
	}
	pidData, err := os.ReadFile(filepath.Join(p.Dir, "child.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(pidData)))
	deadline := time.Now().Add(10 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("child %d still alive", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	p := testPlan(t, "./tool.sh", time.Minute)
	fakeTool(t, p.Dir, `cp fixture.jsonl out.jsonl; echo started; exec sleep 60`)
	var out syncBuf
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		for !strings.Contains(out.String(), "started") {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
	}()
	res, err := New(Options{Output: &out}).Run(ctx, p)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	if res == nil || !res.Run.Partial || res.Total.Requests != 180 {
		t.Fatalf("partial results %+v", res)
	}
}

func TestToolErrors(t *testing.T) {
	t.Parallel()
	t.Run("not found", func(t *testing.T) {
		t.Parallel()
		p := testPlan(t, "no-such-load-tool run", time.Minute)
		_, err := New(Options{}).Run(context.Background(), p)
		var te *ToolError
		if !errors.As(err, &te) || te.ExitCode != -1 {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("wrote nothing", func(t *testing.T) {
		t.Parallel()
		p := testPlan(t, "sh -c 'exit 1'", time.Minute)
		_, err := New(Options{}).Run(context.Background(), p)
		var te *ToolError
		if !errors.As(err, &te) || te.ExitCode != 1 || !strings.Contains(err.Error(), "wrote no") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("stale output", func(t *testing.T) {
		t.Parallel()
		// A file from an earlier run is removed first, never imported.
		p := testPlan(t, "sh -c 'exit 0'", time.Minute)
		data, _ := os.ReadFile(fixture)
		if err := os.WriteFile(filepath.Join(p.Dir, "out.jsonl"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{}).Run(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), "wrote no") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("appending tool", func(t *testing.T) {
		t.Parallel()
		// JMeter appends to an existing -l file: only this run's lines count.
		p := testPlan(t, "sh -c 'head -n 10 fixture.jsonl >> out.jsonl'", time.Minute)
		data, _ := os.ReadFile(fixture)
		if err := os.WriteFile(filepath.Join(p.Dir, "out.jsonl"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		res, err := New(Options{}).Run(context.Background(), p)
		if err != nil || res.Total.Requests != 10 {
			t.Errorf("err %v, requests %d, want 10", err, res.Total.Requests)
		}
	})
	t.Run("bad output", func(t *testing.T) {
		t.Parallel()
		p := testPlan(t, "sh -c 'echo nonsense > out.jsonl'", time.Minute)
		_, err := New(Options{}).Run(context.Background(), p)
		if err == nil || !strings.Contains(err.Error(), "out.jsonl:1:") {
			t.Errorf("err = %v", err)
		}
	})
}

func TestImportOnly(t *testing.T) {
	t.Parallel()
	p := testPlan(t, "", 0)
	p.Runner.Import.File = "fixture.jsonl"
	res, err := New(Options{}).Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if res.Run.Runner != "import:vegeta-json" || res.Run.ToolExitCode != nil || res.Total.Requests != 180 {
		t.Errorf("run %+v, %d requests", res.Run, res.Total.Requests)
	}
}

func TestRedactsOutput(t *testing.T) {
	t.Parallel()
	p := testPlan(t, "sh -c 'echo token=s3cr3t; cp fixture.jsonl out.jsonl'", time.Minute)
	p.Secrets = []string{"s3cr3t"}
	var out syncBuf
	if _, err := New(Options{Output: &out}).Run(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); strings.Contains(got, "s3cr3t") || !strings.Contains(got, "token=***") {
		t.Errorf("output %q", got)
	}
}

func TestSplit(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][]string{
		"k6 run script.js --out json=out.json": {"k6", "run", "script.js", "--out", "json=out.json"},
		`locust -f "my file.py" --csv run`:     {"locust", "-f", "my file.py", "--csv", "run"},
		`sh -c 'k6 run x.js | tee log'`:        {"sh", "-c", "k6 run x.js | tee log"},
		`a\ b "c\"d" 'e\f'`:                    {"a b", `c"d`, `e\f`},
		`  jmeter   -n  `:                      {"jmeter", "-n"},
		`x ""`:                                 {"x", ""},
	} {
		got, err := Split(in)
		if err != nil || strings.Join(got, "\x00") != strings.Join(want, "\x00") {
			t.Errorf("Split(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "k6 run x.js > out", "a | b", "echo $HOME", "x 'open", `x "open`, `x \`, "rm *.json"} {
		if _, err := Split(bad); err == nil {
			t.Errorf("Split(%q): no error", bad)
		}
	}
}

func FuzzSplit(f *testing.F) {
	for _, s := range []string{"k6 run x.js", `a "b c" 'd'`, `\x`, "sh -c 'a|b'"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		words, err := Split(s)
		if err == nil && len(words) == 0 {
			t.Fatal("no words and no error")
		}
	})
}
