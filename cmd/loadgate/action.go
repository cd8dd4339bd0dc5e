package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/actionsenv"
	ghreport "github.com/loadgate/loadgate/report/github"
)

// Files the action writes in its results directory (uploaded as an artifact
// by the workflow; the privileged workflow_run half reads them back).
const (
	verdictFile = "verdict.json"
	resultsFile = "results.json"
	reportFile  = "report.md"
	contextFile = "context.json"
)

// actionInputs are the action.yml inputs the action reads.
type actionInputs struct {
	Plan, Baseline, Mode, BaseTarget string
	Token                            string
	Comment, Check                   bool
	FailOn                           string
	UpdateBaseline, OpenPR           bool
	WorkingDirectory                 string
	Reports                          []string
	ResultsDir                       string
	VerdictFrom                      string
	IssueOnRegression                bool
	IssueNumber                      int
	IssueLabels                      []string
	AWS                              map[string]string
}

// awsInputs are forwarded as --aws-* flags to the AWS runner.
var awsInputs = []string{"aws-region", "aws-cluster", "aws-subnets", "aws-security-groups", "aws-task-definition", "aws-bucket", "aws-workers", "aws-role-arn"}

// actionInputNames lists every input action.go reads; a test keeps action.yml
// in step with it.
func actionInputNames() []string {
	return append([]string{"plan", "baseline", "mode", "base-target", "github-token", "comment", "check",
		"fail-on", "update-baseline", "open-pr", "working-directory", "reports", "results-dir",
		"verdict-from", "issue-on-regression", "issue-number", "issue-labels"}, awsInputs...)
}

// actionOutputNames lists every output the action sets.
func actionOutputNames() []string {
	return []string{"verdict", "regressions", "results-path", "report-path", "comment-url", "check-run-id", "exit-code"}
}

func readActionInputs(env *actionsenv.Env) (actionInputs, error) {
	var errs []error
	boolIn := func(name string, def bool) bool {
		b, err := env.BoolInput(name, def)
		errs = append(errs, err)
		return b
	}
	list := func(name string) []string {
		var out []string
		for _, f := range strings.FieldsFunc(env.Input(name), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' }) {
			out = append(out, f)
		}
		return out
	}
	or := func(v, def string) string {
		if v == "" {
			return def
		}
		return v
	}
	in := actionInputs{
		Plan:              or(env.Input("plan"), "loadgate.yaml"),
		Baseline:          env.Input("baseline"),
		Mode:              or(env.Input("mode"), "local"),
		BaseTarget:        env.Input("base-target"),
		Token:             env.Input("github-token"),
		Comment:           boolIn("comment", true),
		Check:             boolIn("check", true),
		FailOn:            or(env.Input("fail-on"), "regression"),
		UpdateBaseline:    boolIn("update-baseline", false),
		OpenPR:            boolIn("open-pr", false),
		WorkingDirectory:  or(env.Input("working-directory"), "."),
		Reports:           list("reports"),
		ResultsDir:        or(env.Input("results-dir"), "loadgate-results"),
		VerdictFrom:       env.Input("verdict-from"),
		IssueOnRegression: boolIn("issue-on-regression", false),
		IssueLabels:       list("issue-labels"),
		AWS:               map[string]string{},
	}
	if n := env.Input("issue-number"); n != "" {
		v, err := strconv.Atoi(n)
		if err != nil || v <= 0 {
			errs = append(errs, fmt.Errorf("input issue-number: %q is not an issue number", n))
		}
		in.IssueNumber = v
	}
	switch in.Mode {
	case "local", "paired", "aws":
	default:
		errs = append(errs, fmt.Errorf("input mode: %q, want local, paired or aws", in.Mode))
	}
	if in.Mode == "paired" && in.BaseTarget == "" && in.VerdictFrom == "" {
		errs = append(errs, errors.New("input base-target: required with mode: paired (the URL of the base build)"))
	}
	switch in.FailOn {
	case "regression", "inconclusive", "never":
	default:
		errs = append(errs, fmt.Errorf("input fail-on: %q, want regression, inconclusive or never", in.FailOn))
	}
	for _, k := range awsInputs {
		if v := env.Input(k); v != "" {
			in.AWS[k] = v
		}
	}
	return in, errors.Join(errs...)
}

// runContext is what the action knows about where it runs.
type runContext struct {
	ws       string // GITHUB_WORKSPACE (or the current directory)
	workdir  string // ws + working-directory
	results  string // absolute results directory
	planPath string // absolute plan path
	planRel  string // plan path relative to the repository root, for annotations
}

func newActionCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:   "action",
		Short: "Run as the GitHub Action (reads INPUT_* and GITHUB_* variables)",
		Long: `action is the container action's entrypoint. It reads the action inputs,
runs "loadgate gate" in-process, then reports to GitHub: job summary, step
outputs, annotations, a sticky pull-request comment, a check run (or a commit
status), an issue for scheduled regressions and a baseline pull request.

GitHub failures never change the verdict: the exit code is the gate's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runAction(a)
		},
	}
}

func runAction(a *app) error {
	env := actionsenv.New(a.getenv, a.stdout)
	in, inErr := readActionInputs(env)
	// The token is masked before anything else can print it.
	_ = env.Mask(in.Token)
	if inErr != nil {
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Error, Title: "loadgate: action inputs", Msg: inErr.Error()})
		return withCode(exitUsage, inErr)
	}
	gctx, ctxErr := env.Context()
	if ctxErr != nil {
		fmt.Fprintf(a.stderr, "loadgate: %v\n", ctxErr)
	}
	if gctx == nil {
		gctx = &actionsenv.Context{}
	}
	rc, err := resolvePaths(a, gctx, in)
	if err != nil {
		return withCode(exitUsage, err)
	}
	if err := os.MkdirAll(rc.results, 0o755); err != nil {
		return withCode(exitInfra, fmt.Errorf("results directory: %w", err))
	}

	var (
		v        *gate.Verdict
		code     int
		stderr   bytes.Buffer
		pctx     prContext
		fromPrev bool
	)
	if in.VerdictFrom != "" {
		// Second half of the fork-safe pattern: report what the untrusted run
		// measured, without running anything.
		fromPrev = true
		v, pctx, code, err = readPreviousRun(filepath.Join(rc.workdir, in.VerdictFrom))
		if err != nil {
			return withCode(exitUsage, err)
		}
	} else {
		pctx = prFromEvent(gctx)
		if gctx.Event.PullRequest != nil && in.UpdateBaseline {
			_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Warning, Title: "loadgate: update-baseline ignored",
				Msg: "Baselines are never updated from a pull request's own run; update them on pushes to the default branch."})
			in.UpdateBaseline = false
		}
		end := env.Group("loadgate gate " + rc.planRel)
		args := gateArgs(in, rc)
		code = run(a.ctx, args, a.stdout, io.MultiWriter(a.stderr, &stderr), a.getenv)
		end()
		annotatePlanErrors(env, rc, stderr.String())
		v, err = readVerdict(filepath.Join(rc.results, verdictFile))
		if err != nil && code == exitPass {
			code = exitInfra
			fmt.Fprintf(a.stderr, "loadgate: gate passed but wrote no readable verdict: %v\n", err)
		}
		if v != nil {
			code = applyFailOn(v, code, in.FailOn)
		}
		writeRunContext(rc, pctx, v, code)
	}

	outputs := map[string]string{
		"exit-code":    strconv.Itoa(code),
		"results-path": relTo(rc.ws, rc.results),
	}
	if _, err := os.Stat(filepath.Join(rc.results, reportFile)); err == nil {
		outputs["report-path"] = relTo(rc.ws, filepath.Join(rc.results, reportFile))
	}
	note := ""
	if v == nil {
		msg := lastLines(stderr.String(), 20)
		summary := fmt.Sprintf("### ⛔ loadgate · %s · no verdict (exit %d)\n\n```text\n%s\n```\n", ghreport.Esc(rc.planRel), code, strings.ReplaceAll(msg, "```", "'''"))
		if err := env.AppendSummary(summary); err != nil && !errors.Is(err, actionsenv.ErrNotInActions) {
			fmt.Fprintf(a.stderr, "loadgate: job summary: %v\n", err)
		}
		outputs["verdict"] = "error"
		setOutputs(a, env, outputs)
		return silentExit(code)
	}
	outputs["verdict"] = string(v.Decision)
	outputs["regressions"] = strings.Join(v.Regressions(), "\n")

	// One warning per regressed endpoint, on the plan file, in the run's UI.
	for _, ann := range ghreport.VerdictAnnotations(v, rc.planRel, nil) {
		if ann.Level != ghreport.LevelFailure {
			continue
		}
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Warning, File: ann.Path, Line: ann.StartLine, Title: "loadgate: " + ann.Title, Msg: ann.Message})
	}

	gh := publishToGitHub(a, env, gctx, in, rc, v, code, pctx, fromPrev)
	if gh.commentURL != "" {
		outputs["comment-url"] = gh.commentURL
	}
	if gh.checkRunID != 0 {
		outputs["check-run-id"] = strconv.FormatInt(gh.checkRunID, 10)
	}
	note = gh.note
	summary := ghreport.Render(v, ghreport.RenderOptions{RunURL: gctx.RunURL(), Note: note})
	if err := env.AppendSummary(summary); err != nil && !errors.Is(err, actionsenv.ErrNotInActions) {
		fmt.Fprintf(a.stderr, "loadgate: job summary: %v\n", err)
	}
	setOutputs(a, env, outputs)
	if code != exitPass {
		return silentExit(code)
	}
	return nil
}

func setOutputs(a *app, env *actionsenv.Env, outputs map[string]string) {
	for _, k := range actionOutputNames() {
		v, ok := outputs[k]
		if !ok {
			continue
		}
		if err := env.SetOutput(k, v); err != nil {
			if !errors.Is(err, actionsenv.ErrNotInActions) {
				fmt.Fprintf(a.stderr, "loadgate: output %s: %v\n", k, err)
			}
			return
		}
	}
}

func resolvePaths(a *app, gctx *actionsenv.Context, in actionInputs) (runContext, error) {
	ws := gctx.Workspace
	if ws == "" {
		var err error
		if ws, err = os.Getwd(); err != nil {
			return runContext{}, err
		}
	}
	ws = filepath.Clean(ws)
	abs := func(base, p string) string {
		if filepath.IsAbs(p) {
			return filepath.Clean(p)
		}
		return filepath.Join(base, p)
	}
	rc := runContext{ws: ws}
	rc.workdir = abs(ws, in.WorkingDirectory)
	if fi, err := os.Stat(rc.workdir); err != nil || !fi.IsDir() {
		return rc, fmt.Errorf("working-directory %q: not a directory in the workspace", in.WorkingDirectory)
	}
	rc.results = abs(rc.workdir, in.ResultsDir)
	rc.planPath = abs(rc.workdir, in.Plan)
	rc.planRel = relTo(ws, rc.planPath)
	return rc, nil
}

// relTo is p relative to base when inside it (paths in outputs must make sense
// on the runner host, where the container's /github/workspace is elsewhere).
func relTo(base, p string) string {
	r, err := filepath.Rel(base, p)
	if err != nil || strings.HasPrefix(r, "..") {
		return p
	}
	return filepath.ToSlash(r)
}

// gateArgs is the `loadgate gate` command line for the inputs.
func gateArgs(in actionInputs, rc runContext) []string {
	args := []string{"gate", rc.planPath,
		"--report", "json=" + filepath.Join(rc.results, verdictFile),
		"--report", "markdown=" + filepath.Join(rc.results, reportFile),
		"-o", filepath.Join(rc.results, resultsFile),
	}
	if in.Baseline != "" {
		args = append(args, "--baseline", filepath.Join(rc.workdir, in.Baseline))
	}
	for _, f := range in.Reports {
		name, file, ok := strings.Cut(f, "=")
		if !ok {
			file = "report." + name
		}
		args = append(args, "--report", name+"="+filepath.Join(rc.results, file))
	}
	switch in.Mode {
	case "paired":
		args = append(args, "--paired", "--base-target", in.BaseTarget)
	case "aws":
		args = append(args, "--runner", "aws")
		for _, k := range awsInputs {
			if v := in.AWS[k]; v != "" {
				args = append(args, "--"+k, v)
			}
		}
	}
	return args
}

// applyFailOn turns the fail-on input into the exit code: "inconclusive"
// fails an inconclusive verdict too, "never" reports without failing on
// regressions (usage, infrastructure and invalid-run codes stay).
func applyFailOn(v *gate.Verdict, code int, failOn string) int {
	switch failOn {
	case "inconclusive":
		if code == exitPass && v.Decision == gate.Inconclusive {
			return exitFail
		}
	case "never":
		if code == exitFail {
			return exitPass
		}
	}
	return code
}

// readVerdict reads the JSON verdict written by `loadgate gate --report json=`.
// It accepts a bare verdict or one wrapped as {"verdict": …}.
func readVerdict(path string) (*gate.Verdict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var wrapped struct {
		Verdict *gate.Verdict `json:"verdict"`
	}
	if err := json.Unmarshal(data, &wrapped); err == nil && wrapped.Verdict != nil && wrapped.Verdict.Decision != "" {
		return wrapped.Verdict, nil
	}
	var v gate.Verdict
	if err := json.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if v.Decision == "" {
		return nil, fmt.Errorf("%s: no decision in verdict", path)
	}
	return &v, nil
}

// prContext is the pull request (if any) and the commit a report is about.
type prContext struct {
	Number  int    `json:"pr_number,omitempty"`
	HeadSHA string `json:"head_sha,omitempty"`
	BaseRef string `json:"base_ref,omitempty"`
	Fork    bool   `json:"fork,omitempty"`
	// Verified is set once the PR number is known to be trustworthy.
	Verified bool `json:"-"`
}

func prFromEvent(g *actionsenv.Context) prContext {
	if pr := g.Event.PullRequest; pr != nil {
		return prContext{Number: pr.Number, HeadSHA: pr.HeadSHA, BaseRef: pr.BaseRef, Fork: pr.Fork, Verified: true}
	}
	return prContext{HeadSHA: g.SHA}
}

// runRecord is context.json: what the second (workflow_run) half needs.
type runRecord struct {
	prContext
	Plan     string `json:"plan"`
	ExitCode int    `json:"exit_code"`
}

func writeRunContext(rc runContext, p prContext, v *gate.Verdict, code int) {
	rec := runRecord{prContext: p, ExitCode: code}
	if v != nil {
		rec.Plan = v.Plan
	}
	data, _ := json.MarshalIndent(rec, "", "  ")
	_ = os.WriteFile(filepath.Join(rc.results, contextFile), append(data, '\n'), 0o644)
}

func readPreviousRun(dir string) (*gate.Verdict, prContext, int, error) {
	v, err := readVerdict(filepath.Join(dir, verdictFile))
	if err != nil {
		return nil, prContext{}, 0, fmt.Errorf("verdict-from: %w", err)
	}
	var rec runRecord
	data, err := os.ReadFile(filepath.Join(dir, contextFile))
	if err != nil {
		return nil, prContext{}, 0, fmt.Errorf("verdict-from: %w", err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return nil, prContext{}, 0, fmt.Errorf("verdict-from %s: %w", contextFile, err)
	}
	switch rec.ExitCode {
	case exitPass, exitFail, exitUsage, exitInfra, exitInvalid:
	default:
		return nil, prContext{}, 0, fmt.Errorf("verdict-from: exit code %d out of range", rec.ExitCode)
	}
	return v, rec.prContext, rec.ExitCode, nil
}

// planErrLine matches "file:line:col: message" as the plan package prints errors.
var planErrLine = regexp.MustCompile(`^(?:loadgate: )?([^:\s][^:]*):(\d+):(\d+): (.+)$`)

// annotatePlanErrors turns positioned plan errors on stderr into ::error
// annotations on the plan file.
func annotatePlanErrors(env *actionsenv.Env, rc runContext, stderr string) {
	sc := bufio.NewScanner(strings.NewReader(stderr))
	for sc.Scan() {
		m := planErrLine.FindStringSubmatch(strings.TrimSpace(sc.Text()))
		if m == nil {
			continue
		}
		file := m[1]
		if !filepath.IsAbs(file) {
			file = filepath.Join(rc.workdir, file)
		}
		line, _ := strconv.Atoi(m[2])
		col, _ := strconv.Atoi(m[3])
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Error, File: relTo(rc.ws, file), Line: line, Column: col, Title: "loadgate: invalid plan", Msg: m[4]})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// ghResult is what the GitHub side produced.
type ghResult struct {
	commentURL string
	checkRunID int64
	note       string
}

// permissionAdvice explains a 403/404 and what to do about it.
func permissionAdvice(what, permission string, p prContext) string {
	s := fmt.Sprintf("GitHub refused to %s (the token lacks %q).", what, permission)
	if p.Fork {
		return s + " This is a pull request from a fork: its token is read-only. Use the two-workflow pattern: upload the results directory as an artifact here, and post it from a workflow_run workflow with `verdict-from` (see docs/github-action.md)."
	}
	return s + fmt.Sprintf(" Add `permissions: %s` to the job, or use the two-workflow pattern for forks (docs/github-action.md). The verdict and exit code are unaffected.", permission)
}

func publishToGitHub(a *app, env *actionsenv.Env, gctx *actionsenv.Context, in actionInputs, rc runContext, v *gate.Verdict, code int, p prContext, fromPrev bool) ghResult {
	var res ghResult
	var notes []string
	warn := func(title, msg string) {
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Warning, Title: "loadgate: " + title, Msg: msg})
		fmt.Fprintf(a.stderr, "loadgate: %s: %s\n", title, msg)
	}
	if in.Token == "" {
		warn("GitHub reporting skipped", "no github-token: only the job summary, outputs and annotations are written.")
		return res
	}
	repo, err := ghreport.ParseRepo(gctx.Repository)
	if err != nil {
		warn("GitHub reporting skipped", fmt.Sprintf("GITHUB_REPOSITORY: %v", err))
		return res
	}
	client, err := ghreport.New(ghreport.Options{Token: in.Token, APIURL: gctx.APIURL,
		Logf: func(f string, args ...any) { fmt.Fprintf(a.stderr, "loadgate: "+f+"\n", args...) }})
	if err != nil {
		warn("GitHub reporting skipped", err.Error())
		return res
	}
	ctx := a.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	fail := func(what, permission string, err error) {
		if ghreport.IsPermission(err) {
			msg := permissionAdvice(what, permission, p)
			notes = append(notes, msg)
			warn("GitHub "+what+" skipped", msg+" ("+err.Error()+")")
			return
		}
		msg := fmt.Sprintf("could not %s: %v. The verdict and exit code are unaffected.", what, err)
		notes = append(notes, msg)
		warn("GitHub "+what+" failed", msg)
	}

	if fromPrev {
		// The PR number came from an artifact the untrusted run wrote: prefer
		// the trusted event's, else check the PR's head is the run's commit.
		if wr := gctx.Event.WorkflowRun; wr != nil {
			if p.HeadSHA != "" && wr.HeadSHA != "" && p.HeadSHA != wr.HeadSHA {
				warn("report refused", fmt.Sprintf("artifact is for commit %s but the workflow run is for %s", p.HeadSHA, wr.HeadSHA))
				return res
			}
			p.HeadSHA = wr.HeadSHA
			if len(wr.PullRequests) > 0 {
				p.Number, p.Verified = wr.PullRequests[0], true
			}
		}
		if p.Number > 0 && !p.Verified {
			if err := client.PullRequest(ctx, repo, p.Number, p.HeadSHA); err != nil {
				warn("PR comment refused", err.Error())
				p.Number = 0
			} else {
				p.Verified = true
			}
		}
	}

	body := ghreport.Render(v, ghreport.RenderOptions{RunURL: gctx.RunURL()})
	if in.Comment && p.Number > 0 {
		r, err := client.UpsertComment(ctx, repo, p.Number, v.Plan, body)
		if err != nil {
			fail("comment on the pull request", "pull-requests: write", err)
		} else {
			res.commentURL = r.URL
			fmt.Fprintf(a.stderr, "loadgate: PR comment %s\n", r.URL)
		}
	}

	conclusion := ghreport.Conclusion(v, code)
	if in.Check && p.HeadSHA != "" {
		cr, err := client.CreateCheckRun(ctx, repo, ghreport.CheckRun{
			Name:        "loadgate / " + v.Plan,
			HeadSHA:     p.HeadSHA,
			Conclusion:  conclusion,
			Title:       ghreport.Title(v),
			Summary:     body,
			DetailsURL:  gctx.RunURL(),
			ExternalID:  v.Plan,
			Annotations: ghreport.VerdictAnnotations(v, rc.planRel, nil),
		})
		if err == nil {
			res.checkRunID = cr.ID
		} else if ghreport.IsPermission(err) {
			// Personal access tokens and read-only tokens cannot create check
			// runs; a commit status carries the verdict instead.
			serr := client.CreateStatus(ctx, repo, p.HeadSHA, ghreport.StatusState(conclusion), "loadgate/"+v.Plan, ghreport.Title(v), gctx.RunURL())
			if serr != nil {
				fail("create a check run or a commit status", "checks: write", errors.Join(err, serr))
			} else {
				fmt.Fprintf(a.stderr, "loadgate: check run not allowed (%v); commit status set instead\n", err)
			}
		} else {
			fail("create the check run", "checks: write", err)
		}
	}

	scheduled := gctx.EventName == "schedule" || gctx.EventName == "workflow_dispatch"
	if in.IssueOnRegression && scheduled && len(v.Regressions()) > 0 {
		title := fmt.Sprintf("Performance regression: %s", ghreport.Title(v))
		r, err := client.ReportIssue(ctx, repo, in.IssueNumber, v.Plan, title, body, in.IssueLabels)
		if err != nil {
			fail("open or update the regression issue", "issues: write", err)
		} else {
			fmt.Fprintf(a.stderr, "loadgate: regression reported in %s\n", r.URL)
		}
	}
	res.note = strings.Join(notes, " ")
	return res
}
