// Package fakegithub is a test helper: an httptest server standing in for the
// GitHub REST API. Every request is matched and validated (path, method,
// parameters, JSON body) against GitHub's own published OpenAPI description
// (testdata/github/api.github.com.subset.json) with kin-openapi; an unknown
// route or an invalid request fails the test. It keeps state (comments, check
// runs, statuses, issues, refs, files, pulls) so upserts behave as on GitHub,
// answers with the shapes of the description's examples, counts calls per
// operation and can be told to fail given operations.
package fakegithub

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
)

// GHESPrefix is where GitHub Enterprise Server serves the REST API
// (https://docs.github.com/enterprise-server/rest/quickstart); the fake serves
// both the root (api.github.com style) and this prefix.
const GHESPrefix = "/api/v3"

// Operation IDs of the description, as used by Fail and Calls.
const (
	OpListComments   = "issues/list-comments"
	OpCreateComment  = "issues/create-comment"
	OpUpdateComment  = "issues/update-comment"
	OpDeleteComment  = "issues/delete-comment"
	OpCreateCheckRun = "checks/create"
	OpUpdateCheckRun = "checks/update"
	OpGetCheckRun    = "checks/get"
	OpCreateStatus   = "repos/create-commit-status"
	OpCreateIssue    = "issues/create"
	OpGetRef         = "git/get-ref"
	OpCreateRef      = "git/create-ref"
	OpGetContent     = "repos/get-content"
	OpPutContent     = "repos/create-or-update-file-contents"
	OpListPulls      = "pulls/list"
	OpCreatePull     = "pulls/create"
	OpGetPull        = "pulls/get"
	OpRateLimit      = "rate-limit/get"
	// OpListCheckRuns lists a commit's check runs (GET .../commits/{ref}/check-runs).
	OpListCheckRuns = "checks/list-for-ref"
	// OpListIssues lists a repository's issues (GET /repos/{owner}/{repo}/issues).
	OpListIssues = "issues/list-for-repo"
)

// MaxContentsJSONSize is the largest file the contents API returns inline
// with the default (JSON) media type: between 1 MB and 100 MB it answers
// with an empty content and encoding "none", and only the raw media type
// (RawMediaType) gives the bytes (docs.github.com/rest/repos/contents#get-repository-content).
const MaxContentsJSONSize = 1 << 20

// RawMediaType asks the contents API for the file itself.
const RawMediaType = "application/vnd.github.raw+json"

// Fault kinds for Fail.
const (
	// RateLimitPrimary answers 403 with X-RateLimit-Remaining: 0 and a reset time.
	RateLimitPrimary = -1
	// RateLimitSecondary answers 403 with the secondary-rate-limit documentation URL and Retry-After.
	RateLimitSecondary = -2
)

// Fault is a scripted failure for one operation.
type Fault struct {
	// Status is an HTTP status (403, 404, 422, 500, 502, ...) or RateLimitPrimary/RateLimitSecondary.
	Status int
	// Times is how many consecutive calls fail; 0 means every call.
	Times int
	// RetryAfter is sent as Retry-After (seconds) for secondary rate limits.
	RetryAfter int
	// Reset is sent as X-RateLimit-Reset for primary rate limits (zero: now).
	Reset time.Time
	// Message overrides the error message.
	Message string
	// Applied makes the fault strike after the operation took effect: the
	// write lands (a comment, a check run, an issue exists) and the client
	// still gets Status, as GitHub can answer a 5xx or time out after
	// applying a POST.
	Applied bool
}

// Comment is an issue/PR comment held by the fake.
type Comment struct {
	ID    int64
	Issue int
	Body  string
	// Edits counts updates after creation.
	Edits int
}

// CheckRun is a check run held by the fake.
type CheckRun struct {
	ID          int64
	Name        string
	ExternalID  string
	HeadSHA     string
	Status      string
	Conclusion  string
	Title       string
	Summary     string
	Text        string
	Annotations []map[string]any
	Updates     int
}

// Status is a commit status held by the fake.
type Status struct {
	SHA, State, Context, Description, TargetURL string
}

// Issue is an issue opened through the fake.
type Issue struct {
	Number int
	Title  string
	Body   string
	Labels []string
}

// Pull is a pull request opened through the fake (or seeded with AddPull).
type Pull struct {
	Number             int
	Title, Body        string
	Head, Base         string
	HeadSHA, HeadOwner string
}

// Request is one request the fake received.
type Request struct {
	Op     string
	Method string
	Path   string
	Query  string
	Body   []byte
	Auth   string
}

// Server is the fake GitHub API.
type Server struct {
	*httptest.Server

	t      testing.TB
	router routers.Router
	// multi matches paths whose last parameter may hold slashes
	// (x-multi-segment: contents paths, git refs).
	multi []*regexp.Regexp
	doc   *openapi3.T
	token string

	mu       sync.Mutex
	nextID   int64
	calls    map[string]int
	faults   map[string]*Fault
	log      []Request
	comments []*Comment
	checks   []*CheckRun
	statuses []Status
	issues   []*Issue
	refs     map[string]string // "heads/main" → sha
	files    map[string]file   // "branch:path" → file
	pulls    []*Pull
}

type file struct {
	content []byte
	sha     string
}

// SpecPath is the description's location relative to a package directory two
// levels below the module root (internal/x, cmd/loadgate).
const SpecPath = "../../testdata/github/api.github.com.subset.json"

// New starts a fake GitHub API validated against the OpenAPI description at
// specPath. token, when not empty, must be sent as the bearer token. The server
// is closed when the test ends.
func New(t testing.TB, specPath, token string) *Server {
	t.Helper()
	return newServer(t, specPath, token, false)
}

// NewTLS is New over HTTPS with httptest's self-signed certificate (see
// Certificate), for clients that must verify it through a CA bundle.
func NewTLS(t testing.TB, specPath, token string) *Server {
	t.Helper()
	return newServer(t, specPath, token, true)
}

func newServer(t testing.TB, specPath, token string, useTLS bool) *Server {
	t.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromFile(specPath)
	if err != nil {
		t.Fatalf("fakegithub: load %s: %v", specPath, err)
	}
	// Route on the description's own server URL: requests are rewritten onto
	// https://api.github.com before matching.
	doc.Servers = openapi3.Servers{{URL: "https://api.github.com"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("fakegithub: router: %v", err)
	}
	s := &Server{
		t: t, router: router, doc: doc, token: token,
		nextID: 1000,
		calls:  map[string]int{},
		faults: map[string]*Fault{},
		refs:   map[string]string{"heads/main": "aa218f56b14c9653891f9e74264a383fa43fefbd", "heads/master": "aa218f56b14c9653891f9e74264a383fa43fefbd"},
		files:  map[string]file{},
	}
	for p, item := range doc.Paths.Map() {
		for _, o := range item.Operations() {
			for _, prm := range o.Parameters {
				if prm.Value == nil || prm.Value.In != "path" || prm.Value.Extensions["x-multi-segment"] != true {
					continue
				}
				prefix, ok := strings.CutSuffix(p, "{"+prm.Value.Name+"}")
				if !ok {
					continue
				}
				re := strings.ReplaceAll(regexp.QuoteMeta(regexp.MustCompile(`\{[^}]+\}`).ReplaceAllString(prefix, "\x00")), "\x00", `[^/]+`)
				s.multi = append(s.multi, regexp.MustCompile("^("+re+")(.+)$"))
			}
		}
	}
	if useTLS {
		s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	} else {
		s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	}
	t.Cleanup(s.Close)
	return s
}

// GHESURL is the server's base URL as GitHub Enterprise Server would give it.
func (s *Server) GHESURL() string { return s.URL + GHESPrefix + "/" }

// Fail scripts a failure of operation op (an operation ID such as
// OpCreateComment).
func (s *Server) Fail(op string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.opExists(op); !ok {
		s.t.Fatalf("fakegithub: Fail: unknown operation %q", op)
	}
	s.faults[op] = &f
}

func (s *Server) opExists(op string) (string, bool) {
	for p, item := range s.doc.Paths.Map() {
		for m, o := range item.Operations() {
			if o.OperationID == op {
				return m + " " + p, true
			}
		}
	}
	return "", false
}

// Calls returns how many requests operation op received (failed ones included).
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// Requests returns every request received, in order.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.log...)
}

// Comments returns the comments on issue/PR number n.
func (s *Server) Comments(n int) []Comment {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Comment
	for _, c := range s.comments {
		if c.Issue == n {
			out = append(out, *c)
		}
	}
	return out
}

// AddComment seeds a comment (e.g. someone else's) and returns its ID.
func (s *Server) AddComment(issue int, body string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	s.comments = append(s.comments, &Comment{ID: s.nextID, Issue: issue, Body: body})
	return s.nextID
}

// CheckRuns returns the check runs created.
func (s *Server) CheckRuns() []CheckRun {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CheckRun, len(s.checks))
	for i, c := range s.checks {
		out[i] = *c
		out[i].Annotations = append([]map[string]any(nil), c.Annotations...)
	}
	return out
}

// Statuses returns the commit statuses created.
func (s *Server) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Status(nil), s.statuses...)
}

// Issues returns the issues opened.
func (s *Server) Issues() []Issue {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Issue
	for _, i := range s.issues {
		out = append(out, *i)
	}
	return out
}

// Pulls returns the pull requests held.
func (s *Server) Pulls() []Pull {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Pull
	for _, p := range s.pulls {
		out = append(out, *p)
	}
	return out
}

// AddPull seeds an open pull request.
func (s *Server) AddPull(p Pull) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pulls = append(s.pulls, &p)
}

// File returns the content of path on branch and whether it exists.
func (s *Server) File(branch, path string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.files[branch+":"+path]
	return f.content, ok
}

// Ref returns the SHA a ref ("heads/main") points to.
func (s *Server) Ref(ref string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sha, ok := s.refs[ref]
	return sha, ok
}

func (s *Server) fail(w http.ResponseWriter, status int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.t.Errorf("fakegithub: %s", msg)
	writeJSON(w, status, map[string]any{"message": "fakegithub: " + msg, "documentation_url": "https://docs.github.com/rest"})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		s.fail(w, http.StatusBadRequest, "read body: %v", err)
		return
	}
	path := r.URL.Path
	if strings.HasPrefix(path, GHESPrefix+"/") {
		path = strings.TrimPrefix(path, GHESPrefix)
	}
	// Match and validate against the description, on its own server URL.
	vr := r.Clone(context.Background())
	u := *r.URL
	u.Scheme, u.Host, u.Path, u.RawPath = "https", "api.github.com", path, ""
	if r.URL.RawPath != "" {
		u.RawPath = strings.TrimPrefix(r.URL.RawPath, GHESPrefix)
	}
	// A multi-segment parameter's slashes are escaped so the router sees one
	// segment (it matches on the escaped path).
	for _, re := range s.multi {
		if m := re.FindStringSubmatch(u.EscapedPath()); m != nil {
			u.RawPath = m[1] + strings.ReplaceAll(m[2], "/", "%2F")
			break
		}
	}
	vr.URL = &u
	vr.Host = "api.github.com"
	vr.Body = io.NopCloser(bytes.NewReader(body))
	route, params, err := s.router.FindRoute(vr)
	if err != nil {
		s.fail(w, http.StatusNotFound, "%s %s: no such operation in the API description: %v", r.Method, r.URL.Path, err)
		return
	}
	op := route.Operation.OperationID
	for k, v := range params {
		if uv, err := url.PathUnescape(v); err == nil {
			params[k] = uv
		}
	}
	in := &openapi3filter.RequestValidationInput{
		Request: vr, PathParams: params, Route: route,
		Options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc,
			MultiError:         true,
		},
	}
	if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
		s.fail(w, http.StatusUnprocessableEntity, "%s %s (%s): request does not match the API description: %v\nbody: %s", r.Method, r.URL.Path, op, err, body)
		return
	}
	auth := r.Header.Get("Authorization")
	if s.token != "" && auth != "Bearer "+s.token && auth != "token "+s.token {
		s.fail(w, http.StatusUnauthorized, "%s %s: Authorization %q, want the bearer token", r.Method, r.URL.Path, auth)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	s.log = append(s.log, Request{Op: op, Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Body: body, Auth: auth})
	var applied *Fault
	if f := s.faults[op]; f != nil {
		if f.Times >= 0 {
			if f.Times > 0 {
				f.Times--
				if f.Times == 0 {
					f.Times = -1 // exhausted after this one
				}
			}
			if !f.Applied {
				writeFault(w, f)
				return
			}
			applied = f
		}
	}
	h := handlers[op]
	if h == nil {
		s.t.Errorf("fakegithub: operation %s has no handler", op)
		writeJSON(w, http.StatusNotImplemented, map[string]any{"message": "not implemented"})
		return
	}
	var in2 map[string]any
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in2); err != nil {
			s.fail(w, http.StatusBadRequest, "%s: body is not a JSON object: %v", op, err)
			return
		}
	}
	// The fake's own answers are checked against the description too, so its
	// shapes cannot drift from what GitHub documents.
	rec := httptest.NewRecorder()
	h(s, rec, r, &call{params: params, body: in2, query: r.URL.Query(), base: s.baseURL(r)})
	if applied != nil {
		writeFault(w, applied)
		return
	}
	// The raw media type's body is the file itself, which the description
	// does not describe.
	if rec.Code < 300 && rec.Header().Get("Content-Type") != RawMediaType {
		rv := &openapi3filter.ResponseValidationInput{
			RequestValidationInput: in, Status: rec.Code, Header: rec.Header(),
			Options: &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
		}
		rv.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), rv); err != nil {
			s.t.Errorf("fakegithub: %s answer does not match the API description: %v", op, err)
		}
	}
	for k, v := range rec.Header() {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.Code)
	_, _ = w.Write(rec.Body.Bytes())
}

func (s *Server) baseURL(r *http.Request) string {
	if strings.HasPrefix(r.URL.Path, GHESPrefix+"/") {
		return s.URL + GHESPrefix
	}
	return s.URL
}

func writeFault(w http.ResponseWriter, f *Fault) {
	msg := f.Message
	switch f.Status {
	case RateLimitPrimary:
		reset := f.Reset
		if reset.IsZero() {
			reset = time.Now()
		}
		w.Header().Set("X-RateLimit-Limit", "5000")
		w.Header().Set("X-RateLimit-Remaining", "0")
		w.Header().Set("X-RateLimit-Used", "5000")
		w.Header().Set("X-RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		if msg == "" {
			msg = "API rate limit exceeded for installation ID 1."
		}
		writeJSON(w, http.StatusForbidden, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-rate-limits"})
	case RateLimitSecondary:
		w.Header().Set("Retry-After", strconv.Itoa(f.RetryAfter))
		if msg == "" {
			msg = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
		}
		writeJSON(w, http.StatusForbidden, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"})
	default:
		if msg == "" {
			msg = map[int]string{
				403: "Resource not accessible by integration",
				404: "Not Found",
				409: "Conflict",
				422: "Validation Failed",
				500: "Internal Server Error",
				502: "Bad Gateway",
				503: "Service Unavailable",
			}[f.Status]
		}
		writeJSON(w, f.Status, map[string]any{"message": msg, "documentation_url": "https://docs.github.com/rest"})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// call is one validated request's decoded parts.
type call struct {
	params map[string]string
	body   map[string]any
	query  url.Values
	base   string
}

func (c *call) int(name string) int64 {
	n, _ := strconv.ParseInt(c.params[name], 10, 64)
	return n
}

func (c *call) str(name string) string {
	v, _ := c.body[name].(string)
	return v
}

// example returns a deep copy of the description's example for op and status
// (the first one, or the named one).
func (s *Server) example(op string, status int, name string) map[string]any {
	for _, item := range s.doc.Paths.Map() {
		for _, o := range item.Operations() {
			if o.OperationID != op {
				continue
			}
			resp := o.Responses.Status(status)
			if resp == nil || resp.Value == nil {
				s.t.Fatalf("fakegithub: %s has no %d response", op, status)
			}
			mt := resp.Value.Content.Get("application/json")
			if mt == nil {
				s.t.Fatalf("fakegithub: %s %d has no JSON content", op, status)
			}
			keys := make([]string, 0, len(mt.Examples))
			for k := range mt.Examples {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			var ex *openapi3.ExampleRef
			if name != "" {
				ex = mt.Examples[name]
			} else if len(keys) > 0 {
				ex = mt.Examples[keys[0]]
			}
			if ex == nil || ex.Value == nil {
				s.t.Fatalf("fakegithub: %s %d has no example %q", op, status, name)
			}
			raw, err := json.Marshal(ex.Value.Value)
			if err != nil {
				s.t.Fatalf("fakegithub: %s example: %v", op, err)
			}
			var out map[string]any
			if err := json.Unmarshal(raw, &out); err != nil {
				// List examples are arrays: wrap the first element.
				var arr []map[string]any
				if err2 := json.Unmarshal(raw, &arr); err2 != nil || len(arr) == 0 {
					s.t.Fatalf("fakegithub: %s example is neither object nor array: %v", op, err)
				}
				return arr[0]
			}
			return out
		}
	}
	s.t.Fatalf("fakegithub: no operation %s", op)
	return nil
}

type handler func(s *Server, w http.ResponseWriter, r *http.Request, c *call)

var handlers = map[string]handler{
	OpListComments:   (*Server).listComments,
	OpCreateComment:  (*Server).createComment,
	OpUpdateComment:  (*Server).updateComment,
	OpDeleteComment:  (*Server).deleteComment,
	OpCreateCheckRun: (*Server).createCheckRun,
	OpUpdateCheckRun: (*Server).updateCheckRun,
	OpGetCheckRun:    (*Server).getCheckRun,
	OpCreateStatus:   (*Server).createStatus,
	OpCreateIssue:    (*Server).createIssue,
	OpGetRef:         (*Server).getRef,
	OpCreateRef:      (*Server).createRef,
	OpGetContent:     (*Server).getContent,
	OpPutContent:     (*Server).putContent,
	OpListPulls:      (*Server).listPulls,
	OpCreatePull:     (*Server).createPull,
	OpGetPull:        (*Server).getPull,
	OpRateLimit:      (*Server).rateLimit,
	OpListCheckRuns:  (*Server).listCheckRuns,
	OpListIssues:     (*Server).listIssues,
}

func (s *Server) commentJSON(c *Comment, base string) map[string]any {
	m := s.example(OpCreateComment, 201, "")
	m["id"] = c.ID
	m["body"] = c.Body
	m["url"] = fmt.Sprintf("%s/repos/o/r/issues/comments/%d", base, c.ID)
	m["html_url"] = fmt.Sprintf("https://github.com/o/r/pull/%d#issuecomment-%d", c.Issue, c.ID)
	m["issue_url"] = fmt.Sprintf("%s/repos/o/r/issues/%d", base, c.Issue)
	return m
}

// maxPerPage is GitHub's page size ceiling (https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api).
const maxPerPage = 100

func (s *Server) listComments(w http.ResponseWriter, r *http.Request, c *call) {
	n := int(c.int("issue_number"))
	var all []*Comment
	for _, cm := range s.comments {
		if cm.Issue == n {
			all = append(all, cm)
		}
	}
	per, page := 30, 1
	if v, err := strconv.Atoi(c.query.Get("per_page")); err == nil && v > 0 {
		per = min(v, maxPerPage)
	}
	if v, err := strconv.Atoi(c.query.Get("page")); err == nil && v > 0 {
		page = v
	}
	start := min((page-1)*per, len(all))
	end := min(start+per, len(all))
	out := make([]map[string]any, 0, end-start)
	for _, cm := range all[start:end] {
		out = append(out, s.commentJSON(cm, c.base))
	}
	if end < len(all) {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(page+1))
		q.Set("per_page", strconv.Itoa(per))
		w.Header().Set("Link", fmt.Sprintf(`<%s%s?%s>; rel="next"`, s.URL, r.URL.Path, q.Encode()))
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) createComment(w http.ResponseWriter, _ *http.Request, c *call) {
	s.nextID++
	cm := &Comment{ID: s.nextID, Issue: int(c.int("issue_number")), Body: c.str("body")}
	s.comments = append(s.comments, cm)
	writeJSON(w, http.StatusCreated, s.commentJSON(cm, c.base))
}

func (s *Server) findComment(id int64) *Comment {
	for _, cm := range s.comments {
		if cm.ID == id {
			return cm
		}
	}
	return nil
}

func (s *Server) updateComment(w http.ResponseWriter, _ *http.Request, c *call) {
	cm := s.findComment(c.int("comment_id"))
	if cm == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	cm.Body = c.str("body")
	cm.Edits++
	writeJSON(w, http.StatusOK, s.commentJSON(cm, c.base))
}

func (s *Server) deleteComment(w http.ResponseWriter, _ *http.Request, c *call) {
	id := c.int("comment_id")
	for i, cm := range s.comments {
		if cm.ID == id {
			s.comments = append(s.comments[:i], s.comments[i+1:]...)
			w.WriteHeader(http.StatusNoContent)
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
}

func (s *Server) checkJSON(cr *CheckRun, base string) map[string]any {
	m := s.example(OpCreateCheckRun, 201, "example-of-completed-conclusion")
	m["id"] = cr.ID
	m["name"] = cr.Name
	m["external_id"] = cr.ExternalID
	m["head_sha"] = cr.HeadSHA
	m["status"] = cr.Status
	if cr.Conclusion != "" {
		m["conclusion"] = cr.Conclusion
	} else {
		m["conclusion"] = nil
	}
	m["url"] = fmt.Sprintf("%s/repos/o/r/check-runs/%d", base, cr.ID)
	m["html_url"] = fmt.Sprintf("https://github.com/o/r/runs/%d", cr.ID)
	m["output"] = map[string]any{"title": cr.Title, "summary": cr.Summary, "text": cr.Text,
		"annotations_count": len(cr.Annotations), "annotations_url": fmt.Sprintf("%s/repos/o/r/check-runs/%d/annotations", base, cr.ID)}
	return m
}

// applyCheck copies the fields of a create/update body onto cr.
func applyCheck(cr *CheckRun, b map[string]any) {
	if v, ok := b["name"].(string); ok {
		cr.Name = v
	}
	if v, ok := b["status"].(string); ok {
		cr.Status = v
	}
	if v, ok := b["external_id"].(string); ok {
		cr.ExternalID = v
	}
	if v, ok := b["conclusion"].(string); ok {
		cr.Conclusion = v
		cr.Status = "completed"
	}
	if o, ok := b["output"].(map[string]any); ok {
		if v, ok := o["title"].(string); ok {
			cr.Title = v
		}
		if v, ok := o["summary"].(string); ok {
			cr.Summary = v
		}
		if v, ok := o["text"].(string); ok {
			cr.Text = v
		}
		if as, ok := o["annotations"].([]any); ok {
			for _, a := range as {
				if m, ok := a.(map[string]any); ok {
					cr.Annotations = append(cr.Annotations, m)
				}
			}
		}
	}
}

// maxAnnotationsPerRequest is GitHub's limit on output.annotations per create
// or update call (https://docs.github.com/rest/checks/runs#update-a-check-run).
const maxAnnotationsPerRequest = 50

func annotationCount(b map[string]any) int {
	if o, ok := b["output"].(map[string]any); ok {
		if as, ok := o["annotations"].([]any); ok {
			return len(as)
		}
	}
	return 0
}

func (s *Server) createCheckRun(w http.ResponseWriter, _ *http.Request, c *call) {
	if n := annotationCount(c.body); n > maxAnnotationsPerRequest {
		s.fail(w, http.StatusUnprocessableEntity, "checks/create with %d annotations (limit %d)", n, maxAnnotationsPerRequest)
		return
	}
	s.nextID++
	cr := &CheckRun{ID: s.nextID, HeadSHA: c.str("head_sha"), Status: "queued"}
	applyCheck(cr, c.body)
	s.checks = append(s.checks, cr)
	writeJSON(w, http.StatusCreated, s.checkJSON(cr, c.base))
}

func (s *Server) findCheck(id int64) *CheckRun {
	for _, cr := range s.checks {
		if cr.ID == id {
			return cr
		}
	}
	return nil
}

func (s *Server) updateCheckRun(w http.ResponseWriter, _ *http.Request, c *call) {
	if n := annotationCount(c.body); n > maxAnnotationsPerRequest {
		s.fail(w, http.StatusUnprocessableEntity, "checks/update with %d annotations (limit %d)", n, maxAnnotationsPerRequest)
		return
	}
	cr := s.findCheck(c.int("check_run_id"))
	if cr == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	applyCheck(cr, c.body)
	cr.Updates++
	writeJSON(w, http.StatusOK, s.checkJSON(cr, c.base))
}

func (s *Server) getCheckRun(w http.ResponseWriter, _ *http.Request, c *call) {
	cr := s.findCheck(c.int("check_run_id"))
	if cr == nil {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	writeJSON(w, http.StatusOK, s.checkJSON(cr, c.base))
}

// listCheckRuns answers checks/list-for-ref for a commit SHA, newest first,
// filtered by check_name.
func (s *Server) listCheckRuns(w http.ResponseWriter, _ *http.Request, c *call) {
	name := c.query.Get("check_name")
	out := []map[string]any{}
	for i := len(s.checks) - 1; i >= 0; i-- {
		cr := s.checks[i]
		if cr.HeadSHA == c.params["ref"] && (name == "" || cr.Name == name) {
			out = append(out, s.checkJSON(cr, c.base))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"total_count": len(out), "check_runs": out})
}

func (s *Server) createStatus(w http.ResponseWriter, _ *http.Request, c *call) {
	st := Status{SHA: c.params["sha"], State: c.str("state"), Context: c.str("context"), Description: c.str("description"), TargetURL: c.str("target_url")}
	s.statuses = append(s.statuses, st)
	m := s.example(OpCreateStatus, 201, "")
	s.nextID++
	m["id"] = s.nextID
	m["state"] = st.State
	m["context"] = st.Context
	m["description"] = st.Description
	m["target_url"] = st.TargetURL
	writeJSON(w, http.StatusCreated, m)
}

func (s *Server) createIssue(w http.ResponseWriter, _ *http.Request, c *call) {
	is := &Issue{Number: 100 + len(s.issues) + 1, Title: c.str("title"), Body: c.str("body")}
	if ls, ok := c.body["labels"].([]any); ok {
		for _, l := range ls {
			if v, ok := l.(string); ok {
				is.Labels = append(is.Labels, v)
			}
		}
	}
	s.issues = append(s.issues, is)
	writeJSON(w, http.StatusCreated, s.issueJSON(is))
}

func (s *Server) issueJSON(is *Issue) map[string]any {
	m := s.example(OpCreateIssue, 201, "")
	m["number"] = is.Number
	m["title"] = is.Title
	m["body"] = is.Body
	m["html_url"] = fmt.Sprintf("https://github.com/o/r/issues/%d", is.Number)
	return m
}

// listIssues answers issues/list-for-repo: open issues, newest first (the
// fake's issues are all open and none is a pull request).
func (s *Server) listIssues(w http.ResponseWriter, _ *http.Request, c *call) {
	out := []map[string]any{}
	if st := c.query.Get("state"); st == "" || st == "open" || st == "all" {
		for i := len(s.issues) - 1; i >= 0; i-- {
			out = append(out, s.issueJSON(s.issues[i]))
		}
	}
	if v, err := strconv.Atoi(c.query.Get("per_page")); err == nil && v > 0 && v < len(out) {
		out = out[:v]
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) refJSON(ref, sha, base string) map[string]any {
	m := s.example(OpGetRef, 200, "")
	m["ref"] = "refs/" + ref
	m["url"] = base + "/repos/o/r/git/refs/" + ref
	m["object"] = map[string]any{"type": "commit", "sha": sha, "url": base + "/repos/o/r/git/commits/" + sha}
	return m
}

func (s *Server) getRef(w http.ResponseWriter, _ *http.Request, c *call) {
	ref := c.params["ref"]
	sha, ok := s.refs[ref]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	writeJSON(w, http.StatusOK, s.refJSON(ref, sha, c.base))
}

func (s *Server) createRef(w http.ResponseWriter, _ *http.Request, c *call) {
	ref := strings.TrimPrefix(c.str("ref"), "refs/")
	if _, ok := s.refs[ref]; ok {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "Reference already exists"})
		return
	}
	s.refs[ref] = c.str("sha")
	// The new branch starts with the files of the branch whose head it copies.
	for k, f := range s.files {
		br, p, _ := strings.Cut(k, ":")
		if s.refs["heads/"+br] == c.str("sha") && "heads/"+br != ref {
			s.files[strings.TrimPrefix(ref, "heads/")+":"+p] = f
		}
	}
	writeJSON(w, http.StatusCreated, s.refJSON(ref, c.str("sha"), c.base))
}

// PutFile seeds a file on a branch.
func (s *Server) PutFile(branch, path string, content []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.files[branch+":"+path] = file{content: content, sha: fmt.Sprintf("%040x", len(content)+int(s.nextID))}
	s.nextID++
}

func (s *Server) getContent(w http.ResponseWriter, r *http.Request, c *call) {
	branch := c.query.Get("ref")
	if branch == "" {
		branch = "main"
	}
	path := c.params["path"]
	f, ok := s.files[branch+":"+path]
	if !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
		return
	}
	if r.Header.Get("Accept") == RawMediaType {
		w.Header().Set("Content-Type", RawMediaType)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(f.content)
		return
	}
	m := s.example(OpGetContent, 200, "response-if-content-is-a-file")
	m["path"] = path
	m["name"] = path[strings.LastIndex(path, "/")+1:]
	m["sha"] = f.sha
	m["size"] = len(f.content)
	m["content"] = base64.StdEncoding.EncodeToString(f.content)
	m["encoding"] = "base64"
	if len(f.content) > MaxContentsJSONSize {
		m["content"], m["encoding"] = "", "none"
	}
	writeJSON(w, http.StatusOK, m)
}

func (s *Server) putContent(w http.ResponseWriter, _ *http.Request, c *call) {
	branch := c.str("branch")
	if branch == "" {
		branch = "main"
	}
	path := c.params["path"]
	if _, ok := s.refs["heads/"+branch]; !ok {
		writeJSON(w, http.StatusNotFound, map[string]any{"message": "Branch not found"})
		return
	}
	old, exists := s.files[branch+":"+path]
	if exists && c.str("sha") != old.sha {
		writeJSON(w, http.StatusConflict, map[string]any{"message": "sha does not match"})
		return
	}
	if !exists && c.str("sha") != "" {
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "sha given for a new file"})
		return
	}
	content, err := base64.StdEncoding.DecodeString(c.str("content"))
	if err != nil {
		s.fail(w, http.StatusUnprocessableEntity, "content is not base64: %v", err)
		return
	}
	s.nextID++
	f := file{content: content, sha: fmt.Sprintf("%040x", s.nextID)}
	s.files[branch+":"+path] = f
	commit := fmt.Sprintf("%040x", s.nextID+1<<20)
	s.refs["heads/"+branch] = commit
	status, name := http.StatusCreated, "example-for-creating-a-file"
	if exists {
		status, name = http.StatusOK, "example-for-updating-a-file"
	}
	m := s.example(OpPutContent, status, name)
	if ct, ok := m["content"].(map[string]any); ok {
		ct["path"] = path
		ct["sha"] = f.sha
	}
	if cm, ok := m["commit"].(map[string]any); ok {
		cm["sha"] = commit
		cm["message"] = c.str("message")
	}
	writeJSON(w, status, m)
}

func (s *Server) pullJSON(p *Pull, base string) map[string]any {
	m := s.example(OpGetPull, 200, "")
	// The description's example lists a team without the "type" its own
	// schema requires; a PR with no requested teams is valid and enough here.
	m["requested_teams"] = []any{}
	m["number"] = p.Number
	m["title"] = p.Title
	m["body"] = p.Body
	m["html_url"] = fmt.Sprintf("https://github.com/o/r/pull/%d", p.Number)
	m["url"] = fmt.Sprintf("%s/repos/o/r/pulls/%d", base, p.Number)
	if h, ok := m["head"].(map[string]any); ok {
		h["ref"] = p.Head
		if p.HeadSHA != "" {
			h["sha"] = p.HeadSHA
		}
	}
	if b, ok := m["base"].(map[string]any); ok {
		b["ref"] = p.Base
	}
	return m
}

func (s *Server) listPulls(w http.ResponseWriter, _ *http.Request, c *call) {
	head := c.query.Get("head")
	if _, branch, ok := strings.Cut(head, ":"); ok {
		head = branch
	}
	out := []map[string]any{}
	for _, p := range s.pulls {
		if head == "" || p.Head == head {
			out = append(out, s.pullJSON(p, c.base))
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	_ = json.NewEncoder(w).Encode(out)
}

func (s *Server) createPull(w http.ResponseWriter, _ *http.Request, c *call) {
	for _, p := range s.pulls {
		if p.Head == c.str("head") {
			writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"message": "A pull request already exists"})
			return
		}
	}
	p := &Pull{Number: 200 + len(s.pulls) + 1, Title: c.str("title"), Body: c.str("body"), Head: c.str("head"), Base: c.str("base")}
	s.pulls = append(s.pulls, p)
	m := s.pullJSON(p, c.base)
	writeJSON(w, http.StatusCreated, m)
}

func (s *Server) getPull(w http.ResponseWriter, _ *http.Request, c *call) {
	n := int(c.int("pull_number"))
	for _, p := range s.pulls {
		if p.Number == n {
			writeJSON(w, http.StatusOK, s.pullJSON(p, c.base))
			return
		}
	}
	writeJSON(w, http.StatusNotFound, map[string]any{"message": "Not Found"})
}

func (s *Server) rateLimit(w http.ResponseWriter, _ *http.Request, _ *call) {
	writeJSON(w, http.StatusOK, s.example(OpRateLimit, 200, ""))
}
