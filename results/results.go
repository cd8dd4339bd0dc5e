// Package results is loadgate's results model: per-endpoint HdrHistograms,
// counts, status and error kinds, time windows, run metadata and validity, with a
// versioned JSON encoding and an exact merge. It imports no other loadgate package.
package results

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strings"
	"time"
)

// Schema is the version tag of the results file format this build writes.
const Schema = "loadgate/results/v1"

// Precision says how exact an endpoint's latency data is.
const (
	// PrecisionExact: every sample was recorded into the histogram.
	PrecisionExact = "exact"
	// PrecisionAggregate: only summary figures were available (e.g. an imported
	// tool summary); the histogram is empty and windows may be missing.
	PrecisionAggregate = "aggregate"
)

// File is one results file: the outcome of one run (or a merge of several).
type File struct {
	Schema    string     `json:"schema"`
	Plan      PlanRef    `json:"plan"`
	Run       Run        `json:"run"`
	Profile   Profile    `json:"profile"`
	Validity  Validity   `json:"validity"`
	Endpoints []Endpoint `json:"endpoints"`
	// Total aggregates all endpoints (histograms merged, counts summed). With
	// one endpoint, Finalize shares that endpoint's histograms with it.
	Total Endpoint `json:"total"`
	// Derived holds the profile's own figures (knee, recovery time, drift, curves).
	Derived *Derived `json:"derived,omitempty"`
	// Workers describes each worker of a distributed run.
	Workers []Worker `json:"workers,omitempty"`
}

// PlanRef identifies the plan a run executed.
type PlanRef struct {
	Name string `json:"name"`
	// Hash is a digest of the plan's load-relevant content (endpoints, profile),
	// so baselines from a different plan are detected.
	Hash string `json:"hash"`
	File string `json:"file,omitempty"`
}

// Run is the run's metadata and provenance.
type Run struct {
	ID string `json:"id"`
	// Started is when the schedule began; Ended when the generator really
	// stopped sending (later than Started + the planned duration when it
	// fell behind), the span throughput is computed over.
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
	// Runner names what produced the results: local, aws, exec, import:<format>, merge.
	Runner string `json:"runner"`
	// RunnerClass is a comparability key (e.g. "local/2cpu", "aws/1vcpu-2gb/x10/eu-west-1").
	RunnerClass string `json:"runner_class,omitempty"`
	Workers     int    `json:"workers"`
	// Target is the base URL, with secrets redacted.
	Target string `json:"target,omitempty"`
	// Partial is true when the run was interrupted (signal, timeout) before its end.
	Partial bool `json:"partial,omitempty"`
	// Label distinguishes series within one file, e.g. "base"/"head" in paired mode.
	Label string `json:"label,omitempty"`
	Env   Env    `json:"env"`
	// StartedBy records who or what launched the run (cli, action, mcp).
	StartedBy *Launch `json:"started_by,omitempty"`
	// Pairing is set on both files of a paired run (runners/paired).
	Pairing *Pairing `json:"pairing,omitempty"`
	// ToolExitCode is the exit code of the command an exec runner ran (k6 exits
	// 99 on failed thresholds, Locust 1 on failed requests); nil when none ran.
	// It is reported, never turned into loadgate's verdict.
	ToolExitCode *int `json:"tool_exit_code,omitempty"`
	// Health is what the run measured about its machine (runners/envprobe),
	// so that a comparison can tell a slower machine from a slower build;
	// nil in files written before it existed or by runners that do not
	// measure it.
	Health *Health `json:"health,omitempty"`
	// InsecureTLS is true when server certificates were not verified
	// (tls.insecure_skip_verify): the figures may come from any host that
	// answered, and every report must say so.
	InsecureTLS bool `json:"insecure_tls,omitempty"`
	// Warnings are the runner's caveats about the run that do not make it
	// invalid (unverified certificates, redirects outside targets.allow);
	// reports show them with the verdict.
	Warnings []string `json:"warnings,omitempty"`
}

// Health holds a run's figures about its machine. Every field is optional.
type Health struct {
	// CalibrationMs is the wall time of a fixed CPU workload, measured
	// before and after the load (the median of a few repetitions each).
	CalibrationMs []float64 `json:"calibration_ms,omitempty"`
	// SleepOverUs is how far a short sleep overslept (µs, median), before
	// and after the load: timer and scheduler wake-up latency.
	SleepOverUs []float64 `json:"sleep_over_us,omitempty"`
	// LoadPerCPU is the 1-minute load average divided by the CPUs, read
	// before the load.
	LoadPerCPU float64 `json:"load_per_cpu,omitempty"`
	// StealPct is the CPU time the hypervisor gave to other guests during
	// the run, in percent of all CPU time (Linux /proc/stat); nil when
	// unknown.
	StealPct *float64 `json:"steal_pct,omitempty"`
}

// Pairing describes a paired run: base and head ran interleaved in alternating
// slots, window i of each in slot pair i, the order within each pair drawn
// from Seed.
type Pairing struct {
	Seed  uint64   `json:"seed,string"`
	Slot  Duration `json:"slot"`
	Pairs int      `json:"pairs"`
	// Order says, per measured pair, which side ran first: B (base) or H (head).
	Order string `json:"order,omitempty"`
	// LeftOut are the pairs dropped from both sides (numbered from 1 among the
	// measured pairs, before dropping) because the generator fell behind its
	// schedule in one of their slots; Pairs and Order count only kept pairs.
	LeftOut []LeftOutPair `json:"left_out,omitempty"`
}

// LeftOutPair is a measured pair the paired runner dropped from both sides.
type LeftOutPair struct {
	Pair   int    `json:"pair"`
	Side   string `json:"side"` // the side whose slot fell behind: base or head (or both)
	Reason string `json:"reason"`
}

// Validity causes: why a run is invalid, for code that must tell them apart.
const (
	CauseNoRequests = "no_requests"
	CauseDropped    = "dropped"
	CauseBehind     = "behind" // the schedule lag exceeded the runner's limit
	// CauseDataExhausted: a unique data source ran out of rows, so requests
	// of the plan were not sent.
	CauseDataExhausted = "data_exhausted"
)

// AddCauses adds the causes v does not have yet.
func (v *Validity) AddCauses(causes ...string) {
	for _, c := range causes {
		if !slices.Contains(v.Causes, c) {
			v.Causes = append(v.Causes, c)
		}
	}
}

// OnlyBehind reports whether v is invalid for one known reason: the
// generator fell behind its schedule (not dropped requests, not an empty run).
func (v Validity) OnlyBehind() bool {
	if v.Valid || len(v.Causes) == 0 {
		return false
	}
	for _, c := range v.Causes {
		if c != CauseBehind {
			return false
		}
	}
	return true
}

// Env is where the run happened.
type Env struct {
	GitSHA      string `json:"git_sha,omitempty"`
	Ref         string `json:"ref,omitempty"`
	Host        string `json:"host,omitempty"`
	OS          string `json:"os,omitempty"`
	Arch        string `json:"arch,omitempty"`
	CPUs        int    `json:"cpus,omitempty"`
	GoVersion   string `json:"go_version,omitempty"`
	ToolVersion string `json:"tool_version,omitempty"`
}

// Launch is the provenance of a run's start.
type Launch struct {
	Via        string `json:"via"` // cli | action | mcp | worker
	Repository string `json:"repository,omitempty"`
	RunID      string `json:"run_id,omitempty"`
	Actor      string `json:"actor,omitempty"`
}

// Profile records the load shape that ran.
type Profile struct {
	Type string `json:"type"`
	// Model is "open" (arrival rate) or "closed" (virtual users).
	Model    string   `json:"model"`
	Rate     float64  `json:"rate,omitempty"` // requests/s, open model peak
	VUs      int      `json:"vus,omitempty"`
	Duration Duration `json:"duration"`
	Warmup   Duration `json:"warmup,omitempty"`
	Stages   []Stage  `json:"stages,omitempty"`
}

// Stage is one segment of the schedule as run.
type Stage struct {
	Name      string   `json:"name,omitempty"`
	Duration  Duration `json:"duration"`
	StartRate float64  `json:"start_rate,omitempty"`
	EndRate   float64  `json:"end_rate,omitempty"`
	VUs       int      `json:"vus,omitempty"`
	// PayloadBytes is the request body size of a volume stage.
	PayloadBytes int64 `json:"payload_bytes,omitempty"`
	Warmup       bool  `json:"warmup,omitempty"`
}

// Validity says whether the generator held the schedule. A run that did not is
// invalid: its latencies describe the generator, not the target.
type Validity struct {
	Valid bool `json:"valid"`
	// Reasons explain an invalid (or degraded) run in plain words.
	Reasons []string `json:"reasons,omitempty"`
	// Scheduled is how many requests the schedule asked for; Sent how many started.
	Scheduled int64 `json:"scheduled"`
	Sent      int64 `json:"sent"`
	// Dropped requests never started (in-flight bound reached or run cut short).
	Dropped int64 `json:"dropped"`
	// Late requests started more than LateThreshold after their intended time.
	Late int64 `json:"late"`
	// LagP99Ms and LagMaxMs are the schedule lag (actual − intended send) in ms.
	LagP99Ms float64 `json:"lag_p99_ms"`
	LagMaxMs float64 `json:"lag_max_ms"`
	// GeneratorCPU is the generator's CPU use as a fraction of the CPUs available
	// (0..1) over the run.
	GeneratorCPU float64 `json:"generator_cpu"`
	// Causes are machine-readable codes of what made the run invalid
	// (CauseNoRequests, CauseDropped, CauseBehind); a runner may leave them
	// out, and a reader must then treat the cause as unknown.
	Causes []string `json:"causes,omitempty"`
	// Degraded is true when part of a distributed run's load is missing.
	Degraded bool `json:"degraded,omitempty"`
	// LoadShare is the fraction (0..1) of the intended load that ran.
	LoadShare float64 `json:"load_share,omitempty"`
	// MissingWorkers names workers of a distributed run that delivered nothing.
	MissingWorkers []string `json:"missing_workers,omitempty"`
	// StartSkewMs is the spread of worker start times in a distributed run.
	StartSkewMs float64 `json:"start_skew_ms,omitempty"`
}

// Endpoint holds one endpoint's figures over the run.
type Endpoint struct {
	Name   string `json:"name"`
	Method string `json:"method,omitempty"`
	// URL is the request URL with secrets redacted.
	URL       string `json:"url,omitempty"`
	Precision string `json:"precision,omitempty"`
	Requests  int64  `json:"requests"`
	Errors    int64  `json:"errors"`
	// Status counts responses by HTTP status code ("200": n).
	Status map[string]int64 `json:"status,omitempty"`
	// ErrorKinds counts failures by class: timeout, refused, reset, dns, tls,
	// status (unexpected status), body_too_large, other.
	ErrorKinds    map[string]int64 `json:"error_kinds,omitempty"`
	Bytes         int64            `json:"bytes"`
	BytesSent     int64            `json:"bytes_sent,omitempty"`
	ThroughputRPS float64          `json:"throughput_rps"`
	ErrorRate     float64          `json:"error_rate"` // fraction 0..1
	// Latency is measured from each request's intended send time (coordinated
	// omission free); ServiceTime from its actual send time. Milliseconds.
	Latency     Summary `json:"latency_ms"`
	ServiceTime Summary `json:"service_time_ms,omitempty"`
	// Histogram holds Latency's samples in µs (V2 compressed, base64 in JSON).
	Histogram        *Histogram `json:"histogram,omitempty"`
	ServiceHistogram *Histogram `json:"service_histogram,omitempty"`
	// ServerTime summarizes the durations the target itself reported in its
	// Server-Timing response header: time inside the server, without the
	// network or either machine's scheduling queue. Only responses that carried
	// the metric count; absent when none did. Milliseconds.
	ServerTime      Summary    `json:"server_time_ms,omitzero"`
	ServerHistogram *Histogram `json:"server_histogram,omitempty"`
	// Windows are fixed-width time slices of the run, in time order.
	Windows []Window `json:"windows,omitempty"`
}

// Summary is a latency summary in milliseconds.
type Summary struct {
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P95  float64 `json:"p95"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p99.9"`
	Max  float64 `json:"max"`
	Min  float64 `json:"min,omitempty"`
	Mean float64 `json:"mean"`
}

// Window is one time slice of an endpoint's run.
type Window struct {
	// Start is the window's absolute start time; windows of merged workers align on it.
	Start time.Time `json:"t"`
	// Width is the window's length.
	Width    Duration `json:"width"`
	Requests int64    `json:"requests"`
	Errors   int64    `json:"errors"`
	Bytes    int64    `json:"bytes,omitempty"`
	// OfferedRPS is the arrival rate the schedule asked for during the window.
	OfferedRPS float64 `json:"offered_rps,omitempty"`
	// PayloadBytes is the request body size during a volume stage.
	PayloadBytes int64   `json:"payload_bytes,omitempty"`
	P50          float64 `json:"p50"`
	P90          float64 `json:"p90"`
	P95          float64 `json:"p95"`
	P99          float64 `json:"p99"`
	Max          float64 `json:"max"`
	Mean         float64 `json:"mean"`
	// Warmup windows are measured but excluded from the verdict.
	Warmup bool `json:"warmup,omitempty"`
	// Histogram holds the window's latency samples so merges stay exact.
	Histogram *Histogram `json:"histogram,omitempty"`
	// Server* are the window's Server-Timing durations (see Endpoint.ServerTime).
	ServerP50       float64    `json:"server_p50,omitempty"`
	ServerP90       float64    `json:"server_p90,omitempty"`
	ServerP95       float64    `json:"server_p95,omitempty"`
	ServerP99       float64    `json:"server_p99,omitempty"`
	ServerMax       float64    `json:"server_max,omitempty"`
	ServerHistogram *Histogram `json:"server_histogram,omitempty"`
}

// Derived holds figures specific to the profile type.
type Derived struct {
	// Stress: the highest offered rate at which error rate and p95 stayed within limits.
	MaxSustainableRPS float64 `json:"max_sustainable_rps,omitempty"`
	// BreakingRPS is the first offered rate that broke a limit (0 if none did).
	BreakingRPS float64 `json:"breaking_rps,omitempty"`
	// Spike: time from the spike's end until p95 returned to the pre-spike level.
	RecoveryMs    float64 `json:"recovery_ms,omitempty"`
	PreSpikeP95Ms float64 `json:"pre_spike_p95_ms,omitempty"`
	Recovered     *bool   `json:"recovered,omitempty"`
	// SpikePeakP95Ms is the highest one-window p95 from the spike's start
	// on; SpikeDegraded says whether it rose above the recovery limit at
	// all (when it did not, a recovery time means nothing).
	SpikePeakP95Ms float64 `json:"spike_peak_p95_ms,omitempty"`
	SpikeDegraded  *bool   `json:"spike_degraded,omitempty"`
	// PreSpikeWindows is how many windows the pre-spike p95 came from.
	PreSpikeWindows int `json:"pre_spike_windows,omitempty"`
	// Endurance: least-squares slopes over the run's windows.
	P95DriftMsPerHour       float64 `json:"p95_drift_ms_per_hour,omitempty"`
	ErrorRateDriftPPPerHour float64 `json:"error_rate_drift_pp_per_hour,omitempty"`
	// Scalability / stress: one point per step.
	Curve []CurvePoint `json:"curve,omitempty"`
	// Volume: one point per payload size.
	Payloads []PayloadPoint `json:"payloads,omitempty"`
}

// CurvePoint is achieved throughput and latency at one offered rate.
type CurvePoint struct {
	OfferedRPS  float64 `json:"offered_rps"`
	AchievedRPS float64 `json:"achieved_rps"`
	P95Ms       float64 `json:"p95_ms"`
	ErrorRate   float64 `json:"error_rate"`
}

// PayloadPoint is throughput and latency at one request payload size.
type PayloadPoint struct {
	PayloadBytes int64   `json:"payload_bytes"`
	BytesPerSec  float64 `json:"bytes_per_sec"`
	P50Ms        float64 `json:"p50_ms"`
	P95Ms        float64 `json:"p95_ms"`
	Requests     int64   `json:"requests"`
}

// Worker is one worker's share of a distributed run.
type Worker struct {
	ID        string    `json:"id"`
	Region    string    `json:"region,omitempty"`
	Started   time.Time `json:"started,omitempty"`
	Requests  int64     `json:"requests"`
	Errors    int64     `json:"errors"`
	RateShare float64   `json:"rate_share"`
	Missing   bool      `json:"missing,omitempty"`
	Reason    string    `json:"reason,omitempty"`
}

// Endpoint returns the endpoint with the given name, or nil.
func (f *File) Endpoint(name string) *Endpoint {
	for i := range f.Endpoints {
		if f.Endpoints[i].Name == name {
			return &f.Endpoints[i]
		}
	}
	return nil
}

// MeasuredWindows returns the windows that count for the verdict (warm-up excluded).
func (e *Endpoint) MeasuredWindows() []Window {
	out := make([]Window, 0, len(e.Windows))
	for _, w := range e.Windows {
		if !w.Warmup {
			out = append(out, w)
		}
	}
	return out
}

// Finalize recomputes every derived figure of e (summaries, error rate,
// throughput over elapsed, window summaries) from its histograms and counts.
func (e *Endpoint) Finalize(elapsed time.Duration) {
	if e.Histogram != nil && e.Histogram.Count() > 0 {
		e.Latency = e.Histogram.Summary()
	}
	if e.ServiceHistogram != nil && e.ServiceHistogram.Count() > 0 {
		e.ServiceTime = e.ServiceHistogram.Summary()
	}
	if e.ServerHistogram != nil && e.ServerHistogram.Count() > 0 {
		e.ServerTime = e.ServerHistogram.Summary()
	}
	if e.Requests > 0 {
		e.ErrorRate = float64(e.Errors) / float64(e.Requests)
	} else {
		e.ErrorRate = 0
	}
	if elapsed > 0 {
		e.ThroughputRPS = round3(float64(e.Requests) / elapsed.Seconds())
	}
	for i := range e.Windows {
		e.Windows[i].summarize()
	}
	sort.Slice(e.Windows, func(i, j int) bool { return e.Windows[i].Start.Before(e.Windows[j].Start) })
}

func (w *Window) summarize() {
	if w.ServerHistogram != nil && w.ServerHistogram.Count() > 0 {
		s := w.ServerHistogram.Summary()
		w.ServerP50, w.ServerP90, w.ServerP95, w.ServerP99, w.ServerMax = s.P50, s.P90, s.P95, s.P99, s.Max
	}
	if w.Histogram == nil || w.Histogram.Count() == 0 {
		return
	}
	s := w.Histogram.Summary()
	w.P50, w.P90, w.P95, w.P99, w.Max, w.Mean = s.P50, s.P90, s.P95, s.P99, s.Max, s.Mean
}

// ErrorRatePct is the error rate in percent.
func (e *Endpoint) ErrorRatePct() float64 { return e.ErrorRate * 100 }

// ShapeDiff names the load-shape differences between p and q (type, model,
// rate, VUs) that make their latencies incomparable; "" when there are none.
// Duration and warm-up are left out: a shorter run of the same shape measures
// the same thing with less data.
func (p Profile) ShapeDiff(q Profile) string {
	var d []string
	if p.Type != q.Type {
		d = append(d, fmt.Sprintf("type %s vs %s", p.Type, q.Type))
	}
	if p.Model != q.Model {
		d = append(d, fmt.Sprintf("model %s vs %s", p.Model, q.Model))
	}
	if p.Rate != q.Rate {
		d = append(d, fmt.Sprintf("rate %g/s vs %g/s", p.Rate, q.Rate))
	}
	if p.VUs != q.VUs {
		d = append(d, fmt.Sprintf("vus %d vs %d", p.VUs, q.VUs))
	}
	return strings.Join(d, ", ")
}

// Unmeasured marks a Summary figure the source did not measure (a Locust
// history has no whole-run p90…p99.9): NaN in memory, null in JSON, so it is
// never read as 0 ms.
var Unmeasured = math.NaN()

// Measured reports whether a Summary figure was measured.
func Measured(v float64) bool { return !math.IsNaN(v) }

// summaryJSON is Summary with unmeasured figures as null.
type summaryJSON struct {
	P50  *float64 `json:"p50"`
	P90  *float64 `json:"p90"`
	P95  *float64 `json:"p95"`
	P99  *float64 `json:"p99"`
	P999 *float64 `json:"p99.9"`
	Max  *float64 `json:"max"`
	Min  *float64 `json:"min,omitempty"`
	Mean *float64 `json:"mean"`
}

// MarshalJSON writes unmeasured (NaN) figures as null.
func (s Summary) MarshalJSON() ([]byte, error) {
	p := func(v float64) *float64 {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil
		}
		return &v
	}
	j := summaryJSON{P50: p(s.P50), P90: p(s.P90), P95: p(s.P95), P99: p(s.P99), P999: p(s.P999), Max: p(s.Max), Mean: p(s.Mean)}
	if s.Min != 0 {
		j.Min = p(s.Min)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads null as unmeasured (NaN); an absent figure is 0, as
// files written before null existed have it.
func (s *Summary) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	out := Summary{}
	for _, f := range []struct {
		key string
		dst *float64
	}{{"p50", &out.P50}, {"p90", &out.P90}, {"p95", &out.P95}, {"p99", &out.P99}, {"p99.9", &out.P999},
		{"max", &out.Max}, {"min", &out.Min}, {"mean", &out.Mean}} {
		v, ok := raw[f.key]
		if !ok {
			continue
		}
		if string(v) == "null" {
			*f.dst = Unmeasured
			continue
		}
		if err := json.Unmarshal(v, f.dst); err != nil {
			return &json.UnmarshalTypeError{Value: string(v), Type: reflect.TypeOf(0.0), Field: "latency." + f.key}
		}
	}
	*s = out
	return nil
}
