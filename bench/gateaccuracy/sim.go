package main

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/loadgate/loadgate/results"
)

// Machine-noise model of the simulation, on the log scale of latency. The
// numbers are chosen to look like a busy shared 2-core CI runner rather than a
// quiet one:
//   - each job (run) has its own level: N(0, runSD) — a different VM, a
//     different neighbour;
//   - within a job the level drifts second by second: AR(1) with stationary
//     standard deviation driftSD and correlation driftPhi per second;
//   - hiccups: a window has probability hiccupP of a scheduler stall that adds
//     U(0, hiccupMs) to hiccupFrac of its requests.
const (
	runSD      = 0.05
	driftSD    = 0.05
	driftPhi   = 0.8
	hiccupP    = 0.05
	hiccupFrac = 0.10
	hiccupMs   = 20.0
)

// simCfg is the load of one simulated run.
type simCfg struct {
	rps     float64 // per endpoint
	windows int
}

// arPath returns n steps of the AR(1) drift.
func arPath(rng *rand.Rand, n int) []float64 {
	out := make([]float64, n)
	x := rng.NormFloat64() * driftSD
	innov := driftSD * math.Sqrt(1-driftPhi*driftPhi)
	for i := range out {
		out[i] = x
		x = driftPhi*x + innov*rng.NormFloat64()
	}
	return out
}

// simRun builds one run's results: windows with histograms, as the local
// runner writes them. level[i] is the machine's log-level during window i;
// mult multiplies /work's latency (the injected regression).
func simRun(rng *rand.Rand, cfg simCfg, level []float64, mult float64, label string) *results.File {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f := &results.File{Schema: results.Schema,
		Plan:     results.PlanRef{Name: "gate-accuracy", Hash: "sim"},
		Run:      results.Run{ID: label, Runner: "sim", RunnerClass: "sim", Label: label},
		Profile:  results.Profile{Type: "load", Model: "open", Rate: 2 * cfg.rps},
		Validity: results.Validity{Valid: true}}
	for _, ep := range []struct {
		name   string
		median float64
	}{{"work", workMedianMs * mult}, {"other", otherMedianMs}} {
		e := results.Endpoint{Name: ep.name, Precision: results.PrecisionExact, Histogram: results.NewHistogram()}
		for w := range cfg.windows {
			win := results.Window{Start: t0.Add(time.Duration(w) * time.Second), Width: results.Duration(time.Second), Histogram: results.NewHistogram()}
			hiccup := rng.Float64() < hiccupP
			// The local runner's arrivals are evenly spaced and its endpoint
			// mix is deterministic (smooth weighted round-robin): a fixed count.
			n := int(cfg.rps + 0.5)
			for range n {
				ms := ep.median * math.Exp(sigma*rng.NormFloat64()+level[w])
				if hiccup && rng.Float64() < hiccupFrac {
					ms += hiccupMs * rng.Float64()
				}
				win.Histogram.RecordMicros(int64(ms * 1000))
				win.Requests++
			}
			_ = e.Histogram.Merge(win.Histogram)
			e.Requests += win.Requests
			e.Windows = append(e.Windows, win)
		}
		e.Finalize(time.Duration(cfg.windows) * time.Second)
		f.Endpoints = append(f.Endpoints, e)
	}
	return f
}

// simSingle is one committed-mode run in its own job.
func simSingle(rng *rand.Rand, cfg simCfg, mult float64, label string) *results.File {
	lvl := arPath(rng, cfg.windows)
	run := runSD * rng.NormFloat64()
	for i := range lvl {
		lvl[i] += run
	}
	return simRun(rng, cfg, lvl, mult, label)
}

// simPaired is one paired job: 2×windows slots on one drifting machine, the
// order within each pair random; base gets one slot of each pair, head the other.
func simPaired(rng *rand.Rand, cfg simCfg, mult float64) (base, head *results.File) {
	lvl := arPath(rng, 2*cfg.windows)
	run := runSD * rng.NormFloat64()
	bl, hl := make([]float64, cfg.windows), make([]float64, cfg.windows)
	for i := range cfg.windows {
		a, b := lvl[2*i]+run, lvl[2*i+1]+run
		if rng.IntN(2) == 1 {
			a, b = b, a
		}
		bl[i], hl[i] = a, b
	}
	return simRun(rng, cfg, bl, 1, "base"), simRun(rng, cfg, hl, mult, "head")
}
