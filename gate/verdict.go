// Package gate compares a run with its baseline and decides a verdict. It is
// pure: numbers in, verdict out, no I/O and no clock. It imports only results.
package gate

import (
	"bytes"
	"encoding/json"
	"slices"
)

// Decision is the outcome of one check, one endpoint or the whole run.
type Decision string

// Decisions, from best to worst for the overall verdict.
const (
	Pass         Decision = "pass"
	Improved     Decision = "improved"
	New          Decision = "new"     // endpoint has no baseline entry
	Missing      Decision = "missing" // baseline entry was not run
	Inconclusive Decision = "inconclusive"
	Regressed    Decision = "regressed"
	Invalid      Decision = "invalid"
	// Incompatible: the baseline was made from a different plan or profile and
	// the policy does not allow comparing them (exit 2).
	Incompatible Decision = "incompatible"
)

// Metric names a checked figure.
type Metric string

// Metrics the gate checks.
const (
	P50        Metric = "p50"
	P90        Metric = "p90"
	P95        Metric = "p95"
	P99        Metric = "p99"
	Max        Metric = "max"
	Throughput Metric = "throughput"
	ErrorRate  Metric = "error_rate"
)

// Check is one metric of one endpoint compared with its baseline (or an SLO).
type Check struct {
	Metric Metric `json:"metric"`
	// Kind is "baseline" (relative to a baseline) or "slo" (absolute limit).
	Kind string `json:"kind"`
	// Source is what a latency check measured: "" the client-seen latency,
	// SourceServer the durations the target reported in Server-Timing.
	Source string `json:"source,omitempty"`
	// Unit of Base/Head: "ms", "rps" or "%".
	Unit string  `json:"unit"`
	Base float64 `json:"base"`
	Head float64 `json:"head"`
	// Delta is the relative change (0.12 = +12 %); for error rate, the change in
	// percentage points.
	Delta float64 `json:"delta"`
	// CILow/CIHigh bound Delta at the policy's confidence (same unit as Delta);
	// HasCI is false when no interval could be computed.
	CILow  float64 `json:"ci_low"`
	CIHigh float64 `json:"ci_high"`
	HasCI  bool    `json:"has_ci"`
	// PValue of the significance test; negative when no test ran.
	PValue float64 `json:"p_value"`
	// Tolerance is the allowed change as written in the plan ("+10%", "300ms").
	Tolerance string `json:"tolerance"`
	// Significant is true when the test rejected "no change".
	Significant bool     `json:"significant"`
	Decision    Decision `json:"decision"`
	Warnings    []string `json:"warnings,omitempty"`
	// NotMeasured names the sides (SideBase, SideHead) whose source did not
	// measure the figure (an imported summary without p99): the check could
	// not be made and is Inconclusive. A named side's Base or Head is absent,
	// not 0 (null in JSON), and so is Delta. Set only for such checks.
	NotMeasured []string `json:"not_measured,omitempty"`
}

// Sides of a check, as Check.NotMeasured names them.
const (
	SideBase = "base"
	SideHead = "head"
)

// Measured reports whether the check's figure on side (SideBase, SideHead)
// was measured; false means Base or Head is a placeholder, not a value.
func (c *Check) Measured(side string) bool { return !slices.Contains(c.NotMeasured, side) }

// MarshalJSON writes the absent sides of a not-measured check, and its
// change, as null: a reader must not take a placeholder 0 for a measured
// zero. Other checks encode field for field.
func (c Check) MarshalJSON() ([]byte, error) {
	type plain Check // without the method, so encoding does not recurse
	var v any = plain(c)
	if len(c.NotMeasured) > 0 {
		nullable := func(measured bool, x float64) *float64 {
			if !measured {
				return nil
			}
			return &x
		}
		// Outer fields shadow the embedded ones of the same JSON name; the
		// first four repeat Check's so the fields keep their order.
		v = struct {
			Metric Metric   `json:"metric"`
			Kind   string   `json:"kind"`
			Source string   `json:"source,omitempty"`
			Unit   string   `json:"unit"`
			Base   *float64 `json:"base"`
			Head   *float64 `json:"head"`
			Delta  *float64 `json:"delta"`
			plain
		}{c.Metric, c.Kind, c.Source, c.Unit, nullable(c.Measured(SideBase), c.Base), nullable(c.Measured(SideHead), c.Head), nil, plain(c)}
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	// Leave HTML escaping to the caller's encoder (the reports turn it off).
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// Label names the check's figure for reports: "p95", or "server p95" for a
// check on Server-Timing durations.
func (c *Check) Label() string {
	if c.Source == SourceServer {
		return "server " + string(c.Metric)
	}
	return string(c.Metric)
}

// EndpointVerdict is the decision for one endpoint.
type EndpointVerdict struct {
	Name     string   `json:"name"`
	Decision Decision `json:"decision"`
	Checks   []Check  `json:"checks"`
	Warnings []string `json:"warnings,omitempty"`
	// Summary figures for tables (ms, rps, %), baseline and head; NaN-free.
	Base *Figures `json:"base,omitempty"`
	Head *Figures `json:"head,omitempty"`
}

// Figures are the headline numbers of one side of a comparison.
type Figures struct {
	Requests     int64   `json:"requests"`
	P50          float64 `json:"p50_ms"`
	P90          float64 `json:"p90_ms"`
	P95          float64 `json:"p95_ms"`
	P99          float64 `json:"p99_ms"`
	Max          float64 `json:"max_ms"`
	Throughput   float64 `json:"throughput_rps"`
	ErrorRatePct float64 `json:"error_rate_pct"`
	// Unmeasured names the figures the source did not measure (shown as 0
	// above); checks on them are inconclusive, never compared.
	Unmeasured []Metric `json:"unmeasured,omitempty"`
}

// Verdict is the outcome of a comparison.
type Verdict struct {
	Plan string `json:"plan"`
	// Decision is pass, regressed, inconclusive (only fails with FailOnInconclusive) or invalid.
	Decision  Decision          `json:"decision"`
	Mode      string            `json:"mode"` // "baseline", "paired" or "slo-only"
	Endpoints []EndpointVerdict `json:"endpoints"`
	// Warnings apply to the whole comparison (provenance mismatch, invalid run…).
	Warnings []string `json:"warnings,omitempty"`
	// BaseRuns is how many baseline runs the comparison used.
	BaseRuns int `json:"base_runs"`
	// Confidence is the policy's confidence level (e.g. 0.95).
	Confidence float64 `json:"confidence"`
	// FailOnInconclusive is the policy's setting: an inconclusive verdict exits 1.
	FailOnInconclusive bool `json:"fail_on_inconclusive,omitempty"`
	// Incompatible lists why the baseline cannot be compared (Decision
	// Incompatible); see Err.
	Incompatible []string `json:"incompatible,omitempty"`
}

// Err returns an *IncompatibleError when the comparison was refused, else nil.
func (v *Verdict) Err() error {
	if v.Decision != Incompatible {
		return nil
	}
	return &IncompatibleError{Reasons: v.Incompatible}
}

// Regressions lists the names of regressed endpoints.
func (v *Verdict) Regressions() []string {
	var out []string
	for _, e := range v.Endpoints {
		if e.Decision == Regressed {
			out = append(out, e.Name)
		}
	}
	return out
}

// Exit codes, stable and documented in the README.
const (
	ExitPass    = 0
	ExitFail    = 1
	ExitUsage   = 2
	ExitInfra   = 3
	ExitInvalid = 4
)

// ExitCode maps the verdict to the process exit code.
func (v *Verdict) ExitCode() int {
	switch v.Decision {
	case Regressed:
		return ExitFail
	case Invalid:
		return ExitInvalid
	case Incompatible:
		return ExitUsage
	case Inconclusive:
		if v.FailOnInconclusive {
			return ExitFail
		}
		return ExitPass
	default:
		return ExitPass
	}
}
