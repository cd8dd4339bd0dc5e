package distributed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// Defaults of Options.
const (
	DefaultMinLoadShare = 0.9
	DefaultStartTimeout = 3 * time.Minute
	DefaultPollInterval = time.Second
	DefaultResultGrace  = time.Minute
	// s3GETPerPrefixPerSecond is S3's documented request rate per prefix
	// ("at least 5,500 GET/HEAD requests per second per partitioned prefix",
	// Amazon S3 User Guide, "Best practices design patterns: optimizing Amazon
	// S3 performance"). Workers poll one start object per region, so the poll
	// interval grows with the workers per region to stay at half of it.
	s3GETPerPrefixPerSecond = 5500
)

// Options configure a Coordinator.
type Options struct {
	Store    Store
	Launcher Launcher
	RunID    string
	Workers  []WorkerSpec
	// Runner and RunnerClass are recorded in the merged results ("distributed",
	// "aws"; e.g. "local/4proc", "aws/1vcpu-2gb/x10").
	Runner      string
	RunnerClass string
	// MinLoadShare is the fraction (0..1) of the intended load that must run
	// for the run to be valid (default DefaultMinLoadShare). Below it the run
	// is invalid (exit 4); between it and 1 the run is degraded.
	MinLoadShare float64
	// StartTimeout bounds the wait for workers to be ready; late ones are
	// excluded and reported.
	StartTimeout time.Duration
	// StartLead is the time between publishing the start signal and the
	// start instant (default 3 poll intervals, at least 2s).
	StartLead time.Duration
	// PollInterval is the coordinator's and the workers' poll period
	// (default DefaultPollInterval, raised for many workers per region).
	PollInterval time.Duration
	// LaunchAllowance is how long Launcher.Launch may take (paced launches of
	// many tasks); workers wait that much longer for the start signal.
	LaunchAllowance time.Duration
	// ResultGrace is how long after the planned end results may arrive.
	ResultGrace time.Duration
	// Concurrency bounds parallel result downloads (default 16).
	Concurrency int
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	Now func() time.Time
}

// Coordinator runs a plan on distributed workers. It implements
// runners.Runner and runners.Cleaner.
type Coordinator struct {
	o Options

	mu       sync.Mutex
	launched bool
	finished bool
	startAt  time.Time // the barrier's start instant, once published
}

var (
	_ runners.Runner  = (*Coordinator)(nil)
	_ runners.Cleaner = (*Coordinator)(nil)
)

// InfraError reports that the distributed machinery failed (store, launcher,
// no worker at all); the CLI maps it to exit 3.
type InfraError struct{ Err error }

func (e *InfraError) Error() string { return e.Err.Error() }
func (e *InfraError) Unwrap() error { return e.Err }

// ConfigError reports that no worker could run because of their configuration
// (an environment variable the plan's secrets need is missing on every
// worker); the CLI maps it to exit 2, like other configuration problems.
type ConfigError struct{ Err error }

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// New returns a coordinator; Options are validated by Run.
func New(o Options) *Coordinator {
	if o.MinLoadShare <= 0 {
		o.MinLoadShare = DefaultMinLoadShare
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = DefaultStartTimeout
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	perRegion := map[string]int{}
	for _, w := range o.Workers {
		perRegion[w.Region]++
	}
	for _, n := range perRegion {
		// Two GETs (start, abort) per worker per interval at most half the
		// per-prefix rate.
		if min := time.Duration(float64(time.Second) * 2 * float64(n) / (s3GETPerPrefixPerSecond / 2)); min > o.PollInterval {
			o.PollInterval = min
		}
	}
	if o.StartLead <= 0 {
		o.StartLead = max(2*time.Second, 3*o.PollInterval)
	}
	if o.ResultGrace <= 0 {
		o.ResultGrace = DefaultResultGrace
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 16
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Runner == "" {
		o.Runner = "distributed"
	}
	return &Coordinator{o: o}
}

// workerState is the coordinator's bookkeeping of one worker.
type workerState struct {
	spec     WorkerSpec
	ready    bool
	included bool
	done     bool // result merged
	missing  bool
	reason   string
	config   bool // failed for a configuration problem (Failure.Config)
	info     results.Worker
	// partial: the worker's results end early (it was stopped mid-run);
	// ended is when its measurement ended.
	partial  bool
	ended    time.Time
	validity []string // the worker's own validity reasons
}

// Run executes the plan on the workers and returns the exact merge of their
// results, with per-worker figures, start skew and load share.
func (c *Coordinator) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	o := c.o
	if err := c.check(p); err != nil {
		return nil, err
	}
	pb, needs, err := encodePlan(p)
	if err != nil {
		return nil, err
	}
	if len(needs) > 0 {
		fmt.Fprintf(o.Log, "distributed: the stored plan holds references, not secret values: workers read %s from their own environment\n",
			strings.Join(needs, ", "))
	}
	now := o.Now()
	m := Manifest{RunID: o.RunID, Created: now, PlanHash: p.Hash(), Workers: o.Workers,
		PollInterval: o.PollInterval, StartBy: now.Add(o.LaunchAllowance + o.StartTimeout + o.StartLead + 30*time.Second), Runner: o.Runner}
	if err := o.Store.Put(ctx, planKey(o.RunID), pb); err != nil {
		return nil, &InfraError{fmt.Errorf("store plan: %w", err)}
	}
	if err := putJSON(ctx, o.Store, manifestKey(o.RunID), m); err != nil {
		return nil, &InfraError{fmt.Errorf("store manifest: %w", err)}
	}
	ws := make(map[string]*workerState, len(o.Workers))
	var order []*workerState
	for _, w := range o.Workers {
		st := &workerState{spec: w, info: results.Worker{ID: w.ID(), Region: w.Region, RateShare: w.RateScale}}
		ws[w.ID()] = st
		order = append(order, st)
	}
	c.mu.Lock()
	c.launched = true
	c.mu.Unlock()
	fmt.Fprintf(o.Log, "distributed: run %s: launching %d workers\n", o.RunID, len(o.Workers))
	if err := o.Launcher.Launch(ctx, o.RunID, o.Workers); err != nil {
		if ctx.Err() != nil {
			return c.interrupted(ctx, p, order, "while launching workers")
		}
		c.abort(ctx, "launch failed")
		return nil, &InfraError{fmt.Errorf("launch workers: %w", err)}
	}

	// Phase 1: wait until every worker is ready, dead, or the timeout passes.
	if err := c.waitReady(ctx, ws, order); err != nil {
		if ctx.Err() != nil {
			return c.interrupted(ctx, p, order, "while waiting for workers to be ready")
		}
		c.abort(ctx, err.Error())
		return nil, err
	}
	var readyShare, total float64
	var included []*workerState
	for _, st := range order {
		total += st.spec.RateScale
		if st.ready {
			st.included = true
			readyShare += st.spec.RateScale
			included = append(included, st)
		} else {
			st.missing = true
			if st.reason == "" {
				st.reason = fmt.Sprintf("not ready within %s", o.StartTimeout)
			}
		}
	}
	if len(included) == 0 {
		c.abort(ctx, "no worker ready")
		var err error
		if dead := countDead(order); dead == len(order) {
			err = fmt.Errorf("no worker became ready: all %d stopped or failed first%s", dead, reasonsOf(order, 5))
		} else {
			err = fmt.Errorf("no worker became ready within %s%s", o.StartTimeout, reasonsOf(order, 5))
		}
		for _, st := range order {
			if st.config {
				return nil, &ConfigError{err}
			}
		}
		return nil, &InfraError{err}
	}
	if share := readyShare / total; share < o.MinLoadShare {
		// Not worth starting: no load is sent, and the result says why (exit 4).
		c.abort(ctx, "too few workers ready")
		msg := fmt.Sprintf("invalid: only %d of %d workers ready (%.1f%% of the load, minimum %.1f%%); the run was not started",
			len(included), len(order), 100*share, 100*o.MinLoadShare)
		fmt.Fprintf(o.Log, "distributed: %s%s\n", msg, reasonsOf(order, 5))
		return c.notStarted(p, order, msg), nil
	}

	// Phase 2: release the barrier, one start object per region.
	startAt := o.Now().Add(o.StartLead)
	byRegion := map[string][]int{}
	var regions []string
	for _, st := range order {
		r := st.spec.Region
		if _, ok := byRegion[r]; !ok {
			regions = append(regions, r)
			byRegion[r] = []int{}
		}
		if st.included {
			byRegion[r] = append(byRegion[r], st.spec.Index)
		}
	}
	for _, r := range regions {
		sig := StartSignal{StartAt: startAt, Published: o.Now(), Included: byRegion[r]}
		if err := putJSON(ctx, o.Store, startKey(o.RunID, r), sig); err != nil {
			if ctx.Err() != nil {
				return c.interrupted(ctx, p, order, "while publishing the start signal")
			}
			c.abort(ctx, "start signal failed")
			return nil, &InfraError{fmt.Errorf("publish start: %w", err)}
		}
	}
	c.startAt = startAt
	fmt.Fprintf(o.Log, "distributed: %d/%d workers ready; start at %s\n", len(included), len(order), startAt.Format(time.RFC3339Nano))

	// Phase 3: collect and merge results as they arrive.
	var merger results.Merger
	deadline := startAt.Add(p.TotalDuration() + o.ResultGrace)
	collectErr := c.collect(ctx, ws, included, &merger, deadline)
	c.mu.Lock()
	c.finished = collectErr == nil
	c.mu.Unlock()
	if collectErr != nil {
		c.abort(ctx, collectErr.Error())
		// Workers got SIGTERM/abort: give them a moment to upload partial results.
		gctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		_ = c.collect(gctx, ws, included, &merger, o.Now().Add(10*time.Second))
		cancel()
	} else {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		_ = o.Launcher.Stop(sctx, "run complete")
		cancel()
	}
	out := c.finish(&merger, order, p)
	if out == nil {
		if collectErr != nil && ctx.Err() != nil {
			// Interrupted before any worker uploaded: still a partial,
			// invalid result (exit 4), not an infrastructure failure.
			f := c.notStarted(p, order, "interrupted after the start: no worker uploaded results")
			f.Run.Partial = true
			return f, collectErr
		}
		if collectErr != nil {
			return nil, collectErr
		}
		return nil, &InfraError{fmt.Errorf("no worker delivered results%s", reasonsOf(order, 5))}
	}
	if collectErr != nil {
		out.Run.Partial = true
	}
	return out, collectErr
}

func (c *Coordinator) check(p *plan.Plan) error {
	o := c.o
	var errs []error
	if o.Store == nil || o.Launcher == nil {
		errs = append(errs, errors.New("distributed: store and launcher are required"))
	}
	if o.RunID == "" || strings.ContainsAny(o.RunID, "/ ") {
		errs = append(errs, fmt.Errorf("distributed: bad run id %q", o.RunID))
	}
	if len(o.Workers) == 0 {
		errs = append(errs, errors.New("distributed: no workers"))
	}
	seen := map[int]bool{}
	for _, w := range o.Workers {
		if seen[w.Index] {
			errs = append(errs, fmt.Errorf("distributed: duplicate worker index %d", w.Index))
		}
		seen[w.Index] = true
		if w.Region == "" || strings.ContainsAny(w.Region, "/ ") {
			errs = append(errs, fmt.Errorf("distributed: worker %d: bad region %q", w.Index, w.Region))
		}
	}
	if mw := p.Limits.MaxWorkers; mw > 0 && len(o.Workers) > mw {
		errs = append(errs, fmt.Errorf("limits.max_workers: %d workers requested, the plan allows %d", len(o.Workers), mw))
	}
	if err := CheckTargets(p); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *Coordinator) waitReady(ctx context.Context, ws map[string]*workerState, order []*workerState) error {
	o := c.o
	deadline := o.Now().Add(o.StartTimeout)
	lastMsg := ""
	var settled time.Time // when every worker was first ready or dead
	for {
		// Task states first, the store second: a worker uploads its ready
		// marker or failure before it exits, so a task seen stopped here has
		// its upload visible in the listings below. The other order lets a
		// worker fail and exit between the two, and its configuration error
		// would read as "stopped before ready".
		states, err := o.Launcher.State(ctx)
		if err != nil {
			return c.ctxOr(ctx, &InfraError{fmt.Errorf("worker states: %w", err)})
		}
		keys, err := o.Store.List(ctx, readyPrefix(o.RunID))
		if err != nil {
			return c.ctxOr(ctx, &InfraError{fmt.Errorf("list ready workers: %w", err)})
		}
		for _, k := range keys {
			if st := ws[workerIDFromKey(readyPrefix(o.RunID), k)]; st != nil {
				st.ready = true
			}
		}
		if err := c.noteFailures(ctx, ws, states); err != nil {
			return err
		}
		var ready, pending, running, dead, unstopped int
		for _, st := range order {
			ts := states[st.spec.ID()]
			switch {
			case st.ready:
				ready++
			case ts.Phase == PhaseStopped || st.reason != "":
				dead++
				if ts.Phase != PhaseStopped {
					unstopped++
				}
				if st.reason == "" {
					st.reason = "stopped before ready: " + ts.Reason
				} else if ts.Phase == PhaseStopped {
					st.reason = withTaskReason(st.reason, ts.Reason)
				}
			case ts.Phase == PhaseRunning:
				running++
			default:
				pending++
			}
		}
		if msg := fmt.Sprintf("distributed: workers ready %d, starting %d, pending %d, lost %d\n", ready, running, pending, dead); msg != lastMsg {
			fmt.Fprint(o.Log, msg)
			lastMsg = msg
		}
		if ready+dead == len(order) || o.Now().After(deadline) {
			// A worker files its failure before its task stops, so the
			// task's stop reason (its exit code) shows up a poll or a few
			// later: wait a little for it rather than report without it.
			if settled.IsZero() {
				settled = o.Now()
			}
			if unstopped == 0 || o.Now().After(deadline) || o.Now().Sub(settled) >= stopReasonGrace*o.PollInterval {
				return nil
			}
		}
		if err := sleepCtx(ctx, o.PollInterval); err != nil {
			return err
		}
	}
}

// noteFailures records the reasons workers uploaded for failing, including
// those of tasks that failed before they learnt their worker index (matched
// through the launcher's task IDs).
func (c *Coordinator) noteFailures(ctx context.Context, ws map[string]*workerState, states map[string]TaskState) error {
	o := c.o
	keys, err := o.Store.List(ctx, failedPrefix(o.RunID))
	if err != nil {
		return c.ctxOr(ctx, &InfraError{fmt.Errorf("list failed workers: %w", err)})
	}
	if taskKeys, err := o.Store.List(ctx, failedTaskPrefix(o.RunID)); err == nil && len(taskKeys) > 0 {
		byTask := map[string]*workerState{}
		for id, ts := range states {
			if st := ws[id]; st != nil && ts.Task != "" {
				byTask[ts.Task[strings.LastIndex(ts.Task, "/")+1:]] = st
			}
		}
		for _, k := range taskKeys {
			task := workerIDFromKey(failedTaskPrefix(o.RunID), k)
			st := byTask[task[strings.LastIndex(task, "/")+1:]]
			if st == nil || st.reason != "" || st.done {
				continue
			}
			var f Failure
			if err := getJSON(ctx, o.Store, k, &f); err != nil {
				continue
			}
			st.reason = "failed: " + f.Error
			st.config = f.Config
		}
	}
	for _, k := range keys {
		st := ws[workerIDFromKey(failedPrefix(o.RunID), k)]
		if st == nil || st.reason != "" || st.done {
			continue
		}
		var f Failure
		if err := getJSON(ctx, o.Store, k, &f); err != nil {
			st.reason = "failed (reason unreadable)"
			continue
		}
		st.reason = "failed: " + f.Error
		st.config = f.Config
	}
	return nil
}

// collect downloads and merges the included workers' results until each has
// delivered or is lost, or the deadline passes.
func (c *Coordinator) collect(ctx context.Context, ws map[string]*workerState, included []*workerState, m *results.Merger, deadline time.Time) error {
	o := c.o
	stoppedSeen := map[string]int{}
	lastMsg := ""
	for {
		keys, err := o.Store.List(ctx, resultPrefix(o.RunID))
		if err != nil {
			return c.ctxOr(ctx, &InfraError{fmt.Errorf("list results: %w", err)})
		}
		var fresh []*workerState
		for _, k := range keys {
			if st := ws[workerIDFromKey(resultPrefix(o.RunID), k)]; st != nil && st.included && !st.done && !st.missing {
				fresh = append(fresh, st)
			}
		}
		c.download(ctx, fresh, m)
		states, err := o.Launcher.State(ctx)
		if err != nil {
			return c.ctxOr(ctx, &InfraError{fmt.Errorf("worker states: %w", err)})
		}
		if err := c.noteFailures(ctx, ws, states); err != nil {
			return err
		}
		open, delivered := 0, 0
		for _, st := range included {
			switch {
			case st.done:
				delivered++
			case st.missing:
			case states[st.spec.ID()].Phase == PhaseStopped:
				// A worker uploads before it exits; allow one more listing
				// for the upload to become visible.
				stoppedSeen[st.spec.ID()]++
				if stoppedSeen[st.spec.ID()] > 1 {
					st.missing = true
					if st.reason == "" {
						st.reason = "stopped without results: " + states[st.spec.ID()].Reason
					} else {
						st.reason = withTaskReason(st.reason, states[st.spec.ID()].Reason)
					}
				} else {
					open++
				}
			default:
				open++
			}
		}
		if msg := fmt.Sprintf("distributed: results %d/%d\n", delivered, len(included)); msg != lastMsg {
			fmt.Fprint(o.Log, msg)
			lastMsg = msg
		}
		if open == 0 {
			return nil
		}
		if o.Now().After(deadline) {
			for _, st := range included {
				if !st.done && !st.missing {
					st.missing = true
					st.reason = "no results by the deadline"
				}
			}
			return nil
		}
		if err := sleepCtx(ctx, o.PollInterval); err != nil {
			return fmt.Errorf("distributed run interrupted: %w", err)
		}
	}
}

// download fetches, decodes and merges results in parallel; the merge itself
// is serialized (it mutates the accumulated file).
func (c *Coordinator) download(ctx context.Context, fresh []*workerState, m *results.Merger) {
	o := c.o
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, o.Concurrency)
	for _, st := range fresh {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			key := ResultKey(o.RunID, st.spec)
			b, err := o.Store.Get(ctx, key)
			if err != nil {
				if ctx.Err() == nil && !errors.Is(err, ErrNotFound) {
					mu.Lock()
					st.missing, st.reason = true, "results unreadable: "+err.Error()
					mu.Unlock()
				}
				return
			}
			mu.Lock()
			defer mu.Unlock()
			// AddJSON adds the encoded histograms' counts directly: no
			// per-histogram 170 kB arrays for thousands of worker files.
			f, err := m.AddJSON(b, key)
			if err != nil {
				st.missing, st.reason = true, "results unusable: "+err.Error()
				return
			}
			st.done = true
			st.info.Requests, st.info.Errors = f.Total.Requests, f.Total.Errors
			st.partial, st.ended, st.validity = f.Run.Partial, f.Run.Ended, f.Validity.Reasons
			if len(f.Workers) == 1 {
				st.info.Started = f.Workers[0].Started
				if f.Workers[0].Reason != "" {
					st.partial = true
					st.reason = "partial: " + f.Workers[0].Reason
				}
			} else {
				st.info.Started = f.Run.Started
			}
		}()
	}
	wg.Wait()
}

// finish builds the merged file with per-worker figures, load share and skew.
// The profile is the plan's (not one worker's share); the load share counts
// what each worker delivered over the measured interval.
func (c *Coordinator) finish(m *results.Merger, order []*workerState, p *plan.Plan) *results.File {
	o := c.o
	if m.Len() == 0 {
		return nil
	}
	out := m.File()
	out.Run.ID = o.RunID
	out.Run.Runner = o.Runner
	out.Run.RunnerClass = o.RunnerClass
	out.Run.Label = ""
	out.Run.Target = p.RedactURL(p.Target)
	out.Plan.Name = p.Name
	out.Plan.File = p.Source
	out.Profile = planProfile(p)
	c.mu.Lock()
	startAt := c.startAt
	c.mu.Unlock()
	from, to := startAt.Add(p.Profile.Warmup), startAt.Add(p.TotalDuration())
	var total, ran float64
	var first, last time.Time
	delivered0, partial := 0, 0
	v := &out.Validity
	v.Reasons = workerReasons(order)
	for _, st := range order {
		total += st.spec.RateScale
		w := st.info
		if st.done {
			delivered0++
			share := delivered(st, from, to)
			ran += st.spec.RateScale * share
			if st.partial {
				partial++
				v.Reasons = append(v.Reasons, sentence(fmt.Sprintf("worker %s ran %.1f%% of its share of the measured interval (%s)",
					st.spec.ID(), 100*share, strings.TrimPrefix(st.reason, "partial: "))))
			}
			if !w.Started.IsZero() {
				if first.IsZero() || w.Started.Before(first) {
					first = w.Started
				}
				if w.Started.After(last) {
					last = w.Started
				}
			}
		} else {
			w.Missing = true
			v.MissingWorkers = append(v.MissingWorkers, w.ID)
			if st.reason != "" {
				v.Reasons = append(v.Reasons, sentence(fmt.Sprintf("worker %s delivered no results: %s", st.spec.ID(), st.reason)))
			}
		}
		w.Reason = st.reason
		out.Workers = append(out.Workers, w)
	}
	out.Run.Workers = delivered0
	v.LoadShare = ran / total
	if !first.IsZero() {
		v.StartSkewMs = float64(last.Sub(first).Microseconds()) / 1000
	}
	if delivered0 < len(order) || partial > 0 {
		v.Degraded = true
		v.Reasons = append(v.Reasons, fmt.Sprintf("degraded: %.1f%% of the intended load ran (%d of %d workers delivered no results, %d stopped early).",
			100*v.LoadShare, len(order)-delivered0, len(order), partial))
		if v.LoadShare < o.MinLoadShare {
			v.Valid = false
			v.Reasons = append(v.Reasons, fmt.Sprintf("invalid: %.1f%% of the intended load ran, below the minimum %.1f%%.", 100*v.LoadShare, 100*o.MinLoadShare))
		}
	}
	return out
}

// notStarted is the result of a run abandoned at the barrier: no load, every
// worker listed, invalid.
func (c *Coordinator) notStarted(p *plan.Plan, order []*workerState, msg string) *results.File {
	now := c.o.Now()
	f := &results.File{Schema: results.Schema,
		Plan:     results.PlanRef{Name: p.Name, Hash: p.Hash(), File: p.Source},
		Run:      results.Run{ID: c.o.RunID, Started: now, Ended: now, Runner: c.o.Runner, RunnerClass: c.o.RunnerClass, Target: p.RedactURL(p.Target)},
		Profile:  planProfile(p),
		Validity: results.Validity{Valid: false, Degraded: true, Reasons: []string{msg}},
		Total:    results.Endpoint{Name: "total"},
	}
	for _, st := range order {
		w := st.info
		w.Missing, w.Reason = true, st.reason
		if st.ready {
			w.Reason = "ready, but the run was not started"
		}
		f.Workers = append(f.Workers, w)
		f.Validity.MissingWorkers = append(f.Validity.MissingWorkers, w.ID)
	}
	return f
}

// interrupted ends a run cancelled before its start barrier: every launched
// task is stopped, and the result is an invalid, partial file saying so (the
// CLI writes it and exits 4, like any interrupted run), with ctx's error.
func (c *Coordinator) interrupted(ctx context.Context, p *plan.Plan, order []*workerState, when string) (*results.File, error) {
	stopErr := c.abort(ctx, "interrupted")
	states, _ := c.o.Launcher.State(context.WithoutCancel(ctx))
	launched := 0
	for _, st := range order {
		if ts, ok := states[st.spec.ID()]; ok && ts.Task != "" {
			launched++
		}
		if st.reason == "" && !st.ready {
			st.reason = "interrupted " + when
		}
	}
	stopped := "every one stopped"
	if stopErr != nil {
		stopped = "stopping them failed: " + stopErr.Error()
	}
	msg := fmt.Sprintf("interrupted %s (%d of %d tasks launched, %s): no load was sent.", when, launched, len(order), stopped)
	fmt.Fprintf(c.o.Log, "distributed: %s\n", msg)
	f := c.notStarted(p, order, msg)
	f.Run.Partial = true
	return f, fmt.Errorf("distributed run interrupted %s: %w", when, context.Cause(ctx))
}

// withTaskReason adds the task's stop reason (the container's own, such as
// OutOfMemoryError) to a worker's reason, once.
// stopReasonGrace is how many poll intervals the coordinator waits, once
// every worker is ready or has failed, for failed workers' tasks to stop.
const stopReasonGrace = 5

func withTaskReason(reason, task string) string {
	if task == "" || strings.Contains(reason, task) {
		return reason
	}
	return reason + "; task stopped: " + task
}

func countDead(order []*workerState) int {
	n := 0
	for _, st := range order {
		if !st.ready && st.reason != "" {
			n++
		}
	}
	return n
}

// abort tells waiting workers to stop and stops every task. Best effort, on a
// fresh context so it also runs after ctx was cancelled.
func (c *Coordinator) abort(ctx context.Context, reason string) error {
	o := c.o
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	seen := map[string]bool{}
	for _, w := range o.Workers {
		if !seen[w.Region] {
			seen[w.Region] = true
			_ = putJSON(actx, o.Store, abortKey(o.RunID, w.Region), AbortSignal{Reason: reason, At: o.Now()})
		}
	}
	err := o.Launcher.Stop(actx, reason)
	if err != nil {
		fmt.Fprintf(o.Log, "distributed: stopping workers: %v\n", err)
	}
	return err
}

// Cleanup stops every task of the run unless the run completed; safe to call
// more than once.
func (c *Coordinator) Cleanup(ctx context.Context) error {
	c.mu.Lock()
	launched, finished := c.launched, c.finished
	c.mu.Unlock()
	if !launched {
		return nil
	}
	if !finished {
		return c.abort(ctx, "cleanup")
	}
	return c.o.Launcher.Stop(ctx, "cleanup")
}

func (c *Coordinator) ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("distributed run interrupted: %w", ctx.Err())
	}
	return err
}

func reasonsOf(order []*workerState, limit int) string {
	var b strings.Builder
	n := 0
	for _, st := range order {
		if st.reason == "" || st.ready && !st.missing {
			continue
		}
		if n == limit {
			b.WriteString("; …")
			break
		}
		fmt.Fprintf(&b, "; %s: %s", st.spec.ID(), st.reason)
		n++
	}
	return b.String()
}
