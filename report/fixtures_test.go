package report

import (
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

// Fixed synthetic inputs for golden tests: nothing depends on the clock or on
// a random seed that changes between runs.

var fixtureStart = time.Date(2026, 3, 14, 12, 0, 0, 0, time.UTC)

// trickyName exercises escaping in every format.
const trickyName = "get-user | <admin> `x` @octocat #1 & [a](b)"

// epSpec describes one synthetic endpoint: a log-normal latency with median
// medianMs, its rate and error fraction.
type epSpec struct {
	name     string
	medianMs float64
	sigma    float64
	rps      int
	errFrac  float64
}

// buildFile makes a results file with one histogram and per-second windows per
// endpoint, the first warmup windows flagged, all from a fixed seed. As the
// local runner does, each sample goes into the whole-run histogram (full
// precision) and its window's (window precision, 7× less to copy per window
// under -race).
func buildFile(label string, seed uint64, profile results.Profile, windows, warmup int, eps []epSpec) *results.File {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	start := fixtureStart
	if label == "base" {
		start = start.Add(-24 * time.Hour)
	}
	f := &results.File{
		Schema: results.Schema,
		Plan:   results.PlanRef{Name: "checkout-api", Hash: "sha256:4f2a9c", File: "loadgate.yaml"},
		Run: results.Run{
			ID: "run-" + label, Started: start, Ended: start.Add(time.Duration(windows) * time.Second),
			Runner: "local", RunnerClass: "local/2cpu", Workers: 1, Target: "http://127.0.0.1:8080",
			Label: label,
			Env: results.Env{GitSHA: "0123456789abcdef0123456789abcdef01234567", Ref: "refs/pull/42/merge",
				Host: "runner-1", OS: "linux", Arch: "amd64", CPUs: 2, GoVersion: "go1.26.0", ToolVersion: "v0.1.0"},
			StartedBy: &results.Launch{Via: "action", Repository: "acme/shop", RunID: "1234", Actor: "dev"},
		},
		Profile:  profile,
		Validity: results.Validity{Valid: true, LagP99Ms: 0.4, LagMaxMs: 2.1, GeneratorCPU: 0.18},
	}
	total := results.Endpoint{Name: "total", Histogram: results.NewHistogram()}
	for _, s := range eps {
		e := results.Endpoint{Name: s.name, Method: "GET", URL: "http://127.0.0.1:8080/" + s.name,
			Precision: results.PrecisionExact, Histogram: results.NewHistogram(), Status: map[string]int64{}}
		for wi := 0; wi < windows; wi++ {
			w := results.Window{Start: start.Add(time.Duration(wi) * time.Second), Width: results.Duration(time.Second),
				Histogram: results.NewWindowHistogram(), Warmup: wi < warmup, OfferedRPS: float64(s.rps)}
			rate := s.rps
			if profile.Type == "stress" || profile.Type == "scalability" {
				rate = s.rps * (1 + wi/4)
				w.OfferedRPS = float64(rate)
			}
			for i := 0; i < rate; i++ {
				ms := s.medianMs * math.Exp(s.sigma*rng.NormFloat64())
				if profile.Type == "stress" && wi >= 12 {
					ms *= 1 + float64(wi-11)*0.8 // past the knee
				}
				if profile.Type == "spike" && wi >= 8 && wi < 11 {
					ms *= 4
				}
				if profile.Type == "endurance" {
					ms *= 1 + float64(wi)*0.01
				}
				us := int64(ms * 1000)
				w.Histogram.RecordMicros(us)
				e.Histogram.RecordMicros(us)
				w.Requests++
				if rng.Float64() < s.errFrac {
					w.Errors++
				}
			}
			e.Requests += w.Requests
			e.Errors += w.Errors
			e.Windows = append(e.Windows, w)
		}
		e.Status["200"] = e.Requests - e.Errors
		if e.Errors > 0 {
			e.Status["503"] = e.Errors
			e.ErrorKinds = map[string]int64{"status": e.Errors}
		}
		e.Bytes = e.Requests * 512
		e.Finalize(time.Duration(windows) * time.Second)
		f.Validity.Scheduled += e.Requests
		f.Validity.Sent += e.Requests
		total.Requests += e.Requests
		total.Errors += e.Errors
		_ = total.Histogram.Merge(e.Histogram)
		f.Endpoints = append(f.Endpoints, e)
	}
	total.Finalize(time.Duration(windows) * time.Second)
	f.Total = total
	return f
}

func loadProfile() results.Profile {
	return results.Profile{Type: "load", Model: "open", Rate: 600, Duration: results.Duration(20 * time.Second), Warmup: results.Duration(3 * time.Second),
		Stages: []results.Stage{{Name: "warmup", Duration: results.Duration(3 * time.Second), StartRate: 600, EndRate: 600, Warmup: true},
			{Name: "steady", Duration: results.Duration(17 * time.Second), StartRate: 600, EndRate: 600}}}
}

func baseSpecs() []epSpec {
	return []epSpec{
		{"list-products", 12, 0.3, 200, 0.001},
		{"create-order", 40, 0.35, 60, 0.002},
		{"search", 90, 0.4, 80, 0},
		{trickyName, 8, 0.25, 40, 0},
		{"legacy-export", 150, 0.3, 10, 0},
		{"health", 1.2, 0.2, 100, 0},
	}
}

func headSpecs() []epSpec {
	return []epSpec{
		{"list-products", 12.1, 0.3, 200, 0.001},
		{"create-order", 45, 0.35, 60, 0.004},
		{"search", 72, 0.4, 80, 0},
		{trickyName, 8.3, 0.25, 40, 0},
		{"new-endpoint", 20, 0.3, 30, 0},
		{"health", 1.2, 0.2, 100, 0},
	}
}

var fixtureOnce = sync.OnceValues(buildFixtureFiles)

// fixtureFiles returns the head run and two baseline runs, built once and
// shared: tests must not modify them (copy the File to change a field).
func fixtureFiles() (*results.File, []*results.File) { return fixtureOnce() }

func buildFixtureFiles() (*results.File, []*results.File) {
	head := buildFile("head", 7, loadProfile(), 20, 3, headSpecs())
	b1 := buildFile("base", 1, loadProfile(), 20, 3, baseSpecs())
	b2 := buildFile("base", 2, loadProfile(), 20, 3, baseSpecs())
	b2.Run.ID = "run-base-2"
	return head, []*results.File{b1, b2}
}

func figs(f *results.File, name string) *gate.Figures {
	e := f.Endpoint(name)
	if e == nil {
		return nil
	}
	return &gate.Figures{Requests: e.Requests, P50: e.Latency.P50, P90: e.Latency.P90, P95: e.Latency.P95,
		P99: e.Latency.P99, Max: e.Latency.Max, Throughput: e.ThroughputRPS, ErrorRatePct: e.ErrorRatePct()}
}

func chk(m gate.Metric, unit string, base, head, delta, lo, hi, p float64, sig bool, tol string, d gate.Decision, warn ...string) gate.Check {
	return gate.Check{Metric: m, Kind: "baseline", Unit: unit, Base: base, Head: head, Delta: delta,
		CILow: lo, CIHigh: hi, HasCI: lo != 0 || hi != 0, PValue: p, Tolerance: tol, Significant: sig, Decision: d, Warnings: warn}
}

// fixtureVerdict is a hand-built verdict with every decision, intervals,
// p-values, an SLO check and warnings at every level. Its figures come from
// the fixture files so tables and charts agree.
func fixtureVerdict(head *results.File, base []*results.File) *gate.Verdict {
	b := base[0]
	ev := func(name string, d gate.Decision, checks []gate.Check, warn ...string) gate.EndpointVerdict {
		return gate.EndpointVerdict{Name: name, Decision: d, Checks: checks, Warnings: warn, Base: figs(b, name), Head: figs(head, name)}
	}
	return &gate.Verdict{
		Plan: "checkout-api", Decision: gate.Regressed, Mode: "baseline", BaseRuns: len(base), Confidence: 0.95,
		Warnings: []string{"baseline tool version v0.0.9 differs from v0.1.0"},
		Endpoints: []gate.EndpointVerdict{
			ev("list-products", gate.Pass, []gate.Check{
				chk(gate.P95, "ms", 19.6, 19.9, 0.015, -0.021, 0.034, 0.41, false, "+10%", gate.Pass),
				chk(gate.P99, "ms", 24.1, 24.3, 0.008, -0.04, 0.05, 0.62, false, "+20%", gate.Pass),
				chk(gate.Throughput, "rps", 200, 200, 0, -0.01, 0.01, 0.97, false, "-5%", gate.Pass),
				chk(gate.ErrorRate, "%", 0.1, 0.1, 0, -0.05, 0.05, 0.9, false, "+0.5pp", gate.Pass),
			}),
			ev("create-order", gate.Regressed, []gate.Check{
				chk(gate.P95, "ms", 70.2, 79.1, 0.126, 0.081, 0.169, 0.002, true, "+10%", gate.Regressed),
				chk(gate.P99, "ms", 90.5, 99.0, 0.094, 0.02, 0.17, 0.03, true, "+20%", gate.Pass),
				chk(gate.Throughput, "rps", 60, 60, 0, -0.01, 0.01, 0.99, false, "-5%", gate.Pass),
				chk(gate.ErrorRate, "%", 0.2, 0.4, 0.2, 0.05, 0.35, 0.04, true, "+0.5pp", gate.Pass),
				{Metric: gate.P95, Kind: "slo", Unit: "ms", Head: 79.1, PValue: -1, Tolerance: "300ms", Decision: gate.Pass},
			}),
			ev("search", gate.Improved, []gate.Check{
				chk(gate.P95, "ms", 173, 139, -0.196, -0.25, -0.15, 0.0004, true, "+10%", gate.Improved),
				chk(gate.P99, "ms", 228, 181, -0.206, -0.27, -0.14, 0.0009, true, "+20%", gate.Improved),
			}),
			ev(trickyName, gate.Inconclusive, []gate.Check{
				chk(gate.P95, "ms", 12.1, 12.6, 0.041, 0, 0, 0.2, false, "+10%", gate.Inconclusive,
					"need ≥ 6 windows per side, have 3: run 3 s longer"),
			}),
			ev("new-endpoint", gate.New, nil, "no baseline entry: measured, not gated"),
			ev("legacy-export", gate.Missing, nil, "in the baseline but not in this run"),
			ev("health", gate.Pass, []gate.Check{
				chk(gate.P95, "ms", 1.6, 1.6, 0, -0.01, 0.01, 0.8, false, "+10%", gate.Pass),
			}),
		},
	}
}

// fixtureInput returns a fresh verdict over the shared files; the Head is a
// shallow copy so a test may replace its top-level fields.
func fixtureInput() Input {
	head, base := fixtureFiles()
	h := *head
	return Input{Verdict: fixtureVerdict(head, base), Head: &h, Base: base}
}

func resultsInvalid() results.Validity {
	return results.Validity{Valid: false, Reasons: []string{"dropped 312 of 12000 scheduled requests (2.6% > 0.1% tolerance)"},
		Scheduled: 12000, Sent: 11688, Dropped: 312, LagP99Ms: 180, LagMaxMs: 950, GeneratorCPU: 0.97}
}

func stages(specs ...results.Stage) []results.Stage { return specs }

func stage(name string, d time.Duration, start, end float64, warm bool) results.Stage {
	return results.Stage{Name: name, Duration: results.Duration(d), StartRate: start, EndRate: end, Warmup: warm}
}

// profileInput is a run of the given profile type with its derived figures,
// and for stress a distributed run with one missing worker.
func profileInput(kind string) Input {
	specs := []epSpec{{"browse", 10, 0.3, 50, 0.001}, {"checkout", 30, 0.3, 20, 0.002}}
	var f *results.File
	switch kind {
	case "stress":
		pr := results.Profile{Type: "stress", Model: "open", Rate: 420, Duration: results.Duration(24 * time.Second),
			Stages: stages(stage("warmup", 2*time.Second, 70, 70, true), stage("step 1", 4*time.Second, 70, 70, false),
				stage("step 2", 4*time.Second, 140, 140, false), stage("step 3", 4*time.Second, 210, 210, false),
				stage("step 4", 4*time.Second, 280, 280, false), stage("step 5", 4*time.Second, 350, 350, false),
				stage("step 6", 2*time.Second, 420, 420, false))}
		f = buildFile("head", 21, pr, 24, 2, specs)
		f.Derived = &results.Derived{MaxSustainableRPS: 210, BreakingRPS: 280, Curve: []results.CurvePoint{
			{OfferedRPS: 70, AchievedRPS: 70, P95Ms: 24, ErrorRate: 0.001}, {OfferedRPS: 140, AchievedRPS: 139.8, P95Ms: 25},
			{OfferedRPS: 210, AchievedRPS: 209, P95Ms: 31}, {OfferedRPS: 280, AchievedRPS: 251, P95Ms: 88, ErrorRate: 0.02},
			{OfferedRPS: 350, AchievedRPS: 262, P95Ms: 240, ErrorRate: 0.09}, {OfferedRPS: 420, AchievedRPS: 259, P95Ms: 610, ErrorRate: 0.2}}}
		f.Run.Runner, f.Run.RunnerClass, f.Run.Workers = "aws", "aws/1vcpu-2gb/x3/eu-west-1", 3
		f.Workers = []results.Worker{
			{ID: "task-a", Region: "eu-west-1", Started: fixtureStart, Requests: 4100, Errors: 40, RateShare: 1.0 / 3},
			{ID: "task-b", Region: "eu-west-1", Started: fixtureStart.Add(40 * time.Millisecond), Requests: 4080, Errors: 38, RateShare: 1.0 / 3},
			{ID: "task-c <x>", Region: "us-east-1", RateShare: 1.0 / 3, Missing: true, Reason: "task stopped: OutOfMemory"},
		}
		f.Validity.Degraded, f.Validity.LoadShare, f.Validity.MissingWorkers, f.Validity.StartSkewMs = true, 2.0/3, []string{"task-c <x>"}, 40
	case "spike":
		pr := results.Profile{Type: "spike", Model: "open", Rate: 70, Duration: results.Duration(20 * time.Second),
			Stages: stages(stage("warmup", 3*time.Second, 70, 70, true), stage("base", 5*time.Second, 70, 70, false),
				stage("spike", 3*time.Second, 280, 280, false), stage("after", 9*time.Second, 70, 70, false))}
		f = buildFile("head", 31, pr, 20, 3, specs)
		rec := true
		f.Derived = &results.Derived{RecoveryMs: 2000, PreSpikeP95Ms: 40, Recovered: &rec}
	case "endurance":
		pr := results.Profile{Type: "endurance", Model: "open", Rate: 70, Duration: results.Duration(40 * time.Second), Warmup: results.Duration(4 * time.Second)}
		f = buildFile("head", 41, pr, 40, 4, specs)
		f.Derived = &results.Derived{P95DriftMsPerHour: 1080, ErrorRateDriftPPPerHour: 0.01}
	case "volume":
		pr := results.Profile{Type: "volume", Model: "open", Rate: 70, Duration: results.Duration(12 * time.Second)}
		f = buildFile("head", 51, pr, 12, 0, specs)
		f.Derived = &results.Derived{Payloads: []results.PayloadPoint{
			{PayloadBytes: 1 << 10, BytesPerSec: 70 << 10, P50Ms: 9, P95Ms: 15, Requests: 280},
			{PayloadBytes: 64 << 10, BytesPerSec: 70 << 16, P50Ms: 12, P95Ms: 21, Requests: 280},
			{PayloadBytes: 1 << 20, BytesPerSec: 70 << 20, P50Ms: 41, P95Ms: 77, Requests: 280}}}
	case "scalability":
		pr := results.Profile{Type: "scalability", Model: "open", Rate: 300, Duration: results.Duration(12 * time.Second),
			Stages: stages(stage("step 1", 4*time.Second, 100, 100, false), stage("step 2", 4*time.Second, 200, 200, false),
				stage("step 3", 4*time.Second, 300, 300, false))}
		f = buildFile("head", 61, pr, 12, 0, specs)
		f.Derived = &results.Derived{Curve: []results.CurvePoint{
			{OfferedRPS: 100, AchievedRPS: 100, P95Ms: 20}, {OfferedRPS: 200, AchievedRPS: 198, P95Ms: 24},
			{OfferedRPS: 300, AchievedRPS: 240, P95Ms: 95, ErrorRate: 0.004}}}
	default: // load
		pr := loadProfile()
		pr.Rate = 70
		f = buildFile("head", 71, pr, 20, 3, specs)
	}
	return Input{Head: f}
}

// profileVariant is profileInput(kind) changed to show one of the caveats.
func profileVariant(name string) Input {
	switch name {
	case "stress-knee-not-reached":
		in := profileInput("stress")
		in.Head.Derived.BreakingRPS = 0
		in.Head.Derived.MaxSustainableRPS = 420
		return in
	case "spike-not-degraded":
		in := profileInput("spike")
		no, yes := false, true
		in.Head.Derived = &results.Derived{PreSpikeP95Ms: 40, PreSpikeWindows: 5, SpikePeakP95Ms: 41.5, SpikeDegraded: &no, Recovered: &yes}
		return in
	case "spike-not-recovered":
		in := profileInput("spike")
		no, yes := false, true
		in.Head.Derived = &results.Derived{PreSpikeP95Ms: 40, PreSpikeWindows: 1, SpikePeakP95Ms: 300, SpikeDegraded: &yes, Recovered: &no, RecoveryMs: 9000}
		return in
	}
	panic("unknown profile variant " + name)
}
