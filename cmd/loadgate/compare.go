package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/results"
)

func newCompareCmd(a *app) *cobra.Command {
	var (
		baselinePath string
		planPath     string
		gf           pipeline.PolicyOptions
		reportFlags  []string
	)
	cmd := &cobra.Command{
		Use:   "compare (--baseline FILE RESULTS | BASE_RESULTS HEAD_RESULTS) [--plan PLAN]",
		Short: "Decide a verdict from results files, without running load",
		Long: `Compare a results file with a baseline file (or with another results file) and
print the verdict. Thresholds come from --plan when given, otherwise from the
default policy. Exit 0 pass, 1 regression, 2 bad or incompatible input,
4 invalid run.`,
		Example: `  loadgate compare --baseline baselines/checkout.json results.json
  loadgate compare --plan plan.yaml --baseline baselines/checkout.json results.json --report junit=junit.xml
  loadgate compare main.json pr.json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			reports, err := pipeline.ParseReports(reportFlags)
			if err != nil {
				return withCode(exitUsage, err)
			}
			job := pipeline.Job{HeadFile: args[len(args)-1], Policy: gf, Reports: reports}
			switch {
			case len(args) == 2 && baselinePath == "":
				job.Baseline = pipeline.BaselineSource{Path: args[0], Required: true}
			case len(args) == 1 && baselinePath != "":
				job.Baseline = pipeline.BaselineSource{Path: baselinePath, Required: true}
			default:
				return withCode(exitUsage, errors.New("give --baseline FILE and one results file, or two results files (base, head)"))
			}
			if planPath != "" {
				if job.Plan, err = a.loadPlan(planPath); err != nil {
					return err
				}
			}
			return a.judge(job)
		},
	}
	cmd.Flags().StringVarP(&baselinePath, "baseline", "b", "", "baseline file (or a results file used as a one-run baseline)")
	cmd.Flags().StringVar(&planPath, "plan", "", "take thresholds and SLOs from this plan")
	pipeline.BindReportFlag(cmd.Flags(), &reportFlags)
	pipeline.BindPolicyFlags(cmd.Flags(), &gf)
	return cmd
}

func newGateCmd(a *app) *cobra.Command {
	var g pipeline.GateFlags
	cmd := &cobra.Command{
		Use:   "gate PLAN [--baseline FILE | --paired --base-target URL]",
		Short: "Run a plan, compare with its baseline and report: the CI step",
		Long: `Run the plan, compare the results with the committed baseline using the plan's
gate thresholds and the statistical policy, print the per-endpoint verdict and
write the requested reports. The exit code is the verdict: 0 pass,
1 regression, 2 bad plan or baseline, 3 infrastructure error, 4 run invalid.

Without an existing baseline file the verdict uses the plan's SLOs only and
says so (use --require-baseline to make that an error).`,
		Example: `  loadgate gate plan.yaml --baseline baselines/checkout.json
  loadgate gate plan.yaml -b baselines/checkout.json -o results.json --report markdown=summary.md --report junit=junit.xml
  loadgate gate plan.yaml -b baselines/checkout.json --fail-on inconclusive
  loadgate gate plan.yaml --paired --base-target http://127.0.0.1:8081 --target http://127.0.0.1:8082`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if _, err := pipeline.ParseReports(g.Reports); err != nil {
				return withCode(exitUsage, err)
			}
			p, err := a.loadPlan(args[0])
			if err != nil {
				return err
			}
			job, err := g.Job(p)
			if err != nil {
				return err
			}
			return a.judge(job)
		},
	}
	g.Bind(cmd.Flags())
	return cmd
}

func newBaselineCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "baseline",
		Short: "Manage committed baseline files",
	}
	var (
		path string
		keep int
		f    runFlags
	)
	update := &cobra.Command{
		Use:   "update PLAN|RESULTS",
		Short: "Append a run to the baseline file (running the plan, or from a results file)",
		Long: `Write or refresh a baseline file: the last N runs (default 5) of a plan with
their provenance (plan hash, profile, tool version, git SHA, runner class, CPU
count). Given a plan, it runs it first; given a results file (.json), it uses
that. Commit the file; the gate compares with all runs it keeps.`,
		Example: `  loadgate baseline update plan.yaml
  loadgate baseline update plan.yaml --baseline baselines/checkout.json --keep 10
  loadgate baseline update results.json --baseline baselines/checkout.json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var res *results.File
			if strings.HasSuffix(args[0], ".json") {
				r, err := results.ReadFile(args[0])
				if err != nil {
					return withCode(exitUsage, err)
				}
				res = r
				if path == "" {
					path = "baselines/" + r.Plan.Name + ".json"
				}
			} else {
				p, err := a.loadPlan(args[0])
				if err != nil {
					return err
				}
				if path == "" {
					path = pipeline.DefaultBaselinePath(p)
				}
				if res, err = a.execute(p, f.o); err != nil {
					return err
				}
			}
			if !res.Validity.Valid {
				return withCode(exitInvalid, fmt.Errorf("refusing to baseline an invalid run: %v", res.Validity.Reasons))
			}
			if res.Run.Partial {
				return withCode(exitInvalid, errors.New("refusing to baseline a partial (interrupted) run"))
			}
			if err := baselines.Append(path, res, keep); err != nil {
				return withCode(exitUsage, err)
			}
			fmt.Fprintf(a.stdout, "baseline %s updated (plan %s, hash %s, keeps %d runs)\n", path, res.Plan.Name, res.Plan.Hash, keep)
			return nil
		},
	}
	update.Flags().StringVarP(&path, "baseline", "b", "", "baseline file (default baselines/<plan name>.json)")
	update.Flags().IntVar(&keep, "keep", baselines.DefaultKeep, "number of runs the baseline keeps")
	f.bind(update)
	cmd.AddCommand(update)
	return cmd
}
