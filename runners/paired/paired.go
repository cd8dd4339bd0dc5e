// Package paired runs a plan against two targets — the base build and the head
// build — interleaved in short alternating slots (A B, B A, … with the order of
// each pair drawn from a recorded seed), so that whatever the machine does
// meanwhile (CPU steal, thermal throttling, a neighbour's burst) hits both
// equally. It returns one results file per side whose window i of base and
// window i of head ran in the same slot pair; gate.ComparePaired pairs them.
package paired

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// Sides of a paired run, also the results' Run.Label.
const (
	Base = "base"
	Head = "head"
)

// DefaultSlot is the length of one side's turn: one results window, short
// enough that drift within a pair is small, long enough that a slot's start-up
// (connection reuse, scheduler) is a small part of it.
const DefaultSlot = time.Second

// Factory returns the runner for one slot of one side ("base" or "head").
// It is called once per slot; runners that keep connections warm across slots
// should share an http.Client per side (see the local runner's Options.Client).
type Factory func(side string) runners.Runner

// Runner runs a plan against BaseTarget and HeadTarget interleaved.
type Runner struct {
	// New builds each slot's runner.
	New Factory
	// BaseTarget and HeadTarget replace the plan's target for each side.
	BaseTarget, HeadTarget string
	// Slot is the length of one side's turn (default DefaultSlot).
	Slot time.Duration
	// Seed draws the order within each pair; 0 picks one from the clock. The
	// seed used is recorded in both results (Run.Pairing).
	Seed uint64
	// MaxLeftOut is the fraction of measured pairs that may be left out
	// because the generator fell behind its schedule in one of their slots
	// (default DefaultMaxLeftOut; negative: none, any such slot invalidates
	// its side).
	MaxLeftOut float64
}

// DefaultMaxLeftOut lets a busy runner's occasional stall (a slot whose
// requests started more than the lag limit late) cost a pair instead of the
// whole run. Leaving a pair out of both sides keeps the comparison exact:
// whether a pair is left out does not depend on which side is which, so
// swapping sides within the kept pairs is still as likely as what was
// measured. The cap keeps a head build that starves the generator (lagging
// in most of its slots) from hiding behind the dropped pairs: the run is then
// invalid, as before.
const DefaultMaxLeftOut = 0.2

// Run executes the plan's warm-up and then its duration as pairs of slots and
// returns the base and head results. Only steady profiles (load, endurance)
// can be paired: a ramp or spike would put the two sides at different rates.
// If ctx is cancelled, the pairs completed so far come back marked partial
// together with an error wrapping ctx.Err().
func (r *Runner) Run(ctx context.Context, p *plan.Plan) (base, head *results.File, err error) {
	if r.New == nil {
		return nil, nil, errors.New("paired runner: no runner factory")
	}
	if r.BaseTarget == "" || r.HeadTarget == "" {
		return nil, nil, errors.New("paired runner: both a base and a head target are needed")
	}
	switch p.Profile.Type {
	case "", plan.ProfileLoad, plan.ProfileEndurance:
	default:
		return nil, nil, fmt.Errorf("paired mode needs a steady profile (load or endurance); plan %q has %s", p.Name, p.Profile.Type)
	}
	slot := r.Slot
	if slot <= 0 {
		slot = DefaultSlot
	}
	seed := r.Seed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	rng := rand.New(rand.NewPCG(seed, 0x9a1ed))
	warmPairs := slotsFor(p.Profile.Warmup, slot)
	pairs := slotsFor(p.Profile.Duration, slot)
	if pairs == 0 {
		return nil, nil, fmt.Errorf("paired runner: plan %q has no duration to measure", p.Name)
	}
	acc := map[string]*assembly{
		Base: newAssembly(p, Base, slot, seed),
		Head: newAssembly(p, Head, slot, seed),
	}
	targets := map[string]string{Base: r.BaseTarget, Head: r.HeadTarget}
	budget := leftOutBudget(r.MaxLeftOut, pairs)
	// A measured pair whose slots lagged (and nothing worse) waits here until
	// the budget decides whether it is left out or folded in after all.
	var pending []pendingPair
	fold := func(pp pendingPair, warm bool) error {
		for _, side := range []string{Base, Head} {
			if err := acc[side].add(pp.files[side], warm, pp.pair); err != nil {
				return err
			}
		}
		if !warm {
			acc[Base].order = append(acc[Base].order, pp.first[0])
			acc[Head].order = acc[Base].order
		}
		return nil
	}
	overBudget := false
	var runErr error
loop:
	for i := 0; i < warmPairs+pairs; i++ {
		warm := i < warmPairs
		order := [2]string{Base, Head}
		if rng.IntN(2) == 1 {
			order = [2]string{Head, Base}
		}
		pp := pendingPair{pair: i - warmPairs + 1, first: order[0], files: map[string]*results.File{}}
		for _, side := range order {
			if err := ctx.Err(); err != nil {
				runErr = fmt.Errorf("paired run interrupted: %w", err)
				break
			}
			f, err := r.New(side).Run(ctx, slotPlan(p, targets[side], slot))
			if err != nil {
				runErr = fmt.Errorf("paired run, %s slot %d: %w", side, i+1, err)
			}
			if f == nil {
				if runErr == nil {
					runErr = fmt.Errorf("paired run, %s slot %d: the runner returned no results", side, i+1)
				}
				break
			}
			if warm && f.Validity.OnlyBehind() {
				// Warm-up windows are not judged: a stall there costs nothing.
				f.Validity.Valid, f.Validity.Causes, f.Validity.Reasons = true, nil, nil
			}
			pp.files[side] = f
			if runErr != nil {
				break
			}
		}
		if len(pp.files) < 2 {
			// Interrupted mid-pair: keep the slot that ran (balance drops
			// its unmatched window) so the partial results say what happened.
			for side, f := range pp.files {
				if err := acc[side].add(f, warm, pp.pair); err != nil {
					return nil, nil, err
				}
			}
			break loop
		}
		if !warm && pp.lagged() && !overBudget {
			pending = append(pending, pp)
			if len(pending) > budget {
				// Too many stalls to leave out: judge (and refuse) them all.
				overBudget = true
				for _, q := range pending {
					if err := fold(q, false); err != nil {
						return nil, nil, err
					}
				}
				pending = nil
			}
		} else if err := fold(pp, warm); err != nil {
			return nil, nil, err
		}
		if runErr != nil {
			break loop
		}
	}
	for _, q := range pending {
		for _, side := range []string{Base, Head} {
			acc[side].leaveOut(q)
		}
	}
	if overBudget {
		for _, side := range []string{Base, Head} {
			v := &acc[side].f.Validity
			v.Reasons = append(v.Reasons, fmt.Sprintf("the generator fell behind its schedule in more than %d of %d pairs (%.0f %%), too many to leave out", budget, pairs, 100*leftOutFraction(r.MaxLeftOut)))
		}
	}
	// A cancelled run may end with the second slot of a pair missing: drop the
	// unmatched window so indexes stay paired.
	acc[Base].balance(acc[Head])
	base, head = acc[Base].finish(runErr != nil), acc[Head].finish(runErr != nil)
	return base, head, runErr
}

// pendingPair is one pair's two slot results, held until it is folded into
// the sides or left out.
type pendingPair struct {
	pair  int // measured pair number, from 1
	first string
	files map[string]*results.File
}

// lagged reports whether the pair has a slot that fell behind its schedule
// and no slot invalid for any other reason.
func (pp pendingPair) lagged() bool {
	behind := false
	for _, f := range pp.files {
		if f.Validity.Valid {
			continue
		}
		if !f.Validity.OnlyBehind() {
			return false
		}
		behind = true
	}
	return behind
}

func leftOutFraction(maxLeftOut float64) float64 {
	if maxLeftOut == 0 {
		return DefaultMaxLeftOut
	}
	return max(maxLeftOut, 0)
}

// leftOutBudget is how many of pairs may be left out.
func leftOutBudget(maxLeftOut float64, pairs int) int {
	return int(leftOutFraction(maxLeftOut) * float64(pairs))
}

// leaveOut records that pair pp was dropped from both sides.
func (a *assembly) leaveOut(pp pendingPair) {
	var lagging, reasons []string
	for _, s := range []string{Base, Head} {
		if f := pp.files[s]; !f.Validity.Valid {
			lagging = append(lagging, s)
			reasons = append(reasons, f.Validity.Reasons...)
		}
	}
	a.pairing.LeftOut = append(a.pairing.LeftOut, results.LeftOutPair{Pair: pp.pair, Side: strings.Join(lagging, "+"), Reason: strings.Join(reasons, "; ")})
}

func slotsFor(d, slot time.Duration) int {
	if d <= 0 {
		return 0
	}
	return int((d + slot - 1) / slot)
}

// slotPlan is the plan of one slot: the same endpoints at the same steady rate
// (or VUs) for one slot, against one side's target, without warm-up (the
// paired warm-up is made of whole slots).
func slotPlan(p *plan.Plan, target string, slot time.Duration) *plan.Plan {
	q := *p
	q.Target = target
	q.Profile = plan.Profile{
		Type: plan.ProfileLoad, Rate: p.Profile.Rate, VUs: p.Profile.VUs,
		Duration: slot, MaxInFlight: p.Profile.MaxInFlight,
	}
	return &q
}

// assembly accumulates one side's slots into a results file.
type assembly struct {
	f       *results.File
	slot    time.Duration
	byName  map[string]*results.Endpoint
	names   []string
	pairing *results.Pairing
	order   []byte // 'b' or 'h' per measured pair: which side went first
	first   bool
}

func newAssembly(p *plan.Plan, side string, slot time.Duration, seed uint64) *assembly {
	pr := results.Profile{Type: p.Profile.Type, Model: "open", Rate: p.Profile.Rate, VUs: p.Profile.VUs,
		Duration: results.Duration(p.Profile.Duration), Warmup: results.Duration(p.Profile.Warmup)}
	if pr.Type == "" {
		pr.Type = plan.ProfileLoad
	}
	if p.Profile.VUs > 0 {
		pr.Model = "closed"
		pr.Rate = 0
	}
	return &assembly{
		f: &results.File{
			Schema:   results.Schema,
			Plan:     results.PlanRef{Name: p.Name, Hash: p.Hash(), File: p.Source},
			Run:      results.Run{Label: side},
			Profile:  pr,
			Validity: results.Validity{Valid: true},
		},
		slot:    slot,
		byName:  map[string]*results.Endpoint{},
		pairing: &results.Pairing{Seed: seed, Slot: results.Duration(slot)},
		first:   true,
	}
}

// add folds one slot's results into the side: its windows collapse into one
// window (window i = slot pair i), its counts and histograms are summed. pair
// is the measured pair's number (from 1; warm-up pairs are 0 or less).
func (a *assembly) add(f *results.File, warm bool, pair int) error {
	if f == nil {
		return nil
	}
	if a.first {
		a.f.Run.ID = f.Run.ID
		a.f.Run.Started = f.Run.Started
		a.f.Run.Runner = "paired:" + f.Run.Runner
		a.f.Run.RunnerClass = f.Run.RunnerClass
		a.f.Run.Workers = max(f.Run.Workers, 1)
		a.f.Run.Target = f.Run.Target
		a.f.Run.Env = f.Run.Env
		a.first = false
	}
	a.f.Run.Ended = f.Run.Ended
	a.f.Run.Partial = a.f.Run.Partial || f.Run.Partial
	where := fmt.Sprintf("pair %d", pair)
	if pair <= 0 {
		where = "warm-up"
	}
	a.f.Validity.Merge(&f.Validity, where)
	start := f.Run.Started
	for i := range f.Endpoints {
		src := &f.Endpoints[i]
		dst, ok := a.byName[src.Name]
		if !ok {
			dst = &results.Endpoint{Name: src.Name, Method: src.Method, URL: src.URL, Precision: src.Precision, Histogram: results.NewHistogram()}
			a.byName[src.Name] = dst
			a.names = append(a.names, src.Name)
		}
		w := results.Window{Start: start, Width: results.Duration(a.slot), Warmup: warm, Histogram: results.NewHistogram()}
		var offered float64
		for _, sw := range src.Windows {
			w.Requests += sw.Requests
			w.Errors += sw.Errors
			w.Bytes += sw.Bytes
			offered += sw.OfferedRPS * sw.Width.D().Seconds()
			if sw.Histogram != nil {
				if err := w.Histogram.Merge(sw.Histogram); err != nil {
					return fmt.Errorf("paired run: endpoint %s: %w", src.Name, err)
				}
			}
		}
		w.OfferedRPS = offered / a.slot.Seconds()
		dst.Windows = append(dst.Windows, w)
		if warm {
			continue
		}
		dst.AddCounts(src)
		if err := dst.Histogram.Merge(w.Histogram); err != nil {
			return fmt.Errorf("paired run: endpoint %s: %w", src.Name, err)
		}
		if src.ServiceHistogram != nil {
			if dst.ServiceHistogram == nil {
				dst.ServiceHistogram = results.NewHistogram()
			}
			if err := dst.ServiceHistogram.Merge(src.ServiceHistogram); err != nil {
				return fmt.Errorf("paired run: endpoint %s: %w", src.Name, err)
			}
		}
	}
	return nil
}

// balance trims both sides to the same number of measured windows.
func (a *assembly) balance(b *assembly) {
	n := min(a.measured(), b.measured())
	a.trim(n)
	b.trim(n)
	if len(a.order) > n {
		a.order = a.order[:n]
		b.order = a.order
	}
}

func (a *assembly) measured() int {
	n := -1
	for _, e := range a.byName {
		m := 0
		for _, w := range e.Windows {
			if !w.Warmup {
				m++
			}
		}
		if n < 0 || m < n {
			n = m
		}
	}
	return max(n, 0)
}

// trim drops measured windows beyond n (their counts leave the totals too).
func (a *assembly) trim(n int) {
	for _, e := range a.byName {
		m := 0
		kept := e.Windows[:0]
		for _, w := range e.Windows {
			if !w.Warmup {
				m++
				if m > n {
					e.Requests -= w.Requests
					e.Errors -= w.Errors
					continue
				}
			}
			kept = append(kept, w)
		}
		e.Windows = kept
	}
}

func (a *assembly) finish(partial bool) *results.File {
	f := a.f
	f.Run.Partial = f.Run.Partial || partial
	measured := a.measured()
	for _, n := range a.names {
		e := a.byName[n]
		// Totals from the kept measured windows (exact after a trim).
		h := results.NewHistogram()
		for _, w := range e.Windows {
			if !w.Warmup {
				_ = h.Merge(w.Histogram)
			}
		}
		e.Histogram = h
		f.Endpoints = append(f.Endpoints, *e)
	}
	a.pairing.Pairs = measured
	a.pairing.Order = strings.ToUpper(string(a.order))
	f.Run.Pairing = a.pairing
	f.Finalize(time.Duration(measured) * a.slot)
	return f
}
