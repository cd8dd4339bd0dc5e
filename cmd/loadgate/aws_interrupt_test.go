package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/ecsemu"
	"github.com/loadgate/loadgate/results"
)

// A cancelled CI job during launch is an interrupted run (exit 4, partial
// result saying so), not an infrastructure failure, and leaves no task
// running: not the ones whose RunTask answer never arrived either.
func TestAWSRunInterruptedDuringLaunch(t *testing.T) {
	t.Parallel()
	f := newAWSFixture(t, ecsemu.Options{Binary: "/nonexistent", NeverStart: func(int) bool { return true },
		ReplyDelay: func(op string, n int) time.Duration {
			if op == "RunTask" && n == 1 {
				return time.Minute
			}
			return 0
		}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			if len(f.emu.Tasks()) >= 20 {
				cancel()
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	}()
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", distPlan("http://127.0.0.1:9", 10, time.Second))
	out := filepath.Join(dir, "results.json")
	code, _, stderr := cli(t, ctx, f.env, "aws", "run", planPath, "--store", "s3://lg-bucket/x", "--regions", "eu-west-1:25",
		"--subnets", "s", "--max-tasks", "25", "--pace-scale", "50", "--poll-interval", "100ms", "--cleanup-older-than", "0", "-o", out)
	if code != exitInvalid {
		t.Fatalf("exit %d, want %d:\n%s", code, exitInvalid, stderr)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatalf("no partial result: %v\n%s", err, stderr)
	}
	if !r.Run.Partial || r.Validity.Valid || !strings.Contains(strings.Join(r.Validity.Reasons, " "), "interrupted while launching workers") {
		t.Fatalf("result run %+v validity %+v", r.Run, r.Validity)
	}
	// StopTask was accepted for every task; the emulator stops them
	// asynchronously, as ECS does.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var live []int
		for _, tk := range f.emu.Tasks() {
			if tk.LastStatus != "STOPPED" {
				live = append(live, tk.Ordinal)
			}
		}
		if len(live) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("tasks %v alive after the interrupted run", live)
		}
	}
	if n := len(f.emu.Tasks()); n != 20 {
		t.Errorf("%d tasks, want 20", n)
	}
}

// A region that refuses is an infrastructure error (exit 3), and the cost
// cap prices the task definition's real size, showing the cap as given.
func TestAWSRunRegionRefusesAndCostFromTaskDefinition(t *testing.T) {
	t.Parallel()
	f := newAWSFixture(t, ecsemu.Options{Binary: "/nonexistent", NeverStart: func(int) bool { return true },
		TaskDefinitions: map[string]ecsemu.TaskDefinition{"loadgate-worker": {CPU: "4096", Memory: "8192"}},
		Fault: func(op, region string) string {
			if op == "RunTask" && region == "us-east-1" {
				return "AccessDeniedException"
			}
			return ""
		}})
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", distPlan("http://127.0.0.1:9", 10, time.Second))
	args := []string{"aws", "run", planPath, "--store", "s3://lg-bucket/x", "--regions", "eu-west-1:9,us-east-1:1",
		"--subnets", "s", "--pace-scale", "50", "--poll-interval", "100ms", "--cleanup-older-than", "0"}
	code, _, stderr := cli(t, context.Background(), f.env, append(args, "--max-cost", "0.001")...)
	if code != exitUsage || !strings.Contains(stderr, "exceeds --max-cost $0.001") || !strings.Contains(stderr, "4 vCPU, 8 GB (loadgate-worker:1)") {
		t.Fatalf("cost cap: exit %d:\n%s", code, stderr)
	}
	code, _, stderr = cli(t, context.Background(), f.env, args...)
	if code != exitInfra || !strings.Contains(stderr, "us-east-1") || !strings.Contains(stderr, "AccessDeniedException") {
		t.Fatalf("refusing region: exit %d, want %d:\n%s", code, exitInfra, stderr)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		live := 0
		for _, tk := range f.emu.Tasks() {
			if tk.LastStatus != "STOPPED" {
				live++
			}
		}
		if live == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d tasks alive after the failed run", live)
		}
	}
}
