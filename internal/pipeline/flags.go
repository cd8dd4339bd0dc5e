package pipeline

import (
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/paired"
)

// The flags below are the CLI's and the action's extra-args: one binding,
// so `loadgate gate` and the action accept the same flags with the same
// defaults.

// BindRunFlags binds the load-producing flags of run, gate and baseline update.
func BindRunFlags(fs *pflag.FlagSet, o *RunOptions) {
	fs.StringVarP(&o.Out, "out", "o", "", "write the results file (JSON) here")
	fs.BoolVarP(&o.Quiet, "quiet", "q", false, "no live progress")
	fs.DurationVar(&o.Duration, "duration", 0, "override the profile's duration (load and endurance profiles)")
	fs.StringVar(&o.Target, "target", "", "override the plan's target URL")
	fs.DurationVar(&o.MaxLag, "max-schedule-lag", 0, "largest p99 schedule lag of a valid run (default 50ms); raise it only on hosts known to be oversubscribed")
	bindWorkersFlags(fs, &o.Workers)
}

// bindWorkersFlags binds the options of local multi-process runs (--workers N).
func bindWorkersFlags(fs *pflag.FlagSet, f *WorkersOptions) {
	fs.IntVar(&f.Count, "workers", 0, "run the plan on N local worker processes (each with 1/N of the rate; results merged exactly); needs the target in targets.allow")
	fs.Float64Var(&f.MinLoadShare, "min-load-share", distributed.DefaultMinLoadShare, "with --workers: below this fraction of the intended load (lost workers) the run is invalid (exit 4)")
	fs.DurationVar(&f.StartTimeout, "start-timeout", 30*time.Second, "with --workers: how long to wait for workers to be ready; late ones are excluded")
	fs.StringVar(&f.StoreDir, "store-dir", "", "with --workers: keep the coordinator/worker exchange in this directory (default: a temporary one, removed)")
	fs.StringVar(&f.Binary, "worker-binary", "", "with --workers: the loadgate executable workers run (default: this one)")
	fs.IntVar(&f.Synthetic, "synthetic-workers", 0, "with --workers: workers send no traffic and record this many synthetic samples per endpoint")
	_ = fs.MarkHidden("worker-binary")
	_ = fs.MarkHidden("synthetic-workers")
}

// BindPolicyFlags binds the policy flags shared by compare, gate and report.
func BindPolicyFlags(fs *pflag.FlagSet, o *PolicyOptions) {
	fs.StringSliceVar(&o.FailOn, "fail-on", nil, "also fail (exit 1) on these decisions: inconclusive")
	fs.BoolVar(&o.AllowPlanChange, "allow-plan-change", false, "compare with a baseline recorded from a different plan or profile (warns instead of exit 2)")
	fs.Float64Var(&o.Confidence, "confidence", gate.DefaultConfidence, "confidence level of intervals and tests (0.5–0.999)")
	fs.IntVar(&o.MinWindows, "min-windows", gate.DefaultMinWindows, "fewest measured 1 s windows per side for a significance claim")
}

// BindReportFlag binds --report FORMAT=FILE (repeatable).
func BindReportFlag(fs *pflag.FlagSet, reports *[]string) {
	fs.StringArrayVar(reports, "report", nil, "also write a report, FORMAT=FILE (text, markdown, json, junit, html); repeatable")
}

// GateFlags are the flags of `loadgate gate`.
type GateFlags struct {
	Run             RunOptions
	Policy          PolicyOptions
	Baseline        string
	Reports         []string
	Update          bool
	Keep            int
	RequireBaseline bool
	Paired          bool
	PairedOptions   PairedOptions
}

// Bind binds every gate flag.
func (g *GateFlags) Bind(fs *pflag.FlagSet) {
	fs.StringVarP(&g.Baseline, "baseline", "b", "", "baseline file (default baselines/<plan name>.json)")
	BindReportFlag(fs, &g.Reports)
	fs.BoolVar(&g.Update, "update-baseline", false, "append this run to the baseline when the verdict passes")
	fs.IntVar(&g.Keep, "keep", baselines.DefaultKeep, "runs kept in the baseline file by --update-baseline")
	fs.BoolVar(&g.RequireBaseline, "require-baseline", false, "exit 2 when the baseline file does not exist (default: SLO-only verdict with a warning)")
	fs.BoolVar(&g.Paired, "paired", false, "paired mode: measure --base-target and the plan's target interleaved in this job and compare the pairs (no baseline file)")
	fs.StringVar(&g.PairedOptions.BaseTarget, "base-target", "", "with --paired: URL of the base build (the plan's target, or --target, is the head build)")
	fs.DurationVar(&g.PairedOptions.Slot, "slot", 0, "with --paired: length of each side's turn (default 1s)")
	fs.Uint64Var(&g.PairedOptions.Seed, "seed", 0, "with --paired: seed of the A/B order (0: from the clock; recorded in the results)")
	fs.Float64Var(&g.PairedOptions.MaxLeftOut, "max-left-out", paired.DefaultMaxLeftOut, "with --paired: fraction of pairs that may be left out because the generator fell behind its schedule in one of their slots (0: none; beyond it the run is invalid)")
	BindRunFlags(fs, &g.Run)
	BindPolicyFlags(fs, &g.Policy)
}

// Job is the job the flags ask for with plan p: paired, or against the
// baseline file (default baselines/<plan name>.json).
func (g *GateFlags) Job(p *plan.Plan) (Job, error) {
	reports, err := ParseReports(g.Reports)
	if err != nil {
		return Job{}, WithCode(ExitUsage, err)
	}
	job := Job{Plan: p, Run: g.Run, Policy: g.Policy, Reports: reports, UpdateBaseline: g.Update, Keep: g.Keep}
	if g.Paired {
		po := g.PairedOptions
		job.Paired = &po
		return job, nil
	}
	path := g.Baseline
	if path == "" {
		path = DefaultBaselinePath(p)
	}
	job.Baseline = BaselineSource{Path: path, Required: g.RequireBaseline}
	return job, nil
}
