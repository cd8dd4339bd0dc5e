package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/local"
	"github.com/loadgate/loadgate/runners/paired"
)

// pairedFlags select paired mode: base and head measured interleaved in the
// same job, compared pair by pair; no committed baseline needed.
type pairedFlags struct {
	on         bool
	baseTarget string
	slot       time.Duration
	seed       uint64
	maxLeftOut float64
}

// runPaired runs the plan against base and head interleaved and judges the
// pairs. Head results go to -o; base results next to them as *.base.json.
func (a *app) runPaired(p *plan.Plan, f *runFlags, pf *pairedFlags, o policyOptions, reports []reportSpec) error {
	if pf.baseTarget == "" {
		return withCode(exitUsage, errors.New("--paired needs --base-target URL (the base build's address)"))
	}
	if f.dist.workers > 1 {
		return withCode(exitUsage, errors.New("--paired runs on one machine; drop --workers"))
	}
	if pf.maxLeftOut < 0 || pf.maxLeftOut > 0.5 {
		return withCode(exitUsage, fmt.Errorf("--max-left-out %g: want a fraction from 0 to 0.5 of the pairs", pf.maxLeftOut))
	}
	f.apply(p)
	if err := p.CheckLimits(); err != nil {
		return withCode(exitUsage, err)
	}
	if p.Runner.Exec != "" || p.Runner.Import != nil {
		return withCode(exitUsage, errors.New("--paired runs the built-in generator; this plan uses runner.exec/import"))
	}
	pr := &paired.Runner{
		New: func(side string) runners.Runner {
			lo := f.localOptions()
			lo.Label = side
			return local.New(lo)
		},
		BaseTarget: pf.baseTarget,
		HeadTarget: p.Target,
		Slot:       pf.slot,
		Seed:       pf.seed,
		MaxLeftOut: leftOutOption(pf.maxLeftOut),
	}
	fmt.Fprintf(a.stderr, "paired run of %q: base %s vs head %s, %s slots, %s\n",
		p.Name, p.RedactURL(pf.baseTarget), p.RedactURL(p.Target), slotOrDefault(pf.slot), p.TotalDuration()*2)
	base, head, err := pr.Run(a.ctx, p)
	for _, r := range []*results.File{base, head} {
		if r != nil {
			a.stampEnv(r)
		}
	}
	if err != nil {
		if head != nil && interrupted(err) {
			head.Run.Partial, base.Run.Partial = true, true
			_ = a.writePairedResults(f.out, base, head)
			return withCode(exitInvalid, fmt.Errorf("paired run interrupted: partial results%s", writtenTo(f.out)))
		}
		return withCode(exitInfra, fmt.Errorf("paired run %s: %w", p.Name, err))
	}
	if err := a.writePairedResults(f.out, base, head); err != nil {
		return err
	}
	v := gate.ComparePaired(base, head, policyFromPlan(p, o))
	return a.finish(v, []*results.File{base}, head, reports)
}

// leftOutOption maps the flag (0 = leave nothing out) to the runner's field
// (0 = default, negative = none).
func leftOutOption(flag float64) float64 {
	if flag <= 0 {
		return -1
	}
	return flag
}

func (a *app) writePairedResults(out string, base, head *results.File) error {
	if out == "" {
		return nil
	}
	if err := a.writeResults(out, head); err != nil {
		return err
	}
	return a.writeResults(strings.TrimSuffix(out, ".json")+".base.json", base)
}

func slotOrDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return paired.DefaultSlot
	}
	return d
}
