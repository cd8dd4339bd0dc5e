package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners"
)

// DefaultMaxDuration caps the total duration of any run an MCP client starts
// unless the operator raises it (`loadgate mcp --max-duration`): an assistant
// should run short checks, not soak tests nobody is watching.
const DefaultMaxDuration = 10 * time.Minute

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
	// AllowTargets, when set, is the operator's own allow list (`loadgate mcp
	// --allow-target`): a plan's target and every targets.allow entry must lie
	// within it, so an assistant that edits a plan cannot widen where load goes.
	// Entries as in targets.allow: host names, *.domain, IPs, CIDRs.
	AllowTargets []string
	// Version is reported in the server's implementation info.
	Version string
	// Logger receives the SDK's and the server's diagnostics; nil discards them.
	Logger *slog.Logger
}

// Server is loadgate's MCP server.
type Server struct {
	opts Options
	root *Root
	srv  *mcp.Server
	runs *runManager
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
	s := &Server{opts: opts, root: root}
	s.srv = mcp.NewServer(&mcp.Implementation{Name: "loadgate", Title: "loadgate performance gate", Version: opts.Version}, &mcp.ServerOptions{
		Instructions: instructions,
		Logger:       opts.Logger,
	})
	s.runs = newRunManager(s)
	s.addTools()
	s.addResources()
	return s, nil
}

const instructions = `loadgate runs short HTTP load tests and gates on performance regressions.
Typical flow: validate_plan → run_plan (returns a run id at once) → get_run until status is
finished → compare / explain_verdict against a baseline. Runs only go to hosts listed in the
plan's targets.allow and stay within its limits; all paths are relative to the working directory.`

// Connect serves one session on t and returns once it is initialized; tests use
// it with the SDK's in-memory transport.
func (s *Server) Connect(ctx context.Context, t mcp.Transport) (*mcp.ServerSession, error) {
	return s.srv.Connect(ctx, t, nil)
}

// Serve speaks MCP (newline-delimited JSON-RPC) on r/w until the client
// disconnects or ctx ends, then cancels runs in progress and waits for them to
// write their (partial) results.
func (s *Server) Serve(ctx context.Context, r io.ReadCloser, w io.WriteCloser) error {
	err := s.srv.Run(ctx, &mcp.IOTransport{Reader: r, Writer: w})
	s.Close()
	if errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		return nil
	}
	return err
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
