package ghclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	gh "github.com/google/go-github/v62/github"
)

// GitHub API limits.
const (
	// MaxCommentBody is the longest issue/PR comment body GitHub accepts: a
	// longer one is refused with 422 "Body is too long (maximum is 65536
	// characters)" (issues/create-comment, issues/update-comment).
	MaxCommentBody = 65536
	// MaxCheckOutput is the longest check-run output.summary and output.text:
	// "Maximum length: 65535 characters" (docs.github.com/rest/checks/runs).
	MaxCheckOutput = 65535
	// MaxAnnotationsPerRequest is how many output.annotations one check-run
	// create or update accepts; more need further update calls
	// (docs.github.com/rest/checks/runs#update-a-check-run).
	MaxAnnotationsPerRequest = 50
	// MaxStatusDescription is the useful length of a commit status
	// description; GitHub truncates the display at 140 characters.
	MaxStatusDescription = 140
	// commentsPerPage is the largest page GitHub serves when listing comments.
	commentsPerPage = 100
)

// Marker is the hidden HTML comment that identifies loadgate's comment for a
// plan, so a rerun finds and edits it instead of adding another.
func Marker(plan string) string {
	// "--" would end the HTML comment early; the name is otherwise kept.
	return "<!-- loadgate:plan=" + strings.ReplaceAll(oneLine(plan), "--", "-\u200b-") + " -->"
}

// CommentResult says what UpsertComment did.
type CommentResult struct {
	ID      int64
	URL     string
	Created bool
}

// UpsertComment makes sure PR (or issue) number carries exactly one loadgate
// comment for plan: the one with Marker(plan) is edited in place, otherwise a
// comment is created. body is truncated to MaxCommentBody.
func (c *Client) UpsertComment(ctx context.Context, repo Repo, number int, plan, body string) (CommentResult, error) {
	body = Truncate(Marker(plan)+"\n"+body, MaxCommentBody, truncationNote)
	marker := Marker(plan)
	found, err := c.findComment(ctx, repo, number, marker)
	if err != nil {
		return CommentResult{}, err
	}
	var out *gh.IssueComment
	if found != nil {
		if found.GetBody() == body {
			return CommentResult{ID: found.GetID(), URL: found.GetHTMLURL()}, nil
		}
		err := c.do(ctx, "edit comment", func(g *gh.Client) error {
			var err error
			out, _, err = g.Issues.EditComment(ctx, repo.Owner, repo.Name, found.GetID(), &gh.IssueComment{Body: gh.String(body)})
			return err
		})
		if err != nil {
			return CommentResult{}, err
		}
		return CommentResult{ID: out.GetID(), URL: out.GetHTMLURL()}, nil
	}
	// A create that failed with a 5xx may have posted the comment: the
	// marker finds it before a second one is posted.
	probed := false
	err = c.doWrite(ctx, "create comment", func(g *gh.Client) (bool, error) {
		landed, err := c.findComment(ctx, repo, number, marker)
		if landed != nil {
			out, probed = landed, true
		}
		return landed != nil, err
	}, func(g *gh.Client) error {
		var err error
		out, _, err = g.Issues.CreateComment(ctx, repo.Owner, repo.Name, number, &gh.IssueComment{Body: gh.String(body)})
		return err
	})
	if err != nil {
		return CommentResult{}, err
	}
	if probed && out.GetBody() != body {
		// Not this attempt's comment but another run's with the same marker:
		// that one is kept up to date.
		err := c.do(ctx, "edit comment", func(g *gh.Client) error {
			var err error
			out, _, err = g.Issues.EditComment(ctx, repo.Owner, repo.Name, out.GetID(), &gh.IssueComment{Body: gh.String(body)})
			return err
		})
		if err != nil {
			return CommentResult{}, err
		}
		return CommentResult{ID: out.GetID(), URL: out.GetHTMLURL()}, nil
	}
	return CommentResult{ID: out.GetID(), URL: out.GetHTMLURL(), Created: true}, nil
}

// findComment returns the first comment of PR (or issue) number holding
// marker, or nil.
func (c *Client) findComment(ctx context.Context, repo Repo, number int, marker string) (*gh.IssueComment, error) {
	opt := &gh.IssueListCommentsOptions{ListOptions: gh.ListOptions{PerPage: commentsPerPage}}
	for {
		var page []*gh.IssueComment
		var resp *gh.Response
		err := c.do(ctx, "list comments", func(g *gh.Client) error {
			var err error
			page, resp, err = g.Issues.ListComments(ctx, repo.Owner, repo.Name, number, opt)
			return err
		})
		if err != nil {
			return nil, err
		}
		for _, cm := range page {
			if strings.Contains(cm.GetBody(), marker) {
				return cm, nil
			}
		}
		if resp == nil || resp.NextPage == 0 {
			return nil, nil
		}
		opt.Page = resp.NextPage
	}
}

// writeKey is a one-off key that identifies one write among retries, so a
// retry can tell its own landed attempt from an earlier run's.
func writeKey() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Annotation levels of a check run.
const (
	LevelNotice  = "notice"
	LevelWarning = "warning"
	LevelFailure = "failure"
)

// Annotation points at a line of a file in the repository.
type Annotation struct {
	Path      string
	StartLine int
	EndLine   int
	Level     string
	Title     string
	Message   string
}

// Check run conclusions used by loadgate.
const (
	ConclusionSuccess = "success"
	ConclusionFailure = "failure"
	ConclusionNeutral = "neutral"
)

// CheckRun is a completed check run to publish.
type CheckRun struct {
	Name       string
	HeadSHA    string
	Conclusion string
	Title      string
	Summary    string
	Text       string
	DetailsURL string
	// ExternalID ties the check to the plan (its name).
	ExternalID  string
	Annotations []Annotation
}

// CheckResult says what was published.
type CheckResult struct {
	ID  int64
	URL string
}

// CreateCheckRun publishes cr as a completed check run. Annotations beyond the
// first MaxAnnotationsPerRequest go in further update calls, as GitHub asks.
func (c *Client) CreateCheckRun(ctx context.Context, repo Repo, cr CheckRun) (CheckResult, error) {
	now := gh.Timestamp{Time: c.opts.Now().UTC().Truncate(time.Second)}
	output := func(batch []Annotation) *gh.CheckRunOutput {
		o := &gh.CheckRunOutput{
			Title:   gh.String(Truncate(oneLine(cr.Title), 1000, "…")),
			Summary: gh.String(Truncate(cr.Summary, MaxCheckOutput, truncationNote)),
		}
		if cr.Text != "" {
			o.Text = gh.String(Truncate(cr.Text, MaxCheckOutput, truncationNote))
		}
		for _, a := range batch {
			a := a
			start, end := max(a.StartLine, 1), max(a.EndLine, a.StartLine, 1)
			o.Annotations = append(o.Annotations, &gh.CheckRunAnnotation{
				Path: gh.String(a.Path), StartLine: gh.Int(start), EndLine: gh.Int(end),
				AnnotationLevel: gh.String(a.Level), Title: gh.String(Truncate(a.Title, 255, "…")),
				Message: gh.String(Truncate(a.Message, 64*1024-1, "…")),
			})
		}
		return o
	}
	first := cr.Annotations[:min(len(cr.Annotations), MaxAnnotationsPerRequest)]
	rest := cr.Annotations[len(first):]
	opts := gh.CreateCheckRunOptions{
		Name:        cr.Name,
		HeadSHA:     cr.HeadSHA,
		Status:      gh.String("completed"),
		Conclusion:  gh.String(cr.Conclusion),
		StartedAt:   &now,
		CompletedAt: &now,
		Output:      output(first),
	}
	if cr.DetailsURL != "" {
		opts.DetailsURL = gh.String(cr.DetailsURL)
	}
	// external_id carries a one-off key: a retry after a 5xx finds the check
	// run its first attempt created (and not a rerun's) and does not add a
	// second one.
	externalID := cr.ExternalID + "#" + writeKey()
	opts.ExternalID = gh.String(externalID)
	var run *gh.CheckRun
	if err := c.doWrite(ctx, "create check run", func(g *gh.Client) (bool, error) {
		list, _, err := g.Checks.ListCheckRunsForRef(ctx, repo.Owner, repo.Name, cr.HeadSHA, &gh.ListCheckRunsOptions{
			CheckName: gh.String(cr.Name), Filter: gh.String("all"), ListOptions: gh.ListOptions{PerPage: 100},
		})
		if err != nil {
			return false, err
		}
		for _, r := range list.CheckRuns {
			if r.GetExternalID() == externalID {
				run = r
				return true, nil
			}
		}
		return false, nil
	}, func(g *gh.Client) error {
		var err error
		run, _, err = g.Checks.CreateCheckRun(ctx, repo.Owner, repo.Name, opts)
		return err
	}); err != nil {
		return CheckResult{}, err
	}
	res := CheckResult{ID: run.GetID(), URL: run.GetHTMLURL()}
	for len(rest) > 0 {
		batch := rest[:min(len(rest), MaxAnnotationsPerRequest)]
		rest = rest[len(batch):]
		if err := c.do(ctx, "add check run annotations", func(g *gh.Client) error {
			_, _, err := g.Checks.UpdateCheckRun(ctx, repo.Owner, repo.Name, run.GetID(), gh.UpdateCheckRunOptions{
				Name: cr.Name, Output: output(batch),
			})
			return err
		}); err != nil {
			return res, err
		}
	}
	return res, nil
}

// Commit status states.
const (
	StateSuccess = "success"
	StateFailure = "failure"
	StateError   = "error"
)

// CreateStatus sets a commit status: the fallback when the token may not
// create check runs (checks: write is only granted to GitHub Apps and
// GITHUB_TOKEN, not to personal access tokens).
func (c *Client) CreateStatus(ctx context.Context, repo Repo, sha, state, statusContext, description, targetURL string) error {
	st := &gh.RepoStatus{
		State:       gh.String(state),
		Context:     gh.String(statusContext),
		Description: gh.String(Truncate(oneLine(description), MaxStatusDescription, "…")),
	}
	if targetURL != "" {
		st.TargetURL = gh.String(targetURL)
	}
	return c.do(ctx, "create commit status", func(g *gh.Client) error {
		_, _, err := g.Repositories.CreateStatus(ctx, repo.Owner, repo.Name, sha, st)
		return err
	})
}

// IssueResult says what ReportIssue did.
type IssueResult struct {
	Number  int
	URL     string
	Created bool
}

// ReportIssue records a regression of a scheduled run. With number > 0 it
// keeps one sticky comment (Marker) on that issue up to date; otherwise it
// opens a new issue whose body carries the marker.
func (c *Client) ReportIssue(ctx context.Context, repo Repo, number int, plan, title, body string, labels []string) (IssueResult, error) {
	if number > 0 {
		res, err := c.UpsertComment(ctx, repo, number, plan, body)
		if err != nil {
			return IssueResult{}, err
		}
		return IssueResult{Number: number, URL: res.URL}, nil
	}
	// The body's hidden key lets a retry after a 5xx find the issue its first
	// attempt opened instead of opening a second one.
	key := "<!-- loadgate:write=" + writeKey() + " -->"
	req := &gh.IssueRequest{
		Title: gh.String(Truncate(oneLine(title), 256, "…")),
		Body:  gh.String(Truncate(Marker(plan)+"\n"+key+"\n"+body, MaxCommentBody, truncationNote)),
	}
	if len(labels) > 0 {
		req.Labels = &labels
	}
	var is *gh.Issue
	if err := c.doWrite(ctx, "open issue", func(g *gh.Client) (bool, error) {
		list, _, err := g.Issues.ListByRepo(ctx, repo.Owner, repo.Name, &gh.IssueListByRepoOptions{
			State: "open", Sort: "created", Direction: "desc", ListOptions: gh.ListOptions{PerPage: 30},
		})
		if err != nil {
			return false, err
		}
		for _, cand := range list {
			if strings.Contains(cand.GetBody(), key) {
				is = cand
				return true, nil
			}
		}
		return false, nil
	}, func(g *gh.Client) error {
		var err error
		is, _, err = g.Issues.Create(ctx, repo.Owner, repo.Name, req)
		return err
	}); err != nil {
		return IssueResult{}, err
	}
	return IssueResult{Number: is.GetNumber(), URL: is.GetHTMLURL(), Created: true}, nil
}

// PullRequest checks that PR number exists and that its head is headSHA. The
// workflow_run pattern reads the PR number from an artifact the untrusted run
// wrote; this check keeps it from pointing the report at another PR.
func (c *Client) PullRequest(ctx context.Context, repo Repo, number int, headSHA string) error {
	var pr *gh.PullRequest
	if err := c.do(ctx, "get pull request", func(g *gh.Client) error {
		var err error
		pr, _, err = g.PullRequests.Get(ctx, repo.Owner, repo.Name, number)
		return err
	}); err != nil {
		return err
	}
	if got := pr.GetHead().GetSHA(); headSHA != "" && got != headSHA {
		return fmt.Errorf("pull request #%d has head %s, not %s: refusing to report on it", number, got, headSHA)
	}
	return nil
}

// BaselineUpdate is a baseline file to propose in a pull request.
type BaselineUpdate struct {
	// Base is the branch the PR targets (the default branch).
	Base string
	// Branch is the PR's head branch, created from Base when missing.
	Branch  string
	Path    string
	Content []byte
	Message string
	Title   string
	Body    string
}

// PRResult says what OpenBaselinePR did.
type PRResult struct {
	Number  int
	URL     string
	Created bool
}

// OpenBaselinePR commits u.Content to u.Path on u.Branch (created from u.Base
// when missing) and opens a pull request into u.Base, or reuses the open one.
// It uses the git refs, contents and pulls APIs, so it needs contents: write
// and pull-requests: write.
func (c *Client) OpenBaselinePR(ctx context.Context, repo Repo, u BaselineUpdate) (PRResult, error) {
	var baseRef *gh.Reference
	if err := c.do(ctx, "read base branch", func(g *gh.Client) error {
		var err error
		baseRef, _, err = g.Git.GetRef(ctx, repo.Owner, repo.Name, "heads/"+u.Base)
		return err
	}); err != nil {
		return PRResult{}, err
	}
	// The branch may exist from an earlier update; its file then has a SHA.
	branchExists := true
	if err := c.do(ctx, "read update branch", func(g *gh.Client) error {
		_, _, err := g.Git.GetRef(ctx, repo.Owner, repo.Name, "heads/"+u.Branch)
		return err
	}); err != nil {
		if StatusCode(err) != http.StatusNotFound {
			return PRResult{}, err
		}
		branchExists = false
	}
	if !branchExists {
		if err := c.do(ctx, "create update branch", func(g *gh.Client) error {
			_, _, err := g.Git.CreateRef(ctx, repo.Owner, repo.Name, &gh.Reference{
				Ref:    gh.String("refs/heads/" + u.Branch),
				Object: &gh.GitObject{SHA: baseRef.GetObject().SHA},
			})
			return err
		}); err != nil {
			return PRResult{}, err
		}
	}
	var sha *string
	if err := c.do(ctx, "read baseline file", func(g *gh.Client) error {
		fc, _, _, err := g.Repositories.GetContents(ctx, repo.Owner, repo.Name, u.Path, &gh.RepositoryContentGetOptions{Ref: u.Branch})
		if err == nil && fc != nil {
			sha = fc.SHA
		}
		return err
	}); err != nil && StatusCode(err) != http.StatusNotFound {
		return PRResult{}, err
	}
	file := &gh.RepositoryContentFileOptions{
		Message: gh.String(u.Message), Content: u.Content, Branch: gh.String(u.Branch), SHA: sha,
	}
	if err := c.do(ctx, "commit baseline file", func(g *gh.Client) error {
		var err error
		if sha == nil {
			_, _, err = g.Repositories.CreateFile(ctx, repo.Owner, repo.Name, u.Path, file)
		} else {
			_, _, err = g.Repositories.UpdateFile(ctx, repo.Owner, repo.Name, u.Path, file)
		}
		return err
	}); err != nil {
		return PRResult{}, err
	}
	var open []*gh.PullRequest
	if err := c.do(ctx, "list pull requests", func(g *gh.Client) error {
		var err error
		open, _, err = g.PullRequests.List(ctx, repo.Owner, repo.Name, &gh.PullRequestListOptions{
			State: "open", Head: repo.Owner + ":" + u.Branch, Base: u.Base,
		})
		return err
	}); err != nil {
		return PRResult{}, err
	}
	if len(open) > 0 {
		return PRResult{Number: open[0].GetNumber(), URL: open[0].GetHTMLURL()}, nil
	}
	var pr *gh.PullRequest
	if err := c.do(ctx, "open pull request", func(g *gh.Client) error {
		var err error
		pr, _, err = g.PullRequests.Create(ctx, repo.Owner, repo.Name, &gh.NewPullRequest{
			Title: gh.String(u.Title), Head: gh.String(u.Branch), Base: gh.String(u.Base), Body: gh.String(u.Body),
		})
		return err
	}); err != nil {
		return PRResult{}, err
	}
	return PRResult{Number: pr.GetNumber(), URL: pr.GetHTMLURL(), Created: true}, nil
}

// MaxFileSize is the largest file the contents API serves (raw media type).
const MaxFileSize = 100 << 20

// rawMediaType asks the contents API for the file's bytes: the default JSON
// answer has no content for files over 1 MB (encoding "none"), and a
// baseline of 200 endpoints with five runs is over 3 MB.
const rawMediaType = "application/vnd.github.raw+json"

// FileAt returns the content of path at ref (a branch, tag or commit SHA),
// e.g. the baseline file as the pull request's base has it, whatever its size
// up to MaxFileSize.
func (c *Client) FileAt(ctx context.Context, repo Repo, path, ref string) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.do(ctx, "read "+path+"@"+ref, func(g *gh.Client) error {
		buf.Reset()
		u := fmt.Sprintf("repos/%s/%s/contents/%s?ref=%s", url.PathEscape(repo.Owner), url.PathEscape(repo.Name),
			(&url.URL{Path: strings.Trim(path, "/")}).EscapedPath(), url.QueryEscape(ref))
		req, err := g.NewRequest(http.MethodGet, u, nil)
		if err != nil {
			return err
		}
		req.Header.Set("Accept", rawMediaType)
		resp, err := g.Do(ctx, req, &capWriter{w: &buf, left: MaxFileSize})
		if err != nil {
			return err
		}
		if ct := resp.Header.Get("Content-Type"); strings.HasPrefix(ct, "application/json") {
			return fmt.Errorf("%s at %s is not a file", path, ref)
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// capWriter refuses to hold more than left bytes.
type capWriter struct {
	w    *bytes.Buffer
	left int
}

var errFileTooLarge = errors.New("file larger than 100 MB")

func (c *capWriter) Write(p []byte) (int, error) {
	if len(p) > c.left {
		return 0, errFileTooLarge
	}
	c.left -= len(p)
	return c.w.Write(p)
}
