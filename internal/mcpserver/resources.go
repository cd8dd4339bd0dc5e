package mcpserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/internal/provenance"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

// Resource URIs.
const (
	resultsScheme   = "loadgate://results/"
	baselinesScheme = "loadgate://baselines/"
	runsScheme      = "loadgate://runs/"
)

// Bounds of the baseline search, so list_baselines stays quick in a large
// repository: directories deeper than maxWalkDepth and entries beyond
// maxWalkEntries are not visited (the output says it was truncated).
const (
	maxWalkDepth   = 8
	maxWalkEntries = 20000
	// maxRecentResults is how many of .loadgate/runs' newest results files are
	// listed as resources at startup.
	maxRecentResults = 20
)

// skipDir reports the directories never searched for baselines.
func skipDir(name string) bool {
	switch name {
	case ".git", "node_modules", "vendor", ".loadgate":
		return true
	}
	return false
}

// ---- read_results

// ReadResultsInput names a results file.
type ReadResultsInput struct {
	Path    string `json:"path" jsonschema:"results file, relative to the working directory"`
	Windows bool   `json:"windows,omitempty" jsonschema:"include per-endpoint time windows"`
}

// ResultsView is a results file without its histograms.
type ResultsView struct {
	Path      string           `json:"path"`
	Plan      results.PlanRef  `json:"plan"`
	Run       RunView          `json:"run"`
	Profile   ProfileView      `json:"profile"`
	Validity  results.Validity `json:"validity"`
	Endpoints []EndpointView   `json:"endpoints"`
	Total     EndpointSummary  `json:"total"`
	Derived   *results.Derived `json:"derived,omitempty"`
	Workers   []results.Worker `json:"workers,omitempty"`
}

// RunView is a results file's run metadata and provenance.
type RunView struct {
	ID          string          `json:"id"`
	Started     string          `json:"started"`
	Ended       string          `json:"ended"`
	Runner      string          `json:"runner"`
	RunnerClass string          `json:"runner_class,omitempty"`
	Workers     int             `json:"workers"`
	Target      string          `json:"target,omitempty"`
	Partial     bool            `json:"partial,omitempty"`
	Label       string          `json:"label,omitempty"`
	StartedBy   *results.Launch `json:"started_by,omitempty"`
	Env         results.Env     `json:"env"`
}

// ProfileView is the load shape that ran.
type ProfileView struct {
	Type     string  `json:"type"`
	Model    string  `json:"model"`
	Rate     float64 `json:"rate,omitempty"`
	VUs      int     `json:"vus,omitempty"`
	Duration string  `json:"duration"`
	Warmup   string  `json:"warmup,omitempty"`
}

// EndpointView is an endpoint's figures, with windows on request.
type EndpointView struct {
	EndpointSummary
	Windows []WindowView `json:"windows,omitempty"`
}

// WindowView is one time slice of an endpoint.
type WindowView struct {
	Start        string  `json:"t"`
	WidthSeconds float64 `json:"width_seconds"`
	Requests     int64   `json:"requests"`
	Errors       int64   `json:"errors"`
	OfferedRPS   float64 `json:"offered_rps,omitempty"`
	P50Ms        float64 `json:"p50_ms"`
	P95Ms        float64 `json:"p95_ms"`
	P99Ms        float64 `json:"p99_ms"`
	MaxMs        float64 `json:"max_ms"`
	Warmup       bool    `json:"warmup,omitempty"`
}

func viewResults(display string, f *results.File, windows bool) *ResultsView {
	v := &ResultsView{
		Path: display,
		Plan: f.Plan,
		Run: RunView{
			ID: f.Run.ID, Started: rfc3339(f.Run.Started), Ended: rfc3339(f.Run.Ended),
			Runner: f.Run.Runner, RunnerClass: f.Run.RunnerClass, Workers: f.Run.Workers,
			Target: f.Run.Target, Partial: f.Run.Partial, Label: f.Run.Label,
			StartedBy: f.Run.StartedBy, Env: f.Run.Env,
		},
		Profile: ProfileView{
			Type: f.Profile.Type, Model: f.Profile.Model, Rate: f.Profile.Rate, VUs: f.Profile.VUs,
			Duration: f.Profile.Duration.String(),
		},
		Validity:  f.Validity,
		Endpoints: make([]EndpointView, 0, len(f.Endpoints)),
		Total:     summarizeEndpoint(&f.Total),
		Derived:   f.Derived,
		Workers:   f.Workers,
	}
	if f.Profile.Warmup > 0 {
		v.Profile.Warmup = f.Profile.Warmup.String()
	}
	for i := range f.Endpoints {
		e := &f.Endpoints[i]
		ev := EndpointView{EndpointSummary: summarizeEndpoint(e)}
		if windows {
			for _, w := range e.Windows {
				ev.Windows = append(ev.Windows, WindowView{
					Start: rfc3339(w.Start), WidthSeconds: w.Width.D().Seconds(),
					Requests: w.Requests, Errors: w.Errors, OfferedRPS: finite(w.OfferedRPS),
					P50Ms: finite(w.P50), P95Ms: finite(w.P95), P99Ms: finite(w.P99), MaxMs: finite(w.Max),
					Warmup: w.Warmup,
				})
			}
		}
		v.Endpoints = append(v.Endpoints, ev)
	}
	return v
}

func (s *Server) readResults(ctx context.Context, req *toolRequest, in ReadResultsInput) (*callToolResult, *ResultsView, error) {
	f, err := s.readResultsFile(in.Path)
	if err != nil {
		return nil, nil, err
	}
	_, rel, _ := s.root.Resolve(in.Path)
	return nil, viewResults(rel, f, in.Windows), nil
}

// ---- list_baselines

// ListBaselinesInput says where to look.
type ListBaselinesInput struct {
	Dir string `json:"dir,omitempty" jsonschema:"directory to search, relative to the working directory (default: the whole working directory)"`
}

// BaselineInfo summarises one baseline file.
type BaselineInfo struct {
	Path      string   `json:"path"`
	URI       string   `json:"uri" jsonschema:"resource URI with the baseline's runs"`
	Plan      string   `json:"plan"`
	PlanHash  string   `json:"plan_hash,omitempty"`
	Runs      int      `json:"runs"`
	Latest    string   `json:"latest,omitempty" jsonschema:"start time of the newest run (RFC 3339)"`
	Runner    string   `json:"runner_class,omitempty"`
	StartedBy string   `json:"started_by,omitempty" jsonschema:"provenance of the newest run"`
	Endpoints []string `json:"endpoints,omitempty"`
}

// ListBaselinesOutput is list_baselines' result.
type ListBaselinesOutput struct {
	Baselines []BaselineInfo `json:"baselines"`
	Truncated bool           `json:"truncated,omitempty" jsonschema:"the search stopped at its depth or size bound"`
}

func (s *Server) listBaselines(ctx context.Context, req *toolRequest, in ListBaselinesInput) (*callToolResult, ListBaselinesOutput, error) {
	dir := in.Dir
	if dir == "" {
		dir = "."
	}
	abs, _, err := s.root.Resolve(dir)
	if err != nil {
		return nil, ListBaselinesOutput{}, err
	}
	out, err := s.findBaselines(ctx, abs)
	return nil, out, err
}

// findBaselines walks dir (inside the root, symlinks not followed) for JSON
// files that load as baselines.
func (s *Server) findBaselines(ctx context.Context, dir string) (ListBaselinesOutput, error) {
	out := ListBaselinesOutput{Baselines: []BaselineInfo{}}
	entries := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil // unreadable entries are skipped, not fatal
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		entries++
		if entries > maxWalkEntries {
			out.Truncated = true
			return filepath.SkipAll
		}
		if d.IsDir() {
			if p != dir && (skipDir(d.Name()) || depth(dir, p) > maxWalkDepth) {
				if depth(dir, p) > maxWalkDepth {
					out.Truncated = true
				}
				return filepath.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasSuffix(d.Name(), ".json") {
			return nil
		}
		if info, err := d.Info(); err != nil || info.Size() > maxReadBytes {
			return nil
		}
		if bi, ok := s.baselineInfo(p); ok {
			out.Baselines = append(out.Baselines, bi)
		}
		return nil
	})
	sort.Slice(out.Baselines, func(i, j int) bool { return out.Baselines[i].Path < out.Baselines[j].Path })
	return out, err
}

func depth(base, p string) int {
	rel, err := filepath.Rel(base, p)
	if err != nil || rel == "." {
		return 0
	}
	return strings.Count(filepath.ToSlash(rel), "/") + 1
}

// baselineInfo loads abs as a baseline (confined again: the walk does not
// follow symlinks, but the check is cheap and keeps one rule everywhere).
func (s *Server) baselineInfo(abs string) (BaselineInfo, bool) {
	_, rel, err := s.root.Resolve(abs)
	if err != nil || !s.looksLikeBaseline(rel) {
		return BaselineInfo{}, false
	}
	bf, err := s.readBaseline(rel)
	if err != nil || bf.Schema != baselines.Schema || bf.Runs[0] == nil {
		return BaselineInfo{}, false
	}
	runs := bf.Runs
	bi := BaselineInfo{Path: rel, URI: baselinesScheme + uriPath(rel), Runs: len(runs)}
	latest := runs[0]
	for _, r := range runs {
		if r != nil && r.Run.Started.After(latest.Run.Started) {
			latest = r
		}
	}
	bi.Plan, bi.PlanHash = latest.Plan.Name, latest.Plan.Hash
	bi.Latest, bi.Runner = rfc3339(latest.Run.Started), latest.Run.RunnerClass
	if latest.Run.StartedBy != nil {
		bi.StartedBy = provenance.String(latest.Run.StartedBy)
	}
	for _, e := range latest.Endpoints {
		bi.Endpoints = append(bi.Endpoints, e.Name)
	}
	return bi, true
}

// looksLikeBaseline peeks at a file's start for a loadgate schema tag, so the
// search does not fully decode every JSON file of a repository.
func (s *Server) looksLikeBaseline(rel string) bool {
	f, err := s.root.fs.Open(filepath.FromSlash(rel))
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 4096)
	n, _ := f.Read(buf)
	return strings.Contains(string(buf[:n]), `"`+baselines.Schema+`"`)
}

// ---- resources

// uriPath escapes a slash-separated relative path for a resource URI.
func uriPath(rel string) string {
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// pathFromURI is uriPath's inverse, for a URI under scheme.
func pathFromURI(uri, scheme string) (string, error) {
	rest, ok := strings.CutPrefix(uri, scheme)
	if !ok || rest == "" {
		return "", fmt.Errorf("resource %q: want %s<path>", uri, scheme)
	}
	p, err := url.PathUnescape(rest)
	if err != nil {
		return "", fmt.Errorf("resource %q: %w", uri, err)
	}
	return p, nil
}

func jsonResource(uri string, v any) (*readResourceResult, error) {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, err
	}
	return &readResourceResult{cacheable: noCache, Contents: []resourceContents{{URI: uri, MIMEType: "application/json", Text: string(data)}}}, nil
}

// BaselineView is a baseline file's runs, without histograms.
type BaselineView struct {
	Path string         `json:"path"`
	Runs []*ResultsView `json:"runs"`
}

func (s *Server) addResources() {
	s.addTemplate(resourceTemplateInfo{
		Name:        "results",
		Title:       "loadgate results file",
		Description: "A results file of the working directory (histograms omitted), e.g. loadgate://results/.loadgate/runs/<id>/results.json",
		MIMEType:    "application/json",
		URITemplate: resultsScheme + "{+path}",
	}, false, s.readResultsResource)
	s.addTemplate(resourceTemplateInfo{
		Name:        "baseline",
		Title:       "loadgate baseline file",
		Description: "A baseline file of the working directory with its runs (histograms omitted); list_baselines finds them.",
		MIMEType:    "application/json",
		URITemplate: baselinesScheme + "{+path}",
	}, false, s.readBaselineResource)
	s.addTemplate(resourceTemplateInfo{
		Name:        "run",
		Title:       "loadgate run status",
		Description: "Status of a run started by run_plan (as get_run).",
		MIMEType:    "application/json",
		URITemplate: runsScheme + "{id}",
	}, true, s.readRunResource)
	s.addResource(resourceInfo{
		URI:         planSchemaURI,
		Name:        "plan-schema",
		Title:       "loadgate plan JSON Schema",
		Description: "JSON Schema of loadgate plan files (YAML), for writing and checking plans.",
		MIMEType:    "application/schema+json",
	}, func(ctx context.Context, uri string) (*readResourceResult, error) {
		return &readResourceResult{cacheable: noCache, Contents: []resourceContents{{URI: planSchemaURI, MIMEType: "application/schema+json", Text: string(plan.JSONSchema())}}}, nil
	})
	s.addRecentResults()
}

// addTemplate registers a resource template; its URI template is a fixed
// prefix and one variable, {+path} (any rest) or {id} (one segment).
func (s *Server) addTemplate(info resourceTemplateInfo, oneSegment bool, read resourceHandler) {
	prefix, _, _ := strings.Cut(info.URITemplate, "{")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.templates = append(s.templates, &resourceTemplate{info: info, prefix: prefix, oneSegment: oneSegment, read: read})
	sort.Slice(s.templates, func(i, j int) bool { return s.templates[i].info.URITemplate < s.templates[j].info.URITemplate })
}

// addResource lists a resource (replacing one with the same URI) and tells
// connected clients that the list changed.
func (s *Server) addResource(info resourceInfo, read resourceHandler) {
	s.mu.Lock()
	s.resources = slices.DeleteFunc(s.resources, func(r *resource) bool { return r.info.URI == info.URI })
	s.resources = append(s.resources, &resource{info: info, read: read})
	sort.Slice(s.resources, func(i, j int) bool { return s.resources[i].info.URI < s.resources[j].info.URI })
	sessions := make([]*session, 0, len(s.sessions))
	for ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	s.mu.Unlock()
	for _, ss := range sessions {
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		_ = ss.notify(ctx, "notifications/resources/list_changed", struct{}{})
		cancel()
	}
}

// readResource serves resources/read: a listed resource, else the first
// template that matches; anything else is "not found", whether or not it
// exists, so the server's layout is not probed.
func (s *Server) readResource(ctx context.Context, uri string) (*readResourceResult, error) {
	var read resourceHandler
	mime := ""
	s.mu.Lock()
	for _, r := range s.resources {
		if r.info.URI == uri {
			read, mime = r.read, r.info.MIMEType
			break
		}
	}
	if read == nil {
		for _, t := range s.templates {
			if t.matches(uri) {
				read, mime = t.read, t.info.MIMEType
				break
			}
		}
	}
	s.mu.Unlock()
	if read == nil {
		return nil, resourceNotFound(uri)
	}
	res, err := read(ctx, uri)
	if err != nil {
		return nil, err
	}
	for i := range res.Contents {
		if res.Contents[i].URI == "" {
			res.Contents[i].URI = uri
		}
		if res.Contents[i].MIMEType == "" {
			res.Contents[i].MIMEType = mime
		}
	}
	return res, nil
}

// planSchemaURI serves plan.JSONSchema.
const planSchemaURI = "loadgate://schema/plan.json"

func (s *Server) readResultsResource(ctx context.Context, uri string) (*readResourceResult, error) {
	p, err := pathFromURI(uri, resultsScheme)
	if err != nil {
		return nil, err
	}
	f, err := s.readResultsFile(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, resourceNotFound(uri)
		}
		return nil, err
	}
	_, rel, _ := s.root.Resolve(p)
	return jsonResource(uri, viewResults(rel, f, true))
}

func (s *Server) readBaselineResource(ctx context.Context, uri string) (*readResourceResult, error) {
	p, err := pathFromURI(uri, baselinesScheme)
	if err != nil {
		return nil, err
	}
	_, rel, err := s.root.Resolve(p)
	if err != nil {
		return nil, err
	}
	bf, err := s.readBaseline(p)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, resourceNotFound(uri)
		}
		return nil, err
	}
	v := BaselineView{Path: rel, Runs: []*ResultsView{}}
	for _, r := range bf.Runs {
		if r != nil {
			v.Runs = append(v.Runs, viewResults(rel, r, false))
		}
	}
	return jsonResource(uri, v)
}

func (s *Server) readRunResource(ctx context.Context, uri string) (*readResourceResult, error) {
	id, _ := strings.CutPrefix(uri, runsScheme)
	r := s.runs.get(id)
	if r == nil {
		return nil, resourceNotFound(uri)
	}
	return jsonResource(uri, r.snapshot().RunStatus)
}

// addRecentResults lists the newest results files of .loadgate/runs as
// resources (run ids sort by start time).
func (s *Server) addRecentResults() {
	abs, _, err := s.root.Resolve(runsDir)
	if err != nil {
		return
	}
	ents, err := os.ReadDir(abs)
	if err != nil {
		return
	}
	sort.Slice(ents, func(i, j int) bool { return ents[i].Name() > ents[j].Name() })
	n := 0
	for _, e := range ents {
		if n == maxRecentResults {
			break
		}
		rel := path.Join(runsDir, e.Name(), "results.json")
		if _, _, err := s.root.Resolve(rel); err != nil {
			continue
		}
		if st, err := os.Stat(filepath.Join(abs, e.Name(), "results.json")); err != nil || !st.Mode().IsRegular() {
			continue
		}
		s.addResultsResource(rel, e.Name())
		n++
	}
}

// addResultsResource lists one results file as a resource.
func (s *Server) addResultsResource(rel, id string) {
	s.addResource(resourceInfo{
		URI:         resultsScheme + uriPath(rel),
		Name:        "results-" + id,
		Title:       "results of run " + id,
		Description: "loadgate results (histograms omitted)",
		MIMEType:    "application/json",
	}, s.readResultsResource)
}
