package mcpserver

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/internal/provenance"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/report"
	"github.com/loadgate/loadgate/results"
)

// Tool names.
const (
	ToolValidatePlan   = "validate_plan"
	ToolRunPlan        = "run_plan"
	ToolGetRun         = "get_run"
	ToolCancelRun      = "cancel_run"
	ToolCompare        = "compare"
	ToolExplainVerdict = "explain_verdict"
	ToolListBaselines  = "list_baselines"
	ToolReadResults    = "read_results"
)

func ptr[T any](v T) *T { return &v }

func (s *Server) addTools() {
	readOnly := &toolAnnotations{ReadOnlyHint: true, OpenWorldHint: ptr(false)}
	addTool(s, toolInfo{
		Name:        ToolValidatePlan,
		Title:       "Validate a load-test plan",
		Description: "Parse and validate a loadgate plan (a file in the working directory, or inline YAML). Returns every problem with file, line and column, the plan's shape, and whether run_plan would accept it (targets.allow, limits).",
		Annotations: readOnly,
	}, s.validatePlan)
	addTool(s, toolInfo{
		Name:  ToolRunPlan,
		Title: "Start a load test",
		Description: "Start a plan with the local load generator and return its run id at once; the run goes on in the background (progress notifications on the call's progress token; poll get_run). " +
			"Refused before any request is sent unless the plan's targets.allow lists the target, the load is within the plan's limits and the server's duration cap. " +
			"Overrides may only shorten (duration) or slow (rate) the plan. Results go to .loadgate/runs/<id>/results.json.",
		Annotations: &toolAnnotations{OpenWorldHint: ptr(true), DestructiveHint: ptr(false)},
	}, s.runPlan)
	addTool(s, toolInfo{
		Name:        ToolGetRun,
		Title:       "Status of a run",
		Description: "Status, progress, results path and (when run_plan was given a baseline) the verdict of a run started by run_plan. Without an id, lists this session's runs.",
		Annotations: readOnly,
	}, s.getRun)
	addTool(s, toolInfo{
		Name:        ToolCancelRun,
		Title:       "Cancel a run",
		Description: "Stop a running test; in-flight requests finish (bounded) and partial results are written.",
		Annotations: &toolAnnotations{IdempotentHint: true, OpenWorldHint: ptr(false), DestructiveHint: ptr(false)},
	}, s.cancelRun)
	addTool(s, toolInfo{
		Name:        ToolCompare,
		Title:       "Compare results with a baseline",
		Description: "Compare a results file with a baseline file (or with another results file) and return the verdict: per endpoint and metric the base and head values, relative change, confidence interval, p-value, decision and warnings.",
		Annotations: readOnly,
	}, s.compare)
	addTool(s, toolInfo{
		Name:        ToolExplainVerdict,
		Title:       "Explain a verdict",
		Description: "The same comparison as compare, rendered as the Markdown report a pull request would get.",
		Annotations: readOnly,
	}, s.explainVerdict)
	addTool(s, toolInfo{
		Name:        ToolListBaselines,
		Title:       "List baselines",
		Description: "Find loadgate baseline files under a directory of the working directory (default: all of it) and summarise them.",
		Annotations: readOnly,
	}, s.listBaselines)
	addTool(s, toolInfo{
		Name:        ToolReadResults,
		Title:       "Read a results file",
		Description: "Read a loadgate results file: run metadata, provenance, validity and per-endpoint figures (histograms omitted; windows on request).",
		Annotations: readOnly,
	}, s.readResults)
}

// ---- validate_plan

// ValidatePlanInput names a plan file or carries one inline.
type ValidatePlanInput struct {
	Path string `json:"path,omitempty" jsonschema:"plan file, relative to the working directory (give path or yaml)"`
	YAML string `json:"yaml,omitempty" jsonschema:"the plan itself as YAML (give path or yaml)"`
}

// Problem is one validation problem, positioned.
type Problem struct {
	File    string `json:"file,omitempty"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Field   string `json:"field,omitempty" jsonschema:"the field's path, e.g. endpoints[1].weight"`
	Message string `json:"message"`
}

// PlanSummary is the shape of a valid plan.
type PlanSummary struct {
	Name           string   `json:"name"`
	Target         string   `json:"target" jsonschema:"base URL (secrets redacted)"`
	Allow          []string `json:"allow,omitempty" jsonschema:"targets.allow"`
	Endpoints      []string `json:"endpoints"`
	Profile        string   `json:"profile"`
	TotalSeconds   float64  `json:"total_seconds"`
	PeakRate       float64  `json:"peak_rate,omitempty" jsonschema:"highest arrival rate of the schedule, requests/s"`
	VUs            int      `json:"vus,omitempty"`
	MaxRate        float64  `json:"max_rate,omitempty" jsonschema:"limits.max_rate"`
	MaxDuration    string   `json:"max_duration,omitempty" jsonschema:"limits.max_duration"`
	Hash           string   `json:"hash"`
	RunnableViaMCP bool     `json:"runnable_via_mcp" jsonschema:"whether run_plan would accept the plan as is"`
	Refusal        string   `json:"refusal,omitempty" jsonschema:"why run_plan would refuse it"`
}

// ValidatePlanOutput is validate_plan's result.
type ValidatePlanOutput struct {
	Valid    bool         `json:"valid"`
	Problems []Problem    `json:"problems,omitempty"`
	Plan     *PlanSummary `json:"plan,omitempty"`
}

func (s *Server) validatePlan(ctx context.Context, req *toolRequest, in ValidatePlanInput) (*callToolResult, ValidatePlanOutput, error) {
	var (
		p   *plan.Plan
		err error
	)
	switch {
	case (in.Path == "") == (in.YAML == ""):
		return nil, ValidatePlanOutput{}, errors.New("give exactly one of path or yaml")
	case in.Path != "":
		p, err = s.loadPlan(in.Path)
	default:
		p, err = plan.Parse([]byte(in.YAML), "inline.yaml", s.root.Dir(), s.opts.Getenv)
	}
	if err != nil {
		probs, ok := problems(err)
		if !ok {
			return nil, ValidatePlanOutput{}, err
		}
		out := ValidatePlanOutput{Problems: probs}
		return &callToolResult{Content: textContent(formatProblems(probs))}, out, nil
	}
	sum := s.summarizePlan(p)
	if admitErr := s.admit(p, Overrides{}); admitErr != nil {
		sum.Refusal = admitErr.Error()
	} else {
		sum.RunnableViaMCP = true
	}
	return nil, ValidatePlanOutput{Valid: true, Plan: sum}, nil
}

// loadPlan reads and parses a plan file inside the working directory.
func (s *Server) loadPlan(p string) (*plan.Plan, error) {
	data, abs, err := s.root.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return plan.Parse(data, s.root.Display(abs), filepath.Dir(abs), s.opts.Getenv)
}

// problems turns a plan error into positioned problems; ok is false for errors
// that are not about the plan's content (I/O, confinement).
func problems(err error) ([]Problem, bool) {
	var pe *plan.Errors
	if errors.As(err, &pe) {
		out := make([]Problem, 0, len(pe.List))
		for _, e := range pe.List {
			out = append(out, Problem{File: e.File, Line: e.Line, Column: e.Column, Field: e.Path, Message: e.Msg})
		}
		return out, true
	}
	var one *plan.Error
	if errors.As(err, &one) {
		return []Problem{{File: one.File, Line: one.Line, Column: one.Column, Field: one.Path, Message: one.Msg}}, true
	}
	var pathErr *PathError
	if errors.As(err, &pathErr) {
		return nil, false
	}
	return []Problem{{Message: err.Error()}}, true
}

func formatProblems(ps []Problem) string {
	var b bytes.Buffer
	fmt.Fprintf(&b, "plan invalid: %d problem(s)\n", len(ps))
	for _, p := range ps {
		switch {
		case p.Line > 0 && p.Field != "":
			fmt.Fprintf(&b, "%s:%d:%d: %s: %s\n", p.File, p.Line, p.Column, p.Field, p.Message)
		case p.Line > 0:
			fmt.Fprintf(&b, "%s:%d:%d: %s\n", p.File, p.Line, p.Column, p.Message)
		default:
			fmt.Fprintf(&b, "%s\n", p.Message)
		}
	}
	return b.String()
}

func (s *Server) summarizePlan(p *plan.Plan) *PlanSummary {
	sum := &PlanSummary{
		Name: p.Name, Target: p.RedactURL(p.Target), Allow: p.Targets.Allow,
		Profile: p.Profile.Type, TotalSeconds: p.TotalDuration().Seconds(),
		PeakRate: p.PeakRate(), VUs: p.PeakVUs(), MaxRate: p.Limits.MaxRate, Hash: p.Hash(),
	}
	if p.Limits.MaxDuration > 0 {
		sum.MaxDuration = p.Limits.MaxDuration.String()
	}
	for _, e := range p.Endpoints {
		sum.Endpoints = append(sum.Endpoints, e.Name)
	}
	return sum
}

// ---- run_plan / get_run / cancel_run

// RunPlanInput starts a run.
type RunPlanInput struct {
	Plan     string  `json:"plan" jsonschema:"plan file, relative to the working directory"`
	Duration string  `json:"duration,omitempty" jsonschema:"shorter profile duration for this run (Go duration, e.g. 20s); load and endurance profiles; at most the server's cap and limits.max_duration"`
	Rate     float64 `json:"rate,omitempty" jsonschema:"lower peak arrival rate for this run, requests/s; at most limits.max_rate, or the plan's own peak when it sets none"`
	Baseline string  `json:"baseline,omitempty" jsonschema:"baseline file to compare the results with when the run ends (the verdict shows in get_run)"`
	Wait     bool    `json:"wait,omitempty" jsonschema:"block until the run ends and return its final status (default: return at once)"`
}

func (s *Server) runPlan(ctx context.Context, req *toolRequest, in RunPlanInput) (*callToolResult, RunStatus, error) {
	if s.opts.NewRunner == nil {
		return nil, RunStatus{}, errors.New("this server was started without a runner: run_plan is disabled")
	}
	var ov Overrides
	if in.Duration != "" {
		d, err := time.ParseDuration(in.Duration)
		if err != nil || d <= 0 {
			return nil, RunStatus{}, fmt.Errorf("duration %q: want a positive Go duration such as 30s", in.Duration)
		}
		ov.Duration = d
	}
	if in.Rate < 0 {
		return nil, RunStatus{}, errors.New("rate must be positive")
	}
	ov.Rate = in.Rate
	if in.Baseline != "" {
		if _, _, err := s.root.Resolve(in.Baseline); err != nil {
			return nil, RunStatus{}, err
		}
	}
	p, err := s.loadPlan(in.Plan)
	if err != nil {
		if probs, ok := problems(err); ok {
			return nil, RunStatus{}, errors.New(formatProblems(probs))
		}
		return nil, RunStatus{}, err
	}
	if err := s.admit(p, ov); err != nil {
		return nil, RunStatus{}, err
	}
	launch := provenance.MCP(req.session.clientName(), s.opts.Getenv)
	_, rel, _ := s.root.Resolve(in.Plan)
	r, err := s.runs.start(p, rel, in.Baseline, launch, req.session, req.progressToken)
	if err != nil {
		return nil, RunStatus{}, err
	}
	if in.Wait {
		select {
		case <-r.done:
		case <-ctx.Done():
			// The caller stopped waiting; the run goes on (cancel_run stops it).
		}
	}
	return nil, r.snapshot().RunStatus, nil
}

// RunIDInput names a run.
type RunIDInput struct {
	ID string `json:"id,omitempty" jsonschema:"run id from run_plan"`
}

// GetRunOutput is one run, or all of them when no id was given.
type GetRunOutput struct {
	Run  *RunStatus  `json:"run,omitempty" jsonschema:"the run named by id"`
	Runs []RunStatus `json:"runs,omitempty" jsonschema:"every run of this server, when no id was given"`
}

func (s *Server) getRun(ctx context.Context, req *toolRequest, in RunIDInput) (*callToolResult, GetRunOutput, error) {
	if in.ID == "" {
		out := GetRunOutput{Runs: []RunStatus{}}
		for _, r := range s.runs.list() {
			out.Runs = append(out.Runs, r.snapshot().RunStatus)
		}
		return nil, out, nil
	}
	r := s.runs.get(in.ID)
	if r == nil {
		return nil, GetRunOutput{}, fmt.Errorf("no run %q (runs are known to the server that started them; results stay in %s)", in.ID, runsDir)
	}
	st := r.snapshot().RunStatus
	return nil, GetRunOutput{Run: &st}, nil
}

func (s *Server) cancelRun(ctx context.Context, req *toolRequest, in RunIDInput) (*callToolResult, RunStatus, error) {
	r := s.runs.get(in.ID)
	if r == nil {
		return nil, RunStatus{}, fmt.Errorf("no run %q", in.ID)
	}
	s.runs.cancelRun(r)
	select { // partial results are written within the runner's drain bound
	case <-r.done:
	case <-ctx.Done():
	}
	return nil, r.snapshot().RunStatus, nil
}

// ---- compare / explain_verdict

// CompareInput names what to compare.
type CompareInput struct {
	Results  string `json:"results" jsonschema:"results file (the head), relative to the working directory"`
	Baseline string `json:"baseline,omitempty" jsonschema:"baseline file (give baseline or base)"`
	Base     string `json:"base,omitempty" jsonschema:"another results file to use as the base (give baseline or base)"`
	Plan     string `json:"plan,omitempty" jsonschema:"plan whose gate section sets thresholds and SLOs (default: the default policy)"`
}

// planFor is the plan whose gate section sets a comparison's thresholds and
// SLOs; nil (the default policy) when path is empty.
func (s *Server) planFor(path string) (*plan.Plan, error) {
	if path == "" {
		return nil, nil
	}
	return s.loadPlan(path)
}

func (s *Server) compare(ctx context.Context, req *toolRequest, in CompareInput) (*callToolResult, *gate.Verdict, error) {
	head, err := s.readResultsFile(in.Results)
	if err != nil {
		return nil, nil, err
	}
	p, err := s.planFor(in.Plan)
	if err != nil {
		return nil, nil, err
	}
	v, err := s.compareWith(in.Baseline, in.Base, head, p)
	if err != nil {
		return nil, nil, err
	}
	return nil, v, nil
}

// ExplainOutput is explain_verdict's result; the Markdown is also the text content.
type ExplainOutput struct {
	Decision    string   `json:"decision"`
	Regressions []string `json:"regressions,omitempty"`
	Markdown    string   `json:"markdown"`
}

func (s *Server) explainVerdict(ctx context.Context, req *toolRequest, in CompareInput) (*callToolResult, ExplainOutput, error) {
	head, err := s.readResultsFile(in.Results)
	if err != nil {
		return nil, ExplainOutput{}, err
	}
	base, err := s.loadBase(in.Baseline, in.Base)
	if err != nil {
		return nil, ExplainOutput{}, err
	}
	p, err := s.planFor(in.Plan)
	if err != nil {
		return nil, ExplainOutput{}, err
	}
	v := pipeline.Verdict(p, base, head, pipeline.PolicyOptions{})
	var b bytes.Buffer
	if err := report.Write("markdown", &b, report.Input{Verdict: v, Head: head, Base: base}); err != nil {
		return nil, ExplainOutput{}, fmt.Errorf("markdown report: %w", err)
	}
	out := ExplainOutput{Decision: string(v.Decision), Regressions: v.Regressions(), Markdown: b.String()}
	return &callToolResult{Content: textContent(b.String())}, out, nil
}

// compareWith compares head with a baseline file or a base results file under
// the plan's policy (p may be nil: the default policy), the mapping and
// compatibility check `loadgate compare` uses; an incompatible baseline is an
// "incompatible" verdict that lists why.
func (s *Server) compareWith(baseline, baseResults string, head *results.File, p *plan.Plan) (*gate.Verdict, error) {
	base, err := s.loadBase(baseline, baseResults)
	if err != nil {
		return nil, err
	}
	return pipeline.Verdict(p, base, head, pipeline.PolicyOptions{}), nil
}

func (s *Server) loadBase(baseline, baseResults string) ([]*results.File, error) {
	switch {
	case (baseline == "") == (baseResults == ""):
		return nil, errors.New("give exactly one of baseline (a baseline file) or base (a results file)")
	case baseResults != "":
		f, err := s.readResultsFile(baseResults)
		if err != nil {
			return nil, err
		}
		return []*results.File{f}, nil
	default:
		bf, err := s.readBaseline(baseline)
		if err != nil {
			return nil, err
		}
		return bf.Runs, nil
	}
}

// readBaseline reads a baseline file (or a results file, taken as a baseline
// of one run) inside the working directory.
func (s *Server) readBaseline(p string) (*baselines.File, error) {
	data, abs, err := s.root.ReadFile(p)
	if err != nil {
		return nil, err
	}
	bf, err := baselines.Decode(data, s.root.Display(abs))
	if err != nil {
		return nil, err
	}
	if len(bf.Runs) == 0 {
		return nil, fmt.Errorf("%s: baseline has no runs", p)
	}
	return bf, nil
}

func (s *Server) readResultsFile(p string) (*results.File, error) {
	if p == "" {
		return nil, errors.New("results: path required")
	}
	data, abs, err := s.root.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return results.DecodeBytes(data, s.root.Display(abs))
}
