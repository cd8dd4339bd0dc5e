package baselines

import (
	"fmt"
	"strings"

	"github.com/loadgate/loadgate/results"
)

// Mode says how Check treats a provenance mismatch.
type Mode int

const (
	// Warn reports every mismatch as a warning.
	Warn Mode = iota
	// Strict makes every mismatch an error (*ProvenanceError).
	Strict
)

// ProvenanceError lists how a baseline's provenance differs from a run's.
type ProvenanceError struct {
	File       string
	Mismatches []string
}

func (e *ProvenanceError) Error() string {
	name := e.File
	if name == "" {
		name = "baseline"
	}
	return fmt.Sprintf("%s does not match this run: %s", name, strings.Join(e.Mismatches, "; "))
}

// Check compares the provenance of b's runs with head's: plan hash, profile
// (type, model, rate, VUs, duration, warm-up), runner class (CPU count, task
// size, region) and tool version. In Warn mode mismatches come back as
// warnings; in Strict mode as a *ProvenanceError. Plan and profile changes are
// also refused by gate.Compare unless the policy allows them.
func Check(b *File, head *results.File, mode Mode) (warnings []string, err error) {
	var mm []string
	add := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		for _, m := range mm {
			if m == s {
				return
			}
		}
		mm = append(mm, s)
	}
	if b.Plan.Hash != head.Plan.Hash {
		add("plan hash %s (baseline) vs %s (run): the plan's endpoints or profile changed", b.Plan.Hash, head.Plan.Hash)
	}
	if d := profileDiff(b.Profile, head.Profile); d != "" {
		add("profile %s", d)
	}
	for _, r := range b.Runs {
		if r.Run.RunnerClass != head.Run.RunnerClass && r.Run.RunnerClass != "" && head.Run.RunnerClass != "" {
			add("runner class %s (baseline) vs %s (run): noise and capacity differ", r.Run.RunnerClass, head.Run.RunnerClass)
		}
		if rc, hc := r.Run.Env.CPUs, head.Run.Env.CPUs; rc != 0 && hc != 0 && rc != hc {
			add("CPU count %d (baseline) vs %d (run)", rc, hc)
		}
		if rv, hv := r.Run.Env.ToolVersion, head.Run.Env.ToolVersion; rv != "" && hv != "" && rv != hv {
			add("loadgate version %s (baseline) vs %s (run)", rv, hv)
		}
	}
	if len(mm) == 0 {
		return nil, nil
	}
	if mode == Strict {
		return nil, &ProvenanceError{Mismatches: mm}
	}
	return mm, nil
}

// profileDiff is the profile's shape difference plus its timing: a baseline
// keeps runs of one plan as written, so a changed duration or warm-up is worth
// saying too.
func profileDiff(a, b results.Profile) string {
	d := []string{}
	if s := a.ShapeDiff(b); s != "" {
		d = append(d, s)
	}
	if a.Duration != b.Duration {
		d = append(d, fmt.Sprintf("duration %s vs %s", a.Duration, b.Duration))
	}
	if a.Warmup != b.Warmup {
		d = append(d, fmt.Sprintf("warm-up %s vs %s", a.Warmup, b.Warmup))
	}
	return strings.Join(d, ", ")
}
