package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/local"
	"github.com/loadgate/loadgate/runners/paired"
)

// PairedOptions select paired mode: base and head measured interleaved in the
// same job, compared pair by pair; no committed baseline needed.
type PairedOptions struct {
	BaseTarget string
	Slot       time.Duration
	Seed       uint64
	// MaxLeftOut is the fraction of pairs that may be left out because the
	// generator fell behind in one of their slots (0: none).
	MaxLeftOut float64
	// Client, when set, gives each side ("base", "head") one client whose
	// connections stay warm across its slots (the demo's two shops); nil:
	// the built-in client, whose connections also stay open from one slot
	// of a side to the next.
	Client func(side string) *http.Client
}

// runPaired runs the plan against base and head interleaved and judges the
// pairs. Head results go to Run.Out; base results next to them as *.base.json.
func (job *Job) runPaired(ctx context.Context, o *Outcome) error {
	p, f, pf, env := job.Plan, &job.Run, job.Paired, job.Env
	if p == nil {
		return WithCode(ExitUsage, errors.New("paired mode needs a plan"))
	}
	if job.UpdateBaseline {
		return WithCode(ExitUsage, errors.New("--update-baseline does not apply to --paired runs (there is no committed baseline)"))
	}
	if pf.BaseTarget == "" {
		return WithCode(ExitUsage, errors.New("--paired needs --base-target URL (the base build's address)"))
	}
	if f.Workers.Count > 1 {
		return WithCode(ExitUsage, errors.New("--paired runs on one machine; drop --workers"))
	}
	if pf.MaxLeftOut < 0 || pf.MaxLeftOut > 0.5 {
		return WithCode(ExitUsage, fmt.Errorf("--max-left-out %g: want a fraction from 0 to 0.5 of the pairs", pf.MaxLeftOut))
	}
	f.Apply(p)
	if err := p.CheckLimits(); err != nil {
		return WithCode(ExitUsage, err)
	}
	if p.Runner.Exec != "" || p.Runner.Import != nil {
		return WithCode(ExitUsage, errors.New("--paired runs the built-in generator; this plan uses runner.exec/import"))
	}
	// Each side keeps its connections (and TLS sessions) from slot to slot,
	// as a user's client keeps them: a slot that began by dialling would
	// charge connection set-up to its first requests, and more of it to the
	// side whose other endpoints are slower.
	conns := map[string]*local.Conns{paired.Base: local.NewConns(), paired.Head: local.NewConns()}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	pr := &paired.Runner{
		New: func(side string) runners.Runner {
			lo := f.localOptions()
			lo.Label, lo.Slot = side, true
			if pf.Client != nil {
				lo.Client = pf.Client(side)
			} else {
				lo.Conns = conns[side]
			}
			return local.New(lo)
		},
		BaseTarget: pf.BaseTarget,
		HeadTarget: p.Target,
		Slot:       pf.Slot,
		Seed:       pf.Seed,
		MaxLeftOut: leftOutOption(pf.MaxLeftOut),
	}
	fmt.Fprintf(env.Stderr, "paired run of %q: base %s vs head %s, %s slots, %s\n",
		p.Name, p.RedactURL(pf.BaseTarget), p.RedactURL(p.Target), slotOrDefault(pf.Slot), p.TotalDuration()*2)
	base, head, err := pr.Run(ctx, p)
	for _, r := range []*results.File{base, head} {
		if r != nil {
			StampEnv(env, r)
		}
	}
	if err != nil {
		if head != nil && Interrupted(err) {
			head.Run.Partial, base.Run.Partial = true, true
			_ = writePairedResults(env, f.Out, base, head)
			return WithCode(ExitInvalid, fmt.Errorf("paired run interrupted: partial results%s", writtenTo(f.Out)))
		}
		return WithCode(ExitInfra, fmt.Errorf("paired run %s: %w", p.Name, err))
	}
	if err := writePairedResults(env, f.Out, base, head); err != nil {
		return err
	}
	o.Head, o.Base = head, []*results.File{base}
	o.Verdict = gate.ComparePaired(base, head, Policy(p, job.Policy))
	return job.finish(o)
}

// leftOutOption maps the option (0 = leave nothing out) to the runner's field
// (0 = default, negative = none).
func leftOutOption(v float64) float64 {
	if v <= 0 {
		return -1
	}
	return v
}

// PairedBasePath is where the base side's results go next to the head's.
func PairedBasePath(out string) string {
	return strings.TrimSuffix(out, ".json") + ".base.json"
}

func writePairedResults(env Env, out string, base, head *results.File) error {
	if out == "" {
		return nil
	}
	if err := writeResults(env, out, head); err != nil {
		return err
	}
	return writeResults(env, PairedBasePath(out), base)
}

func slotOrDefault(d time.Duration) time.Duration {
	if d <= 0 {
		return paired.DefaultSlot
	}
	return d
}
