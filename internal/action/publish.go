package action

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/actionsenv"
	"github.com/loadgate/loadgate/internal/ghclient"
	"github.com/loadgate/loadgate/report"
)

// githubSide reports to GitHub. A nil client (no token, no repository) leaves
// only the job summary, outputs and annotations.
type githubSide struct {
	a      *action
	env    *actionsenv.Env
	gctx   *actionsenv.Context
	in     actionInputs
	client *ghclient.Client
	repo   ghclient.Repo
	// notes explain what could not be done, for the job summary.
	notes []string
}

func newGitHubSide(a *action, env *actionsenv.Env, gctx *actionsenv.Context, in actionInputs) *githubSide {
	g := &githubSide{a: a, env: env, gctx: gctx, in: in}
	if in.Token == "" {
		g.notice("GitHub reporting off", "no github-token: only the job summary, outputs and annotations are written.")
		return g
	}
	repo, err := ghclient.ParseRepo(gctx.Repository)
	if err != nil {
		g.warn("GitHub reporting off", "GITHUB_REPOSITORY: "+err.Error())
		return g
	}
	client, err := ghclient.New(ghclient.Options{Token: in.Token, APIURL: gctx.APIURL,
		Logf: func(f string, args ...any) { fmt.Fprintf(a.stderr, "loadgate: "+f+"\n", args...) }})
	if err != nil {
		g.warn("GitHub reporting off", err.Error())
		return g
	}
	g.client, g.repo = client, repo
	return g
}

func (g *githubSide) ctx() context.Context {
	if g.a.ctx == nil {
		return context.Background()
	}
	return g.a.ctx
}

func (g *githubSide) warn(title, msg string) {
	_ = g.env.Annotate(actionsenv.Annotation{Level: actionsenv.Warning, Title: "loadgate: " + title, Msg: msg})
	fmt.Fprintf(g.a.stderr, "loadgate: %s: %s\n", title, msg)
}

func (g *githubSide) notice(title, msg string) {
	_ = g.env.Annotate(actionsenv.Annotation{Level: actionsenv.Notice, Title: "loadgate: " + title, Msg: msg})
}

// fail reports a GitHub error: a 403/404 with what permission is missing and
// the fork-safe pattern, anything else as an outage. Neither changes the verdict.
func (g *githubSide) fail(what, permission string, p prContext, err error) {
	if ghclient.IsPermission(err) {
		msg := permissionAdvice(what, permission, p)
		g.notes = append(g.notes, msg)
		g.warn("GitHub "+what+" skipped", msg+" ("+err.Error()+")")
		return
	}
	msg := fmt.Sprintf("could not %s: %v. The verdict and exit code are unaffected.", what, err)
	g.notes = append(g.notes, msg)
	g.warn("GitHub "+what+" failed", msg)
}

// permissionAdvice explains a 403/404 and what to do about it.
func permissionAdvice(what, permission string, p prContext) string {
	s := fmt.Sprintf("GitHub refused to %s (the token lacks %q).", what, permission)
	if p.Fork {
		return s + " This is a pull request from a fork: its token is read-only. Use the two-workflow pattern: upload the results directory as an artifact here, and post it from a workflow_run workflow with verdict-from (see docs/github-action.md)."
	}
	return s + fmt.Sprintf(" Add `permissions: %s` to the job, or use the two-workflow pattern for forks (docs/github-action.md). The verdict and exit code are unaffected.", permission)
}

// baseBaseline returns the baseline to compare a pull request with: the file
// as the PR's base commit has it, so a PR cannot move its own goalposts. It
// falls back to the checked-out file when the base has none or it cannot be read.
func (g *githubSide) baseBaseline(rc runContext, local, baseSHA string) string {
	if g.client == nil || baseSHA == "" {
		return local
	}
	rel := relTo(rc.ws, local)
	if filepath.IsAbs(rel) {
		return local
	}
	data, err := g.client.FileAt(g.ctx(), g.repo, rel, baseSHA)
	if err != nil {
		if ghclient.StatusCode(err) == 404 {
			g.notice("baseline", fmt.Sprintf("%s does not exist at the base commit %s (or cannot be read); comparing with the pull request's copy.", rel, short(baseSHA)))
		} else {
			g.warn("baseline", fmt.Sprintf("could not read %s at the base commit: %v; comparing with the pull request's copy.", rel, err))
		}
		return local
	}
	if cur, err := os.ReadFile(local); err == nil && bytes.Equal(cur, data) {
		return local
	}
	out := filepath.Join(rc.results, baseBaselineFile)
	if err := os.WriteFile(out, data, 0o644); err != nil {
		g.warn("baseline", err.Error())
		return local
	}
	g.warn("baseline changed by this pull request", fmt.Sprintf("%s differs from the base commit %s: comparing with the base's version.", rel, short(baseSHA)))
	return out
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}

// openBaselinePR proposes the updated baseline file in a pull request.
func (g *githubSide) openBaselinePR(rc runContext, baseline, defaultBranch string, v *gate.Verdict) {
	if g.client == nil {
		g.warn("open-pr skipped", "no GitHub client (token or repository missing)")
		return
	}
	data, err := os.ReadFile(baseline)
	if err != nil {
		g.warn("open-pr skipped", err.Error())
		return
	}
	rel := relTo(rc.ws, baseline)
	planName := "plan"
	if v != nil && v.Plan != "" {
		planName = v.Plan
	}
	branch := "loadgate/baseline-" + branchSafe(planName)
	res, err := g.client.OpenBaselinePR(g.ctx(), g.repo, ghclient.BaselineUpdate{
		Base: defaultBranch, Branch: branch, Path: rel, Content: data,
		Message: fmt.Sprintf("loadgate: update baseline %s (%s)", rel, short(g.gctx.SHA)),
		Title:   fmt.Sprintf("loadgate: update performance baseline for %s", planName),
		Body: fmt.Sprintf("Appends the run of %s on %s to `%s`.\n\nOpened by loadgate from %s.",
			short(g.gctx.SHA), defaultBranch, rel, g.gctx.RunURL()),
	})
	if err != nil {
		g.fail("open the baseline pull request", "contents: write, pull-requests: write", prContext{}, err)
		return
	}
	fmt.Fprintf(g.a.stderr, "loadgate: baseline pull request %s\n", res.URL)
}

// branchSafe replaces every run of bytes other than [A-Za-z0-9._-] with one
// "-", as the regular expression `[^A-Za-z0-9._-]+` would (a multi-byte
// character is such a run), without compiling one at every start-up.
func branchSafe(s string) string {
	b := make([]byte, 0, len(s))
	run := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '.', c == '_', c == '-':
			b = append(b, c)
			run = false
		case !run:
			b = append(b, '-')
			run = true
		}
	}
	s = strings.Trim(string(b), "-.")
	if s == "" {
		return "plan"
	}
	return s
}

// ghResult is what the GitHub side produced.
type ghResult struct {
	commentURL string
	checkRunID int64
}

func (g *githubSide) publish(rc runContext, v *gate.Verdict, code int, p prContext, fromPrev bool, lines func(string) int) ghResult {
	var res ghResult
	if g.client == nil {
		return res
	}
	ctx, client, repo, gctx, in := g.ctx(), g.client, g.repo, g.gctx, g.in
	p, ok := g.trustedPR(p, fromPrev)
	if !ok {
		return res
	}

	// Comment, check run and issue share one body that fits all three; the
	// job summary (below) keeps the full report.
	body := report.GitHub(v, report.GitHubOptions{RunURL: gctx.RunURL(), MaxChars: ghclient.BodyLimit(v.Plan)})
	if in.Comment && p.Number > 0 {
		r, err := client.UpsertComment(ctx, repo, p.Number, v.Plan, body)
		if err != nil {
			g.fail("comment on the pull request", "pull-requests: write", p, err)
		} else {
			res.commentURL = r.URL
			fmt.Fprintf(g.a.stderr, "loadgate: PR comment %s\n", r.URL)
		}
	}

	concl := conclusion(v, code)
	if in.Check && p.HeadSHA != "" {
		cr, err := client.CreateCheckRun(ctx, repo, ghclient.CheckRun{
			Name:        "loadgate / " + v.Plan,
			HeadSHA:     p.HeadSHA,
			Conclusion:  concl,
			Title:       report.CheckTitle(v),
			Summary:     body,
			DetailsURL:  gctx.RunURL(),
			ExternalID:  v.Plan,
			Annotations: checkAnnotations(v, rc.planRel, lines),
		})
		switch {
		case err == nil:
			res.checkRunID = cr.ID
		case ghclient.IsPermission(err):
			// Personal access tokens and read-only tokens cannot create check
			// runs; a commit status carries the verdict instead.
			serr := client.CreateStatus(ctx, repo, p.HeadSHA, statusState(concl), "loadgate/"+v.Plan, report.CheckTitle(v), gctx.RunURL())
			if serr != nil {
				g.fail("create a check run or a commit status", "checks: write", p, errors.Join(err, serr))
			} else {
				fmt.Fprintf(g.a.stderr, "loadgate: check run not allowed (%v); commit status set instead\n", err)
			}
		default:
			g.fail("create the check run", "checks: write", p, err)
		}
	}

	scheduled := gctx.EventName == "schedule" || gctx.EventName == "workflow_dispatch"
	if in.IssueOnRegression && scheduled && len(v.Regressions()) > 0 {
		title := "Performance regression: " + report.CheckTitle(v)
		r, err := client.ReportIssue(ctx, repo, in.IssueNumber, v.Plan, title, body, in.IssueLabels)
		if err != nil {
			g.fail("open or update the regression issue", "issues: write", p, err)
		} else {
			fmt.Fprintf(g.a.stderr, "loadgate: regression reported in %s\n", r.URL)
		}
	}
	return res
}

// trustedPR checks the pull request and commit a report is about. For a
// verdict read from an artifact (fromPrev) the PR number came from the
// untrusted run: prefer the trusted event's, else check the PR's head is the
// run's commit. ok is false when the artifact is for another commit.
func (g *githubSide) trustedPR(p prContext, fromPrev bool) (prContext, bool) {
	if !fromPrev {
		return p, true
	}
	if wr := g.gctx.Event.WorkflowRun; wr != nil {
		if p.HeadSHA != "" && wr.HeadSHA != "" && p.HeadSHA != wr.HeadSHA {
			g.warn("report refused", fmt.Sprintf("the artifact is for commit %s but the workflow run is for %s", p.HeadSHA, wr.HeadSHA))
			return p, false
		}
		p.HeadSHA = wr.HeadSHA
		if len(wr.PullRequests) > 0 {
			p.Number, p.Verified = wr.PullRequests[0], true
		}
	}
	if p.Number > 0 && !p.Verified {
		if err := g.client.PullRequest(g.ctx(), g.repo, p.Number, p.HeadSHA); err != nil {
			g.warn("PR comment refused", err.Error())
			p.Number = 0
		}
	}
	return p, true
}

// publishNoVerdict replaces what the last run published for this plan (the
// sticky comment, a check run) with "no verdict: <reason>", so an earlier
// verdict never stands for a run that reached none. Without the plan's name
// there is no comment or check run to address; the job summary says it.
func (g *githubSide) publishNoVerdict(r runOutcome, p prContext, fromPrev bool) ghResult {
	var res ghResult
	if g.client == nil || r.plan == "" {
		return res
	}
	p, ok := g.trustedPR(p, fromPrev)
	if !ok {
		return res
	}
	ctx, client, repo, gctx, in := g.ctx(), g.client, g.repo, g.gctx, g.in
	body := report.NoVerdictMarkdown(r.plan, r.reason, r.code, gctx.RunURL())
	if in.Comment && p.Number > 0 {
		c, err := client.UpsertComment(ctx, repo, p.Number, r.plan, body)
		if err != nil {
			g.fail("comment on the pull request", "pull-requests: write", p, err)
		} else {
			res.commentURL = c.URL
			fmt.Fprintf(g.a.stderr, "loadgate: PR comment %s\n", c.URL)
		}
	}
	if in.Check && p.HeadSHA != "" {
		title := report.NoVerdictTitle(r.reason)
		cr, err := client.CreateCheckRun(ctx, repo, ghclient.CheckRun{
			Name: "loadgate / " + r.plan, HeadSHA: p.HeadSHA, Conclusion: ghclient.ConclusionFailure,
			Title: title, Summary: body, DetailsURL: gctx.RunURL(), ExternalID: r.plan,
		})
		switch {
		case err == nil:
			res.checkRunID = cr.ID
		case ghclient.IsPermission(err):
			serr := client.CreateStatus(ctx, repo, p.HeadSHA, ghclient.StateFailure, "loadgate/"+r.plan, title, gctx.RunURL())
			if serr != nil {
				g.fail("create a check run or a commit status", "checks: write", p, errors.Join(err, serr))
			}
		default:
			g.fail("create the check run", "checks: write", p, err)
		}
	}
	return res
}

// conclusion maps a verdict and the process exit code to a check-run
// conclusion: a failing exit is a failure, an inconclusive verdict neutral.
func conclusion(v *gate.Verdict, exitCode int) string {
	switch {
	case exitCode != 0:
		return ghclient.ConclusionFailure
	case v != nil && v.Decision == gate.Inconclusive:
		return ghclient.ConclusionNeutral
	default:
		return ghclient.ConclusionSuccess
	}
}

// statusState maps a conclusion to a commit status state.
func statusState(conclusion string) string {
	if conclusion == ghclient.ConclusionFailure {
		return ghclient.StateFailure
	}
	// A status has no "neutral": an inconclusive run does not block.
	return ghclient.StateSuccess
}

// checkAnnotations are the report's annotations in the check-run API's form.
func checkAnnotations(v *gate.Verdict, planPath string, line func(string) int) []ghclient.Annotation {
	var out []ghclient.Annotation
	for _, a := range report.Annotations(v, planPath, line) {
		out = append(out, ghclient.Annotation{Path: a.Path, StartLine: a.StartLine, EndLine: a.EndLine, Level: a.Level, Title: a.Title, Message: a.Message})
	}
	return out
}
