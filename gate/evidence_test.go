package gate

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/results"
)

// A dead service with no baseline fails on the default SLOs.
func TestDeadWithoutBaselineFails(t *testing.T) {
	t.Parallel()
	dead := synth(t, 1, spec{name: "dead", medianMs: 5, windows: 8, rps: 50, errFrac: 1})
	v := Compare(nil, dead, testPolicy())
	if v.Decision != Regressed || v.ExitCode() != ExitFail {
		t.Fatalf("dead service, no baseline: %s (exit %d), want regressed", v.Decision, v.ExitCode())
	}
	e := endpoint(t, v, "dead")
	if c := check(t, e, Successes, "slo"); c.Decision != Regressed || !hasWarning(c.Warnings, "no successful response") {
		t.Errorf("successes check %+v", c)
	}
	if c := check(t, e, ErrorRate, "slo"); c.Decision != Regressed || !strings.Contains(c.Tolerance, "(default)") {
		t.Errorf("default error-rate SLO %+v", c)
	}
}

// The default error-rate SLO: 10 % errors fails, 1 % passes; a plan's own
// SLO replaces it; stress profiles are exempt.
func TestDefaultErrorRateSLO(t *testing.T) {
	t.Parallel()
	some := synth(t, 2, spec{name: "a", medianMs: 5, windows: 8, rps: 200, errFrac: 0.10})
	if v := Compare(nil, some, testPolicy()); v.Decision != Regressed {
		t.Errorf("10 %% errors, no baseline: %s, want regressed", v.Decision)
	}
	few := synth(t, 3, spec{name: "a", medianMs: 5, windows: 8, rps: 200, errFrac: 0.01})
	if v := Compare(nil, few, testPolicy()); v.Decision != Pass {
		t.Errorf("1 %% errors, no baseline: %s, want pass", v.Decision)
	}
	pol := testPolicy()
	pol.SLO = map[Metric]float64{ErrorRate: 20}
	if v := Compare(nil, some, pol); v.Decision != Pass {
		t.Errorf("10 %% errors under a plan SLO of 20 %%: %s, want pass", v.Decision)
	}
	some.Profile.Type = "stress"
	if v := Compare(nil, some, testPolicy()); v.Decision != Pass {
		t.Errorf("stress profile: %s, want pass (exempt from the default)", v.Decision)
	}
}

// An endpoint that failed in its baseline too is not failed by the
// successes check; an error-rate SLO of 100 % opts out explicitly.
func TestSuccessesCheckExemptions(t *testing.T) {
	t.Parallel()
	dead := spec{name: "dead", medianMs: 5, windows: 8, rps: 50, errFrac: 1}
	v := Compare([]*results.File{synth(t, 4, dead)}, synth(t, 5, dead), testPolicy())
	for _, c := range endpoint(t, v, "dead").Checks {
		if c.Metric == Successes {
			t.Errorf("successes checked although the baseline had none: %+v", c)
		}
	}
	pol := testPolicy()
	pol.SLO = map[Metric]float64{ErrorRate: 100}
	if v := Compare(nil, synth(t, 6, dead), pol); v.Decision != Pass {
		t.Errorf("error-rate SLO 100 %%: %s, want pass", v.Decision)
	}
}

// Zero measured requests against a baseline is invalid, not inconclusive.
func TestZeroRequestsAgainstBaselineInvalid(t *testing.T) {
	t.Parallel()
	base := synth(t, 7, fast)
	empty := &results.File{Schema: results.Schema, Plan: base.Plan, Profile: base.Profile, Validity: results.Validity{Valid: true}}
	v := Compare([]*results.File{base}, empty, testPolicy())
	if v.Decision != Invalid || v.ExitCode() != ExitInvalid || !hasWarning(v.Warnings, "no requests") {
		t.Errorf("empty run vs baseline: %s %q, want invalid", v.Decision, v.Warnings)
	}
}

// A figure one side did not measure is inconclusive, never compared as 0.
func TestUnmeasuredFigureNotCompared(t *testing.T) {
	t.Parallel()
	agg := func(p95 float64) *results.File {
		return &results.File{Schema: results.Schema, Plan: results.PlanRef{Hash: "h"}, Validity: results.Validity{Valid: true},
			Endpoints: []results.Endpoint{{Name: "imp", Precision: results.PrecisionAggregate, Requests: 1000,
				ThroughputRPS: 100, Latency: results.Summary{P50: 30, P95: p95, P99: results.Unmeasured}}}}
	}
	// 3× slower median; p95 unmeasured in the run.
	head := agg(results.Unmeasured)
	head.Endpoints[0].Latency.P50 = 90
	v := Compare([]*results.File{agg(40)}, head, testPolicy())
	e := endpoint(t, v, "imp")
	c := check(t, e, P95, "baseline")
	if c.Decision != Inconclusive || !hasWarning(c.Warnings, "not measured in the run") {
		t.Errorf("p95 unmeasured in the run: %+v, want inconclusive", c)
	}
	if !slices.Equal(c.NotMeasured, []string{SideHead}) || c.Base != 40 || c.Head != 0 || c.Delta != 0 {
		t.Errorf("p95 unmeasured in the run: %+v, want the baseline's 40 kept and the head marked not measured", c)
	}
	if c := check(t, e, P99, "baseline"); c.Decision != Inconclusive || !slices.Equal(c.NotMeasured, []string{SideBase, SideHead}) ||
		!hasWarning(c.Warnings, "not measured in the baseline or the run") {
		t.Errorf("p99 unmeasured on both sides: %+v", c)
	}
	// JSON carries the absent side and the change as null, not 0.
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"base":40,`, `"head":null,`, `"delta":null,`, `"not_measured":["head"]`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("p95 check JSON %s lacks %s", js, want)
		}
	}
	if js, _ := json.Marshal(check(t, e, Throughput, "baseline")); strings.Contains(string(js), "null") || strings.Contains(string(js), "not_measured") {
		t.Errorf("a measured check's JSON changed: %s", js)
	}
	// An SLO on a figure the run did not measure: its limit kept, no pass.
	pol := testPolicy()
	pol.SLO = map[Metric]float64{P95: 300}
	slo := check(t, endpoint(t, Compare(nil, head, pol), "imp"), P95, "slo")
	if slo.Decision != Inconclusive || slo.Base != 300 || !slices.Equal(slo.NotMeasured, []string{SideHead}) {
		t.Errorf("p95 SLO unmeasured in the run: %+v, want inconclusive with the limit kept", slo)
	}
	if e.Decision == Improved || e.Decision == Pass {
		t.Errorf("endpoint %s: an unmeasured figure must not pass or improve", e.Decision)
	}
	// The verdict stays encodable: unmeasured figures are named, never NaN.
	if _, err := json.Marshal(v); err != nil {
		t.Fatalf("verdict does not encode: %v", err)
	}
	if len(e.Head.Unmeasured) == 0 {
		t.Error("head figures do not name the unmeasured ones")
	}
}
