package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/internal/version"
)

// Exit codes (README "Exit codes"; stable).
const (
	exitPass    = pipeline.ExitPass
	exitFail    = pipeline.ExitFail
	exitUsage   = pipeline.ExitUsage
	exitInfra   = pipeline.ExitInfra
	exitInvalid = pipeline.ExitInvalid
)

// app is what every subcommand gets: the process boundary as values, so tests
// run the CLI in-process with their own environment and writers.
type app struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// withCode wraps err so run exits with code.
func withCode(code int, err error) error { return pipeline.WithCode(code, err) }

// silentExit ends the command with code without printing an error (the report
// already said everything).
func silentExit(code int) error { return &pipeline.Error{Code: code} }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{ctx: ctx, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCmd(a, args)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitPass
	}
	var ee *pipeline.Error
	if errors.As(err, &ee) {
		if ee.Err != nil {
			fmt.Fprintf(stderr, "loadgate: %v\n", ee.Err)
		}
		return ee.Code
	}
	// Cobra's own errors: unknown command or flag, wrong arguments.
	fmt.Fprintf(stderr, "loadgate: %v\n", err)
	return exitUsage
}

// newRootCmd builds the command tree for args (nil: the whole tree).
func newRootCmd(a *app, args []string) *cobra.Command {
	root := &cobra.Command{
		Use:   "loadgate",
		Short: "CI-first performance-regression gate for HTTP services",
		Long: `loadgate runs short HTTP load tests (or imports k6, JMeter, Locust, Vegeta and
Gatling results), records per-endpoint HdrHistograms, compares them with a
committed baseline using noise-aware statistics, and reports a verdict.

Exit codes: 0 pass, 1 regression, 2 usage/configuration error,
3 infrastructure error, 4 run invalid.`,
		Example: `  loadgate demo                                  # self-contained demo, exits 0
  loadgate demo --regress 30%                    # one endpoint 30% slower, exits 1
  loadgate validate plan.yaml
  loadgate run plan.yaml -o results.json
  loadgate compare --baseline baselines/api.json results.json
  loadgate gate plan.yaml --baseline baselines/api.json
  loadgate baseline update plan.yaml --baseline baselines/api.json`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	bindMaxFileSize(root)
	// Build only the subcommand args name: its flags are most of the tree's
	// start-up work (pflag renders every slice flag's default through a
	// csv.Writer with a 4 KiB buffer), which `loadgate version` should not pay.
	// Anything else (help, completion, a flag first, an unknown or mistyped
	// name) gets the whole tree, so listings and suggestions are unchanged.
	for _, c := range subcommands {
		if len(args) > 0 && args[0] == c.name {
			root.AddCommand(c.build(a))
			return root
		}
	}
	for _, c := range subcommands {
		root.AddCommand(c.build(a))
	}
	return root
}

// subcommands are the root's commands in help order, by the name each
// command's Use starts with (TestSubcommandNames keeps the two equal).
var subcommands = []struct {
	name  string
	build func(*app) *cobra.Command
}{
	{"version", newVersionCmd},
	{"demo", newDemoCmd},
	{"validate", newValidateCmd},
	{"run", newRunCmd},
	{"compare", newCompareCmd},
	{"gate", newGateCmd},
	{"baseline", newBaselineCmd},
	{"import", newImportCmd},
	{"report", newReportCmd},
	{"action", newActionCmd},
	{"worker", newWorkerCmd},
	{"mcp", newMCPCmd},
	{"init", newInitCmd},
	{"schema", newSchemaCmd},
	{"aws", newAWSCmd},
}

func newVersionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the loadgate version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintf(a.stdout, "loadgate %s\n", version.String())
			return nil
		},
	}
}
