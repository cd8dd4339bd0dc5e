package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

// VerdictSchema is the version tag of the JSON verdict document, the machine
// interface read by the GitHub Action and the MCP server.
const VerdictSchema = "loadgate/verdict/v1"

// VerdictDoc is the JSON verdict document.
type VerdictDoc struct {
	Schema string `json:"schema"`
	Title  string `json:"title,omitempty"`
	// Verdict is the gate's full outcome; nil when the report describes a run alone.
	Verdict *gate.Verdict `json:"verdict,omitempty"`
	// ExitCode is what `loadgate gate` exits with for this verdict.
	ExitCode int `json:"exit_code"`
	// Decision repeats Verdict.Decision so shell scripts need one jq path.
	Decision gate.Decision `json:"decision,omitempty"`
	// Regressions lists the regressed endpoint names (never null).
	Regressions []string `json:"regressions"`
	// Head summarises the run that was judged; Base each baseline run used.
	Head *RunSummary  `json:"head,omitempty"`
	Base []RunSummary `json:"base,omitempty"`
}

// RunSummary is a results file without its histograms and windows: what a
// reader of the verdict needs to know about a run.
type RunSummary struct {
	Plan     results.PlanRef  `json:"plan"`
	Run      results.Run      `json:"run"`
	Profile  results.Profile  `json:"profile"`
	Validity results.Validity `json:"validity"`
	Total    TotalSummary     `json:"total"`
	Derived  *results.Derived `json:"derived,omitempty"`
	Workers  []results.Worker `json:"workers,omitempty"`
}

// TotalSummary is the all-endpoint aggregate of a run.
type TotalSummary struct {
	Requests      int64           `json:"requests"`
	Errors        int64           `json:"errors"`
	ThroughputRPS float64         `json:"throughput_rps"`
	ErrorRate     float64         `json:"error_rate"`
	Latency       results.Summary `json:"latency_ms"`
	DurationS     float64         `json:"duration_s"`
}

// Summarize builds the RunSummary of f (nil for nil).
func Summarize(f *results.File) *RunSummary {
	if f == nil {
		return nil
	}
	s := &RunSummary{
		Plan: f.Plan, Run: f.Run, Profile: f.Profile, Validity: f.Validity,
		Derived: f.Derived, Workers: f.Workers,
		Total: TotalSummary{
			Requests: f.Total.Requests, Errors: f.Total.Errors,
			ThroughputRPS: f.Total.ThroughputRPS, ErrorRate: f.Total.ErrorRate,
			Latency: f.Total.Latency,
		},
	}
	if !f.Run.Started.IsZero() && f.Run.Ended.After(f.Run.Started) {
		s.Total.DurationS = f.Run.Ended.Sub(f.Run.Started).Round(time.Millisecond).Seconds()
	}
	return s
}

// NewVerdictDoc builds the JSON verdict document for in.
func NewVerdictDoc(in Input) *VerdictDoc {
	d := &VerdictDoc{Schema: VerdictSchema, Title: in.Title, Verdict: in.Verdict, Regressions: []string{}, Head: Summarize(in.Head)}
	if in.Verdict != nil {
		d.ExitCode = in.Verdict.ExitCode()
		d.Decision = in.Verdict.Decision
		if r := in.Verdict.Regressions(); r != nil {
			d.Regressions = r
		}
	} else if in.Head != nil && !in.Head.Validity.Valid {
		d.ExitCode = gate.ExitInvalid
	}
	for _, b := range in.Base {
		if b != nil {
			d.Base = append(d.Base, *Summarize(b))
		}
	}
	return d
}

// JSON writes the verdict document as indented JSON.
func JSON(w io.Writer, in Input) error {
	if in.Verdict == nil && in.Head == nil {
		return fmt.Errorf("json: %w", ErrNoVerdict)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(NewVerdictDoc(in)); err != nil {
		return fmt.Errorf("json report: %w", err)
	}
	ew := &errWriter{w: w}
	_, _ = ew.Write(buf.Bytes())
	return ew.result("json")
}

// ErrVerdictSchema is returned (wrapped) by DecodeVerdict for a document that
// is not a loadgate verdict of a version this build reads.
var ErrVerdictSchema = errors.New("not a loadgate verdict document")

// DecodeVerdict reads a JSON verdict document written by JSON. It rejects
// other schemas; fields it does not know are ignored, because v1 only ever
// grows by adding fields (a breaking change gets a new schema tag).
func DecodeVerdict(r io.Reader) (*VerdictDoc, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read verdict: %w", err)
	}
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("decode verdict: %w", err)
	}
	if head.Schema != VerdictSchema {
		return nil, fmt.Errorf("%w: schema %q (want %q)", ErrVerdictSchema, head.Schema, VerdictSchema)
	}
	var d VerdictDoc
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("decode verdict: %w", err)
	}
	if d.Regressions == nil {
		d.Regressions = []string{}
	}
	return &d, nil
}
