package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners"
)

// DefaultMaxDuration caps the total duration of any run an MCP client starts
// unless the operator raises it (`loadgate mcp --max-duration`): an assistant
// should run short checks, not soak tests nobody is watching.
const DefaultMaxDuration = 10 * time.Minute

// Operator ceilings an MCP-started run cannot exceed unless the operator
// raises them (`loadgate mcp --max-rate`, `--max-concurrency`,
// `--max-wall-clock`); no plan key can.
const (
	DefaultMaxRate        = 500.0
	DefaultMaxConcurrency = 256
	// DefaultWallClockGrace is how much longer than planned a run may take
	// in real time (the last requests' timeouts, a slow start) before it is
	// stopped, when no --max-wall-clock is given.
	DefaultWallClockGrace = 30 * time.Second
)

// RunnerFactory builds the runner for one MCP-started run. cmd passes one that
// builds the local runner; tests pass fakes.
type RunnerFactory func(p *plan.Plan) (runners.Runner, error)

// Options are the server's dependencies, as values.
type Options struct {
	// Dir is the working directory: every path a client names must lie inside
	// it, and results are written under Dir/.loadgate/runs.
	Dir string
	// Getenv expands ${VAR} in plans (and detects GitHub Actions for provenance).
	Getenv func(string) string
	// NewRunner builds runners for run_plan; nil disables run_plan.
	NewRunner RunnerFactory
	// Now is the clock (run ids, timestamps); nil means time.Now.
	Now func() time.Time
	// MaxDuration caps every MCP-started run's total duration; 0 means
	// DefaultMaxDuration.
	MaxDuration time.Duration
	// MaxRate caps the peak arrival rate (requests/s) of every MCP-started
	// run; 0 means DefaultMaxRate. The plan's limits are written by the
	// assistant, so only the operator's ceilings bind it.
	MaxRate float64
	// MaxConcurrency caps the virtual users of a closed-model run and the
	// in-flight requests of an open-model one; 0 means DefaultMaxConcurrency.
	MaxConcurrency int
	// MaxWallClock stops a run that is still going after this much real
	// time (slow responses, a stuck target), whatever its planned duration;
	// 0 means the run's planned duration plus DefaultWallClockGrace.
	MaxWallClock time.Duration
	// AllowTargets, when set, is the operator's own allow list (`loadgate mcp
	// --allow-target`): a plan's target and every targets.allow entry must lie
	// within it, so an assistant that edits a plan cannot widen where load goes.
	// Entries as in targets.allow: host names, *.domain, IPs, CIDRs.
	AllowTargets []string
	// Version is reported in the server's implementation info.
	Version string
	// Logger receives the server's diagnostics; nil discards them.
	Logger *slog.Logger
}

// Server is loadgate's MCP server.
type Server struct {
	opts Options
	root *Root
	runs *runManager

	mu        sync.Mutex
	tools     []*tool             // by name
	resources []*resource         // by URI
	templates []*resourceTemplate // by URI template
	sessions  map[*session]bool
}

// resource is a listed resource.
type resource struct {
	info resourceInfo
	read resourceHandler
}

// resourceTemplate serves every URI under prefix; when oneSegment, only
// URIs whose rest is a single path segment ({id} rather than {+path}).
type resourceTemplate struct {
	info       resourceTemplateInfo
	prefix     string
	oneSegment bool
	read       resourceHandler
}

func (t *resourceTemplate) matches(uri string) bool {
	rest, ok := strings.CutPrefix(uri, t.prefix)
	return ok && !(t.oneSegment && (rest == "" || strings.ContainsAny(rest, "/?#")))
}

// New builds a server. Close it to cancel and wait for runs in progress.
func New(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("mcpserver: Options.Dir is required")
	}
	if opts.Getenv == nil {
		opts.Getenv = func(string) string { return "" }
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxDuration <= 0 {
		opts.MaxDuration = DefaultMaxDuration
	}
	if opts.MaxRate <= 0 {
		opts.MaxRate = DefaultMaxRate
	}
	if opts.MaxConcurrency <= 0 {
		opts.MaxConcurrency = DefaultMaxConcurrency
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := checkAllowList(opts.AllowTargets); err != nil {
		return nil, err
	}
	root, err := OpenRoot(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Server{opts: opts, root: root, sessions: map[*session]bool{}}
	s.runs = newRunManager(s)
	s.addTools()
	s.addResources()
	return s, nil
}

const instructions = `loadgate runs short HTTP load tests and gates on performance regressions.
Typical flow: validate_plan → run_plan (returns a run id at once) → get_run until status is
finished → compare / explain_verdict against a baseline. Runs only go to hosts listed in the
plan's targets.allow and stay within its limits; all paths are relative to the working directory.`

// Serve speaks MCP (newline-delimited JSON-RPC) on r/w until the client
// disconnects or ctx ends, then cancels runs in progress and waits for them to
// write their (partial) results.
func (s *Server) Serve(ctx context.Context, r io.ReadCloser, w io.WriteCloser) error {
	err := s.serve(ctx, r, w)
	s.Close()
	r.Close()
	w.Close()
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

func (s *Server) addSession(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.sessions[ss] = true
}

func (s *Server) removeSession(ss *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.sessions, ss)
}

func (s *Server) tool(name string) *tool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, t := range s.tools {
		if t.info.Name == name {
			return t
		}
	}
	return nil
}

// Close cancels runs in progress, waits until they have written their results,
// and releases the working directory handle. It is safe to call twice.
func (s *Server) Close() error {
	s.runs.shutdown()
	return s.root.Close()
}

// WaitRun blocks until run id has ended or ctx is done (tests, --wait).
func (s *Server) WaitRun(ctx context.Context, id string) error {
	r := s.runs.get(id)
	if r == nil {
		return fmt.Errorf("no run %q", id)
	}
	select {
	case <-r.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
