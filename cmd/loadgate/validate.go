package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newValidateCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "validate PLAN",
		Short: "Check a plan without running it",
		Long: `Parse and validate a plan file: YAML syntax, unknown keys, types, ranges,
${VAR} expansion, profile and gate settings. Every problem is reported with
file:line:column and the field path. Exit 0 when valid, 2 otherwise.`,
		Example: `  loadgate validate plan.yaml
  TARGET_URL=http://127.0.0.1:8080 loadgate validate examples/plans/checkout.yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := a.loadPlan(args[0])
			if err != nil {
				return err
			}
			if err := p.CheckLimits(); err != nil {
				return withCode(exitUsage, err)
			}
			if err := p.CheckTargets(); err != nil {
				fmt.Fprintf(a.stderr, "warning: %v\n", err)
			}
			sched := p.Schedule()
			fmt.Fprintf(a.stdout, "%s: ok — plan %q, %d endpoints, profile %s, %d stages, %s\n",
				args[0], p.Name, len(p.Endpoints), p.Profile.Type, len(sched), p.TotalDuration())
			return nil
		},
	}
}
