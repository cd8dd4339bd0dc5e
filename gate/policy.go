package gate

import "sort"

// Tolerance kinds.
const (
	// KindRelative: Value is a fraction of the baseline (0.10 = 10 %).
	KindRelative = "relative"
	// KindPP: Value is percentage points (error rate only; 0.5 = 0.5 pp).
	KindPP = "pp"
	// KindAbsolute: Value is in the metric's unit (ms for latencies, rps for throughput).
	KindAbsolute = "absolute"
)

// Tolerance is how much a metric may get worse before the gate cares. The
// direction is the metric's: up for latencies and error rate, down for
// throughput; Value is a magnitude (the sign of the plan's "+10%"/"-5%" is
// implied by the metric).
type Tolerance struct {
	Kind  string  `json:"kind"`
	Value float64 `json:"value"`
	// Raw is the tolerance as written ("+10%"); String falls back to a rendering of Value.
	Raw string `json:"raw,omitempty"`
}

// Rel returns a relative tolerance of frac (0.10 = 10 %).
func Rel(frac float64) Tolerance { return Tolerance{Kind: KindRelative, Value: frac} }

// PP returns a percentage-point tolerance (error rate).
func PP(pp float64) Tolerance { return Tolerance{Kind: KindPP, Value: pp} }

// Abs returns an absolute tolerance in the metric's unit (ms or rps).
func Abs(v float64) Tolerance { return Tolerance{Kind: KindAbsolute, Value: v} }

// EndpointPolicy overrides thresholds and SLOs for one endpoint. Keys present
// here replace the policy-wide ones; absent keys inherit them.
type EndpointPolicy struct {
	Thresholds map[Metric]Tolerance `json:"thresholds,omitempty"`
	SLO        map[Metric]float64   `json:"slo,omitempty"`
}

// Policy holds every statistical and threshold setting of the gate. Flags and
// action inputs bind to its fields; DefaultPolicy is the documented default
// (docs/statistics.md).
type Policy struct {
	// Thresholds are tolerances relative to the baseline, per metric.
	Thresholds map[Metric]Tolerance `json:"thresholds"`
	// SLO are absolute limits needing no baseline: ceilings in ms for latency
	// metrics and in percent for error_rate, a floor in rps for throughput.
	SLO map[Metric]float64 `json:"slo,omitempty"`
	// Endpoints overrides thresholds and SLOs per endpoint name.
	Endpoints map[string]EndpointPolicy `json:"endpoints,omitempty"`

	// Confidence is the level of the verdict's tests and intervals (alpha =
	// 1 - Confidence). With FamilyWise it holds for the whole verdict.
	Confidence float64 `json:"confidence"`
	// FamilyWise makes Confidence hold for the whole verdict: the chance that
	// any check of an unchanged service is called significant stays below
	// alpha. Committed-baseline mode divides alpha among its checks
	// (Bonferroni: with 2 endpoints × 4 metrics each is tested at alpha/8);
	// paired mode takes the maximum over checks of its random swaps
	// (Westfall–Young max-T). Intervals are widened to match.
	FamilyWise bool `json:"family_wise"`
	// MinRunSpread is the smallest run-to-run spread of a metric assumed in
	// committed-baseline mode, as a fraction (0.05: a run's level varies by
	// ±5 % (1 sd) from job to job on a shared runner). It floors the spread
	// estimated from the baseline's runs — or stands in for it when the
	// baseline has one run. 0 trusts the windows alone (dedicated hardware).
	// Paired mode does not need it: both sides share the job.
	MinRunSpread float64 `json:"min_run_spread"`
	// MinWindows is the fewest measured windows per side (and pairs in paired
	// mode) for a significance claim; fewer makes a check inconclusive.
	MinWindows int `json:"min_windows"`
	// MinRequests is the fewest measured requests per side for any latency claim.
	MinRequests int64 `json:"min_requests"`
	// MinTailSamples is how many requests must lie beyond a percentile for it to
	// be judged: p99 needs MinTailSamples/(1-0.99) requests per side.
	MinTailSamples int `json:"min_tail_samples"`
	// FailOnInconclusive makes an inconclusive verdict exit 1.
	FailOnInconclusive bool `json:"fail_on_inconclusive"`
	// AllowPlanChange compares against a baseline from a different plan hash or
	// profile (with a warning) instead of refusing.
	AllowPlanChange bool `json:"allow_plan_change"`
	// WarmupExcluded drops warm-up windows from the samples (default true).
	WarmupExcluded bool `json:"warmup_excluded"`
	// BootstrapReps is the number of bootstrap resamples per endpoint, and of
	// random swaps in paired mode's randomization test.
	BootstrapReps int `json:"bootstrap_reps"`
	// Seed makes the bootstrap reproducible: the same inputs and policy always
	// give the same verdict.
	Seed uint64 `json:"seed"`
}

// Defaults of DefaultPolicy (docs/statistics.md explains each).
const (
	DefaultConfidence     = 0.95
	DefaultMinWindows     = 6
	DefaultMinRequests    = 50
	DefaultMinTailSamples = 10
	DefaultBootstrapReps  = 1000
	DefaultSeed           = 0x10adda7e
	DefaultMinRunSpread   = 0.05
)

// DefaultPolicy returns the default thresholds: p95 +10 %, p99 +20 %,
// throughput -5 %, error rate +0.5 pp; 95 % confidence; at least 6 windows.
func DefaultPolicy() Policy {
	return Policy{
		Thresholds: map[Metric]Tolerance{
			P95:        {Kind: KindRelative, Value: 0.10, Raw: "+10%"},
			P99:        {Kind: KindRelative, Value: 0.20, Raw: "+20%"},
			Throughput: {Kind: KindRelative, Value: 0.05, Raw: "-5%"},
			ErrorRate:  {Kind: KindPP, Value: 0.5, Raw: "+0.5pp"},
		},
		Confidence:     DefaultConfidence,
		FamilyWise:     true,
		MinRunSpread:   DefaultMinRunSpread,
		MinWindows:     DefaultMinWindows,
		MinRequests:    DefaultMinRequests,
		MinTailSamples: DefaultMinTailSamples,
		WarmupExcluded: true,
		BootstrapReps:  DefaultBootstrapReps,
		Seed:           DefaultSeed,
	}
}

// metricOrder is the order checks appear in a verdict.
var metricOrder = []Metric{P50, P90, P95, P99, Max, Throughput, ErrorRate}

// quantileOf returns the quantile (0..1) of a latency metric; ok is false for
// throughput and error rate.
func quantileOf(m Metric) (float64, bool) {
	switch m {
	case P50:
		return 0.50, true
	case P90:
		return 0.90, true
	case P95:
		return 0.95, true
	case P99:
		return 0.99, true
	case Max:
		return 1, true
	}
	return 0, false
}

// unitOf is the unit of Base/Head for m.
func unitOf(m Metric) string {
	switch m {
	case Throughput:
		return "rps"
	case ErrorRate:
		return "%"
	}
	return "ms"
}

// higherIsWorse says which direction of change is bad.
func higherIsWorse(m Metric) bool { return m != Throughput }

// thresholds returns the effective thresholds of one endpoint, in metric order.
func (p *Policy) thresholds(endpoint string) []metricTol {
	eff := map[Metric]Tolerance{}
	for m, t := range p.Thresholds {
		eff[m] = t
	}
	if ep, ok := p.Endpoints[endpoint]; ok {
		for m, t := range ep.Thresholds {
			eff[m] = t
		}
	}
	return ordered(eff)
}

// slos returns the effective SLOs of one endpoint, in metric order.
func (p *Policy) slos(endpoint string) []metricVal {
	eff := map[Metric]float64{}
	for m, v := range p.SLO {
		eff[m] = v
	}
	if ep, ok := p.Endpoints[endpoint]; ok {
		for m, v := range ep.SLO {
			eff[m] = v
		}
	}
	var out []metricVal
	for _, m := range sortedMetrics(eff) {
		if eff[m] > 0 {
			out = append(out, metricVal{m, eff[m]})
		}
	}
	return out
}

type metricTol struct {
	m Metric
	t Tolerance
}

type metricVal struct {
	m Metric
	v float64
}

func ordered(eff map[Metric]Tolerance) []metricTol {
	keys := make(map[Metric]float64, len(eff))
	for m := range eff {
		keys[m] = 0
	}
	var out []metricTol
	for _, m := range sortedMetrics(keys) {
		out = append(out, metricTol{m, eff[m]})
	}
	return out
}

// sortedMetrics returns the keys in metricOrder, unknown metrics last by name.
func sortedMetrics(m map[Metric]float64) []Metric {
	rank := map[Metric]int{}
	for i, k := range metricOrder {
		rank[k] = i
	}
	keys := make([]Metric, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		ri, oki := rank[keys[i]]
		rj, okj := rank[keys[j]]
		switch {
		case oki && okj:
			return ri < rj
		case oki != okj:
			return oki
		}
		return keys[i] < keys[j]
	})
	return keys
}

// normalized fills zero settings with their defaults so a partially filled
// Policy behaves sensibly.
func (p Policy) normalized() Policy {
	if p.Confidence <= 0 || p.Confidence >= 1 {
		p.Confidence = DefaultConfidence
	}
	if p.MinWindows <= 0 {
		p.MinWindows = DefaultMinWindows
	}
	if p.MinRequests <= 0 {
		p.MinRequests = DefaultMinRequests
	}
	if p.MinTailSamples <= 0 {
		p.MinTailSamples = DefaultMinTailSamples
	}
	if p.BootstrapReps <= 0 {
		p.BootstrapReps = DefaultBootstrapReps
	}
	return p
}

// requiredRequests is how many measured requests a side needs for metric m.
func (p *Policy) requiredRequests(m Metric) int64 {
	need := p.MinRequests
	if q, ok := quantileOf(m); ok && q < 1 {
		tail := int64(float64(p.MinTailSamples)/(1-q) + 0.5)
		if tail > need {
			need = tail
		}
	}
	return need
}
