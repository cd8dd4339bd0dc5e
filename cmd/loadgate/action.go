package main

import (
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
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/report"
	ghreport "github.com/loadgate/loadgate/internal/ghclient"
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
	ExtraArgs                        []string
	AWS                              map[string]string
}

// awsInputs configure `loadgate aws run` in mode aws (see awsArgs).
var awsInputs = []string{"aws-region", "aws-cluster", "aws-subnets", "aws-security-groups", "aws-task-definition", "aws-bucket", "aws-workers", "aws-max-cost"}

// actionInputNames lists every input action.go reads; a test keeps action.yml
// in step with it.
func actionInputNames() []string {
	return append([]string{"plan", "baseline", "mode", "base-target", "github-token", "comment", "check",
		"fail-on", "update-baseline", "open-pr", "working-directory", "reports", "results-dir",
		"verdict-from", "issue-on-regression", "issue-number", "issue-labels", "extra-args"}, awsInputs...)
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
		ExtraArgs:         strings.Fields(env.Input("extra-args")),
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
	if in.Mode == "aws" && in.VerdictFrom == "" {
		if in.Baseline == "" {
			errs = append(errs, errors.New("input baseline: required with mode: aws (the AWS run is compared with it)"))
		}
		for _, k := range []string{"aws-region", "aws-bucket", "aws-subnets"} {
			if env.Input(k) == "" {
				errs = append(errs, fmt.Errorf("input %s: required with mode: aws", k))
			}
		}
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
	gh := newGitHubSide(a, env, gctx, in)

	var (
		v        *gate.Verdict
		code     int
		stderr   bytes.Buffer
		pctx     prContext
		fromPrev bool
		lines    func(string) int
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
		// Load the plan first: its secrets are masked before any output, its
		// errors become annotations, its endpoint lines anchor regressions.
		p, perr := plan.Load(rc.planPath, a.getenv)
		if p != nil {
			_ = env.Mask(p.Secrets...)
			lines = endpointLines(p)
		}
		annotatePlanErrors(env, rc, perr)
		push := gctx.Event.Push
		updating := in.UpdateBaseline && push != nil && push.ToDefaultBranch
		switch {
		case in.UpdateBaseline && gctx.Event.PullRequest != nil:
			gh.warn("update-baseline ignored", "baselines are never updated from a pull request's own run; update them on pushes to the default branch.")
		case in.UpdateBaseline && !updating:
			gh.notice("update-baseline ignored", "baselines are updated on pushes to the default branch only (event "+gctx.EventName+").")
		}
		baseline := ""
		if in.Mode == "paired" {
			// Paired mode compares with the base build measured in this job.
			updating = false
		} else if in.Baseline != "" {
			baseline = filepath.Join(rc.workdir, in.Baseline)
			if pr := gctx.Event.PullRequest; pr != nil {
				baseline = gh.baseBaseline(rc, baseline, pr.BaseSHA)
			}
		}
		end := env.Group("loadgate " + in.Mode + " " + rc.planRel)
		errw := io.MultiWriter(a.stderr, &stderr)
		if in.Mode == "aws" {
			code = runAWS(a, in, rc, baseline, errw)
		} else {
			code = run(a.ctx, gateArgs(in, rc, baseline, updating), a.stdout, errw, a.getenv)
		}
		end()
		var docCode int
		v, docCode, err = readActionVerdict(filepath.Join(rc.results, verdictFile))
		switch {
		case err != nil && code == exitPass:
			code = exitInfra
			fmt.Fprintf(a.stderr, "loadgate: gate passed but wrote no readable verdict: %v\n", err)
		case err == nil && code == exitPass && docCode != exitPass:
			code = docCode
		}
		if v != nil {
			code = applyFailOn(v, code, in.FailOn)
		}
		writeRunContext(rc, pctx, v, code)
		if updating && in.OpenPR && code == exitPass && baseline != "" {
			gh.openBaselinePR(rc, baseline, gctx.Event.DefaultBranch, v)
		}
	}

	outputs := map[string]string{
		"exit-code":    strconv.Itoa(code),
		"results-path": relTo(rc.ws, rc.results),
	}
	if _, err := os.Stat(filepath.Join(rc.results, reportFile)); err == nil {
		outputs["report-path"] = relTo(rc.ws, filepath.Join(rc.results, reportFile))
	}
	if v == nil {
		msg := lastLines(stderr.String(), 20)
		summary := fmt.Sprintf("### ⛔ loadgate: %s — no verdict (exit %d)\n\n```text\n%s\n```\n", report.EscapeMarkdown(rc.planRel), code, strings.ReplaceAll(msg, "```", "'''"))
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
	for _, ann := range ghreport.VerdictAnnotations(v, rc.planRel, lines) {
		if ann.Level != ghreport.LevelFailure {
			continue
		}
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Warning, File: ann.Path, Line: ann.StartLine, Title: "loadgate: " + ann.Title, Msg: ann.Message})
	}

	res := gh.publish(rc, v, code, pctx, fromPrev, lines)
	if res.commentURL != "" {
		outputs["comment-url"] = res.commentURL
	}
	if res.checkRunID != 0 {
		outputs["check-run-id"] = strconv.FormatInt(res.checkRunID, 10)
	}
	summary := ghreport.Render(v, ghreport.RenderOptions{RunURL: gctx.RunURL(), Note: strings.Join(gh.notes, " ")})
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

// gateArgs is the `loadgate gate` command line for the inputs (modes local
// and paired).
func gateArgs(in actionInputs, rc runContext, baseline string, updateBaseline bool) []string {
	args := []string{"gate", rc.planPath}
	args = append(args, reportArgs(in, rc)...)
	args = append(args, "-o", filepath.Join(rc.results, resultsFile))
	switch {
	case in.Mode == "paired":
		args = append(args, "--paired", "--base-target", in.BaseTarget)
	case baseline != "":
		args = append(args, "--baseline", baseline)
	}
	if updateBaseline {
		args = append(args, "--update-baseline")
	}
	return append(args, in.ExtraArgs...)
}

// awsArgs is the `loadgate aws run` command line for the aws-* inputs.
func awsArgs(in actionInputs, rc runContext) []string {
	store := in.AWS["aws-bucket"]
	if !strings.HasPrefix(store, "s3://") {
		store = "s3://" + store + "/loadgate"
	}
	workers := in.AWS["aws-workers"]
	if workers == "" {
		workers = "1"
	}
	args := []string{"aws", "run", rc.planPath, "-o", filepath.Join(rc.results, resultsFile),
		"--store", store, "--regions", in.AWS["aws-region"] + ":" + workers}
	for _, f := range []struct{ input, flag string }{
		{"aws-cluster", "--cluster"}, {"aws-task-definition", "--task-definition"},
		{"aws-subnets", "--subnets"}, {"aws-security-groups", "--security-groups"}, {"aws-max-cost", "--max-cost"},
	} {
		if v := in.AWS[f.input]; v != "" {
			args = append(args, f.flag, v)
		}
	}
	return append(args, in.ExtraArgs...)
}

// runAWS runs the plan on ECS Fargate (`loadgate aws run`), then compares the
// merged results with the baseline (`loadgate compare`).
func runAWS(a *app, in actionInputs, rc runContext, baseline string, stderr io.Writer) int {
	code := run(a.ctx, awsArgs(in, rc), a.stdout, stderr, a.getenv)
	if code != exitPass && code != exitInvalid {
		return code // refused or AWS failure: no results to judge
	}
	args := append([]string{"compare", "--plan", rc.planPath, "--baseline", baseline}, reportArgs(in, rc)...)
	ccode := run(a.ctx, append(args, filepath.Join(rc.results, resultsFile)), a.stdout, stderr, a.getenv)
	if code == exitInvalid && ccode == exitPass {
		return exitInvalid
	}
	return ccode
}

// reportArgs are the --report flags (verdict JSON and Markdown always, plus
// the reports input) and --fail-on.
func reportArgs(in actionInputs, rc runContext) []string {
	args := []string{
		"--report", "json=" + filepath.Join(rc.results, verdictFile),
		"--report", "markdown=" + filepath.Join(rc.results, reportFile),
	}
	for _, f := range in.Reports {
		name, file, ok := strings.Cut(f, "=")
		if !ok {
			file = "report." + name
		}
		args = append(args, "--report", name+"="+filepath.Join(rc.results, file))
	}
	if in.FailOn == "inconclusive" {
		args = append(args, "--fail-on", "inconclusive")
	}
	return args
}

// applyFailOn applies fail-on: never reports regressions without failing
// (usage, infrastructure and invalid-run codes stay); inconclusive is passed
// to the gate and enforced here too for verdicts read back from artifacts.
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

// readActionVerdict reads the JSON verdict document written by `--report json=`:
// the verdict and the exit code the gate gave it.
func readActionVerdict(path string) (*gate.Verdict, int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	doc, err := report.DecodeVerdict(f)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", path, err)
	}
	if doc.Verdict == nil {
		return nil, doc.ExitCode, fmt.Errorf("%s: the document holds no verdict", path)
	}
	return doc.Verdict, doc.ExitCode, nil
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
	v, _, err := readActionVerdict(filepath.Join(dir, verdictFile))
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

// endpointLines maps endpoint names to their line in the plan file.
func endpointLines(p *plan.Plan) func(string) int {
	m := map[string]int{}
	for _, e := range p.Endpoints {
		m[e.Name] = e.Line
	}
	return func(name string) int { return m[name] }
}

// annotatePlanErrors turns each positioned plan problem into an ::error
// annotation on the plan file.
func annotatePlanErrors(env *actionsenv.Env, rc runContext, err error) {
	if err == nil {
		return
	}
	var pe *plan.Errors
	if !errors.As(err, &pe) {
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Error, File: rc.planRel, Title: "loadgate: plan", Msg: err.Error()})
		return
	}
	for _, e := range pe.List {
		file := rc.planRel
		if e.File != "" {
			f := e.File
			if !filepath.IsAbs(f) {
				f = filepath.Join(rc.workdir, f)
			}
			file = relTo(rc.ws, f)
		}
		msg := e.Msg
		if e.Path != "" {
			msg = e.Path + ": " + msg
		}
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Error, File: file, Line: e.Line, Column: e.Column, Title: "loadgate: invalid plan", Msg: msg})
	}
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// githubSide reports to GitHub. A nil client (no token, no repository) leaves
// only the job summary, outputs and annotations.
type githubSide struct {
	a      *app
	env    *actionsenv.Env
	gctx   *actionsenv.Context
	in     actionInputs
	client *ghreport.Client
	repo   ghreport.Repo
	// notes explain what could not be done, for the job summary.
	notes []string
}

func newGitHubSide(a *app, env *actionsenv.Env, gctx *actionsenv.Context, in actionInputs) *githubSide {
	g := &githubSide{a: a, env: env, gctx: gctx, in: in}
	if in.Token == "" {
		g.notice("GitHub reporting off", "no github-token: only the job summary, outputs and annotations are written.")
		return g
	}
	repo, err := ghreport.ParseRepo(gctx.Repository)
	if err != nil {
		g.warn("GitHub reporting off", "GITHUB_REPOSITORY: "+err.Error())
		return g
	}
	client, err := ghreport.New(ghreport.Options{Token: in.Token, APIURL: gctx.APIURL,
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
	if ghreport.IsPermission(err) {
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
		if ghreport.StatusCode(err) == 404 {
			g.notice("baseline", fmt.Sprintf("%s does not exist at the base commit %s (or cannot be read); comparing with the pull request's copy.", rel, short(baseSHA)))
		} else {
			g.warn("baseline", fmt.Sprintf("could not read %s at the base commit: %v; comparing with the pull request's copy.", rel, err))
		}
		return local
	}
	if cur, err := os.ReadFile(local); err == nil && bytes.Equal(cur, data) {
		return local
	}
	out := filepath.Join(rc.results, "base-baseline.json")
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
	res, err := g.client.OpenBaselinePR(g.ctx(), g.repo, ghreport.BaselineUpdate{
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

var branchUnsafe = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

func branchSafe(s string) string {
	s = strings.Trim(branchUnsafe.ReplaceAllString(s, "-"), "-.")
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
	if fromPrev {
		// The PR number came from an artifact the untrusted run wrote: prefer
		// the trusted event's, else check the PR's head is the run's commit.
		if wr := gctx.Event.WorkflowRun; wr != nil {
			if p.HeadSHA != "" && wr.HeadSHA != "" && p.HeadSHA != wr.HeadSHA {
				g.warn("report refused", fmt.Sprintf("the artifact is for commit %s but the workflow run is for %s", p.HeadSHA, wr.HeadSHA))
				return res
			}
			p.HeadSHA = wr.HeadSHA
			if len(wr.PullRequests) > 0 {
				p.Number, p.Verified = wr.PullRequests[0], true
			}
		}
		if p.Number > 0 && !p.Verified {
			if err := client.PullRequest(ctx, repo, p.Number, p.HeadSHA); err != nil {
				g.warn("PR comment refused", err.Error())
				p.Number = 0
			}
		}
	}

	// Comment, check run and issue share one body that fits all three; the
	// job summary (below) keeps the full report.
	body := ghreport.Render(v, ghreport.RenderOptions{RunURL: gctx.RunURL(), MaxChars: ghreport.BodyLimit(v.Plan)})
	if in.Comment && p.Number > 0 {
		r, err := client.UpsertComment(ctx, repo, p.Number, v.Plan, body)
		if err != nil {
			g.fail("comment on the pull request", "pull-requests: write", p, err)
		} else {
			res.commentURL = r.URL
			fmt.Fprintf(g.a.stderr, "loadgate: PR comment %s\n", r.URL)
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
			Annotations: ghreport.VerdictAnnotations(v, rc.planRel, lines),
		})
		switch {
		case err == nil:
			res.checkRunID = cr.ID
		case ghreport.IsPermission(err):
			// Personal access tokens and read-only tokens cannot create check
			// runs; a commit status carries the verdict instead.
			serr := client.CreateStatus(ctx, repo, p.HeadSHA, ghreport.StatusState(conclusion), "loadgate/"+v.Plan, ghreport.Title(v), gctx.RunURL())
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
		title := "Performance regression: " + ghreport.Title(v)
		r, err := client.ReportIssue(ctx, repo, in.IssueNumber, v.Plan, title, body, in.IssueLabels)
		if err != nil {
			g.fail("open or update the regression issue", "issues: write", p, err)
		} else {
			fmt.Fprintf(g.a.stderr, "loadgate: regression reported in %s\n", r.URL)
		}
	}
	return res
}
