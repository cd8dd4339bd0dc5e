package gate

import (
	"strings"
	"testing"

	"github.com/loadgate/loadgate/results"
)

func withHealth(f *results.File, calibMs float64) *results.File {
	f.Run.Health = &results.Health{CalibrationMs: []float64{calibMs, calibMs}, SleepOverUs: []float64{80, 90}}
	return f
}

// A busy runner against a quiet baseline: every endpoint slower and the
// machine measured slower. No regression is called on that; the verdict is
// inconclusive and says why. A single endpoint slower while the others hold
// is still a regression, on a slower machine too; and every endpoint slower
// on an unchanged machine is a real (global) regression.
func TestMachineChanged(t *testing.T) {
	t.Parallel()
	mid := spec{name: "mid", medianMs: 12, windows: 20, rps: 200}
	pol := testPolicy()
	base := []*results.File{
		withHealth(synth(t, 800, fast, slow, mid), 4.0),
		withHealth(synth(t, 801, fast, slow, mid), 4.2),
		withHealth(synth(t, 802, fast, slow, mid), 4.1),
	}
	all := func(seed uint64, f float64) *results.File {
		return synth(t, seed, fast.withScale(f), slow.withScale(f), mid.withScale(f))
	}

	v := Compare(base, withHealth(all(810, 1.8), 8.8), pol)
	w := strings.Join(v.Warnings, "\n")
	if v.Decision != Inconclusive || len(v.Regressions()) != 0 || !strings.Contains(w, "2.1× slower than the baseline's runner") || !strings.Contains(w, "paired mode") {
		t.Errorf("busy runner: %s, regressed %v, warnings %q", v.Decision, v.Regressions(), v.Warnings)
	}
	for _, e := range v.Endpoints {
		if e.Decision != Inconclusive {
			t.Errorf("busy runner: %s %s", e.Name, e.Decision)
		}
	}

	one := withHealth(synth(t, 811, fast, slow.withScale(1.6), mid), 8.8)
	one.Validity.LagP99Ms = 6 // the machine added ≈ 6 ms; slow rose far more
	v = Compare(base, one, pol)
	if got := v.Regressions(); v.Decision != Regressed || len(got) != 1 || got[0] != "slow" || !strings.Contains(strings.Join(v.Warnings, "\n"), "only 1 of 3 endpoints moved") {
		t.Errorf("one endpoint on a slower machine: %s %v %q", v.Decision, got, v.Warnings)
	}

	// A busy machine adds about the same milliseconds to every request: the
	// fast endpoint's rise is a large fraction of it, the others' stay in
	// their spread. No larger than the lag the machine added, it is not
	// called a regression.
	fastOnly := withHealth(synth(t, 814, fast.withScale(1.25), slow, mid), 8.8)
	fastOnly.Validity.LagP99Ms = 6
	v = Compare(base, fastOnly, pol)
	w = strings.Join(v.Warnings, "\n")
	if v.Decision != Inconclusive || len(v.Regressions()) != 0 || !strings.Contains(w, "not called regressions") || strings.Contains(w, "regressions stand") {
		t.Errorf("fast endpoint within the machine's added delay: %s %v %q", v.Decision, v.Regressions(), v.Warnings)
	}
	for _, e := range v.Endpoints {
		if e.Name == "fast" && (e.Decision != Inconclusive || !strings.Contains(checkWarnings(&e), "within the") || !strings.Contains(checkWarnings(&e), "schedule lag p99 6.0 ms")) {
			t.Errorf("fast endpoint: %s %q", e.Decision, checkWarnings(&e))
		}
	}
	// The same rise on the same machine as the baseline is a regression.
	fastOnly = withHealth(synth(t, 814, fast.withScale(1.25), slow, mid), 4.1)
	if got := Compare(base, fastOnly, pol).Regressions(); len(got) != 1 || got[0] != "fast" {
		t.Errorf("fast endpoint on the baseline's machine: regressed %v", got)
	}
	// No figure crossed its threshold, but the lag rose by 1.5 ms: rises
	// within twice that are held back too, larger ones stand.
	fastOnly.Validity.LagP99Ms = 1.5
	v = Compare(base, fastOnly, pol)
	if v.Decision != Inconclusive || len(v.Regressions()) != 0 || !strings.Contains(strings.Join(v.Warnings, "\n"), "3.00 ms this runner added") {
		t.Errorf("fast endpoint, lag +1.5 ms: %s %v %q", v.Decision, v.Regressions(), v.Warnings)
	}
	slowOnly := withHealth(synth(t, 815, fast, slow.withScale(1.6), mid), 4.1)
	slowOnly.Validity.LagP99Ms = 1.5
	if got := Compare(base, slowOnly, pol).Regressions(); len(got) != 1 || got[0] != "slow" {
		t.Errorf("slow endpoint +60 %%, lag +1.5 ms: regressed %v", got)
	}

	v = Compare(base, withHealth(all(812, 1.8), 4.1), pol)
	if v.Decision != Regressed || len(v.Regressions()) != 3 {
		t.Errorf("global regression on the same machine: %s %v %q", v.Decision, v.Regressions(), v.Warnings)
	}

	// Without machine figures the gate cannot tell; it says so.
	v = Compare(base, all(813, 1.8), pol)
	if v.Decision != Regressed || !strings.Contains(strings.Join(v.Warnings, "\n"), "no machine figures") {
		t.Errorf("no figures: %s %q", v.Decision, v.Warnings)
	}
}

func TestMachineFigures(t *testing.T) {
	t.Parallel()
	steal := func(v float64) *float64 { return &v }
	base := []*results.File{{Run: results.Run{Health: &results.Health{CalibrationMs: []float64{4, 4.4}, SleepOverUs: []float64{60, 70}, LoadPerCPU: 0.3, StealPct: steal(0.5)}}}}
	head := &results.File{Run: results.Run{Health: &results.Health{CalibrationMs: []float64{4.5, 4.6}, SleepOverUs: []float64{80, 3000}, LoadPerCPU: 2.5, StealPct: steal(9)}},
		Validity: results.Validity{LagP99Ms: 30}}
	ms := machineFigures(base, head)
	got := strings.Join(ms.slower, "; ")
	for _, want := range []string{"overslept 3.0 ms vs 0.1 ms", "CPU steal 9 % vs 0 %", "load 2.5 vs 0.3 per CPU", "schedule lag p99 30.0 ms vs 0.0 ms"} {
		if !strings.Contains(got, want) {
			t.Errorf("figures %q lack %q", got, want)
		}
	}
	if strings.Contains(got, "CPU calibration") || !ms.known {
		t.Errorf("a 5 %% slower CPU workload is within the threshold: %q", got)
	}
	if ms := machineFigures(base, &results.File{}); ms.known || len(ms.slower) != 0 {
		t.Errorf("head without figures: %+v", ms)
	}
}

func checkWarnings(e *EndpointVerdict) string {
	var all []string
	for _, c := range e.Checks {
		all = append(all, c.Warnings...)
	}
	return strings.Join(all, " ")
}
