package paired

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// fake is a runner that does not send anything: it returns one slot's results
// with log-normal latencies whose median depends on the target, and records
// the order in which slots ran.
type fake struct {
	side   string
	median map[string]float64
	log    *slotLog
	fail   error
}

type slotLog struct {
	mu    sync.Mutex
	sides []string
	clock time.Time
	rng   *rand.Rand
	// bad makes the n-th slot run (from 1) invalid for this cause.
	bad map[int]string
	// lagSide's every lagEvery-th slot falls behind its schedule.
	lagSide  string
	lagEvery int
	perSide  map[string]int
}

func (f *fake) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	if f.fail != nil {
		return nil, f.fail
	}
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	f.log.sides = append(f.log.sides, f.side)
	start := f.log.clock
	f.log.clock = start.Add(p.Profile.Duration)
	r := &results.File{Schema: results.Schema, Plan: results.PlanRef{Name: p.Name},
		Run:      results.Run{ID: "slot", Started: start, Ended: f.log.clock, Runner: "fake", RunnerClass: "fake/1cpu", Target: p.Target},
		Validity: results.Validity{Valid: true, Scheduled: 100, Sent: 100}}
	if f.log.perSide == nil {
		f.log.perSide = map[string]int{}
	}
	f.log.perSide[f.side]++
	if f.side == f.log.lagSide && f.log.perSide[f.side]%f.log.lagEvery == 0 {
		f.log.bad = map[int]string{len(f.log.sides): results.CauseBehind}
	}
	if cause, ok := f.log.bad[len(f.log.sides)]; ok {
		r.Validity.Valid = false
		r.Validity.Causes = []string{cause}
		r.Validity.Reasons = []string{cause + " in slot " + strconv.Itoa(len(f.log.sides))}
	}
	e := results.Endpoint{Name: "ep", Precision: results.PrecisionExact}
	w := results.Window{Start: start, Width: results.Duration(p.Profile.Duration), Histogram: results.NewHistogram()}
	med := f.median[p.Target]
	for range int(p.Profile.Rate * p.Profile.Duration.Seconds()) {
		w.Histogram.RecordMicros(int64(1000 * med * math.Exp(0.4*f.log.rng.NormFloat64())))
		w.Requests++
	}
	e.Windows = []results.Window{w}
	e.Requests = w.Requests
	e.Histogram = w.Histogram.Clone()
	r.Endpoints = []results.Endpoint{e}
	r.Finalize(p.Profile.Duration)
	return r, nil
}

func testPlan(rate float64, d, warm time.Duration) *plan.Plan {
	return &plan.Plan{Name: "p", Target: "http://original",
		Endpoints: []plan.Endpoint{{Name: "ep", Method: "GET", Path: "/", Weight: 1}},
		Profile:   plan.Profile{Type: plan.ProfileLoad, Rate: rate, Duration: d, Warmup: warm}}
}

func fakeFactory(log *slotLog, median map[string]float64) Factory {
	return func(side string) runners.Runner { return &fake{side: side, median: median, log: log} }
}

func TestInterleavedAndAligned(t *testing.T) {
	t.Parallel()
	log := &slotLog{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), rng: rand.New(rand.NewPCG(1, 2))}
	r := &Runner{New: fakeFactory(log, map[string]float64{"http://a": 5, "http://b": 5}),
		BaseTarget: "http://a", HeadTarget: "http://b", Seed: 42}
	base, head, err := r.Run(context.Background(), testPlan(200, 10*time.Second, 2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(log.sides) != 24 {
		t.Fatalf("%d slots ran, want 2 × (2 warm-up + 10)", len(log.sides))
	}
	firsts := map[string]int{}
	for i := 0; i < len(log.sides); i += 2 {
		if log.sides[i] == log.sides[i+1] {
			t.Fatalf("pair %d ran %s twice", i/2, log.sides[i])
		}
		firsts[log.sides[i]]++
	}
	if firsts[Base] == 0 || firsts[Head] == 0 {
		t.Errorf("order never varied: %v", log.sides)
	}
	for _, f := range []*results.File{base, head} {
		e := f.Endpoint("ep")
		if len(e.Windows) != 12 || len(e.MeasuredWindows()) != 10 || !e.Windows[1].Warmup || e.Windows[2].Warmup {
			t.Fatalf("%s: %d windows (%d measured)", f.Run.Label, len(e.Windows), len(e.MeasuredWindows()))
		}
		if e.Requests != 2000 || f.Run.Pairing == nil || f.Run.Pairing.Seed != 42 || f.Run.Pairing.Pairs != 10 || len(f.Run.Pairing.Order) != 10 {
			t.Errorf("%s: requests %d pairing %+v", f.Run.Label, e.Requests, f.Run.Pairing)
		}
		if f.Plan.Hash == "" || f.Profile.Duration.D() != 10*time.Second || f.Run.Runner != "paired:fake" {
			t.Errorf("%s: plan %+v profile %+v runner %s", f.Run.Label, f.Plan, f.Profile, f.Run.Runner)
		}
	}
	if base.Run.Label != Base || head.Run.Label != Head || base.Run.Target != "http://a" || head.Run.Target != "http://b" {
		t.Errorf("labels/targets: %s %s %s %s", base.Run.Label, head.Run.Label, base.Run.Target, head.Run.Target)
	}
	// Window i of both sides belongs to pair i: their starts differ by one slot at most.
	bw, hw := base.Endpoints[0].Windows, head.Endpoints[0].Windows
	for i := range bw {
		if d := bw[i].Start.Sub(hw[i].Start); d != time.Second && d != -time.Second {
			t.Fatalf("pair %d: base at %v, head at %v", i, bw[i].Start, hw[i].Start)
		}
	}
	if v := gate.ComparePaired(base, head, gate.DefaultPolicy()); v.Decision != gate.Pass {
		t.Errorf("same medians: %s %+v", v.Decision, v.Endpoints)
	}
}

func TestSlowerHeadRegresses(t *testing.T) {
	t.Parallel()
	log := &slotLog{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), rng: rand.New(rand.NewPCG(3, 4))}
	r := &Runner{New: fakeFactory(log, map[string]float64{"http://a": 5, "http://b": 6}),
		BaseTarget: "http://a", HeadTarget: "http://b", Seed: 7}
	base, head, err := r.Run(context.Background(), testPlan(200, 12*time.Second, 0))
	if err != nil {
		t.Fatal(err)
	}
	if v := gate.ComparePaired(base, head, gate.DefaultPolicy()); v.Decision != gate.Regressed {
		t.Errorf("head 20 %% slower: %s %+v", v.Decision, v.Endpoints)
	}
}

func TestCancelledRunIsPartialAndBalanced(t *testing.T) {
	t.Parallel()
	log := &slotLog{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), rng: rand.New(rand.NewPCG(5, 6))}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	inner := fakeFactory(log, map[string]float64{"http://a": 5, "http://b": 5})
	r := &Runner{BaseTarget: "http://a", HeadTarget: "http://b", Seed: 1,
		New: func(side string) runners.Runner {
			n++
			if n == 7 { // cancel after the first slot of pair 4
				cancel()
			}
			return inner(side)
		}}
	base, head, err := r.Run(ctx, testPlan(100, 10*time.Second, 0))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if !base.Run.Partial || !head.Run.Partial {
		t.Error("interrupted run not marked partial")
	}
	if nb, nh := len(base.Endpoints[0].Windows), len(head.Endpoints[0].Windows); nb != nh || nb != 3 {
		t.Errorf("windows base %d head %d, want 3 complete pairs each", nb, nh)
	}
	if base.Endpoints[0].Requests != 300 {
		t.Errorf("base requests %d, want 300 (unmatched slot dropped)", base.Endpoints[0].Requests)
	}
}

func TestRejects(t *testing.T) {
	t.Parallel()
	log := &slotLog{rng: rand.New(rand.NewPCG(1, 1))}
	ok := fakeFactory(log, map[string]float64{})
	p := testPlan(10, time.Second, 0)
	p.Profile.Type = plan.ProfileSpike
	for name, r := range map[string]*Runner{
		"no factory": {BaseTarget: "a", HeadTarget: "b"},
		"no target":  {New: ok, BaseTarget: "a"},
		"spike":      {New: ok, BaseTarget: "a", HeadTarget: "b"},
		"slot fails": {New: func(string) runners.Runner { return &fake{fail: errors.New("boom")} }, BaseTarget: "a", HeadTarget: "b"},
	} {
		q := testPlan(10, time.Second, 0)
		if name == "spike" {
			q = p
		}
		if _, _, err := r.Run(context.Background(), q); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// TestLaggedPairsLeftOut: a slot that only fell behind its schedule costs its
// pair (on both sides), up to the budget; beyond it, or for any other cause,
// the run is invalid as before, and warm-up stalls cost nothing.
func TestLaggedPairsLeftOut(t *testing.T) {
	t.Parallel()
	run := func(bad map[int]string, maxLeftOut float64) (*results.File, *results.File, []string) {
		t.Helper()
		log := &slotLog{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), rng: rand.New(rand.NewPCG(9, 9)), bad: bad}
		r := &Runner{New: fakeFactory(log, map[string]float64{"http://a": 5, "http://b": 5}),
			BaseTarget: "http://a", HeadTarget: "http://b", Seed: 5, MaxLeftOut: maxLeftOut}
		// 1 warm-up pair (slots 1–2), then 10 measured pairs (slots 3–22).
		base, head, err := r.Run(context.Background(), testPlan(100, 10*time.Second, time.Second))
		if err != nil {
			t.Fatal(err)
		}
		return base, head, log.sides
	}
	behind := results.CauseBehind

	// Slots 5 and 6 are pair 2; slot 17 is the first of pair 8.
	base, head, sides := run(map[int]string{1: behind, 5: behind, 6: behind, 17: behind}, 0.2)
	for _, f := range []*results.File{base, head} {
		p := f.Run.Pairing
		if !f.Validity.Valid || p.Pairs != 10 || len(p.Order) != 10 || len(p.LeftOut) != 2 {
			t.Fatalf("%s: valid %v %q pairing %+v; want valid, 10 pairs kept (2 replacing 2 left out)", f.Run.Label, f.Validity.Valid, f.Validity.Reasons, p)
		}
		if p.LeftOut[0].Pair != 2 || p.LeftOut[0].Side != "base+head" || p.LeftOut[1].Pair != 8 || p.LeftOut[1].Side != sides[16] ||
			!strings.Contains(p.LeftOut[1].Reason, "slot 17") {
			t.Errorf("%s: left out %+v (slot 17 ran %s)", f.Run.Label, p.LeftOut, sides[16])
		}
		e := f.Endpoint("ep")
		if len(e.MeasuredWindows()) != 10 || e.Requests != 1000 || f.Validity.Scheduled != 1100 {
			t.Errorf("%s: %d measured windows, %d requests, %d scheduled; want 10, 1000, 1100 (warm-up + kept)", f.Run.Label, len(e.MeasuredWindows()), e.Requests, f.Validity.Scheduled)
		}
	}
	if v := gate.ComparePaired(base, head, gate.DefaultPolicy()); v.Decision == gate.Invalid || v.Decision == gate.Regressed || !strings.Contains(strings.Join(v.Warnings, "\n"), "2 of 12 pairs left out (2, 8)") {
		t.Errorf("verdict %s, warnings %q", v.Decision, v.Warnings)
	}

	// Five lagging pairs of ten exceed a 40 % budget (4): four are left out
	// and replaced, the fifth is judged, so the run is invalid and says how
	// many pairs fell behind, on which side, and what to do.
	base, head, sides = run(map[int]string{3: behind, 6: behind, 9: behind, 14: behind, 20: behind}, 0.4)
	if len(sides) != 2*(1+10+4) {
		t.Errorf("%d slots ran, want 30 (4 replacement pairs)", len(sides))
	}
	reasons := strings.Join(head.Validity.Reasons, ";")
	if base.Validity.Valid || head.Validity.Valid || len(base.Run.Pairing.LeftOut) != 4 ||
		!strings.Contains(reasons, "fell behind its schedule in 5 of 14 pairs") || !strings.Contains(reasons, "more than the 4 that may be left out") ||
		!strings.Contains(reasons, "own runner") {
		t.Errorf("over budget: valid %v/%v pairing %+v reasons %q", base.Validity.Valid, head.Validity.Valid, base.Run.Pairing, head.Validity.Reasons)
	}
	v := gate.ComparePaired(base, head, gate.DefaultPolicy())
	if w := strings.Join(v.Warnings, "\n"); v.Decision != gate.Invalid || strings.Contains(w, "every baseline run") || !strings.Contains(w, "in a head slot only") {
		t.Errorf("over budget: verdict %s, warnings %q", v.Decision, v.Warnings)
	}

	// Dropped requests are the target's doing, never left out; nor is
	// anything when leaving out is off.
	for name, tc := range map[string]struct {
		bad        map[int]string
		maxLeftOut float64
	}{
		"dropped": {map[int]string{7: results.CauseDropped}, 0},
		"off":     {map[int]string{7: behind}, -1},
		"unknown": {map[int]string{7: ""}, 0},
	} {
		base, head, _ := run(tc.bad, tc.maxLeftOut)
		if base.Validity.Valid && head.Validity.Valid || len(head.Run.Pairing.LeftOut) != 0 {
			t.Errorf("%s: valid %v/%v left out %+v", name, base.Validity.Valid, head.Validity.Valid, head.Run.Pairing.LeftOut)
		}
		if r := strings.Join(append(base.Validity.Reasons, head.Validity.Reasons...), ";"); !strings.Contains(r, "pair 3: ") {
			t.Errorf("%s: reasons %q do not name pair 3", name, r)
		}
	}
}

// A head build that starves the generator lags in its own slots: beyond what
// may be left out, that lopsided lag makes the run invalid and says so.
func TestLopsidedLagInvalid(t *testing.T) {
	t.Parallel()
	log := &slotLog{clock: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), rng: rand.New(rand.NewPCG(9, 9)), lagSide: Head, lagEvery: 2}
	r := &Runner{New: fakeFactory(log, map[string]float64{"http://a": 5, "http://b": 5}),
		BaseTarget: "http://a", HeadTarget: "http://b", Seed: 5}
	base, head, err := r.Run(context.Background(), testPlan(100, 20*time.Second, 0))
	if err != nil {
		t.Fatal(err)
	}
	if base.Validity.Valid || head.Validity.Valid || !strings.Contains(strings.Join(head.Validity.Reasons, ";"), "mostly in head slots") {
		t.Errorf("valid %v/%v reasons %q pairing %+v", base.Validity.Valid, head.Validity.Valid, head.Validity.Reasons, head.Run.Pairing)
	}
}

func TestSignTestP(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		a, b int
		want float64
	}{{0, 0, 1}, {3, 3, 1}, {0, 6, 2.0 / 64}, {1, 9, 2 * 11.0 / 1024}} {
		if got := signTestP(tc.a, tc.b); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("signTestP(%d, %d) = %g, want %g", tc.a, tc.b, got, tc.want)
		}
	}
}
