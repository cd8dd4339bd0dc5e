package mcpserver

import (
	"fmt"
	"math"
	"time"

	"github.com/loadgate/loadgate/internal/provenance"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// The types below are the tools' structured outputs; their JSON schemas are
// inferred from them (jsonschema tags describe fields). Times are RFC 3339
// strings and durations Go duration strings or seconds, as named.

// RunStatus is a run as get_run (and run_plan, cancel_run) report it.
type RunStatus struct {
	ID        string `json:"id" jsonschema:"run id (UTC start time and a random suffix)"`
	Status    string `json:"status" jsonschema:"running, finished, failed or cancelled"`
	Plan      string `json:"plan" jsonschema:"plan file, relative to the working directory"`
	Target    string `json:"target,omitempty" jsonschema:"base URL (secrets redacted)"`
	StartedBy string `json:"started_by" jsonschema:"provenance recorded in the results"`
	Started   string `json:"started" jsonschema:"RFC 3339"`
	Ended     string `json:"ended,omitempty" jsonschema:"RFC 3339, once the run ended"`
	// PlannedSeconds is the schedule's total length.
	PlannedSeconds float64           `json:"planned_seconds"`
	Progress       *ProgressView     `json:"progress,omitempty" jsonschema:"latest progress snapshot"`
	ResultsPath    string            `json:"results_path,omitempty" jsonschema:"results file (also written for cancelled runs: partial)"`
	Valid          *bool             `json:"valid,omitempty" jsonschema:"false when the generator could not hold the schedule (results then describe the generator, not the target)"`
	InvalidReasons []string          `json:"invalid_reasons,omitempty"`
	Endpoints      []EndpointSummary `json:"endpoints,omitempty" jsonschema:"per-endpoint headline figures, once the run ended"`
	Verdict        string            `json:"verdict,omitempty" jsonschema:"decision against the baseline given to run_plan: pass, regressed, inconclusive or invalid"`
	VerdictPath    string            `json:"verdict_path,omitempty" jsonschema:"the full verdict (JSON)"`
	Regressions    []string          `json:"regressions,omitempty" jsonschema:"endpoints that regressed"`
	Error          string            `json:"error,omitempty"`
}

// ProgressView is a live snapshot of a run.
type ProgressView struct {
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	TotalSeconds   float64 `json:"total_seconds"`
	Stage          string  `json:"stage,omitempty"`
	Requests       int64   `json:"requests"`
	Errors         int64   `json:"errors"`
	RPS            float64 `json:"rps" jsonschema:"achieved rate over the last interval"`
	P95Ms          float64 `json:"p95_ms" jsonschema:"p95 latency over the last interval, ms"`
	InFlight       int     `json:"in_flight"`
	Dropped        int64   `json:"dropped" jsonschema:"requests the generator could not start on time"`
}

// EndpointSummary is one endpoint's headline figures.
type EndpointSummary struct {
	Name          string           `json:"name"`
	Method        string           `json:"method,omitempty"`
	URL           string           `json:"url,omitempty"`
	Requests      int64            `json:"requests"`
	Errors        int64            `json:"errors"`
	ErrorRatePct  float64          `json:"error_rate_pct"`
	ThroughputRPS float64          `json:"throughput_rps"`
	P50Ms         float64          `json:"p50_ms"`
	P90Ms         float64          `json:"p90_ms"`
	P95Ms         float64          `json:"p95_ms"`
	P99Ms         float64          `json:"p99_ms"`
	MaxMs         float64          `json:"max_ms"`
	Status        map[string]int64 `json:"status,omitempty" jsonschema:"responses by HTTP status code"`
	ErrorKinds    map[string]int64 `json:"error_kinds,omitempty" jsonschema:"failures by class (timeout, refused, status...)"`
}

func summarizeEndpoint(e *results.Endpoint) EndpointSummary {
	return EndpointSummary{
		Name: e.Name, Method: e.Method, URL: e.URL,
		Requests: e.Requests, Errors: e.Errors,
		ErrorRatePct:  finite(e.ErrorRatePct()),
		ThroughputRPS: finite(e.ThroughputRPS),
		P50Ms:         finite(e.Latency.P50), P90Ms: finite(e.Latency.P90), P95Ms: finite(e.Latency.P95),
		P99Ms: finite(e.Latency.P99), MaxMs: finite(e.Latency.Max),
		Status: e.Status, ErrorKinds: e.ErrorKinds,
	}
}

func summarizeEndpoints(f *results.File) []EndpointSummary {
	out := make([]EndpointSummary, 0, len(f.Endpoints))
	for i := range f.Endpoints {
		out = append(out, summarizeEndpoint(&f.Endpoints[i]))
	}
	return out
}

// finite keeps NaN/Inf (not representable in JSON) out of outputs.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func rfc3339(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// runSnapshot is a consistent copy of a run's mutable state.
type runSnapshot struct {
	RunStatus
	progress    runners.Progress
	hasProgress bool
}

// snapshot returns a consistent view of r.
func (r *run) snapshot() runSnapshot {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RunStatus{
		ID: r.id, Status: r.status, Plan: r.planPath, Target: r.target,
		StartedBy:      provenance.String(r.startedBy),
		Started:        rfc3339(r.started),
		Ended:          rfc3339(r.ended),
		PlannedSeconds: r.total.Seconds(),
		ResultsPath:    r.resultsPath,
		Valid:          r.valid,
		InvalidReasons: r.reasons,
		Endpoints:      r.summary,
		VerdictPath:    r.verdictPath,
		Error:          r.err,
	}
	if r.hasProgress {
		p := r.progress
		st.Progress = &ProgressView{
			ElapsedSeconds: p.Elapsed.Seconds(), TotalSeconds: p.Total.Seconds(), Stage: p.Stage,
			Requests: p.Requests, Errors: p.Errors, RPS: finite(p.RPS),
			P95Ms: float64(p.P95.Microseconds()) / 1000, InFlight: p.InFlight, Dropped: p.Dropped,
		}
	}
	if r.verdict != nil {
		st.Verdict = string(r.verdict.Decision)
		st.Regressions = r.verdict.Regressions()
	}
	return runSnapshot{RunStatus: st, progress: r.progress, hasProgress: r.hasProgress}
}

// progressFraction maps elapsed time to MCP progress/total in seconds.
func (s runSnapshot) progressFraction(planned time.Duration) (progress, total float64) {
	total = planned.Seconds()
	if s.progress.Total > 0 {
		total = s.progress.Total.Seconds()
	}
	progress = s.progress.Elapsed.Seconds()
	if total > 0 && progress > total {
		progress = total
	}
	return progress, total
}

func (s runSnapshot) progressMessage() string {
	if s.Status != StatusRunning {
		msg := "run " + s.ID + " " + s.Status
		if s.Verdict != "" {
			msg += ", verdict " + s.Verdict
		}
		return msg
	}
	if !s.hasProgress {
		return "run " + s.ID + " starting"
	}
	p := s.progress
	return fmt.Sprintf("%s/%s %s: %d requests, %d errors, %.0f rps, p95 %s",
		p.Elapsed.Truncate(time.Second), p.Total.Truncate(time.Second), p.Stage,
		p.Requests, p.Errors, p.RPS, p.P95.Round(time.Microsecond*100))
}
