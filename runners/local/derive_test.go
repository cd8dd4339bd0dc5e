package local

import (
	"math"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

func sched(pr plan.Profile) []plan.Stage { return (&plan.Plan{Profile: pr}).Schedule() }

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// win is a synthetic one-second window at offset sec with n requests of
// latency ms, errs of them errors, at offered rate.
func win(sec int, n, errs int64, latMs, offered float64) results.Window {
	h := results.NewHistogram()
	h.RecordMicrosN(int64(latMs*1000), n)
	w := results.Window{Start: t0.Add(time.Duration(sec) * time.Second), Width: results.Duration(time.Second),
		Requests: n, Errors: errs, OfferedRPS: offered, Histogram: h}
	w.P95 = latMs
	return w
}

func TestDeriveStress(t *testing.T) {
	t.Parallel()
	pr := plan.Profile{Type: plan.ProfileStress, StartRate: 100, StepRate: 100, Rate: 400,
		StepDuration: 2 * time.Second, BreakP95: 50 * time.Millisecond, BreakErrorRate: 0.05}
	stages := sched(pr)
	if len(stages) != 4 {
		t.Fatalf("stages: %+v", stages)
	}
	var ws []results.Window
	add := func(step int, n, errs int64, lat float64) {
		offered := float64(100 * (step + 1))
		ws = append(ws, win(2*step, n, errs, lat, offered), win(2*step+1, n, errs, lat, offered))
	}
	add(0, 100, 0, 10)
	add(1, 200, 2, 20)  // 1 % errors: fine
	add(2, 300, 30, 30) // 10 % errors: broken
	add(3, 350, 0, 90)
	d := derive(pr, stages, t0, ws)
	if d.MaxSustainableRPS != 200 || d.BreakingRPS != 300 {
		t.Errorf("max sustainable %v breaking %v, want 200/300", d.MaxSustainableRPS, d.BreakingRPS)
	}
	if len(d.Curve) != 4 || d.Curve[3].OfferedRPS != 400 || d.Curve[3].AchievedRPS != 350 ||
		math.Abs(d.Curve[3].P95Ms-90) > 0.1 || d.Curve[2].ErrorRate != 0.1 {
		t.Errorf("curve %+v", d.Curve)
	}
	// p95 limit alone breaks too.
	pr.BreakErrorRate = 1
	if d := derive(pr, stages, t0, ws); d.BreakingRPS != 400 || d.MaxSustainableRPS != 300 {
		t.Errorf("p95 limit: max %v breaking %v, want 300/400", d.MaxSustainableRPS, d.BreakingRPS)
	}
}

// The plan's error-rate limit is used as is: 0 (the user's "any error
// breaks") breaks the first step with an error, the default 5 % does not;
// a zero limit never falls back to another default.
func TestDeriveStressBreakErrorRate(t *testing.T) {
	t.Parallel()
	pr := plan.Profile{Type: plan.ProfileStress, StartRate: 100, StepRate: 100, Rate: 300, StepDuration: 2 * time.Second}
	stages := sched(pr)
	var ws []results.Window
	for step, errs := range []int64{0, 2, 3} { // 0 %, 0.5 %, 0.5 % errors
		n, offered := int64(200*(step+1)), float64(100*(step+1))
		ws = append(ws, win(2*step, n, errs, 10, offered), win(2*step+1, n, errs, 10, offered))
	}
	for _, tt := range []struct {
		limit                 float64
		sustainable, breaking float64
	}{
		{0, 100, 200},
		{plan.DefaultBreakErrorRate, 300, 0},
		{0.004, 100, 200}, // 0.5 % exceeds 0.4 %
		{0.005, 300, 0},   // and does not exceed 0.5 %
	} {
		pr.BreakErrorRate = tt.limit
		d := derive(pr, stages, t0, ws)
		if d.MaxSustainableRPS != tt.sustainable || d.BreakingRPS != tt.breaking {
			t.Errorf("break_error_rate %g: max sustainable %v breaking %v, want %v/%v", tt.limit, d.MaxSustainableRPS, d.BreakingRPS, tt.sustainable, tt.breaking)
		}
	}
}

func TestDeriveSpike(t *testing.T) {
	t.Parallel()
	pr := plan.Profile{Type: plan.ProfileSpike, Rate: 100, Duration: 10 * time.Second,
		SpikeAt: 3 * time.Second, SpikeDuration: 2 * time.Second, Multiplier: 5}
	stages := sched(pr)
	lat := []float64{10, 10, 10, 200, 300, 150, 40, 10.5, 10, 10} // back within 10 % at second 7
	var ws []results.Window
	for i, l := range lat {
		ws = append(ws, win(i, 100, 0, l, 100))
	}
	d := derive(pr, stages, t0, ws)
	if math.Abs(d.PreSpikeP95Ms-10) > 0.05 || d.Recovered == nil || !*d.Recovered || d.RecoveryMs != 2000 {
		t.Errorf("derived %+v (recovered %v)", d, d.Recovered)
	}
	// Never recovers: recovery is the rest of the run, flagged.
	for i := 5; i < 10; i++ {
		ws[i] = win(i, 100, 0, 100, 100)
	}
	d = derive(pr, stages, t0, ws)
	if d.Recovered == nil || *d.Recovered || d.RecoveryMs != 5000 {
		t.Errorf("not recovered: %+v", d)
	}
}

func TestDeriveEndurance(t *testing.T) {
	t.Parallel()
	pr := plan.Profile{Type: plan.ProfileEndurance, Rate: 10, Duration: time.Hour}
	// p95 grows 1 ms per minute (60 ms/hour); error rate 0.1 pp per minute (6 pp/hour).
	var ws []results.Window
	for m := 0; m < 60; m++ {
		w := win(60*m, 1000, int64(m), 10+float64(m), 10)
		w.Width = results.Duration(time.Second)
		ws = append(ws, w)
	}
	d := derive(pr, sched(pr), t0, ws)
	if math.Abs(d.P95DriftMsPerHour-60) > 1 || math.Abs(d.ErrorRateDriftPPPerHour-6) > 0.01 {
		t.Errorf("drift %+v, want 60 ms/h and 6 pp/h", d)
	}
	if slope([]float64{1}, []float64{1}) != 0 || slope([]float64{1, 1}, []float64{1, 2}) != 0 {
		t.Error("degenerate slope not 0")
	}
}

func TestDeriveScalabilityAndVolume(t *testing.T) {
	t.Parallel()
	sc := plan.Profile{Type: plan.ProfileScalability, StartRate: 50, StepRate: 50, Rate: 100, StepDuration: time.Second}
	d := derive(sc, sched(sc), t0, []results.Window{win(0, 50, 0, 5, 50), win(1, 90, 0, 8, 100)})
	if len(d.Curve) != 2 || d.Curve[1].AchievedRPS != 90 || d.Curve[1].OfferedRPS != 100 {
		t.Errorf("scalability curve %+v", d.Curve)
	}

	vol := plan.Profile{Type: plan.ProfileVolume, Rate: 10, StepDuration: time.Second, Payloads: []int64{1000, 1 << 20}}
	w0, w1 := win(0, 10, 0, 2, 10), win(1, 10, 0, 40, 10)
	w0.Bytes, w1.Bytes = 30, 30
	d = derive(vol, sched(vol), t0, []results.Window{w0, w1})
	if len(d.Payloads) != 2 || d.Payloads[0].BytesPerSec != 10*1000+30 || d.Payloads[1].PayloadBytes != 1<<20 ||
		math.Abs(d.Payloads[1].P95Ms-40) > 0.1 || d.Payloads[1].Requests != 10 {
		t.Errorf("volume %+v", d.Payloads)
	}
	if derive(plan.Profile{Type: plan.ProfileLoad}, nil, t0, nil) != nil {
		t.Error("load profile has derived figures")
	}
}

// A spike that never lifts p95 is "not degraded", and a cold first second
// does not become the pre-spike reference.
func TestDeriveSpikeNotDegradedColdStart(t *testing.T) {
	t.Parallel()
	pr := plan.Profile{Type: plan.ProfileSpike, Rate: 100, Duration: 10 * time.Second,
		SpikeAt: 3 * time.Second, SpikeDuration: 2 * time.Second, Multiplier: 5}
	stages := sched(pr)
	if warmupDuration(stages) != 0 {
		t.Skip("schedule has a warm-up stage; the cold-start case does not arise")
	}
	lat := []float64{90, 10, 10, 10.2, 10.4, 10, 10, 10, 10, 10} // cold first second, flat spike
	var ws []results.Window
	for i, l := range lat {
		ws = append(ws, win(i, 100, 0, l, 100))
	}
	d := derive(pr, stages, t0, ws)
	if math.Abs(d.PreSpikeP95Ms-10) > 0.05 || d.PreSpikeWindows != 2 {
		t.Errorf("pre-spike p95 %v from %d windows, want 10 ms from 2 (cold first second left out)", d.PreSpikeP95Ms, d.PreSpikeWindows)
	}
	if d.SpikeDegraded == nil || *d.SpikeDegraded {
		t.Errorf("flat spike reported degraded: %+v", d)
	}
	if math.Abs(d.SpikePeakP95Ms-10.4) > 0.05 {
		t.Errorf("peak %v, want 10.4", d.SpikePeakP95Ms)
	}
	// The same run with a real spike is degraded, with its peak.
	ws[3], ws[4] = win(3, 100, 0, 200, 100), win(4, 100, 0, 300, 100)
	d = derive(pr, stages, t0, ws)
	if d.SpikeDegraded == nil || !*d.SpikeDegraded || math.Abs(d.SpikePeakP95Ms-300) > 1 {
		t.Errorf("real spike: %+v", d)
	}
}
