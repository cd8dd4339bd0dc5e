package main

import (
	"fmt"
	"math"
	"time"

	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
)

// policyOptions are the gate settings that come from flags and action inputs
// rather than from the plan.
type policyOptions struct {
	// FailOn lists extra decisions that fail the gate; "inconclusive" is the only one.
	FailOn          []string
	AllowPlanChange bool
	Confidence      float64
	MinWindows      int
}

// addPolicyFlags binds the policy flags shared by compare and gate.
func addPolicyFlags(fs *pflag.FlagSet, o *policyOptions) {
	fs.StringSliceVar(&o.FailOn, "fail-on", nil, "also fail (exit 1) on these decisions: inconclusive")
	fs.BoolVar(&o.AllowPlanChange, "allow-plan-change", false, "compare with a baseline recorded from a different plan or profile (warns instead of exit 2)")
	fs.Float64Var(&o.Confidence, "confidence", gate.DefaultConfidence, "confidence level of intervals and tests (0.5–0.999)")
	fs.IntVar(&o.MinWindows, "min-windows", gate.DefaultMinWindows, "fewest measured 1 s windows per side for a significance claim")
}

// validate checks flag values.
func (o policyOptions) validate() error {
	for _, f := range o.FailOn {
		if f != "inconclusive" {
			return fmt.Errorf("--fail-on %q: the only accepted value is inconclusive", f)
		}
	}
	if o.Confidence != 0 && (o.Confidence < 0.5 || o.Confidence > 0.999) {
		return fmt.Errorf("--confidence %g: want a level between 0.5 and 0.999", o.Confidence)
	}
	if o.MinWindows < 0 {
		return fmt.Errorf("--min-windows %d: must be ≥ 0", o.MinWindows)
	}
	return nil
}

// policyFromPlan maps a plan's gate section and the flags to a gate.Policy.
// Thresholds the plan sets replace the defaults key by key (p95 +10 %, p99
// +20 %, throughput -5 %, error rate +0.5 pp); the ones it does not set keep
// their defaults. p may be nil (compare without a plan): defaults only.
func policyFromPlan(p *plan.Plan, o policyOptions) gate.Policy {
	pol := gate.DefaultPolicy()
	if o.Confidence > 0 {
		pol.Confidence = o.Confidence
	}
	if o.MinWindows > 0 {
		pol.MinWindows = o.MinWindows
	}
	pol.AllowPlanChange = o.AllowPlanChange
	for _, f := range o.FailOn {
		if f == "inconclusive" {
			pol.FailOnInconclusive = true
		}
	}
	if p == nil {
		return pol
	}
	for m, t := range thresholdsOf(p.Gate.Thresholds) {
		pol.Thresholds[m] = t
	}
	pol.SLO = slosOf(p.Gate.SLO)
	for name, ov := range p.Gate.Endpoints {
		ep := gate.EndpointPolicy{Thresholds: thresholdsOf(ov.Thresholds), SLO: slosOf(ov.SLO)}
		if len(ep.Thresholds) == 0 && len(ep.SLO) == 0 {
			continue
		}
		if pol.Endpoints == nil {
			pol.Endpoints = map[string]gate.EndpointPolicy{}
		}
		pol.Endpoints[name] = ep
	}
	return pol
}

// thresholdsOf converts the plan's tolerances (nil = not set).
func thresholdsOf(t plan.Thresholds) map[gate.Metric]gate.Tolerance {
	out := map[gate.Metric]gate.Tolerance{}
	add := func(m gate.Metric, pt *plan.Tolerance) {
		if pt == nil {
			return
		}
		gt := gate.Tolerance{Raw: pt.Raw}
		switch pt.Kind {
		case "pp":
			gt.Kind, gt.Value = gate.KindPP, math.Abs(pt.PP)
		case "absolute":
			// Absolute tolerances are durations: milliseconds, the latency unit of a verdict.
			gt.Kind, gt.Value = gate.KindAbsolute, math.Abs(float64(pt.Abs)/float64(time.Millisecond))
		default:
			gt.Kind, gt.Value = gate.KindRelative, math.Abs(pt.Relative)
		}
		out[m] = gt
	}
	add(gate.P50, t.P50)
	add(gate.P90, t.P90)
	add(gate.P95, t.P95)
	add(gate.P99, t.P99)
	add(gate.Max, t.Max)
	add(gate.Throughput, t.Throughput)
	add(gate.ErrorRate, t.ErrorRate)
	if len(out) == 0 {
		return nil
	}
	return out
}

// slosOf converts absolute limits: latencies to ms, the error rate (a fraction
// in the plan) to percent.
func slosOf(s plan.SLO) map[gate.Metric]float64 {
	out := map[gate.Metric]float64{}
	ms := func(m gate.Metric, d time.Duration) {
		if d > 0 {
			out[m] = float64(d) / float64(time.Millisecond)
		}
	}
	ms(gate.P50, s.P50)
	ms(gate.P90, s.P90)
	ms(gate.P95, s.P95)
	ms(gate.P99, s.P99)
	ms(gate.Max, s.Max)
	if s.ErrorRate > 0 {
		out[gate.ErrorRate] = s.ErrorRate * 100
	}
	if s.Throughput > 0 {
		out[gate.Throughput] = s.Throughput
	}
	if len(out) == 0 {
		return nil
	}
	return out
}
