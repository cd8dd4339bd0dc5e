package pipeline

import (
	"testing"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
)

func TestPolicyFromPlan(t *testing.T) {
	t.Parallel()
	p := &plan.Plan{Gate: plan.Gate{
		Thresholds: plan.Thresholds{
			P95:       &plan.Tolerance{Raw: "+5%", Kind: "relative", Relative: 0.05},
			ErrorRate: &plan.Tolerance{Raw: "+1pp", Kind: "pp", PP: 1},
		},
		SLO: plan.SLO{P95: 300 * time.Millisecond, ErrorRate: 0.01},
		Endpoints: map[string]plan.Override{
			"create-order": {Thresholds: plan.Thresholds{P99: &plan.Tolerance{Raw: "+15ms", Kind: "absolute", Abs: 15 * time.Millisecond}}},
			"noop":         {},
		},
	}}
	pol := Policy(p, PolicyOptions{FailOn: []string{"inconclusive"}, AllowPlanChange: true, Confidence: 0.99})
	if got := pol.Thresholds[gate.P95]; got.Kind != gate.KindRelative || got.Value != 0.05 || got.Raw != "+5%" {
		t.Errorf("p95 = %+v", got)
	}
	if got := pol.Thresholds[gate.ErrorRate]; got.Kind != gate.KindPP || got.Value != 1 {
		t.Errorf("error_rate = %+v", got)
	}
	if got := pol.Thresholds[gate.P99]; got.Value != 0.20 {
		t.Errorf("p99 default lost: %+v", got)
	}
	if pol.SLO[gate.P95] != 300 || pol.SLO[gate.ErrorRate] != 1 {
		t.Errorf("slo = %v", pol.SLO)
	}
	if got := pol.Endpoints["create-order"].Thresholds[gate.P99]; got.Kind != gate.KindAbsolute || got.Value != 15 {
		t.Errorf("override = %+v", got)
	}
	if _, ok := pol.Endpoints["noop"]; ok {
		t.Error("empty override kept")
	}
	if !pol.FailOnInconclusive || !pol.AllowPlanChange || pol.Confidence != 0.99 {
		t.Errorf("flags not applied: %+v", pol)
	}
	if d := Policy(nil, PolicyOptions{}); d.Confidence != gate.DefaultConfidence || len(d.Thresholds) != 4 {
		t.Errorf("nil plan: %+v", d)
	}
	if err := (PolicyOptions{FailOn: []string{"regressed"}}).Validate(); err == nil {
		t.Error("--fail-on regressed accepted")
	}
}
