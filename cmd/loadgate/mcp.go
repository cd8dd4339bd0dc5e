package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/mcpserver"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/internal/version"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/local"
)

func newMCPCmd(a *app) *cobra.Command {
	var (
		dir         string
		maxDuration time.Duration
		allow       []string
	)
	cmd := &cobra.Command{
		Use:   "mcp",
		Short: "Serve loadgate to AI assistants over the Model Context Protocol (stdio)",
		Long: `Speak the Model Context Protocol (newline-delimited JSON-RPC) on stdin/stdout,
so an assistant can validate plans, start bounded local runs, follow them,
compare results with baselines and read verdicts (docs/mcp.md).

Every path a client names must lie inside the working directory (--dir).
A run starts only if the plan's targets.allow lists its target (an empty list
is refused), its load is within the plan's limits, and its total duration is
within --max-duration; results go to .loadgate/runs/<id>/results.json and
record the MCP client as who started the run (docs/safety.md). With
--allow-target, the plan's target and targets.allow must also lie within the
operator's list, so editing a plan cannot widen where load goes.`,
		Example: `  loadgate mcp
  loadgate mcp --dir ./perf --max-duration 2m --allow-target 127.0.0.1 --allow-target staging.example.com`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				wd, err := os.Getwd()
				if err != nil {
					return withCode(exitUsage, err)
				}
				dir = wd
			}
			if maxDuration <= 0 {
				return withCode(exitUsage, fmt.Errorf("--max-duration %v: must be > 0", maxDuration))
			}
			srv, err := mcpserver.New(mcpserver.Options{
				Dir:          dir,
				Getenv:       a.getenv,
				NewRunner:    a.mcpRunner,
				MaxDuration:  maxDuration,
				AllowTargets: allow,
				Version:      version.String(),
				// stdout carries the protocol; diagnostics go to stderr.
				Logger: slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
			})
			if err != nil {
				return withCode(exitUsage, err)
			}
			fmt.Fprintf(a.stderr, "loadgate mcp: serving on stdio; working directory %s; runs capped at %s\n", dir, maxDuration)
			err = srv.Serve(a.ctx, io.NopCloser(cmd.InOrStdin()), nopWriteCloser{a.stdout})
			if err != nil && a.ctx.Err() == nil {
				return withCode(exitInfra, fmt.Errorf("mcp: %w", err))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "working directory: every path must lie inside it; results go to DIR/.loadgate/runs (default: the current directory)")
	cmd.Flags().StringSliceVar(&allow, "allow-target", nil, "operator's allow list (hosts, *.domain, IPs, CIDRs; repeatable): a plan's target and targets.allow must lie within it")
	cmd.Flags().DurationVar(&maxDuration, "max-duration", mcpserver.DefaultMaxDuration, "longest total duration of a run an MCP client may start")
	return cmd
}

// mcpRunner builds the runner of an MCP-started run: always the local
// generator (an exec plan is refused before this point), with the environment
// provenance the CLI records too.
func (a *app) mcpRunner(*plan.Plan) (runners.Runner, error) {
	env := a.env()
	return &stampingRunner{Runner: local.New(local.Options{}), stamp: func(f *results.File) { pipeline.StampEnv(env, f) }}, nil
}

// stampingRunner fills cmd-only environment provenance into the results of a
// runner it wraps, keeping the wrapped runner's progress reporting.
type stampingRunner struct {
	runners.Runner
	stamp func(*results.File)
}

func (s *stampingRunner) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	f, err := s.Runner.Run(ctx, p)
	if f != nil {
		s.stamp(f)
	}
	return f, err
}

func (s *stampingRunner) OnProgress(fn runners.ProgressFunc) {
	if pr, ok := s.Runner.(runners.Progresser); ok {
		pr.OnProgress(fn)
	}
}

// nopWriteCloser keeps the server from closing the process's stdout.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
