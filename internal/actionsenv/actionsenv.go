// Package actionsenv is the GitHub Actions runtime as seen from inside a step:
// inputs, outputs, the job summary, workflow commands (annotations, groups,
// masks) and the triggering event. It wraps github.com/sethvargo/go-githubactions
// (the only package importing it) with an injected getenv and writer, so
// tests never touch the process environment.
package actionsenv

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	githubactions "github.com/sethvargo/go-githubactions"
)

// MaxStepSummary is the most a step may write to GITHUB_STEP_SUMMARY: "1MiB"
// per step; a larger summary is rejected and not shown
// (docs.github.com/actions/using-workflows/workflow-commands-for-github-actions#step-isolation-and-limits).
const MaxStepSummary = 1 << 20

// minMaskLength is the shortest value masked: masking a one- or two-character
// value would star out that text everywhere in the log.
const minMaskLength = 3

// ErrNotInActions is returned by file commands when the environment file
// (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) is not set, i.e. outside a workflow.
var ErrNotInActions = errors.New("not running in GitHub Actions")

// Env is the Actions runtime of one step.
type Env struct {
	a      *githubactions.Action
	getenv func(string) string
	delim  func() string
}

// Option configures an Env.
type Option func(*Env)

// WithDelimiter fixes the heredoc delimiter of multi-line outputs (tests).
func WithDelimiter(f func() string) Option { return func(e *Env) { e.delim = f } }

// New returns the runtime reading the environment through getenv and writing
// workflow commands to w (the step's stdout).
func New(getenv func(string) string, w io.Writer, opts ...Option) *Env {
	e := &Env{
		a:      githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(w)),
		getenv: getenv,
		delim:  randomDelimiter,
	}
	for _, o := range opts {
		o(e)
	}
	return e
}

// randomDelimiter makes a heredoc delimiter no value can contain by chance or
// on purpose (go-githubactions' fixed one lets a value end the heredoc and
// inject further outputs).
func randomDelimiter() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return "ghadelimiter_" + hex.EncodeToString(b)
}

// InActions reports whether this process runs as a workflow step.
func (e *Env) InActions() bool { return e.getenv("GITHUB_ACTIONS") == "true" }

// Input returns input name (as declared in action.yml), trimmed. The runner
// names the variable INPUT_ + the upper-cased name with spaces as underscores
// and hyphens kept; the form with underscores is accepted too.
func (e *Env) Input(name string) string {
	if v := e.a.GetInput(name); v != "" {
		return v
	}
	return e.a.GetInput(strings.ReplaceAll(name, "-", "_"))
}

// BoolInput parses a boolean input ("true"/"false", YAML 1.2 core schema as
// the Actions toolkit does); empty gives def.
func (e *Env) BoolInput(name string, def bool) (bool, error) {
	switch v := e.Input(name); v {
	case "":
		return def, nil
	case "true", "True", "TRUE":
		return true, nil
	case "false", "False", "FALSE":
		return false, nil
	default:
		return def, fmt.Errorf("input %s: %q is not a boolean (true or false)", name, v)
	}
}

// fileCommand appends to an environment file, turning the library's panics
// into errors.
func (e *Env) fileCommand(env, name, msg string) (err error) {
	if e.getenv(env) == "" {
		return fmt.Errorf("%s unset: %w", env, ErrNotInActions)
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("write %s: %v", env, r)
		}
	}()
	e.a.IssueFileCommand(&githubactions.Command{Name: name, Message: msg})
	return nil
}

// SetOutput sets a step output, multi-line safe: the value goes in a heredoc
// with a random delimiter.
func (e *Env) SetOutput(name, value string) error {
	d := e.delim()
	for strings.Contains(value, d) {
		d = randomDelimiter()
	}
	return e.fileCommand("GITHUB_OUTPUT", "output", fmt.Sprintf("%s<<%s\n%s\n%s", name, d, value, d))
}

// AppendSummary appends Markdown to the job summary, cut to MaxStepSummary
// with a note when needed.
func (e *Env) AppendSummary(markdown string) error {
	const note = "\n\n> [!NOTE]\n> Summary truncated to GitHub's 1 MiB step limit.\n"
	path := e.getenv("GITHUB_STEP_SUMMARY")
	if path != "" {
		if fi, err := os.Stat(path); err == nil && fi.Size()+int64(len(markdown)) > MaxStepSummary {
			room := MaxStepSummary - int(fi.Size()) - len(note) - 1
			if room < 0 {
				return fmt.Errorf("job summary already at GitHub's %d-byte limit", MaxStepSummary)
			}
			markdown = cutUTF8(markdown, room) + note
		}
	}
	return e.fileCommand("GITHUB_STEP_SUMMARY", "step-summary", markdown)
}

func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// command issues a workflow command on stdout, turning panics into errors.
func (e *Env) command(c *githubactions.Command) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("workflow command %s: %v", c.Name, r)
		}
	}()
	e.a.IssueCommand(c)
	return nil
}

// Annotation levels.
const (
	Notice  = "notice"
	Warning = "warning"
	Error   = "error"
)

// Annotation is a message attached to a file position in the run's UI.
type Annotation struct {
	Level  string // Notice, Warning or Error
	File   string // path relative to the repository root
	Line   int
	Column int
	Title  string
	Msg    string
}

// Annotate emits ::error/::warning/::notice with file, line and col.
func (e *Env) Annotate(a Annotation) error {
	props := githubactions.CommandProperties{}
	if a.File != "" {
		props["file"] = a.File
	}
	if a.Line > 0 {
		props["line"] = strconv.Itoa(a.Line)
	}
	if a.Column > 0 {
		props["col"] = strconv.Itoa(a.Column)
	}
	if a.Title != "" {
		props["title"] = a.Title
	}
	level := a.Level
	if level != Error && level != Warning {
		level = Notice
	}
	return e.command(&githubactions.Command{Name: level, Message: a.Msg, Properties: props})
}

// Group starts a collapsible log group; call the returned func to end it.
func (e *Env) Group(title string) (end func()) {
	_ = e.command(&githubactions.Command{Name: "group", Message: title})
	return func() { _ = e.command(&githubactions.Command{Name: "endgroup"}) }
}

// Mask asks the runner to replace each value with *** in the log from now on.
// Multi-line values are masked line by line, as the runner matches per line.
func (e *Env) Mask(values ...string) error {
	var errs []error
	for _, v := range values {
		for _, line := range strings.Split(v, "\n") {
			line = strings.TrimRight(line, "\r")
			if len(strings.TrimSpace(line)) < minMaskLength {
				continue
			}
			errs = append(errs, e.command(&githubactions.Command{Name: "add-mask", Message: line}))
		}
	}
	return errors.Join(errs...)
}

// Context is the workflow context of the step.
type Context struct {
	EventName  string
	Repository string // owner/name
	SHA        string
	Ref        string
	Workspace  string
	APIURL     string
	ServerURL  string
	RunID      int64
	RunAttempt int64
	Workflow   string
	Job        string
	Actor      string
	Event      Event
}

// RunURL links the workflow run.
func (c *Context) RunURL() string {
	if c.RunID == 0 || c.Repository == "" {
		return ""
	}
	return fmt.Sprintf("%s/%s/actions/runs/%d", strings.TrimSuffix(c.ServerURL, "/"), c.Repository, c.RunID)
}

// Context reads the GITHUB_* variables and the event payload at GITHUB_EVENT_PATH.
func (e *Env) Context() (*Context, error) {
	gc, err := e.a.Context()
	if err != nil && gc == nil {
		return nil, fmt.Errorf("read GitHub context: %w", err)
	}
	c := &Context{
		EventName: gc.EventName, Repository: gc.Repository, SHA: gc.SHA, Ref: gc.Ref,
		Workspace: gc.Workspace, APIURL: gc.APIURL, ServerURL: gc.ServerURL,
		RunID: gc.RunID, RunAttempt: gc.RunAttempt, Workflow: gc.Workflow, Job: gc.Job, Actor: gc.Actor,
	}
	if gc.EventPath != "" {
		data, rerr := os.ReadFile(gc.EventPath)
		if rerr != nil {
			return c, fmt.Errorf("read event payload: %w", rerr)
		}
		ev, perr := ParseEvent(c.EventName, data)
		if perr != nil {
			return c, fmt.Errorf("%s: %w", gc.EventPath, perr)
		}
		c.Event = *ev
		if c.Repository == "" {
			c.Repository = ev.Repository
		}
	}
	return c, err
}

// Event is what loadgate needs from a webhook payload.
type Event struct {
	Name          string
	Repository    string // owner/name
	DefaultBranch string
	// PullRequest is set for pull_request and pull_request_target.
	PullRequest *PullRequest
	// Push is set for push.
	Push *Push
	// WorkflowRun is set for workflow_run (the privileged second workflow of
	// the fork-safe pattern).
	WorkflowRun *WorkflowRun
}

// PullRequest is a pull request event's essentials.
type PullRequest struct {
	Number  int
	BaseSHA string
	BaseRef string
	HeadSHA string
	HeadRef string
	// Fork is true when the head lives in another repository: its token is
	// read-only and secrets are withheld.
	Fork bool
}

// Push is a push event's essentials.
type Push struct {
	Ref   string
	After string
	// ToDefaultBranch is true for a push to the repository's default branch,
	// where baselines are updated.
	ToDefaultBranch bool
}

// WorkflowRun is a workflow_run event's essentials.
type WorkflowRun struct {
	ID         int64
	Event      string // event that triggered the first workflow
	Conclusion string
	HeadSHA    string
	HeadBranch string
	// PullRequests lists the PRs of the first run (empty for fork PRs: GitHub
	// omits them, so the number travels in the artifact).
	PullRequests []int
}

type rawRepo struct {
	FullName      string `json:"full_name"`
	DefaultBranch string `json:"default_branch"`
}

type rawEvent struct {
	Repository  *rawRepo `json:"repository"`
	Number      int      `json:"number"`
	Ref         string   `json:"ref"`
	After       string   `json:"after"`
	PullRequest *struct {
		Number int `json:"number"`
		Head   struct {
			SHA  string   `json:"sha"`
			Ref  string   `json:"ref"`
			Repo *rawRepo `json:"repo"`
		} `json:"head"`
		Base struct {
			SHA  string   `json:"sha"`
			Ref  string   `json:"ref"`
			Repo *rawRepo `json:"repo"`
		} `json:"base"`
	} `json:"pull_request"`
	WorkflowRun *struct {
		ID           int64  `json:"id"`
		Event        string `json:"event"`
		Conclusion   string `json:"conclusion"`
		HeadSHA      string `json:"head_sha"`
		HeadBranch   string `json:"head_branch"`
		PullRequests []struct {
			Number int `json:"number"`
		} `json:"pull_requests"`
	} `json:"workflow_run"`
}

// ParseEvent decodes a webhook payload of event name (GITHUB_EVENT_NAME).
// Unknown events give an Event with only the repository.
func ParseEvent(name string, data []byte) (*Event, error) {
	var r rawEvent
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("event payload: %w", err)
	}
	ev := &Event{Name: name}
	if r.Repository != nil {
		ev.Repository = r.Repository.FullName
		ev.DefaultBranch = r.Repository.DefaultBranch
	}
	switch name {
	case "pull_request", "pull_request_target":
		if r.PullRequest == nil {
			return nil, fmt.Errorf("%s event without pull_request", name)
		}
		p := r.PullRequest
		pr := &PullRequest{Number: p.Number, BaseSHA: p.Base.SHA, BaseRef: p.Base.Ref, HeadSHA: p.Head.SHA, HeadRef: p.Head.Ref}
		if pr.Number == 0 {
			pr.Number = r.Number
		}
		// A deleted fork has head.repo null: treat it as a fork.
		pr.Fork = p.Head.Repo == nil || (p.Base.Repo != nil && p.Head.Repo.FullName != p.Base.Repo.FullName)
		ev.PullRequest = pr
	case "push":
		ev.Push = &Push{Ref: r.Ref, After: r.After,
			ToDefaultBranch: ev.DefaultBranch != "" && r.Ref == "refs/heads/"+ev.DefaultBranch}
	case "workflow_run":
		if r.WorkflowRun == nil {
			return nil, errors.New("workflow_run event without workflow_run")
		}
		w := r.WorkflowRun
		wr := &WorkflowRun{ID: w.ID, Event: w.Event, Conclusion: w.Conclusion, HeadSHA: w.HeadSHA, HeadBranch: w.HeadBranch}
		for _, p := range w.PullRequests {
			wr.PullRequests = append(wr.PullRequests, p.Number)
		}
		ev.WorkflowRun = wr
	}
	return ev, nil
}
