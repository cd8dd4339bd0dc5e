package main

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/version"
)

// Exit codes (README "Exit codes"; stable).
const (
	exitPass    = 0
	exitFail    = 1
	exitUsage   = 2
	exitInfra   = 3
	exitInvalid = 4
)

// app is what every subcommand gets: the process boundary as values, so tests
// run the CLI in-process with their own environment and writers.
type app struct {
	ctx    context.Context
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

// exitError carries an exit code out of a subcommand.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}
func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so run exits with code.
func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// silentExit ends the command with code without printing an error (the report
// already said everything).
func silentExit(code int) error { return &exitError{code: code} }

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	a := &app{ctx: ctx, stdout: stdout, stderr: stderr, getenv: getenv}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitPass
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintf(stderr, "loadgate: %v\n", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors: unknown command or flag, wrong arguments.
	fmt.Fprintf(stderr, "loadgate: %v\n", err)
	return exitUsage
}

func newRootCmd(a *app) *cobra.Command {
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
	root.AddCommand(
		newVersionCmd(a),
		newDemoCmd(a),
		newValidateCmd(a),
		newRunCmd(a),
		newCompareCmd(a),
		newGateCmd(a),
		newBaselineCmd(a),
		newImportCmd(a),
		newReportCmd(a),
		newActionCmd(a),
		newWorkerCmd(a),
		newMCPCmd(a),
		newInitCmd(a),
		newSchemaCmd(a),
		newAWSCmd(a),
	)
	return root
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
