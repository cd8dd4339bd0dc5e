package fakegithub

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
)

// recorder is a testing.TB that records errors instead of failing, so the
// fake's own loud failures can be asserted.
type recorder struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recorder) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func do(t *testing.T, method, url, body string) (int, map[string]any, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer tok")
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	var m map[string]any
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, m, resp.Header
}

func TestValidRequestsKeepState(t *testing.T) {
	t.Parallel()
	s := New(t, SpecPath, "tok")
	code, m, _ := do(t, "POST", s.URL+"/repos/o/r/issues/7/comments", `{"body":"hello"}`)
	if code != 201 {
		t.Fatalf("create comment: %d %v", code, m)
	}
	id := int64(m["id"].(float64))
	code, m, _ = do(t, "PATCH", fmt.Sprintf("%s/repos/o/r/issues/comments/%d", s.GHESURL()[:len(s.GHESURL())-1], id), `{"body":"edited"}`)
	if code != 200 || m["body"] != "edited" {
		t.Fatalf("update comment under GHES prefix: %d %v", code, m)
	}
	cs := s.Comments(7)
	if len(cs) != 1 || cs[0].Body != "edited" || cs[0].Edits != 1 {
		t.Fatalf("comments = %+v", cs)
	}
	if s.Calls(OpCreateComment) != 1 || s.Calls(OpUpdateComment) != 1 {
		t.Fatalf("calls: create %d update %d", s.Calls(OpCreateComment), s.Calls(OpUpdateComment))
	}
}

func TestPagination(t *testing.T) {
	t.Parallel()
	s := New(t, SpecPath, "tok")
	for i := range 5 {
		s.AddComment(3, fmt.Sprint("c", i))
	}
	req, _ := http.NewRequest("GET", s.URL+"/repos/o/r/issues/3/comments?per_page=2", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var arr []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&arr); err != nil {
		t.Fatal(err)
	}
	if len(arr) != 2 || !strings.Contains(resp.Header.Get("Link"), `page=2`) {
		t.Fatalf("page 1: %d items, Link %q", len(arr), resp.Header.Get("Link"))
	}
}

func TestInvalidRequestsFailLoudly(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, method, path, body string
		wantCode                 int
	}{
		{"unknown route", "GET", "/repos/o/r/branches", "", 404},
		{"wrong method", "PUT", "/repos/o/r/issues/1/comments", `{"body":"x"}`, 404},
		{"missing required field", "POST", "/repos/o/r/issues/1/comments", `{"text":"x"}`, 422},
		{"bad enum", "POST", "/repos/o/r/statuses/abc", `{"state":"green"}`, 422},
		{"bad conclusion", "POST", "/repos/o/r/check-runs", `{"name":"x","head_sha":"abc","conclusion":"meh"}`, 422},
		{"non-integer path parameter", "GET", "/repos/o/r/issues/abc/comments", "", 422},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{TB: t}
			s := New(rec, SpecPath, "tok")
			code, _, _ := do(t, tt.method, s.URL+tt.path, tt.body)
			if code != tt.wantCode {
				t.Errorf("status %d, want %d", code, tt.wantCode)
			}
			if len(rec.errors()) == 0 {
				t.Errorf("the fake did not report the bad request as a test failure")
			}
		})
	}
}

func TestWrongTokenFails(t *testing.T) {
	t.Parallel()
	rec := &recorder{TB: t}
	s := New(rec, SpecPath, "other")
	if code, _, _ := do(t, "GET", s.URL+"/rate_limit", ""); code != 401 {
		t.Fatalf("status %d, want 401", code)
	}
	if len(rec.errors()) == 0 {
		t.Fatal("wrong token not reported")
	}
}

func TestFaults(t *testing.T) {
	t.Parallel()
	s := New(t, SpecPath, "tok")
	s.Fail(OpCreateComment, Fault{Status: 500, Times: 1})
	if code, _, _ := do(t, "POST", s.URL+"/repos/o/r/issues/1/comments", `{"body":"x"}`); code != 500 {
		t.Fatalf("first call %d, want 500", code)
	}
	if code, _, _ := do(t, "POST", s.URL+"/repos/o/r/issues/1/comments", `{"body":"x"}`); code != 201 {
		t.Fatalf("second call %d, want 201", code)
	}
	s.Fail(OpCreateCheckRun, Fault{Status: RateLimitSecondary, RetryAfter: 7})
	code, m, h := do(t, "POST", s.URL+"/repos/o/r/check-runs", `{"name":"x","head_sha":"abc"}`)
	if code != 403 || h.Get("Retry-After") != "7" || !strings.HasSuffix(m["documentation_url"].(string), "secondary-rate-limits") {
		t.Fatalf("secondary: %d %v %v", code, m, h)
	}
	s.Fail(OpCreateStatus, Fault{Status: RateLimitPrimary})
	if code, _, h := do(t, "POST", s.URL+"/repos/o/r/statuses/abc", `{"state":"success"}`); code != 403 || h.Get("X-RateLimit-Remaining") != "0" {
		t.Fatalf("primary: %d %v", code, h)
	}
}

func TestTooManyAnnotationsRejected(t *testing.T) {
	t.Parallel()
	rec := &recorder{TB: t}
	s := New(rec, SpecPath, "tok")
	var as []string
	for i := range 51 {
		as = append(as, fmt.Sprintf(`{"path":"p.yaml","start_line":%d,"end_line":%d,"annotation_level":"warning","message":"m"}`, i+1, i+1))
	}
	body := `{"name":"x","head_sha":"abc","output":{"title":"t","summary":"s","annotations":[` + strings.Join(as, ",") + `]}}`
	if code, _, _ := do(t, "POST", s.URL+"/repos/o/r/check-runs", body); code != 422 {
		t.Fatalf("status %d, want 422", code)
	}
	if len(rec.errors()) == 0 {
		t.Fatal("not reported")
	}
}

func TestMultiSegmentParameters(t *testing.T) {
	t.Parallel()
	s := New(t, SpecPath, "tok")
	s.PutFile("main", "testdata/baselines/api.json", []byte(`{}`))
	code, m, _ := do(t, "GET", s.URL+"/repos/o/r/contents/testdata/baselines/api.json?ref=main", "")
	if code != 200 || m["path"] != "testdata/baselines/api.json" {
		t.Fatalf("get content: %d %v", code, m)
	}
	code, m, _ = do(t, "GET", s.URL+"/repos/o/r/git/ref/heads/main", "")
	if code != 200 || m["ref"] != "refs/heads/main" {
		t.Fatalf("get ref: %d %v", code, m)
	}
}

// TestAppliedFaultLandsTheWrite: GitHub can apply a POST and still answer
// 5xx; Fault.Applied does the same.
func TestAppliedFaultLandsTheWrite(t *testing.T) {
	t.Parallel()
	s := New(t, SpecPath, "tok")
	s.Fail(OpCreateComment, Fault{Status: 502, Times: 1, Applied: true})
	if code, m, _ := do(t, "POST", s.URL+"/repos/o/r/issues/7/comments", `{"body":"hello"}`); code != 502 {
		t.Fatalf("create comment: %d %v, want the fault's 502", code, m)
	}
	if cs := s.Comments(7); len(cs) != 1 || cs[0].Body != "hello" {
		t.Fatalf("comments %+v, want the write applied", cs)
	}
	if code, _, _ := do(t, "POST", s.URL+"/repos/o/r/issues/7/comments", `{"body":"again"}`); code != 201 {
		t.Fatalf("after the fault: %d", code)
	}
}

// TestLargeFileNeedsRawMediaType: above 1 MB the JSON answer has no content
// (encoding "none"), the raw media type gives the bytes.
func TestLargeFileNeedsRawMediaType(t *testing.T) {
	t.Parallel()
	s := New(t, SpecPath, "tok")
	big := []byte(strings.Repeat("0123456789abcdef", MaxContentsJSONSize/16+1))
	s.PutFile("main", "baselines/big.json", big)
	code, m, _ := do(t, "GET", s.URL+"/repos/o/r/contents/baselines/big.json?ref=main", "")
	if code != 200 || m["content"] != "" || m["encoding"] != "none" || m["size"] != float64(len(big)) {
		t.Fatalf("JSON answer: %d content %.20q encoding %v size %v", code, m["content"], m["encoding"], m["size"])
	}
	req, _ := http.NewRequest("GET", s.URL+"/repos/o/r/contents/baselines/big.json?ref=main", nil)
	req.Header.Set("Authorization", "Bearer tok")
	req.Header.Set("Accept", RawMediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(data) != string(big) {
		t.Fatalf("raw answer: %d, %d bytes, want %d", resp.StatusCode, len(data), len(big))
	}
}

// TestListsForIdempotentWrites: the lists a client reads before re-sending a
// write hold what was written.
func TestListsForIdempotentWrites(t *testing.T) {
	t.Parallel()
	s := New(t, SpecPath, "tok")
	sha := "ec26c3e57ca3a959ca5aad62de7213c562f8c821"
	if code, m, _ := do(t, "POST", s.URL+"/repos/o/r/check-runs", `{"name":"loadgate / p","head_sha":"`+sha+`","external_id":"p#1","status":"completed","conclusion":"success"}`); code != 201 {
		t.Fatalf("create check run: %d %v", code, m)
	}
	code, m, _ := do(t, "GET", s.URL+"/repos/o/r/commits/"+sha+"/check-runs?check_name=loadgate+%2F+p&filter=all", "")
	runs, _ := m["check_runs"].([]any)
	if code != 200 || len(runs) != 1 || runs[0].(map[string]any)["external_id"] != "p#1" {
		t.Fatalf("check runs for ref: %d %v", code, m)
	}
	if code, m, _ := do(t, "POST", s.URL+"/repos/o/r/issues", `{"title":"t","body":"b <!-- k -->"}`); code != 201 {
		t.Fatalf("create issue: %d %v", code, m)
	}
	req, _ := http.NewRequest("GET", s.URL+"/repos/o/r/issues?state=open&sort=created&direction=desc&per_page=30", nil)
	req.Header.Set("Authorization", "Bearer tok")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var issues []map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&issues); err != nil || len(issues) != 1 || issues[0]["body"] != "b <!-- k -->" {
		t.Fatalf("issues: %v %v", err, issues)
	}
}
