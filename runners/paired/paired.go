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
	"math"
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
	// (and replaced by as many extra pairs) because the generator fell
	// behind its schedule in one of their slots (default DefaultMaxLeftOut;
	// negative: none, any such slot invalidates its side). More lagging
	// pairs than that, or lag falling mostly on one side, make the run
	// invalid, with the counts by side.
	MaxLeftOut float64
}

// DefaultMaxLeftOut lets a busy runner's stalls (a slot whose requests
// started more than the lag limit late) cost a pair each, replaced by one
// more at the end, instead of the whole run. Leaving a pair out of both
// sides keeps the comparison exact: whether a pair is left out does not
// depend on which side is which, so swapping sides within the kept pairs is
// still as likely as what was measured. A head build that starves the
// generator shows as lag mostly in its own slots, which makes the run
// invalid however few pairs lagged; beyond the cap the machine is too busy.
const DefaultMaxLeftOut = 0.4

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
	leaveOutOn := r.MaxLeftOut >= 0
	budget := leftOutBudget(r.MaxLeftOut, pairs)
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
	var lag lagTally
	leftOut, extra := 0, 0
	total := warmPairs + pairs
	var runErr error
loop:
	for i := 0; i < total; i++ {
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
				forgiveBehind(&f.Validity)
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
		switch {
		case warm || !leaveOutOn || !pp.lagged():
			if err := fold(pp, warm); err != nil {
				return nil, nil, err
			}
		case leftOut < budget:
			// Left out of both sides, and replaced by one more pair at the
			// end (up to the budget), so a stall costs time, not power.
			lag.add(pp)
			leftOut++
			for _, side := range []string{Base, Head} {
				acc[side].leaveOut(pp)
			}
			if extra < budget {
				extra++
				total++
			}
		default:
			// Beyond the budget: judged as measured, so the run is invalid.
			lag.add(pp)
			lag.over = true
			if err := fold(pp, false); err != nil {
				return nil, nil, err
			}
		}
		if runErr != nil {
			break loop
		}
	}
	if reason := lag.refusal(pairs+extra, budget); reason != "" {
		for _, side := range []string{Base, Head} {
			v := &acc[side].f.Validity
			v.Valid = false
			v.AddCauses(results.CauseBehind)
			v.Reasons = append(v.Reasons, reason)
		}
	}
	// A cancelled run may end with the second slot of a pair missing: drop the
	// unmatched window so indexes stay paired.
	acc[Base].balance(acc[Head])
	base, head = acc[Base].finish(runErr != nil), acc[Head].finish(runErr != nil)
	return base, head, runErr
}

// pendingPair is one pair's two slot results, before they are folded into
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

// forgiveBehind marks a warm-up slot that only fell behind its schedule as
// valid (its lag figures stay).
func forgiveBehind(v *results.Validity) {
	v.Valid, v.Causes, v.Reasons = true, nil, nil
}

// lagTally counts the measured pairs whose slots fell behind, by side.
type lagTally struct {
	base, head, both int
	// over: more pairs lagged than may be left out.
	over bool
}

func (t *lagTally) add(pp pendingPair) {
	b, h := !pp.files[Base].Validity.Valid, !pp.files[Head].Validity.Valid
	switch {
	case b && h:
		t.both++
	case b:
		t.base++
	case h:
		t.head++
	}
}

func (t lagTally) total() int { return t.base + t.head + t.both }

// refusal says why the lagging pairs make the run invalid, or "" when they
// do not: more pairs fell behind than may be left out (the latencies would
// describe the generator more than the builds), or the lag fell mostly on
// one side (two-sided sign test at 1 %) — the mark of a build that starves
// the generator of CPU, which must not hide behind left-out pairs.
func (t lagTally) refusal(pairs, budget int) string {
	n := t.total()
	if n == 0 {
		return ""
	}
	counts := fmt.Sprintf("%d of %d pairs (%d times in a base slot only, %d in a head slot only, %d in both)", n, pairs, t.base, t.head, t.both)
	if t.base+t.head >= 6 && signTestP(t.base, t.head) < 0.01 {
		slow := Head
		if t.base > t.head {
			slow = Base
		}
		return "the generator fell behind its schedule in " + counts + ": mostly in " + slow + " slots, so the " + slow +
			" build seems to take the CPU the load generator needs and its latencies would describe the generator; run the builds where they do not share the generator's cores, or lower the rate"
	}
	if t.over {
		return fmt.Sprintf("the generator fell behind its schedule in %s, more than the %d that may be left out: "+
			"this machine is too busy for the plan's rate; give the load test its own runner (one job per runner), lower the rate, or raise --max-left-out (up to 0.5)", counts, budget)
	}
	return ""
}

// signTestP is the two-sided exact sign test p-value of a against b.
func signTestP(a, b int) float64 {
	n, k := a+b, min(a, b)
	var p float64
	for i := 0; i <= k; i++ {
		lg, _ := math.Lgamma(float64(n + 1))
		li, _ := math.Lgamma(float64(i + 1))
		lr, _ := math.Lgamma(float64(n - i + 1))
		p += math.Exp(lg - li - lr - float64(n)*math.Ln2)
	}
	return math.Min(1, 2*p)
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
	a.pairing.LeftOut = append(a.pairing.LeftOut, behindPair(pp))
}

func behindPair(pp pendingPair) results.LeftOutPair {
	var lagging, reasons []string
	for _, s := range []string{Base, Head} {
		if f := pp.files[s]; !f.Validity.Valid {
			lagging = append(lagging, s)
			reasons = append(reasons, f.Validity.Reasons...)
		}
	}
	return results.LeftOutPair{Pair: pp.pair, Side: strings.Join(lagging, "+"), Reason: strings.Join(reasons, "; ")}
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
			if sw.ServerHistogram != nil {
				// Made on the first slot with Server-Timing samples: a
				// target that sends none adds nothing to the file.
				if w.ServerHistogram == nil {
					w.ServerHistogram = results.NewHistogram()
				}
				if err := w.ServerHistogram.Merge(sw.ServerHistogram); err != nil {
					return fmt.Errorf("paired run: endpoint %s: server time: %w", src.Name, err)
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
		var server *results.Histogram
		for _, w := range e.Windows {
			if w.Warmup {
				continue
			}
			_ = h.Merge(w.Histogram)
			if w.ServerHistogram != nil {
				if server == nil {
					server = results.NewHistogram()
				}
				_ = server.Merge(w.ServerHistogram)
			}
		}
		e.Histogram, e.ServerHistogram = h, server
		f.Endpoints = append(f.Endpoints, *e)
	}
	a.pairing.Pairs = measured
	a.pairing.Order = strings.ToUpper(string(a.order))
	f.Run.Pairing = a.pairing
	f.Finalize(time.Duration(measured) * a.slot)
	return f
}
