package pipeline

import (
	"fmt"
	"math"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
)

// PolicyOptions are the gate settings that come from flags and action inputs
// rather than from the plan.
type PolicyOptions struct {
	// FailOn lists extra decisions that fail the gate; "inconclusive" is the only one.
	FailOn          []string
	AllowPlanChange bool
	Confidence      float64
	MinWindows      int
}

// Validate checks the values (named as the CLI flags that set them).
func (o PolicyOptions) Validate() error {
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

// Policy maps a plan's gate section and the options to a gate.Policy: the one
// mapping the CLI, the action, the demo and the MCP server share.
// Thresholds the plan sets replace the defaults key by key (p95 +10 %, p99
// +20 %, throughput -5 %, error rate +0.5 pp); the ones it does not set keep
// their defaults. p may be nil (compare without a plan): defaults only.
func Policy(p *plan.Plan, o PolicyOptions) gate.Policy {
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
