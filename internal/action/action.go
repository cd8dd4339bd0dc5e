// Package action is the GitHub Action: it reads the action's inputs and the
// workflow's context, reaches a verdict through the pipeline (or reads the
// verdict an earlier, untrusted half of a fork-safe workflow measured) and
// publishes it: job summary, step outputs, annotations, a sticky pull-request
// comment, a check run (or a commit status), an issue for scheduled
// regressions and a baseline pull request. GitHub failures never change the
// verdict: the exit code is the gate's.
package action

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/actionsenv"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/report"
	"github.com/spf13/pflag"
)

// Files the action writes in its results directory (uploaded as an artifact
// by the workflow; the privileged workflow_run half reads them back).
const (
	verdictFile      = "verdict.json"
	resultsFile      = "results.json"
	reportFile       = "report.md"
	contextFile      = "context.json"
	baseBaselineFile = "base-baseline.json"
)

// Options are the action's process boundary, and mode aws's runner.
type Options struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// AWSRun returns the run options of `loadgate aws run` with these flags
	// (the aws-* inputs and extra-args); nil: mode aws is unavailable.
	AWSRun func(ctx context.Context, p *plan.Plan, flags []string) (pipeline.RunOptions, error)
}

// Run runs the action and returns its exit code.
func Run(ctx context.Context, o Options) int {
	if o.Getenv == nil {
		o.Getenv = func(string) string { return "" }
	}
	a := &action{ctx: ctx, o: o, stdout: o.Stdout, stderr: o.Stderr, getenv: o.Getenv}
	code, err := a.run()
	if err != nil {
		fmt.Fprintf(a.stderr, "loadgate: %v\n", err)
	}
	return code
}

// action is one run of the action.
type action struct {
	ctx            context.Context
	o              Options
	stdout, stderr io.Writer
	getenv         func(string) string
}

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
		return strings.FieldsFunc(env.Input(name), func(r rune) bool { return r == ',' || r == '\n' || r == ' ' })
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

func (a *action) run() (int, error) {
	env := actionsenv.New(a.getenv, a.stdout)
	in, inErr := readActionInputs(env)
	// The token is masked before anything else can print it.
	_ = env.Mask(in.Token)
	if inErr != nil {
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Error, Title: "loadgate: action inputs", Msg: inErr.Error()})
		return pipeline.ExitUsage, inErr
	}
	gctx, ctxErr := env.Context()
	if ctxErr != nil {
		fmt.Fprintf(a.stderr, "loadgate: %v\n", ctxErr)
	}
	if gctx == nil {
		gctx = &actionsenv.Context{}
	}
	rc, err := resolvePaths(gctx, in)
	if err != nil {
		return pipeline.ExitUsage, err
	}
	if err := os.MkdirAll(rc.results, 0o755); err != nil {
		return pipeline.ExitInfra, fmt.Errorf("results directory: %w", err)
	}
	gh := newGitHubSide(a, env, gctx, in)

	var (
		r        runOutcome
		pctx     prContext
		fromPrev bool
		lines    func(string) int
	)
	if in.VerdictFrom != "" {
		// Second half of the fork-safe pattern: report what the untrusted run
		// measured, without running anything.
		fromPrev = true
		r, pctx, err = readPreviousRun(filepath.Join(rc.workdir, in.VerdictFrom))
		if err != nil {
			return pipeline.ExitUsage, err
		}
	} else {
		pctx = prFromEvent(gctx)
		r, lines = a.measure(env, gctx, gh, in, rc)
		writeRunContext(rc, pctx, r)
	}

	outputs := map[string]string{
		"exit-code":    strconv.Itoa(r.code),
		"results-path": relTo(rc.ws, rc.results),
	}
	if _, err := os.Stat(filepath.Join(rc.results, reportFile)); err == nil {
		outputs["report-path"] = relTo(rc.ws, filepath.Join(rc.results, reportFile))
	}
	v := r.verdict
	if v == nil {
		// No verdict: say so everywhere the last verdict would otherwise
		// still stand (sticky comment, check run, summary, outputs).
		res := gh.publishNoVerdict(r, pctx, fromPrev)
		if res.commentURL != "" {
			outputs["comment-url"] = res.commentURL
		}
		if res.checkRunID != 0 {
			outputs["check-run-id"] = strconv.FormatInt(res.checkRunID, 10)
		}
		summary := report.NoVerdictMarkdown(r.plan, r.reason, r.code, gctx.RunURL())
		if log := lastLines(r.log, 20); log != "" {
			summary += fmt.Sprintf("\n```text\n%s\n```\n", strings.ReplaceAll(log, "```", "'''"))
		}
		if err := env.AppendSummary(summary); err != nil && !errors.Is(err, actionsenv.ErrNotInActions) {
			fmt.Fprintf(a.stderr, "loadgate: job summary: %v\n", err)
		}
		outputs["verdict"] = "error"
		setOutputs(a, env, outputs)
		return r.code, nil
	}
	outputs["verdict"] = string(v.Decision)
	outputs["regressions"] = strings.Join(v.Regressions(), "\n")

	// One warning per regressed endpoint, on the plan file, in the run's UI.
	for _, ann := range report.Annotations(v, rc.planRel, lines) {
		if ann.Level != report.AnnotationFailure {
			continue
		}
		_ = env.Annotate(actionsenv.Annotation{Level: actionsenv.Warning, File: ann.Path, Line: ann.StartLine, Title: "loadgate: " + ann.Title, Msg: ann.Message})
	}

	res := gh.publish(rc, v, r.code, pctx, fromPrev, lines)
	if res.commentURL != "" {
		outputs["comment-url"] = res.commentURL
	}
	if res.checkRunID != 0 {
		outputs["check-run-id"] = strconv.FormatInt(res.checkRunID, 10)
	}
	summary := report.GitHub(v, report.GitHubOptions{RunURL: gctx.RunURL(), Note: strings.Join(gh.notes, " ")})
	if err := env.AppendSummary(summary); err != nil && !errors.Is(err, actionsenv.ErrNotInActions) {
		fmt.Fprintf(a.stderr, "loadgate: job summary: %v\n", err)
	}
	setOutputs(a, env, outputs)
	return r.code, nil
}

// runOutcome is how this run (or the earlier run an artifact holds) ended:
// a verdict, or no verdict and why.
type runOutcome struct {
	verdict *gate.Verdict
	code    int
	plan    string // plan name ("" when the plan could not be read)
	reason  string // why there is no verdict
	log     string // the run's stderr, for the job summary
}

// measure runs the plan through the pipeline (mode local or paired) or on
// ECS (mode aws) and returns the outcome.
func (a *action) measure(env *actionsenv.Env, gctx *actionsenv.Context, gh *githubSide, in actionInputs, rc runContext) (runOutcome, func(string) int) {
	var lines func(string) int
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
	specs := reports(in, rc)
	if err := clearOwned(rc, specs); err != nil {
		return runOutcome{code: pipeline.ExitInfra, reason: fmt.Sprintf("results directory: %v", err)}, lines
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

	var log bytes.Buffer
	errw := io.MultiWriter(a.stderr, &log)
	end := env.Group("loadgate " + in.Mode + " " + rc.planRel)
	o := a.judge(p, perr, in, rc, specs, baseline, updating, errw)
	end()
	r := runOutcome{verdict: o.Verdict, code: o.Exit, log: log.String()}
	if p != nil {
		r.plan = p.Name
	}
	if o.Err != nil {
		r.reason = o.Err.Error()
	}
	if r.verdict != nil {
		r.code = applyFailOn(r.verdict, r.code, in.FailOn)
		if updating && in.OpenPR && r.code == pipeline.ExitPass && baseline != "" {
			gh.openBaselinePR(rc, baseline, gctx.Event.DefaultBranch, r.verdict)
		}
	} else if r.reason == "" {
		r.reason = fmt.Sprintf("the run ended with exit %d", r.code)
	}
	return r, lines
}

// judge builds the pipeline job for the inputs and runs it; errors before a
// verdict are printed like the CLI prints them.
func (a *action) judge(p *plan.Plan, perr error, in actionInputs, rc runContext, specs []pipeline.ReportSpec, baseline string, updating bool, errw io.Writer) pipeline.Outcome {
	o := a.job(p, perr, in, rc, specs, baseline, updating, errw)
	if o.Err != nil {
		fmt.Fprintf(errw, "loadgate: %v\n", o.Err)
	}
	return o
}

func (a *action) job(p *plan.Plan, perr error, in actionInputs, rc runContext, specs []pipeline.ReportSpec, baseline string, updating bool, errw io.Writer) pipeline.Outcome {
	fail := func(code int, err error) pipeline.Outcome { return pipeline.Outcome{Exit: code, Err: err} }
	if perr != nil {
		return fail(pipeline.ExitUsage, perr)
	}
	pe := pipeline.Env{Stdout: a.stdout, Stderr: errw, Getenv: a.getenv}
	out := filepath.Join(rc.results, resultsFile)
	var job pipeline.Job
	if in.Mode == "aws" {
		if a.o.AWSRun == nil {
			return fail(pipeline.ExitUsage, errors.New("mode aws is not available in this build"))
		}
		ro, err := a.o.AWSRun(a.ctx, p, awsFlags(in))
		if err != nil {
			return fail(pipeline.Code(err), err)
		}
		ro.Out = out
		// The AWS run is compared with the committed baseline.
		job = pipeline.Job{Run: ro, Baseline: pipeline.BaselineSource{Path: baseline, Required: true}}
	} else {
		// extra-args are `loadgate gate` flags, bound with the gate's
		// defaults; the inputs decide the results file, the baseline and
		// the mode.
		var g pipeline.GateFlags
		fs := pflag.NewFlagSet("extra-args", pflag.ContinueOnError)
		fs.SetOutput(io.Discard)
		g.Bind(fs)
		if err := fs.Parse(in.ExtraArgs); err != nil {
			return fail(pipeline.ExitUsage, fmt.Errorf("input extra-args: %w", err))
		}
		if fs.NArg() > 0 {
			return fail(pipeline.ExitUsage, fmt.Errorf("input extra-args: unexpected argument %q", fs.Arg(0)))
		}
		g.Run.Out = out
		g.Paired = in.Mode == "paired"
		if g.Paired {
			g.PairedOptions.BaseTarget = in.BaseTarget
		} else {
			g.Baseline, g.Update = baseline, updating
		}
		var err error
		if job, err = g.Job(p); err != nil {
			return fail(pipeline.Code(err), err)
		}
	}
	job.Env, job.Plan = pe, p
	job.Reports = append(specs, job.Reports...)
	if in.FailOn == "inconclusive" {
		job.Policy.FailOn = append(job.Policy.FailOn, "inconclusive")
	}
	return pipeline.Run(a.ctx, job)
}

func setOutputs(a *action, env *actionsenv.Env, outputs map[string]string) {
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

func resolvePaths(gctx *actionsenv.Context, in actionInputs) (runContext, error) {
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

// awsFlags are the `loadgate aws run` flags for the aws-* inputs and extra-args.
func awsFlags(in actionInputs) []string {
	store := in.AWS["aws-bucket"]
	if !strings.HasPrefix(store, "s3://") {
		store = "s3://" + store + "/loadgate"
	}
	workers := in.AWS["aws-workers"]
	if workers == "" {
		workers = "1"
	}
	args := []string{"--store", store, "--regions", in.AWS["aws-region"] + ":" + workers}
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

// reports are the reports a run writes: the verdict JSON and Markdown always
// (the workflow_run half and report-path read them), plus the reports input.
func reports(in actionInputs, rc runContext) []pipeline.ReportSpec {
	out := []pipeline.ReportSpec{
		{Format: report.FormatJSON, Path: filepath.Join(rc.results, verdictFile)},
		{Format: report.FormatMarkdown, Path: filepath.Join(rc.results, reportFile)},
	}
	for _, f := range in.Reports {
		name, file, ok := strings.Cut(f, "=")
		if !ok {
			file = "report." + name
		}
		out = append(out, pipeline.ReportSpec{Format: name, Path: filepath.Join(rc.results, file)})
	}
	return out
}

// clearOwned removes every file this run writes in the results directory
// before it starts, so a run that ends without a verdict cannot leave an
// earlier run's verdict, results or report behind to be read or uploaded
// as this run's.
func clearOwned(rc runContext, specs []pipeline.ReportSpec) error {
	files := []string{resultsFile, pipeline.PairedBasePath(resultsFile), contextFile, baseBaselineFile}
	var errs []error
	for _, f := range files {
		errs = append(errs, removeIfExists(filepath.Join(rc.results, f)))
	}
	for _, s := range specs {
		errs = append(errs, removeIfExists(s.Path))
	}
	return errors.Join(errs...)
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// applyFailOn applies fail-on: never reports regressions without failing
// (usage, infrastructure and invalid-run codes stay); inconclusive is passed
// to the gate and enforced here too for verdicts read back from artifacts.
func applyFailOn(v *gate.Verdict, code int, failOn string) int {
	switch failOn {
	case "inconclusive":
		if code == pipeline.ExitPass && v.Decision == gate.Inconclusive {
			return pipeline.ExitFail
		}
	case "never":
		if code == pipeline.ExitFail {
			return pipeline.ExitPass
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

// runRecord is context.json: what the second (workflow_run) half needs,
// including why a run ended without a verdict.
type runRecord struct {
	prContext
	Plan     string `json:"plan"`
	ExitCode int    `json:"exit_code"`
	// Reason says why there is no verdict.json (empty when there is one).
	Reason string `json:"reason,omitempty"`
}

func writeRunContext(rc runContext, p prContext, r runOutcome) {
	rec := runRecord{prContext: p, ExitCode: r.code, Plan: r.plan, Reason: r.reason}
	if r.verdict != nil {
		rec.Plan, rec.Reason = r.verdict.Plan, ""
	}
	data, _ := json.MarshalIndent(rec, "", "  ")
	_ = os.WriteFile(filepath.Join(rc.results, contextFile), append(data, '\n'), 0o644)
}

// readPreviousRun reads the verdict and context an earlier run left in dir.
// A run that ended without a verdict left only its context, with the reason.
func readPreviousRun(dir string) (runOutcome, prContext, error) {
	var rec runRecord
	data, err := os.ReadFile(filepath.Join(dir, contextFile))
	if err != nil {
		return runOutcome{}, prContext{}, fmt.Errorf("verdict-from: %w", err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return runOutcome{}, prContext{}, fmt.Errorf("verdict-from %s: %w", contextFile, err)
	}
	switch rec.ExitCode {
	case pipeline.ExitPass, pipeline.ExitFail, pipeline.ExitUsage, pipeline.ExitInfra, pipeline.ExitInvalid:
	default:
		return runOutcome{}, prContext{}, fmt.Errorf("verdict-from: exit code %d out of range", rec.ExitCode)
	}
	r := runOutcome{code: rec.ExitCode, plan: rec.Plan}
	v, _, err := readActionVerdict(filepath.Join(dir, verdictFile))
	switch {
	case err == nil:
		r.verdict = v
	case errors.Is(err, os.ErrNotExist) && rec.ExitCode != pipeline.ExitPass:
		r.reason = rec.Reason
		if r.reason == "" {
			r.reason = fmt.Sprintf("the run ended with exit %d", rec.ExitCode)
		}
	default:
		return runOutcome{}, prContext{}, fmt.Errorf("verdict-from: %w", err)
	}
	return r, rec.prContext, nil
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
