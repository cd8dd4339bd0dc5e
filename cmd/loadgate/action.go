package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/action"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/plan"
)

func newActionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "action",
		Short: "Run as the GitHub Action (reads INPUT_* and GITHUB_* variables)",
		Long: `action is the container action's entrypoint. It reads the action inputs,
reaches a verdict as "loadgate gate" does (or "loadgate aws run" in mode aws),
then reports to GitHub: job summary, step outputs, annotations, a sticky
pull-request comment, a check run (or a commit status), an issue for scheduled
regressions and a baseline pull request.

GitHub failures never change the verdict: the exit code is the gate's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			code := action.Run(a.ctx, action.Options{Stdout: a.stdout, Stderr: a.stderr, Getenv: a.getenv, AWSRun: a.actionAWSRun})
			if code != exitPass {
				return silentExit(code)
			}
			return nil
		},
	}
}

// actionAWSRun is mode aws: the run options `loadgate aws run` would use
// with these flags (from the aws-* inputs and extra-args).
func (a *app) actionAWSRun(ctx context.Context, p *plan.Plan, flags []string) (pipeline.RunOptions, error) {
	cmd, f := awsRunCommand(a)
	if err := cmd.ParseFlags(flags); err != nil {
		return pipeline.RunOptions{}, withCode(exitUsage, fmt.Errorf("aws run flags: %w", err))
	}
	if err := cmd.ValidateRequiredFlags(); err != nil {
		return pipeline.RunOptions{}, withCode(exitUsage, fmt.Errorf("aws run flags: %w", err))
	}
	ro, _, err := pipeline.AWSRunOptions(ctx, p, f.AWSOptions, a.env())
	return ro, err
}
