package main

import (
	"context"
	"flag"
	"io"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/plan"
)

// The package's -update flag; internal/golden reads it by name.
var _ = flag.Bool("update", false, "rewrite golden files under testdata/")

// The action's mode aws passes `aws run` flags (from the aws-* inputs and
// extra-args); the command must accept every one of them.
func TestActionAWSRunAcceptsTheActionsFlags(t *testing.T) {
	t.Parallel()
	a := &app{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard, getenv: func(string) string { return "" }}
	p := &plan.Plan{Name: "p", Target: "http://127.0.0.1:1"}
	flags := []string{"--store", "s3://b/loadgate", "--regions", "eu-west-1:10", "--cluster", "lg", "--task-definition", "lg-worker:3",
		"--subnets", "subnet-1,subnet-2", "--security-groups", "sg-1", "--max-cost", "5", "--spot"}
	_, err := a.actionAWSRun(context.Background(), p, flags)
	if err == nil || strings.Contains(err.Error(), "aws run flags") {
		t.Fatalf("want a refusal after the flags were accepted (no targets.allow), got %v", err)
	}
	if _, err := a.actionAWSRun(context.Background(), p, []string{"--no-such-flag"}); err == nil || !strings.Contains(err.Error(), "aws run flags") {
		t.Errorf("unknown flag: %v", err)
	}
	if _, err := a.actionAWSRun(context.Background(), p, nil); err == nil || !strings.Contains(err.Error(), "store") {
		t.Errorf("missing --store: %v", err)
	}
}
