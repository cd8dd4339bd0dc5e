package gate

import (
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/loadgate/loadgate/results"
)

// Evidence rules: what a verdict needs from the run before it can pass,
// whatever the thresholds say. A dead service must never pass for want of a
// baseline, and a figure nobody measured must never be compared as 0.

// Successes is the check that an endpoint got at least one successful
// response (docs: "default SLOs"). It applies in every mode: an endpoint
// none of whose requests succeeded is failing, unless its baseline had no
// success either or the plan sets its error-rate SLO to 100 %.
const Successes Metric = "successes"

// DefaultErrorRateSLO is the error-rate ceiling (percent) checked for an
// endpoint with nothing to compare with (no baseline, or new in it) when the
// plan sets no error-rate SLO of its own. Stress and scalability profiles
// push past the service's capacity on purpose and are exempt.
const DefaultErrorRateSLO = 5.0

// defaultSLOExempt lists the profile types whose errors are expected.
var defaultSLOExempt = []string{"stress", "scalability"}

// slos is the endpoint's SLOs, plus the default error-rate ceiling when the
// endpoint has no baseline and neither the plan nor the endpoint set one.
func (c *comparer) slos(name string, hasBase bool) (out []metricVal, defaulted bool) {
	out = c.pol.slos(name)
	if hasBase || slices.Contains(defaultSLOExempt, c.profile) {
		return out, false
	}
	for _, s := range out {
		if s.m == ErrorRate {
			return out, false
		}
	}
	return append(out, metricVal{ErrorRate, DefaultErrorRateSLO}), true
}

// errorsAccepted reports whether the plan explicitly accepts every request
// of the endpoint failing (an error-rate SLO of 100 %): the one way to opt
// out of the successes check.
func (c *comparer) errorsAccepted(name string) bool {
	for _, s := range c.pol.slos(name) {
		if s.m == ErrorRate && s.v >= 100 {
			return true
		}
	}
	return false
}

// markDefault labels a check made from the default error-rate SLO.
func markDefault(ch *Check) {
	ch.Tolerance += " (default)"
	ch.Warnings = append(ch.Warnings, fmt.Sprintf("default SLO: with no baseline for this endpoint, an error rate above %g%% fails (set gate.slo.error_rate to change it)", DefaultErrorRateSLO))
}

// successCheck fails an endpoint with requests but no successful response,
// unless its baseline had none either (an endpoint expected to fail whose
// plan does not say so in expect.status: unchanged, left to the thresholds).
func successCheck(he *results.Endpoint, bes []*results.Endpoint, warmupExcluded bool) (Check, bool) {
	if len(bes) > 0 {
		var ok int64
		for _, be := range bes {
			ok += be.Requests - be.Errors
		}
		if ok == 0 {
			return Check{}, false
		}
	}
	req, errs := he.Requests, he.Errors
	if warmupExcluded && hasWindows(he) {
		req, errs = 0, 0
		for _, w := range he.MeasuredWindows() {
			req += w.Requests
			errs += w.Errors
		}
	}
	if req == 0 {
		return Check{}, false
	}
	ok := req - errs
	ch := Check{Metric: Successes, Kind: "slo", Unit: "requests", Base: 1, Head: float64(ok), PValue: -1, Tolerance: "≥ 1", Decision: Pass}
	if ok < 1 {
		ch.Decision = Regressed
		ch.Delta = -1
		ch.Warnings = append(ch.Warnings, fmt.Sprintf("all %d requests failed: no successful response (%s)", req, kindsText(he.ErrorKinds)))
	}
	return ch, true
}

func kindsText(kinds map[string]int64) string {
	keys := make([]string, 0, len(kinds))
	for k := range kinds {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for i, k := range keys {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprintf("%s %d", k, kinds[k])
	}
	if s == "" {
		return "no error kinds recorded"
	}
	return s
}

// unmeasured reports whether metric m is missing from figures f.
func unmeasured(f *Figures, m Metric) bool {
	return f != nil && slices.Contains(f.Unmeasured, m)
}

// notMeasuredCheck is a check that cannot be made because a side did not
// measure the figure: inconclusive, never compared with a stand-in 0. base
// and head are kept for a side that measured it (an SLO's base is its
// limit); sides names the ones that did not (SideBase, SideHead).
func notMeasuredCheck(m Metric, kind, tol string, base, head float64, sides []string) Check {
	ch := Check{Metric: m, Kind: kind, Unit: unitOf(m), PValue: -1, Tolerance: tol, Decision: Inconclusive, NotMeasured: sides}
	if ch.Measured(SideBase) {
		ch.Base = round(base)
	}
	if ch.Measured(SideHead) {
		ch.Head = round(head)
	}
	var where []string
	for _, s := range sides {
		where = append(where, sideName(s))
	}
	ch.Warnings = append(ch.Warnings, fmt.Sprintf("%s not measured in the %s (the source has no such figure): not compared", m, strings.Join(where, " or the ")))
	return ch
}

// sideName is how warnings name a side of a committed-baseline comparison
// (a function, not a map: no allocation at init, for every command).
func sideName(side string) string {
	if side == SideBase {
		return "baseline"
	}
	return "run"
}

// measuredFigure is the median of vals, or NaN when any run did not measure it.
func measuredFigure(vals []float64) float64 {
	if len(vals) == 0 || slices.ContainsFunc(vals, math.IsNaN) {
		return math.NaN()
	}
	return quantileSorted(sorted(vals), 0.5)
}

// measuredRequests is the number of requests the verdict's endpoints measured.
func measuredRequests(v *Verdict) int64 {
	var n int64
	for _, e := range v.Endpoints {
		if e.Head != nil {
			n += e.Head.Requests
		}
	}
	return n
}

// unmeasuredSides names the sides (SideBase, SideHead) that did not measure m.
func unmeasuredSides(ev *EndpointVerdict, m Metric) []string {
	var out []string
	if unmeasured(ev.Base, m) {
		out = append(out, SideBase)
	}
	if unmeasured(ev.Head, m) {
		out = append(out, SideHead)
	}
	return out
}
