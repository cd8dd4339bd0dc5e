// Package plan is the load-test plan: its YAML schema, parsing with positioned
// errors, validation, ${VAR} expansion with secret tracking, and the expansion of
// a profile into a schedule of arrival rates. It imports no other loadgate package.
package plan

import "time"

// Plan is a parsed, expanded and validated plan file.
type Plan struct {
	Name     string   `yaml:"name" json:"name"`
	Target   string   `yaml:"target" json:"target"`
	Targets  Targets  `yaml:"targets,omitempty" json:"targets,omitempty"`
	Limits   Limits   `yaml:"limits,omitempty" json:"limits,omitempty"`
	Defaults Defaults `yaml:"defaults,omitempty" json:"defaults,omitempty"`
	TLS      TLS      `yaml:"tls,omitempty" json:"tls,omitempty"`
	HTTP     HTTP     `yaml:"http,omitempty" json:"http,omitempty"`
	// Data are the plan's data sources, loaded when the plan is read (rows
	// included, so distributed workers need no file).
	Data []DataSource `yaml:"-" json:"data,omitempty"`
	// Setup are requests run once before the warm-up; their extracted
	// values are template variables and secrets.
	Setup     []SetupStep `yaml:"-" json:"setup,omitempty"`
	Endpoints []Endpoint  `yaml:"endpoints" json:"endpoints"`
	Profile   Profile     `yaml:"profile" json:"profile"`
	Gate      Gate        `yaml:"gate,omitempty" json:"gate,omitempty"`
	// Runner selects how load is produced: empty/local (built-in generator) or
	// exec (run another tool and import what it wrote).
	Runner RunnerSpec `yaml:"runner,omitempty" json:"runner,omitempty"`

	// Source is the file the plan was read from ("" for inline plans).
	Source string `yaml:"-" json:"-"`
	// Dir is the directory relative paths (body_file) resolve against.
	Dir string `yaml:"-" json:"-"`
	// Secrets are the values that came from the environment; they are redacted
	// from every output. See Redact.
	Secrets []string `yaml:"-" json:"-"`
	// SecretEnv maps each secret to the environment variable it came from
	// (value → name), so a plan can be handed on with references instead of
	// values (MarshalRefs).
	SecretEnv map[string]string `yaml:"-" json:"-"`
	// runtime holds secrets learnt while running (values setup extracted);
	// shared by copies of the plan and safe for concurrent use.
	runtime *runtimeSecrets
	// tlsKey is the client key of a shipped plan (SetTLSKey); unexported so
	// that no encoding of the plan carries it.
	tlsKey []byte
}

// Targets restricts where load may be sent.
type Targets struct {
	// Allow lists host names, IPs or CIDRs load may go to. Distributed and
	// MCP-started runs refuse targets not listed; local CLI runs warn.
	Allow []string `yaml:"allow,omitempty" json:"allow,omitempty"`
}

// Limits are ceilings enforced before anything starts.
type Limits struct {
	MaxRate     float64       `yaml:"max_rate,omitempty" json:"max_rate,omitempty"`
	MaxDuration time.Duration `yaml:"max_duration,omitempty" json:"max_duration,omitempty"`
	MaxWorkers  int           `yaml:"max_workers,omitempty" json:"max_workers,omitempty"`
}

// Defaults apply to every endpoint unless overridden.
type Defaults struct {
	Timeout time.Duration     `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// MaxBodyBytes bounds how much of each response body is read (the rest is
	// discarded and the request counted as body_too_large).
	MaxBodyBytes int64  `yaml:"max_body_bytes,omitempty" json:"max_body_bytes,omitempty"`
	Expect       Expect `yaml:"expect,omitempty" json:"expect,omitempty"`
}

// Endpoint is one request kind; its Name is the key results, baselines and
// reports use.
type Endpoint struct {
	Name string `yaml:"name" json:"name"`
	// Method and Path come from `request: "GET /path?q=1"`.
	Method string `yaml:"-" json:"method"`
	Path   string `yaml:"-" json:"path"`
	// Headers are defaults.headers merged with the endpoint's own (which win,
	// compared case-insensitively).
	Headers map[string]string `yaml:"headers,omitempty" json:"headers,omitempty"`
	// Body is the request body; when BodyFile is set, Parse has read the
	// file's content into Body.
	Body     string `yaml:"body,omitempty" json:"body,omitempty"`
	BodyFile string `yaml:"body_file,omitempty" json:"body_file,omitempty"`
	Weight   int    `yaml:"weight,omitempty" json:"weight"`
	// Timeout and Expect are filled from defaults when the endpoint has none.
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Expect  Expect        `yaml:"expect,omitempty" json:"expect,omitempty"`
	// Line is the endpoint's line in the plan file, for annotations.
	Line int `yaml:"-" json:"-"`
}

// Expect is what counts as a successful response.
type Expect struct {
	// Status lists accepted status codes; empty means 2xx and 3xx.
	Status []int `yaml:"status,omitempty" json:"status,omitempty"`
}

// Profile kinds.
const (
	ProfileLoad        = "load"
	ProfileStress      = "stress"
	ProfileSpike       = "spike"
	ProfileEndurance   = "endurance"
	ProfileScalability = "scalability"
	ProfileVolume      = "volume"
	ProfileStages      = "stages"
)

// Profile is the load shape. Open model (Rate, arrivals per second) unless VUs
// is set (closed model: VUs loop request → response).
type Profile struct {
	Type     string        `yaml:"type" json:"type"`
	Rate     float64       `yaml:"-" json:"rate,omitempty"` // from "200/s", "12000/m" or a number
	VUs      int           `yaml:"vus,omitempty" json:"vus,omitempty"`
	Duration time.Duration `yaml:"duration,omitempty" json:"duration,omitempty"`
	Warmup   time.Duration `yaml:"warmup,omitempty" json:"warmup,omitempty"`
	// MaxInFlight bounds concurrent requests of the open model; requests that
	// cannot start on time are dropped and counted (default: derived from rate
	// and timeout).
	MaxInFlight int `yaml:"max_in_flight,omitempty" json:"max_in_flight,omitempty"`

	// stress / scalability: rate steps from StartRate by StepRate every StepDuration up to Rate.
	StartRate    float64       `yaml:"-" json:"start_rate,omitempty"`
	StepRate     float64       `yaml:"-" json:"step_rate,omitempty"`
	StepDuration time.Duration `yaml:"step_duration,omitempty" json:"step_duration,omitempty"`
	// stress: limits that define "broken". BreakErrorRate is a fraction, set
	// by the parser (DefaultBreakErrorRate unless the plan says): a step
	// whose error rate exceeds it is broken, so 0 means any error breaks.
	// Not omitempty: that 0 must survive the JSON a worker is sent.
	BreakErrorRate float64       `yaml:"-" json:"break_error_rate"`
	BreakP95       time.Duration `yaml:"break_p95,omitempty" json:"break_p95,omitempty"`

	// spike: base Rate, then Rate×Multiplier for SpikeDuration starting at SpikeAt.
	Multiplier    float64       `yaml:"multiplier,omitempty" json:"multiplier,omitempty"`
	SpikeAt       time.Duration `yaml:"spike_at,omitempty" json:"spike_at,omitempty"`
	SpikeDuration time.Duration `yaml:"spike_duration,omitempty" json:"spike_duration,omitempty"`

	// volume: one step per payload size (bytes), each StepDuration long.
	Payloads []int64 `yaml:"-" json:"payloads,omitempty"`

	// stages: explicit segments.
	Stages []Stage `yaml:"stages,omitempty" json:"stages,omitempty"`

	// ThinkTime is a closed-model VU's pause after each response.
	ThinkTime ThinkTime `yaml:"-" json:"think_time,omitzero"`
}

// Stage is one segment of a schedule: a linear ramp of arrival rate from
// StartRate to EndRate (or a VU count) over Duration.
type Stage struct {
	Name         string        `yaml:"name,omitempty" json:"name,omitempty"`
	Duration     time.Duration `yaml:"duration" json:"duration"`
	StartRate    float64       `yaml:"-" json:"start_rate"`
	EndRate      float64       `yaml:"-" json:"end_rate"`
	VUs          int           `yaml:"vus,omitempty" json:"vus,omitempty"`
	PayloadBytes int64         `yaml:"-" json:"payload_bytes,omitempty"`
	Warmup       bool          `yaml:"-" json:"warmup,omitempty"`
}

// Gate holds the plan's thresholds.
type Gate struct {
	Thresholds `yaml:",inline" json:",inline"`
	// SLO are absolute limits that need no baseline.
	SLO SLO `yaml:"slo,omitempty" json:"slo,omitempty"`
	// Endpoints overrides thresholds per endpoint name.
	Endpoints map[string]Override `yaml:"endpoints,omitempty" json:"endpoints,omitempty"`
}

// Override is an endpoint's own thresholds and SLOs.
type Override struct {
	Thresholds `yaml:",inline" json:",inline"`
	SLO        SLO `yaml:"slo,omitempty" json:"slo,omitempty"`
}

// Thresholds are tolerances relative to the baseline. Nil means "not checked".
type Thresholds struct {
	P50        *Tolerance `yaml:"p50,omitempty" json:"p50,omitempty"`
	P90        *Tolerance `yaml:"p90,omitempty" json:"p90,omitempty"`
	P95        *Tolerance `yaml:"p95,omitempty" json:"p95,omitempty"`
	P99        *Tolerance `yaml:"p99,omitempty" json:"p99,omitempty"`
	Max        *Tolerance `yaml:"max,omitempty" json:"max,omitempty"`
	Throughput *Tolerance `yaml:"throughput,omitempty" json:"throughput,omitempty"`
	ErrorRate  *Tolerance `yaml:"error_rate,omitempty" json:"error_rate,omitempty"`
}

// Tolerance is a signed allowed change: "+10%" (relative), "+0.5pp"
// (percentage points, for error_rate) or "+5ms" (absolute). The sign says which
// direction is bad: + for latency/error rate, - for throughput.
type Tolerance struct {
	Raw string `json:"raw"`
	// Relative is a fraction (0.10 for +10%); PP is percentage points; Abs a duration.
	Relative float64       `json:"relative,omitempty"`
	PP       float64       `json:"pp,omitempty"`
	Abs      time.Duration `json:"abs,omitempty"`
	Kind     string        `json:"kind"` // "relative" | "pp" | "absolute"
}

// SLO are absolute ceilings (latencies) and floors (throughput).
type SLO struct {
	P50        time.Duration `yaml:"p50,omitempty" json:"p50,omitempty"`
	P90        time.Duration `yaml:"p90,omitempty" json:"p90,omitempty"`
	P95        time.Duration `yaml:"p95,omitempty" json:"p95,omitempty"`
	P99        time.Duration `yaml:"p99,omitempty" json:"p99,omitempty"`
	Max        time.Duration `yaml:"max,omitempty" json:"max,omitempty"`
	ErrorRate  float64       `yaml:"-" json:"error_rate,omitempty"` // fraction, from "1%"
	Throughput float64       `yaml:"-" json:"throughput,omitempty"` // minimum requests/s
}

// RunnerSpec selects the runner.
type RunnerSpec struct {
	// Exec is a command line run through the shell's word splitting (no shell).
	Exec    string        `yaml:"exec,omitempty" json:"exec,omitempty"`
	Timeout time.Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
	Import  *ImportSpec   `yaml:"import,omitempty" json:"import,omitempty"`
}

// ImportSpec says what to import after an exec run (or as a pure import).
type ImportSpec struct {
	From  string   `yaml:"from" json:"from"` // k6-json, k6-summary, jmeter-csv, jmeter-xml, locust-stats, locust-history, vegeta-gob, vegeta-json, vegeta-csv, vegeta-report, gatling
	Files []string `yaml:"files,omitempty" json:"files,omitempty"`
	File  string   `yaml:"file,omitempty" json:"file,omitempty"`
	// Rename maps URL patterns to endpoint names, e.g. "/users/{id}".
	Rename []string `yaml:"rename,omitempty" json:"rename,omitempty"`
}
