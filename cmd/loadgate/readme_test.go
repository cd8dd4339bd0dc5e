package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/plan"
)

// TestREADMEExamples keeps the README honest: every loadgate command line in
// its sh blocks names a real command with real flags, and every plan in its
// yaml blocks parses.
func TestREADMEExamples(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```(sh|yaml)\n(.*?)```")
	var commands, plans int
	for _, m := range block.FindAllStringSubmatch(string(data), -1) {
		switch m[1] {
		case "sh":
			for _, line := range strings.Split(m[2], "\n") {
				if i := strings.Index(line, "#"); i >= 0 {
					line = line[:i]
				}
				fields := strings.Fields(line)
				switch {
				case len(fields) > 3 && fields[0] == "go" && fields[1] == "run" && fields[2] == "./cmd/loadgate":
					fields = fields[3:]
				case len(fields) > 1 && fields[0] == "loadgate":
					fields = fields[1:]
				default:
					continue
				}
				commands++
				checkCommandLine(t, fields)
			}
		case "yaml":
			if !strings.Contains(m[2], "endpoints:") {
				continue // a workflow, not a plan
			}
			plans++
			if _, err := plan.Parse([]byte(m[2]), "README.md", ".", func(string) string { return "" }); err != nil {
				t.Errorf("README plan does not parse:\n%v", err)
			}
		}
	}
	if commands < 8 || plans < 1 {
		t.Fatalf("found %d commands and %d plans in README; the extraction is broken", commands, plans)
	}
}

func checkCommandLine(t *testing.T, args []string) {
	t.Helper()
	a := &app{ctx: context.Background(), stdout: os.Stdout, stderr: os.Stderr, getenv: func(string) string { return "" }}
	root := newRootCmd(a, args)
	cmd, rest, err := root.Find(args)
	if err != nil || cmd == root {
		t.Errorf("README: `loadgate %s`: no such command (%v)", strings.Join(args, " "), err)
		return
	}
	if err := cmd.ParseFlags(rest); err != nil {
		t.Errorf("README: `loadgate %s`: %v", strings.Join(args, " "), err)
	}
}
