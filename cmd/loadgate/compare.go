package main

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners/paired"
)

func newCompareCmd(a *app) *cobra.Command {
	var (
		baselinePath string
		planPath     string
		gf           policyOptions
		reportFlags  []string
	)
	cmd := &cobra.Command{
		Use:   "compare --baseline BASELINE RESULTS | compare BASE_RESULTS HEAD_RESULTS",
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
			if err := gf.validate(); err != nil {
				return withCode(exitUsage, err)
			}
			reports, err := parseReportFlags(reportFlags)
			if err != nil {
				return withCode(exitUsage, err)
			}
			var base []*results.File
			headPath := args[len(args)-1]
			switch {
			case len(args) == 2 && baselinePath == "":
				b, err := baselines.Load(args[0])
				if err != nil {
					return withCode(exitUsage, err)
				}
				base = b.Runs
			case len(args) == 1 && baselinePath != "":
				b, err := baselines.Load(baselinePath)
				if err != nil {
					return withCode(exitUsage, err)
				}
				base = b.Runs
			default:
				return withCode(exitUsage, errors.New("give --baseline FILE and one results file, or two results files (base, head)"))
			}
			head, err := results.ReadFile(headPath)
			if err != nil {
				return withCode(exitUsage, err)
			}
			var p *plan.Plan
			if planPath != "" {
				if p, err = a.loadPlan(planPath); err != nil {
					return err
				}
			}
			return a.judge(p, base, head, gf, reports)
		},
	}
	cmd.Flags().StringVarP(&baselinePath, "baseline", "b", "", "baseline file (or a results file used as a one-run baseline)")
	cmd.Flags().StringVar(&planPath, "plan", "", "take thresholds and SLOs from this plan")
	cmd.Flags().StringArrayVar(&reportFlags, "report", nil, "also write a report, FORMAT=FILE (text, markdown, json, junit, html); repeatable")
	addPolicyFlags(cmd.Flags(), &gf)
	return cmd
}

func newGateCmd(a *app) *cobra.Command {
	var (
		baselinePath    string
		f               runFlags
		gf              policyOptions
		reportFlags     []string
		update          bool
		keep            int
		requireBaseline bool
		pf              pairedFlags
	)
	cmd := &cobra.Command{
		Use:   "gate PLAN --baseline BASELINE",
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
			if err := gf.validate(); err != nil {
				return withCode(exitUsage, err)
			}
			reports, err := parseReportFlags(reportFlags)
			if err != nil {
				return withCode(exitUsage, err)
			}
			p, err := a.loadPlan(args[0])
			if err != nil {
				return err
			}
			if pf.on {
				if update {
					return withCode(exitUsage, errors.New("--update-baseline does not apply to --paired runs (there is no committed baseline)"))
				}
				return a.runPaired(p, &f, &pf, gf, reports)
			}
			if baselinePath == "" {
				baselinePath = defaultBaselinePath(p)
			}
			base, err := a.loadBaselineOrNone(baselinePath, requireBaseline)
			if err != nil {
				return err
			}
			// Refuse an incompatible baseline before sending any load.
			f.apply(p)
			if _, err := baselines.CheckPlan(base, p.Hash(), gf.AllowPlanChange); err != nil {
				return withCode(exitUsage, fmt.Errorf("%s: %w", baselinePath, err))
			}
			head, err := a.execute(p, &f)
			if err != nil {
				return err
			}
			verdictErr := a.judge(p, base, head, gf, reports)
			if update && verdictErr == nil {
				if err := baselines.Append(baselinePath, head, keep); err != nil {
					return withCode(appendExit(err), err)
				}
				fmt.Fprintf(a.stderr, "baseline %s updated\n", baselinePath)
			}
			return verdictErr
		},
	}
	cmd.Flags().StringVarP(&baselinePath, "baseline", "b", "", "baseline file (default baselines/<plan name>.json)")
	cmd.Flags().StringArrayVar(&reportFlags, "report", nil, "also write a report, FORMAT=FILE (text, markdown, json, junit, html); repeatable")
	cmd.Flags().BoolVar(&update, "update-baseline", false, "append this run to the baseline when the verdict passes")
	cmd.Flags().IntVar(&keep, "keep", baselines.DefaultKeep, "runs kept in the baseline file by --update-baseline")
	cmd.Flags().BoolVar(&requireBaseline, "require-baseline", false, "exit 2 when the baseline file does not exist (default: SLO-only verdict with a warning)")
	cmd.Flags().BoolVar(&pf.on, "paired", false, "paired mode: measure --base-target and the plan's target interleaved in this job and compare the pairs (no baseline file)")
	cmd.Flags().StringVar(&pf.baseTarget, "base-target", "", "with --paired: URL of the base build (the plan's target, or --target, is the head build)")
	cmd.Flags().DurationVar(&pf.slot, "slot", 0, "with --paired: length of each side's turn (default 1s)")
	cmd.Flags().Uint64Var(&pf.seed, "seed", 0, "with --paired: seed of the A/B order (0: from the clock; recorded in the results)")
	cmd.Flags().Float64Var(&pf.maxLeftOut, "max-left-out", paired.DefaultMaxLeftOut, "with --paired: fraction of pairs that may be left out because the generator fell behind its schedule in one of their slots (0: none; beyond it the run is invalid)")
	f.bind(cmd)
	addPolicyFlags(cmd.Flags(), &gf)
	return cmd
}

// loadBaselineOrNone loads the baseline runs; a missing file is no baseline
// (SLO-only verdict) unless required.
func (a *app) loadBaselineOrNone(path string, required bool) ([]*results.File, error) {
	b, err := baselines.Load(path)
	if errors.Is(err, fs.ErrNotExist) && !required {
		fmt.Fprintf(a.stderr, "warning: no baseline at %s yet: the verdict uses SLOs only (create one with `loadgate baseline update`)\n", path)
		return nil, nil
	}
	if err != nil {
		return nil, withCode(exitUsage, err)
	}
	return b.Runs, nil
}

// defaultBaselinePath is baselines/<plan name>.json.
func defaultBaselinePath(p *plan.Plan) string {
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, p.Name)
	return "baselines/" + name + ".json"
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
					path = defaultBaselinePath(p)
				}
				if res, err = a.execute(p, &f); err != nil {
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
				return withCode(appendExit(err), err)
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
