package ghclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/fakegithub"
	"github.com/loadgate/loadgate/report"
)

const token = "ghs_testtoken"

var repo = Repo{"Codertocat", "Hello-World"}

// fakeClock records sleeps and advances with them.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	sleeps []time.Duration
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sleeps = append(c.sleeps, d)
	c.now = c.now.Add(d)
	return nil
}

func (c *fakeClock) Sleeps() []time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Duration(nil), c.sleeps...)
}

func newClient(t *testing.T, s *fakegithub.Server, apiURL string) (*Client, *fakeClock) {
	t.Helper()
	clk := &fakeClock{now: time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)}
	if apiURL == "" {
		apiURL = s.URL
	}
	c, err := New(Options{Token: token, APIURL: apiURL, HTTPClient: s.Client(), Sleep: clk.Sleep, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return c, clk
}

func loadVerdict(t testing.TB, name string) *gate.Verdict {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "testdata", "github", name))
	if err != nil {
		t.Fatal(err)
	}
	// The fixtures are JSON verdict documents (report.VerdictDoc).
	var doc struct {
		Verdict *gate.Verdict `json:"verdict"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Verdict == nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc.Verdict
}

func TestTruncate(t *testing.T) {
	t.Parallel()
	body := "head\n<details>\n```mermaid\n" + strings.Repeat("ééé line\n", 20000)
	got := Truncate(body, MaxCommentBody, truncationNote)
	if len(got) > MaxCommentBody || utf8.RuneCountInString(got) > MaxCommentBody {
		t.Fatalf("len %d > %d", len(got), MaxCommentBody)
	}
	if !utf8.ValidString(got) {
		t.Fatal("invalid UTF-8")
	}
	if strings.Count(got, "```")%2 != 0 || strings.Count(got, "<details>") != strings.Count(got, "</details>") {
		t.Error("open fence or details left")
	}
	if !strings.HasSuffix(got, truncationNote) {
		t.Error("no truncation note")
	}
	if Truncate("short", 10, "x") != "short" {
		t.Error("short string changed")
	}
}

func FuzzTruncate(f *testing.F) {
	f.Add("hello ```world``` <details>x", 12)
	f.Add(strings.Repeat("é", 100), 7)
	f.Add("", 0)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		if limit < 0 || limit > 1<<16 || !utf8.ValidString(s) {
			return
		}
		got := Truncate(s, limit, "\n[truncated]")
		if len(got) > limit && len(s) > limit {
			t.Fatalf("len %d > limit %d", len(got), limit)
		}
		if !utf8.ValidString(got) {
			t.Fatal("invalid UTF-8")
		}
	})
}

func TestMarkerCannotCloseEarly(t *testing.T) {
	t.Parallel()
	m := Marker("a-->b\nc")
	if strings.Count(m, "-->") != 1 || strings.Contains(m, "\n") {
		t.Fatalf("marker %q", m)
	}
}

func TestUpsertCommentStickyAcrossPages(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	for i := range 150 { // more than one page of others' comments
		s.AddComment(2, fmt.Sprintf("comment %d", i))
	}
	c, _ := newClient(t, s, "")
	ctx := context.Background()
	r1, err := c.UpsertComment(ctx, repo, 2, "checkout-api", "first")
	if err != nil {
		t.Fatal(err)
	}
	if !r1.Created || r1.URL == "" {
		t.Fatalf("first upsert: %+v", r1)
	}
	r2, err := c.UpsertComment(ctx, repo, 2, "checkout-api", "second")
	if err != nil {
		t.Fatal(err)
	}
	if r2.Created || r2.ID != r1.ID {
		t.Fatalf("rerun made a new comment: %+v then %+v", r1, r2)
	}
	if _, err := c.UpsertComment(ctx, repo, 2, "other-plan", "x"); err != nil {
		t.Fatal(err)
	}
	var ours []fakegithub.Comment
	for _, cm := range s.Comments(2) {
		if strings.Contains(cm.Body, "<!-- loadgate:plan=") {
			ours = append(ours, cm)
		}
	}
	if len(ours) != 2 {
		t.Fatalf("%d loadgate comments, want 2 (one per plan)", len(ours))
	}
	if !strings.HasSuffix(ours[0].Body, "second") || ours[0].Edits != 1 {
		t.Errorf("sticky comment: %+v", ours[0])
	}
	if got := s.Calls(fakegithub.OpCreateComment); got != 2 {
		t.Errorf("create calls %d, want 2", got)
	}
}

func TestUpsertCommentTruncates(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	c, _ := newClient(t, s, "")
	if _, err := c.UpsertComment(context.Background(), repo, 2, "p", strings.Repeat("x", 200000)); err != nil {
		t.Fatal(err)
	}
	cs := s.Comments(2)
	if len(cs) != 1 || utf8.RuneCountInString(cs[0].Body) > MaxCommentBody || !strings.Contains(cs[0].Body, "Truncated") {
		t.Fatalf("body of %d chars", utf8.RuneCountInString(cs[0].Body))
	}
}

func TestCheckRunAnnotationsBatched(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	c, _ := newClient(t, s, "")
	var as []Annotation
	for i := range 120 {
		as = append(as, Annotation{Path: "plan.yaml", StartLine: i + 1, Level: LevelWarning, Title: "t", Message: fmt.Sprint("m", i)})
	}
	res, err := c.CreateCheckRun(context.Background(), repo, CheckRun{
		Name: "loadgate / checkout-api", HeadSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821",
		Conclusion: ConclusionFailure, Title: "1 regression", Summary: "sum", Annotations: as,
	})
	if err != nil {
		t.Fatal(err)
	}
	runs := s.CheckRuns()
	if len(runs) != 1 || runs[0].ID != res.ID || res.URL == "" {
		t.Fatalf("runs %+v res %+v", runs, res)
	}
	if got := len(runs[0].Annotations); got != 120 {
		t.Errorf("%d annotations stored, want 120", got)
	}
	if s.Calls(fakegithub.OpCreateCheckRun) != 1 || s.Calls(fakegithub.OpUpdateCheckRun) != 2 {
		t.Errorf("create %d update %d, want 1 and 2", s.Calls(fakegithub.OpCreateCheckRun), s.Calls(fakegithub.OpUpdateCheckRun))
	}
	if runs[0].Conclusion != "failure" || runs[0].Status != "completed" {
		t.Errorf("run %+v", runs[0])
	}
}

func TestRetriesServerErrorsWithBackoff(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	s.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: 500, Times: 2})
	c, clk := newClient(t, s, "")
	if _, err := c.UpsertComment(context.Background(), repo, 2, "p", "b"); err != nil {
		t.Fatal(err)
	}
	if got := clk.Sleeps(); len(got) != 2 || got[0] != time.Second || got[1] != 2*time.Second {
		t.Errorf("sleeps %v, want [1s 2s]", got)
	}
	if s.Calls(fakegithub.OpCreateComment) != 3 || len(s.Comments(2)) != 1 {
		t.Errorf("calls %d comments %d", s.Calls(fakegithub.OpCreateComment), len(s.Comments(2)))
	}
}

func TestGivesUpAfterAttempts(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	s.Fail(fakegithub.OpCreateStatus, fakegithub.Fault{Status: 502})
	c, _ := newClient(t, s, "")
	err := c.CreateStatus(context.Background(), repo, "abc", StateSuccess, "loadgate", "d", "")
	if err == nil || StatusCode(err) != 502 || IsPermission(err) {
		t.Fatalf("err %v (status %d)", err, StatusCode(err))
	}
	if got := s.Calls(fakegithub.OpCreateStatus); got != defaultAttempts {
		t.Errorf("%d calls, want %d", got, defaultAttempts)
	}
}

func TestHonoursRateLimits(t *testing.T) {
	t.Parallel()
	t.Run("primary reset", func(t *testing.T) {
		t.Parallel()
		s := fakegithub.New(t, fakegithub.SpecPath, token)
		c, clk := newClient(t, s, "")
		s.Fail(fakegithub.OpCreateCheckRun, fakegithub.Fault{Status: fakegithub.RateLimitPrimary, Times: 1, Reset: clk.Now().Add(42 * time.Second)})
		if _, err := c.CreateCheckRun(context.Background(), repo, CheckRun{Name: "n", HeadSHA: "abc", Conclusion: ConclusionSuccess, Title: "t", Summary: "s"}); err != nil {
			t.Fatal(err)
		}
		if got := clk.Sleeps(); len(got) != 1 || got[0] != 42*time.Second {
			t.Errorf("sleeps %v, want [42s]", got)
		}
	})
	t.Run("secondary retry-after", func(t *testing.T) {
		t.Parallel()
		s := fakegithub.New(t, fakegithub.SpecPath, token)
		s.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: fakegithub.RateLimitSecondary, Times: 1, RetryAfter: 7})
		c, clk := newClient(t, s, "")
		if _, err := c.UpsertComment(context.Background(), repo, 2, "p", "b"); err != nil {
			t.Fatal(err)
		}
		if got := clk.Sleeps(); len(got) != 1 || got[0] != 7*time.Second {
			t.Errorf("sleeps %v, want [7s]", got)
		}
	})
	t.Run("reset too far", func(t *testing.T) {
		t.Parallel()
		s := fakegithub.New(t, fakegithub.SpecPath, token)
		c, clk := newClient(t, s, "")
		s.Fail(fakegithub.OpCreateStatus, fakegithub.Fault{Status: fakegithub.RateLimitPrimary, Reset: clk.Now().Add(time.Hour)})
		err := c.CreateStatus(context.Background(), repo, "abc", StateSuccess, "loadgate", "d", "")
		if err == nil || !strings.Contains(err.Error(), "rate limited") {
			t.Fatalf("err %v", err)
		}
		if len(clk.Sleeps()) != 0 || s.Calls(fakegithub.OpCreateStatus) != 1 {
			t.Errorf("slept %v, calls %d", clk.Sleeps(), s.Calls(fakegithub.OpCreateStatus))
		}
	})
}

func TestPermissionErrorsAreNotRetried(t *testing.T) {
	t.Parallel()
	for _, code := range []int{403, 404} {
		s := fakegithub.New(t, fakegithub.SpecPath, token)
		s.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: code})
		c, clk := newClient(t, s, "")
		_, err := c.UpsertComment(context.Background(), repo, 2, "p", "b")
		if !IsPermission(err) {
			t.Errorf("%d: IsPermission(%v) = false", code, err)
		}
		if len(clk.Sleeps()) != 0 || s.Calls(fakegithub.OpCreateComment) != 1 {
			t.Errorf("%d: retried", code)
		}
	}
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	s.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: 422})
	c, _ := newClient(t, s, "")
	if _, err := c.UpsertComment(context.Background(), repo, 2, "p", "b"); err == nil || IsPermission(err) || StatusCode(err) != 422 {
		t.Errorf("422: %v", err)
	}
}

func TestEnterpriseServerURL(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	c, _ := newClient(t, s, strings.TrimSuffix(s.GHESURL(), "/"))
	if err := c.CreateStatus(context.Background(), repo, "abc", StateFailure, "loadgate/p", "1 regression", "https://ghes.example/run"); err != nil {
		t.Fatal(err)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || !strings.HasPrefix(reqs[0].Path, "/api/v3/repos/") {
		t.Fatalf("requests %+v", reqs)
	}
	if st := s.Statuses(); len(st) != 1 || st[0].State != "failure" || st[0].Context != "loadgate/p" {
		t.Fatalf("statuses %+v", st)
	}
}

func TestReportIssue(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	c, _ := newClient(t, s, "")
	ctx := context.Background()
	r, err := c.ReportIssue(ctx, repo, 0, "nightly", "Performance regression in nightly", "body", []string{"performance"})
	if err != nil || !r.Created || r.Number == 0 {
		t.Fatalf("%+v %v", r, err)
	}
	is := s.Issues()
	if len(is) != 1 || !strings.Contains(is[0].Body, Marker("nightly")) || is[0].Labels[0] != "performance" {
		t.Fatalf("issues %+v", is)
	}
	// With a known issue number the report is one sticky comment on it.
	for range 2 {
		if _, err := c.ReportIssue(ctx, repo, r.Number, "nightly", "t", "again", nil); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.Issues()) != 1 || len(s.Comments(r.Number)) != 1 {
		t.Fatalf("issues %d comments %d", len(s.Issues()), len(s.Comments(r.Number)))
	}
}

func TestOpenBaselinePR(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	s.PutFile("main", "baselines/api.json", []byte(`{"old":true}`))
	c, _ := newClient(t, s, "")
	u := BaselineUpdate{Base: "main", Branch: "loadgate/baseline-api", Path: "baselines/api.json",
		Content: []byte(`{"new":1}`), Message: "loadgate: update baseline", Title: "Update baseline", Body: "b"}
	ctx := context.Background()
	r1, err := c.OpenBaselinePR(ctx, repo, u)
	if err != nil || !r1.Created {
		t.Fatalf("%+v %v", r1, err)
	}
	if got, _ := s.File("loadgate/baseline-api", "baselines/api.json"); string(got) != `{"new":1}` {
		t.Fatalf("branch file %q", got)
	}
	if got, _ := s.File("main", "baselines/api.json"); string(got) != `{"old":true}` {
		t.Fatalf("main changed: %q", got)
	}
	u.Content = []byte(`{"new":2}`)
	r2, err := c.OpenBaselinePR(ctx, repo, u)
	if err != nil || r2.Created || r2.Number != r1.Number {
		t.Fatalf("second update: %+v %v", r2, err)
	}
	if got, _ := s.File("loadgate/baseline-api", "baselines/api.json"); string(got) != `{"new":2}` {
		t.Fatalf("branch file %q", got)
	}
	if len(s.Pulls()) != 1 {
		t.Fatalf("%d pulls", len(s.Pulls()))
	}
}

func TestPullRequestHeadCheck(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	s.AddPull(fakegithub.Pull{Number: 2, Head: "changes", Base: "master", HeadSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821"})
	c, _ := newClient(t, s, "")
	ctx := context.Background()
	if err := c.PullRequest(ctx, repo, 2, "ec26c3e57ca3a959ca5aad62de7213c562f8c821"); err != nil {
		t.Fatal(err)
	}
	if err := c.PullRequest(ctx, repo, 2, "0000000000000000000000000000000000000000"); err == nil {
		t.Fatal("mismatched head accepted")
	}
}

func TestParseRepo(t *testing.T) {
	t.Parallel()
	if r, err := ParseRepo("a/b"); err != nil || r != (Repo{"a", "b"}) {
		t.Fatal(r, err)
	}
	for _, bad := range []string{"", "a", "a/", "/b", "a/b/c"} {
		if _, err := ParseRepo(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestFileAt(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	s.PutFile("f95f852bd8fca8fcc58a9a2d6c842781e32a215e", "perf/baseline.json", []byte(`{"runs":[]}`))
	c, _ := newClient(t, s, "")
	got, err := c.FileAt(context.Background(), repo, "perf/baseline.json", "f95f852bd8fca8fcc58a9a2d6c842781e32a215e")
	if err != nil || string(got) != `{"runs":[]}` {
		t.Fatalf("%q %v", got, err)
	}
	if _, err := c.FileAt(context.Background(), repo, "nope.json", "main"); StatusCode(err) != 404 {
		t.Fatalf("missing file: %v", err)
	}
}

// A verdict too large for a comment is shortened by the report itself (whole
// parts left out, and said so), so neither the comment nor the check run has
// to cut it blindly; the link to the run, where the full report is, stays.
func TestRenderingFitsGitHubLimits(t *testing.T) {
	t.Parallel()
	v := loadVerdict(t, "verdict.regressed.json")
	proto := v.Endpoints[0]
	for i := range 3000 {
		e := proto
		e.Name = fmt.Sprintf("endpoint-%04d-%s", i, strings.Repeat("x", 40))
		v.Endpoints = append(v.Endpoints, e)
	}
	const run = "https://github.com/Codertocat/Hello-World/actions/runs/1"
	full := report.GitHub(v, report.GitHubOptions{RunURL: run})
	if len(full) <= MaxCommentBody {
		t.Fatalf("fixture too small: %d bytes", len(full))
	}
	got := report.GitHub(v, report.GitHubOptions{RunURL: run, MaxChars: BodyLimit(v.Plan)})
	if len(got) > BodyLimit(v.Plan) || len(got) > MaxCheckOutput {
		t.Fatalf("%d bytes, limit %d", len(got), BodyLimit(v.Plan))
	}
	body := Marker(v.Plan) + "\n" + got
	if Truncate(body, MaxCommentBody, truncationNote) != body {
		t.Error("the comment body would still be cut by Truncate")
	}
	for _, want := range []string{"### ❌ loadgate: checkout-api — FAIL", "**create-order**", "Report shortened", "[Workflow run and artifacts](" + run + ")\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("shortened rendering lacks %q", want)
		}
	}
	if strings.Count(got, "<details>") != strings.Count(got, "</details>") || strings.Count(got, "```")%2 != 0 {
		t.Error("open <details> or code fence")
	}
}

// TestWritesThatLandedAreNotRepeated: GitHub applied the first POST but
// answered 5xx; the retry finds it (marker, external_id key, issue key)
// instead of writing a second comment, check run or issue.
func TestWritesThatLandedAreNotRepeated(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	t.Run("comment", func(t *testing.T) {
		t.Parallel()
		s := fakegithub.New(t, fakegithub.SpecPath, token)
		s.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: 502, Times: 1, Applied: true})
		c, _ := newClient(t, s, "")
		res, err := c.UpsertComment(ctx, repo, 2, "checkout", "the verdict")
		if err != nil {
			t.Fatal(err)
		}
		cs := s.Comments(2)
		if len(cs) != 1 || s.Calls(fakegithub.OpCreateComment) != 1 || res.ID != cs[0].ID || !strings.Contains(cs[0].Body, "the verdict") {
			t.Fatalf("comments %+v after %d creates, result %+v", cs, s.Calls(fakegithub.OpCreateComment), res)
		}
	})
	t.Run("comment not landed is sent again", func(t *testing.T) {
		t.Parallel()
		s := fakegithub.New(t, fakegithub.SpecPath, token)
		s.Fail(fakegithub.OpCreateComment, fakegithub.Fault{Status: 502, Times: 1})
		c, _ := newClient(t, s, "")
		if _, err := c.UpsertComment(ctx, repo, 2, "checkout", "the verdict"); err != nil {
			t.Fatal(err)
		}
		if n := len(s.Comments(2)); n != 1 || s.Calls(fakegithub.OpCreateComment) != 2 {
			t.Fatalf("%d comments after %d creates, want 1 after 2", n, s.Calls(fakegithub.OpCreateComment))
		}
	})
	t.Run("check run", func(t *testing.T) {
		t.Parallel()
		s := fakegithub.New(t, fakegithub.SpecPath, token)
		c, _ := newClient(t, s, "")
		cr := CheckRun{Name: "loadgate / checkout", HeadSHA: "ec26c3e57ca3a959ca5aad62de7213c562f8c821", Conclusion: ConclusionSuccess, Title: "t", Summary: "s", ExternalID: "checkout"}
		// An earlier run's check run of the same name and plan: a rerun must
		// still publish its own.
		if _, err := c.CreateCheckRun(ctx, repo, cr); err != nil {
			t.Fatal(err)
		}
		s.Fail(fakegithub.OpCreateCheckRun, fakegithub.Fault{Status: 500, Times: 1, Applied: true})
		cr.Conclusion = ConclusionFailure
		res, err := c.CreateCheckRun(ctx, repo, cr)
		if err != nil {
			t.Fatal(err)
		}
		runs := s.CheckRuns()
		if len(runs) != 2 || s.Calls(fakegithub.OpCreateCheckRun) != 2 {
			t.Fatalf("%d check runs after %d creates, want 2 (the rerun's own, once)", len(runs), s.Calls(fakegithub.OpCreateCheckRun))
		}
		if runs[1].Conclusion != ConclusionFailure || res.ID != runs[1].ID || runs[0].ExternalID == runs[1].ExternalID || !strings.HasPrefix(runs[1].ExternalID, "checkout#") {
			t.Errorf("runs %+v, result %+v", runs, res)
		}
	})
	t.Run("issue", func(t *testing.T) {
		t.Parallel()
		s := fakegithub.New(t, fakegithub.SpecPath, token)
		s.Fail(fakegithub.OpCreateIssue, fakegithub.Fault{Status: 503, Times: 1, Applied: true})
		c, _ := newClient(t, s, "")
		res, err := c.ReportIssue(ctx, repo, 0, "checkout", "Performance regression", "the verdict", nil)
		if err != nil {
			t.Fatal(err)
		}
		is := s.Issues()
		if len(is) != 1 || s.Calls(fakegithub.OpCreateIssue) != 1 || res.Number != is[0].Number || !strings.Contains(is[0].Body, Marker("checkout")) {
			t.Fatalf("issues %+v after %d creates, result %+v", is, s.Calls(fakegithub.OpCreateIssue), res)
		}
	})
}

// TestRateLimitRememberedAcrossCalls: after a primary limit resetting beyond
// the wait cap, the next write — another operation, another Client with the
// same token — is not sent; after the reset it is.
func TestRateLimitRememberedAcrossCalls(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	c1, clk1 := newClient(t, s, "")
	s.Fail(fakegithub.OpCreateStatus, fakegithub.Fault{Status: fakegithub.RateLimitPrimary, Times: 1, Reset: clk1.Now().Add(time.Hour)})
	if err := c1.CreateStatus(ctx, repo, "abc", StateSuccess, "loadgate", "d", ""); err == nil {
		t.Fatal("no error for a primary limit an hour away")
	}
	c2, clk2 := newClient(t, s, "")
	_, err := c2.UpsertComment(ctx, repo, 2, "checkout", "b")
	var rl *RateLimitedError
	if !errors.As(err, &rl) || !rl.Until.Equal(clk1.Now().Add(time.Hour).Truncate(time.Second)) {
		t.Fatalf("second call: %v, want a RateLimitedError until the reset", err)
	}
	if IsPermission(err) {
		t.Error("a rate limit is not a permission problem")
	}
	for _, op := range []string{fakegithub.OpListComments, fakegithub.OpCreateComment} {
		if n := s.Calls(op); n != 0 {
			t.Errorf("%s sent %d times while limited", op, n)
		}
	}
	if len(clk2.Sleeps()) != 0 {
		t.Errorf("slept %v", clk2.Sleeps())
	}
	// Within the cap the client waits for the reset, then sends.
	_ = clk2.Sleep(ctx, time.Hour-time.Minute)
	if _, err := c2.UpsertComment(ctx, repo, 2, "checkout", "b"); err != nil {
		t.Fatal(err)
	}
	if got := clk2.Sleeps(); len(got) != 2 || got[1] != time.Minute || len(s.Comments(2)) != 1 {
		t.Errorf("sleeps %v, comments %d", got, len(s.Comments(2)))
	}
}

// TestFileAtOverOneMegabyte reads a baseline the contents API would return
// without content (a 200-endpoint baseline with five runs is ~3 MB).
func TestFileAtOverOneMegabyte(t *testing.T) {
	t.Parallel()
	s := fakegithub.New(t, fakegithub.SpecPath, token)
	c, _ := newClient(t, s, "")
	var b strings.Builder
	b.WriteString(`{"runs":[`)
	for i := 0; b.Len() < 3<<20; i++ {
		fmt.Fprintf(&b, `{"endpoint":"ep-%d","p95_ms":%d.125},`, i, i%997)
	}
	big := []byte(strings.TrimSuffix(b.String(), ",") + "]}")
	sha := "f95f852bd8fca8fcc58a9a2d6c842781e32a215e"
	s.PutFile(sha, "perf/baselines/api.json", big)
	got, err := c.FileAt(context.Background(), repo, "perf/baselines/api.json", sha)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, big) {
		t.Fatalf("got %d bytes, want the %d of the file", len(got), len(big))
	}
}
