package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

func TestSubcommandNames(t *testing.T) {
	a := &app{ctx: context.Background(), getenv: func(string) string { return "" }}
	seen := map[string]bool{}
	for _, c := range subcommands {
		if got := c.build(a).Name(); got != c.name {
			t.Errorf("subcommands entry %q builds the command %q", c.name, got)
		}
		if seen[c.name] {
			t.Errorf("subcommand %q listed twice", c.name)
		}
		seen[c.name] = true
	}
	if n := len(newRootCmd(a, nil).Commands()); n != len(subcommands) {
		t.Errorf("whole tree has %d commands, want %d", n, len(subcommands))
	}
	if n := len(newRootCmd(a, []string{"version"}).Commands()); n != 1 {
		t.Errorf("the tree for `version` has %d commands, want only version", n)
	}
}

// The tree built for one subcommand must behave as the whole tree does for
// it: same help (flags, inherited flags, sub-subcommands) for every command.
func TestPartialTreeHelp(t *testing.T) {
	a := &app{ctx: context.Background(), getenv: func(string) string { return "" }}
	var paths [][]string
	var walk func(c *cobra.Command, path []string)
	walk = func(c *cobra.Command, path []string) {
		for _, sub := range c.Commands() {
			p := append(append([]string(nil), path...), sub.Name())
			paths = append(paths, p)
			walk(sub, p)
		}
	}
	walk(newRootCmd(a, nil), nil)
	help := func(root *cobra.Command, args []string) string {
		var out bytes.Buffer
		root.SetArgs(args)
		root.SetOut(&out)
		root.SetErr(&out)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String()
	}
	for _, p := range paths {
		args := append(p, "--help")
		whole := help(newRootCmd(a, nil), args)
		part := help(newRootCmd(a, args), args)
		if whole != part {
			t.Errorf("`loadgate %s`: help differs between the whole tree and the tree built for it:\n%s\n---\n%s", strings.Join(args, " "), whole, part)
		}
	}
	if len(paths) < len(subcommands) {
		t.Fatalf("walked %d commands, want at least %d", len(paths), len(subcommands))
	}
}

// initTrace runs `loadgate version` with the runtime's trace of every
// package initialiser.
func initTrace(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command(workerBinary(t), "version")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("loadgate version: %v\n%s", err, out)
	}
	return out
}

// Every command pays for every package initialiser, so loadgate's own
// packages keep their tables static and compile nothing at init
// (docs/ARCHITECTURE.md). The runtime reports each initialiser's allocations
// with GODEBUG=inittrace=1.
func TestNoInitAllocations(t *testing.T) {
	out := initTrace(t)
	line := regexp.MustCompile(`(?m)^init (github\.com/loadgate/loadgate\S*) @.* ms clock, (\d+) bytes, (\d+) allocs$`)
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		if m[2] != "0" || m[3] != "0" {
			t.Errorf("%s allocates %s bytes in %s allocations at init, for every command", m[1], m[2], m[3])
		}
	}
	if !strings.Contains(string(out), "init runtime") && !strings.Contains(string(out), "init errors") {
		t.Fatalf("no init trace in the output; GODEBUG=inittrace=1 not honoured?\n%s", out)
	}
}

// initBudget bounds what every command pays before it starts: the package
// initialisers of everything linked, loadgate's and its dependencies'. At
// 1.86 MB (ECS's schema-serde `schemas` package alone 0.94 MB) `loadgate
// version` stayed above 12 MiB resident; go.mod holds ECS before that
// package, and this test fails when an upgrade brings such a table back.
const initBudget = 1_200_000

func TestInitAllocationBudget(t *testing.T) {
	out := initTrace(t)
	type pkgInit struct {
		name  string
		bytes int
	}
	var inits []pkgInit
	total := 0
	line := regexp.MustCompile(`(?m)^init (\S+) @.* ms clock, (\d+) bytes, \d+ allocs$`)
	for _, m := range line.FindAllStringSubmatch(string(out), -1) {
		n, _ := strconv.Atoi(m[2])
		inits = append(inits, pkgInit{m[1], n})
		total += n
	}
	if len(inits) < 50 {
		t.Fatalf("found %d initialisers in the trace, want the whole binary's:\n%s", len(inits), out)
	}
	if total > initBudget {
		sort.Slice(inits, func(i, j int) bool { return inits[i].bytes > inits[j].bytes })
		var top []string
		for _, p := range inits[:5] {
			top = append(top, fmt.Sprintf("%s %d B", p.name, p.bytes))
		}
		t.Errorf("package initialisers allocate %d bytes for every command, budget %d; largest: %s", total, initBudget, strings.Join(top, ", "))
	}
}
