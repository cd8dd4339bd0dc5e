package mcpserver

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// Run statuses.
const (
	StatusRunning   = "running"
	StatusFinished  = "finished"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// runsDir is where MCP-started runs write their results, under the working
// directory.
const runsDir = ".loadgate/runs"

// notifyTimeout bounds one progress notification, so a client that stops
// reading cannot stall a run's bookkeeping.
const notifyTimeout = 5 * time.Second

// runManager owns the runs this server started. At most one runs at a time:
// concurrent runs would add their load on the same target beyond what each
// plan's limits allow.
type runManager struct {
	s      *Server
	ctx    context.Context // parent of every run; cancelled by shutdown
	cancel context.CancelFunc

	mu     sync.Mutex
	runs   map[string]*run
	active *run
	closed bool
	wg     sync.WaitGroup
}

func newRunManager(s *Server) *runManager {
	ctx, cancel := context.WithCancel(context.Background())
	return &runManager{s: s, ctx: ctx, cancel: cancel, runs: map[string]*run{}}
}

// run is one MCP-started run.
type run struct {
	id        string
	planPath  string
	target    string
	startedBy *results.Launch
	baseline  string
	total     time.Duration
	cancel    context.CancelFunc
	done      chan struct{}

	// notification target: the run_plan call's progress token, if any.
	session *session
	token   any
	kick    chan struct{} // progress changed (capacity 1: latest wins)

	mu          sync.Mutex
	status      string
	cancelled   bool
	started     time.Time
	ended       time.Time
	progress    runners.Progress
	hasProgress bool
	resultsPath string
	valid       *bool
	reasons     []string
	summary     []EndpointSummary
	verdict     *gate.Verdict
	verdictPath string
	err         string
}

func (m *runManager) get(id string) *run {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runs[id]
}

func (m *runManager) list() []*run {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*run, 0, len(m.runs))
	for _, r := range m.runs {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// newRunID is sortable by start time and unique: UTC timestamp plus 6 random hex digits.
func newRunID(now time.Time) string {
	var b [3]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go ≥ 1.24)
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:])
}

// start launches p (already admitted) in the background.
func (m *runManager) start(p *plan.Plan, planPath, baseline string, launch *results.Launch, ss *session, token any) (*run, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, errors.New("server is shutting down")
	}
	if m.active != nil {
		return nil, fmt.Errorf("run %s is still running: wait for it (get_run) or cancel it (cancel_run) first; one run at a time keeps the load within the plan's limits", m.active.id)
	}
	runner, err := m.s.opts.NewRunner(p)
	if err != nil {
		return nil, fmt.Errorf("runner: %w", err)
	}
	wall := m.s.wallClock(p)
	ctx, cancel := context.WithTimeoutCause(m.ctx, wall, &WallClockError{Limit: wall})
	r := &run{
		id:        newRunID(m.s.opts.Now()),
		planPath:  planPath,
		target:    p.Redact(p.Target),
		startedBy: launch,
		baseline:  baseline,
		total:     p.TotalDuration(),
		cancel:    cancel,
		done:      make(chan struct{}),
		session:   ss,
		token:     token,
		kick:      make(chan struct{}, 1),
		status:    StatusRunning,
		started:   m.s.opts.Now(),
	}
	if pr, ok := runner.(runners.Progresser); ok {
		pr.OnProgress(r.onProgress)
	}
	m.runs[r.id] = r
	m.active = r
	m.wg.Add(2)
	go func() { defer m.wg.Done(); r.notifyLoop() }()
	go func() {
		defer m.wg.Done()
		defer cancel()
		f, err := runner.Run(ctx, p)
		m.finish(ctx, r, p, f, err)
		if c, ok := runner.(runners.Cleaner); ok {
			cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
			_ = c.Cleanup(cctx)
			ccancel()
		}
	}()
	return r, nil
}

// finish records the outcome of r: writes results (also partial ones),
// compares with the baseline, and releases the active slot.
func (m *runManager) finish(ctx context.Context, r *run, p *plan.Plan, f *results.File, runErr error) {
	s := m.s
	var (
		resultsPath string
		writeErr    error
		verdict     *gate.Verdict
		verdictPath string
		cmpErr      error
	)
	if f != nil {
		if runErr != nil {
			f.Run.Partial = true // stopped early: kept, never judged as complete
		}
		f.Run.ID = r.id
		// The plan reference keys baselines; fill what the runner left out.
		if f.Plan.Name == "" {
			f.Plan.Name = p.Name
		}
		if f.Plan.Hash == "" {
			f.Plan.Hash = p.Hash()
		}
		if f.Plan.File == "" {
			f.Plan.File = r.planPath
		}
		if f.Run.Target == "" {
			f.Run.Target = r.target
		}
		// The MCP launch is authoritative for runs this server started, even
		// if the runner (or a cmd wrapper) already stamped one.
		launch := *r.startedBy
		f.Run.StartedBy = &launch
		var buf bytes.Buffer
		if writeErr = results.Encode(&buf, f); writeErr == nil {
			resultsPath, writeErr = s.root.WriteFile(path.Join(runsDir, r.id, "results.json"), buf.Bytes())
		}
		if writeErr == nil && r.baseline != "" {
			verdict, cmpErr = s.compareWith(r.baseline, "", f, p)
			if cmpErr == nil {
				data, _ := json.MarshalIndent(verdict, "", "  ")
				verdictPath, cmpErr = s.root.WriteFile(path.Join(runsDir, r.id, "verdict.json"), append(data, '\n'))
			}
		}
	}

	r.mu.Lock()
	r.ended = s.opts.Now()
	switch {
	case r.cancelled:
		r.status = StatusCancelled
	case runErr != nil || f == nil || writeErr != nil:
		r.status = StatusFailed
	default:
		r.status = StatusFinished
	}
	var msgs []string
	var wce *WallClockError
	if runErr != nil && errors.As(context.Cause(ctx), &wce) {
		runErr = fmt.Errorf("%w: %w", wce, runErr)
	}
	for _, e := range []error{runErr, writeErr, cmpErr} {
		if e != nil && !(r.cancelled && errors.Is(e, context.Canceled)) {
			msgs = append(msgs, p.Redact(e.Error()))
		}
	}
	if f == nil && runErr == nil {
		msgs = append(msgs, "the runner returned no results")
	}
	if len(msgs) > 0 {
		r.err = strings.Join(msgs, "; ")
	}
	if f != nil {
		v := f.Validity.Valid
		r.valid, r.reasons = &v, f.Validity.Reasons
		r.summary = summarizeEndpoints(f)
	}
	if resultsPath != "" {
		r.resultsPath = s.root.Display(resultsPath)
	}
	if verdictPath != "" {
		r.verdictPath = s.root.Display(verdictPath)
	}
	r.verdict = verdict
	r.mu.Unlock()

	m.mu.Lock()
	if m.active == r {
		m.active = nil
	}
	m.mu.Unlock()
	if resultsPath != "" {
		s.addResultsResource(s.root.Display(resultsPath), r.id)
	}
	close(r.done)
}

// cancel stops r; it reports false if r had already ended.
func (m *runManager) cancelRun(r *run) bool {
	r.mu.Lock()
	running := r.status == StatusRunning
	if running {
		r.cancelled = true
	}
	r.mu.Unlock()
	if running {
		r.cancel()
	}
	return running
}

// shutdown cancels every run and waits for them to write their results.
func (m *runManager) shutdown() {
	m.mu.Lock()
	already := m.closed
	m.closed = true
	m.mu.Unlock()
	if already {
		return
	}
	for _, r := range m.list() {
		m.cancelRun(r)
	}
	m.cancel()
	m.wg.Wait()
}

// onProgress is the runner's progress callback: record and wake the notifier.
func (r *run) onProgress(p runners.Progress) {
	r.mu.Lock()
	r.progress, r.hasProgress = p, true
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// notifyLoop sends the latest progress as MCP progress notifications on the
// run_plan call's token until the run ends, then a final one. Sending happens
// here, not in the runner's callback, so a slow client never slows the runner.
func (r *run) notifyLoop() {
	if r.session == nil || r.token == nil {
		<-r.done
		return
	}
	last := -1.0
	send := func(final bool) {
		st := r.snapshot()
		prog, total := st.progressFraction(r.total)
		// Progress must increase (MCP spec) and reaches total only with the
		// final notification, so a client can take progress == total as "ended".
		if final {
			prog = max(total, last+0.001)
		} else {
			prog = min(prog, total*0.999)
			if prog <= last {
				return
			}
		}
		last = prog
		ctx, cancel := context.WithTimeout(context.Background(), notifyTimeout)
		defer cancel()
		_ = r.session.notify(ctx, "notifications/progress", progressParams{
			ProgressToken: r.token,
			Progress:      prog,
			Total:         total,
			Message:       st.progressMessage(),
		})
	}
	for {
		select {
		case <-r.kick:
			send(false)
		case <-r.done:
			send(true)
			return
		}
	}
}

// progressParams is a notifications/progress payload.
type progressParams struct {
	ProgressToken any     `json:"progressToken"`
	Message       string  `json:"message,omitempty"`
	Progress      float64 `json:"progress"`
	Total         float64 `json:"total,omitempty"`
}

// WallClockError is the cause of a run stopped at the server's wall-clock cap.
type WallClockError struct{ Limit time.Duration }

func (e *WallClockError) Error() string {
	return fmt.Sprintf("stopped after %s of real time, the MCP server's wall-clock cap (--max-wall-clock): results are partial", e.Limit)
}
