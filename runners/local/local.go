// Package local is loadgate's in-process load generator.
//
// The open model sends requests at the schedule's arrival rate and measures
// each request's latency from its intended send time, so a stalled target
// cannot hide its queueing delay (no coordinated omission); the service time
// from the actual send is kept separately. A fixed, lazily grown pool of
// workers bounded by the in-flight limit sends them; a request that cannot
// start on time waits (counted late, its wait included in its latency), is
// dropped after MaxStartDelay, and too many dropped or late requests make the
// run invalid rather than silently lowering the rate. Workers record into private buffers that a collector
// merges once per window, so no lock is shared by all workers per request.
//
// With Profile.VUs > 0 the closed model runs instead: VUs loop request →
// response, and latency equals service time.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// Tolerances and limits of the generator.
const (
	// WindowWidth is the width of results windows (before MaxWindows widens them).
	WindowWidth = time.Second
	// MaxWindows bounds the windows per endpoint so the results file stays the
	// same size for long runs: longer runs get 2 s, 4 s, … windows.
	MaxWindows = 600
	// LateThreshold is how far behind its intended time a request may start
	// and still count as on time; later ones are counted Late.
	LateThreshold = 10 * time.Millisecond
	// MaxStartDelay is how long past its intended time a request may wait for
	// a free worker (in-flight bound reached) before it is dropped: beyond it
	// the figure would describe the generator's queue, not the target.
	MaxStartDelay = time.Second
	// LateSpawnWait is how long a late arrival waits for a busy worker to
	// free up before the pool grows for it.
	LateSpawnWait = 2 * time.Millisecond
	// MaxDroppedFraction of scheduled requests may be dropped before the run is invalid.
	MaxDroppedFraction = 0.01
	// MaxLagP99 is the largest acceptable 99th percentile of schedule lag
	// (actual − intended send time) before the run is invalid. It is well
	// above LateThreshold because shared CI runners (and this project's own
	// 2-core test host) routinely deschedule a process for 20–40 ms; latency
	// is measured from the intended time either way, so lag below it shows
	// up in the figures rather than hiding.
	MaxLagP99 = 50 * time.Millisecond
	// HighGeneratorCPU is the generator CPU share above which the run carries
	// a warning that the generator competed with the target for CPU.
	HighGeneratorCPU = 0.9

	// DefaultTimeout applies when neither the endpoint nor the plan's defaults set one.
	DefaultTimeout = 5 * time.Second
	// DefaultMaxBodyBytes bounds response bodies when the plan sets no bound.
	DefaultMaxBodyBytes = 10 << 20
	// MinInFlight and MaxDerivedInFlight clamp the in-flight bound derived
	// from rate × timeout. Each request in flight holds a connection and a
	// worker (≈30–40 KiB); past 2000 an overloaded target would make the
	// generator's memory balloon, so such a run drops requests and is
	// reported invalid instead (profile.max_in_flight raises the bound).
	MinInFlight        = 16
	MaxDerivedInFlight = 2000
	// UnreachableAfter is how long a run goes on while nothing at all
	// connects (every request refused, unresolvable, failing its TLS
	// handshake or timing out while connecting) before it stops with an
	// UnreachableError instead of spending its whole planned duration. A
	// target that comes up within it (a service still starting) runs normally.
	UnreachableAfter = 5 * time.Second
	// DrainGrace is how long an interrupted run waits for in-flight requests.
	DrainGrace = 2 * time.Second
	// ProgressInterval is how often progress is reported and samples collected.
	ProgressInterval = time.Second
)

// Options configure a Runner.
type Options struct {
	// RateScale multiplies every arrival rate (and VU count): a worker of a
	// distributed run that carries a share of the load. 0 means 1.
	RateScale float64
	// StartAt makes the schedule begin at this instant (a barrier shared by
	// distributed workers); zero means now.
	StartAt time.Time
	// Label goes to Run.Label (e.g. "base"/"head" in paired mode).
	Label string
	// Client sends the requests; nil means a transport tuned for load.
	Client *http.Client
	// MaxInFlight overrides the plan's in-flight bound when > 0.
	MaxInFlight int
	// ID is the run id; empty means a random one.
	ID string
	// MaxLagP99 overrides the schedule-lag limit of a valid run (default
	// MaxLagP99): a lever for hosts known to be oversubscribed. Lag is part of
	// every latency figure either way.
	MaxLagP99 time.Duration
	// NoFastPath sends every request through net/http instead of the built-in
	// HTTP/1.1 client (for comparison and as an escape hatch).
	NoFastPath bool
	// Shard and Shards are this process's place among the workers of a
	// distributed run (0-based index, count; 0 count means alone): data rows
	// of sequential and unique sources and seq values are split between
	// workers by index, so unique values stay unique across workers.
	Shard, Shards int
	// UnreachableAfter overrides the package's UnreachableAfter when > 0.
	UnreachableAfter time.Duration
	// Slot marks a run that is one short slot of a longer measurement (paired
	// mode): its memory is not handed back to the OS when the load ends, since
	// the next slot needs it at once and the forced collection would only
	// lengthen every slot (about 25 ms each on an idle machine, more on a
	// busy one).
	Slot bool
	// Conns, when set, keeps the run's connections open for the next run
	// against the same target (the slots of one side of a paired
	// measurement) and reuses the previous run's: no slot pays for
	// connection set-up its predecessors already did.
	Conns *Conns
}

// UnreachableError ends a run in which no request reached the target: it
// was refused, not resolved, failed its TLS handshake or never connected.
// Results come with it (for the record); there is nothing in them to judge.
type UnreachableError struct {
	Target string        // redacted
	After  time.Duration // how long the run went on
	Early  bool          // stopped before its planned end
	Failed int64         // requests that failed to connect
	// First is the first failure's message (redacted): the reason, such as
	// a certificate that does not match the server name.
	First string
}

func (e *UnreachableError) Error() string {
	how := "during the whole run"
	if e.Early {
		how = fmt.Sprintf("in the first %v (stopped early)", e.After.Round(time.Second))
	}
	return fmt.Sprintf("target %s unreachable: nothing connected %s; %d requests failed to connect, the first with: %s",
		e.Target, how, e.Failed, e.First)
}

// Runner is the local load generator.
type Runner struct {
	opts     Options
	mu       sync.Mutex
	progress runners.ProgressFunc
}

var (
	_ runners.Runner     = (*Runner)(nil)
	_ runners.Progresser = (*Runner)(nil)
)

// New returns a local runner.
func New(opts Options) *Runner {
	if !(opts.RateScale > 0) {
		opts.RateScale = 1
	}
	return &Runner{opts: opts}
}

// OnProgress registers fn to receive a snapshot about once per second.
func (r *Runner) OnProgress(fn runners.ProgressFunc) {
	r.mu.Lock()
	r.progress = fn
	r.mu.Unlock()
}

// Run executes p. On cancellation it returns the partial results together
// with an error wrapping ctx.Err().
func (r *Runner) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	if p == nil {
		return nil, errors.New("local runner: nil plan")
	}
	stages := p.Schedule()
	total := totalDuration(stages)
	if total <= 0 {
		return nil, fmt.Errorf("local runner: plan %q: the profile's schedule is empty", p.Name)
	}
	setup, err := newClientSetup(p, r.opts.NoFastPath || r.opts.Client != nil)
	if err != nil {
		return nil, fmt.Errorf("local runner: plan %q: %w", p.Name, err)
	}
	conns := r.opts.Conns
	if conns != nil && !conns.use(setup.identity(p)) {
		conns = nil
	}
	if conns != nil {
		setup.shareSessions(conns.sessions)
	}
	data, err := newDataState(p, r.opts.Shard, r.opts.Shards)
	if err != nil {
		return nil, fmt.Errorf("local runner: %w", err)
	}
	vars, err := r.setup(ctx, p, setup, data)
	if err != nil {
		return nil, fmt.Errorf("local runner: %w", err)
	}
	eps, err := buildEndpointsWith(p, vars, setup.keepAlive)
	if err != nil {
		return nil, fmt.Errorf("local runner: %w", err)
	}
	r.mu.Lock()
	progress := r.progress
	r.mu.Unlock()

	closed := peakVUs(stages) > 0
	e := &engine{
		opts: r.opts, plan: p, eps: eps, stages: stages, total: total,
		warm: warmupDuration(stages), closed: closed, progress: progress,
		maxBody: p.Defaults.MaxBodyBytes, setup: setup, data: data, conns: conns,
	}
	for _, ep := range eps {
		e.anyDyn = e.anyDyn || ep.dyn != nil
	}
	if e.maxBody <= 0 {
		e.maxBody = DefaultMaxBodyBytes
	}
	e.bound = r.inFlightBound(p, stages, eps)
	e.client = r.opts.Client
	switch {
	case e.client != nil:
	case conns != nil:
		e.client = &http.Client{Transport: conns.transport(func() *http.Transport { return setup.transport(e.bound) })}
	default:
		tr := setup.transport(e.bound)
		defer tr.CloseIdleConnections()
		e.client = &http.Client{Transport: tr}
	}
	if e.client.CheckRedirect == nil {
		c := *e.client
		c.CheckRedirect = redirectPolicy(setup.allowed)
		e.client = &c
	}
	return e.run(ctx)
}

// setup runs the plan's setup steps (before the start barrier and the
// warm-up) and returns the variables they extracted. The steps go through
// net/http with the run's TLS settings (CA, client certificate, server name,
// verification), protocol and redirect rule, so a login reaches the target
// the load reaches.
func (r *Runner) setup(ctx context.Context, p *plan.Plan, cs *clientSetup, data *dataState) (map[string]string, error) {
	if len(p.Setup) == 0 {
		return nil, nil
	}
	client := r.opts.Client
	if client == nil {
		tr := cs.transport(1)
		defer tr.CloseIdleConnections()
		client = &http.Client{Transport: tr}
	}
	if client.CheckRedirect == nil {
		c := *client
		c.CheckRedirect = redirectPolicy(cs.allowed)
		client = &c
	}
	return runSetup(ctx, p, client, data)
}

// inFlightBound is the open model's limit on concurrent requests: the plan's,
// or enough for the peak rate when every request takes the full timeout.
func (r *Runner) inFlightBound(p *plan.Plan, stages []plan.Stage, eps []*endpoint) int {
	if r.opts.MaxInFlight > 0 {
		return r.opts.MaxInFlight
	}
	if p.Profile.MaxInFlight > 0 {
		return p.Profile.MaxInFlight
	}
	var maxTimeout time.Duration
	for _, e := range eps {
		maxTimeout = max(maxTimeout, e.timeout)
	}
	n := int(math.Ceil(peakRate(stages) * r.opts.RateScale * maxTimeout.Seconds()))
	return min(max(n, MinInFlight), MaxDerivedInFlight)
}

// engine is one run's state.
type engine struct {
	opts     Options
	plan     *plan.Plan
	eps      []*endpoint
	stages   []plan.Stage
	total    time.Duration
	warm     time.Duration
	closed   bool
	bound    int
	maxBody  int64
	client   *http.Client
	setup    *clientSetup
	conns    *Conns // nil: the run's connections end with it
	progress runners.ProgressFunc

	t0  time.Time
	col *collector

	// open model
	jobs       chan job
	payloads   sync.Map // payload size → body, shared read-only by workers
	nworkers   int
	spawnTimer *time.Timer  // scheduler-owned
	idle       atomic.Int32 // workers waiting for (or about to wait for) a job
	wg         sync.WaitGroup
	stopReq    context.CancelFunc // aborts in-flight requests after DrainGrace
	reqCtx     context.Context

	scheduled, sent int64 // written by the scheduler only
	dropped         atomic.Int64
	// data is the run's data sources; anyDyn says whether any endpoint is
	// templated (workers then carry builder state).
	data   *dataState
	anyDyn bool
	// exhausted counts requests not sent because a unique data source had
	// run out; exhaustedSource names the first.
	exhausted       atomic.Int64
	exhaustedSource atomic.Value
	cutoff          time.Duration // end of the schedule that ran (windows)
	sendEnd         time.Duration // when sending really stopped, since t0

	blockedRedirect atomic.Pointer[string] // first host a redirect outside targets.allow led to
	connectErr      atomic.Pointer[string] // first failure to connect
	unreachable     atomic.Bool            // stopped early: nothing connected
	stopRun         context.CancelFunc
}

func (e *engine) run(ctx context.Context) (*results.File, error) {
	id := e.opts.ID
	if id == "" {
		id = newID()
	}
	e.col = newCollector(len(e.eps), e.total, e.warm, !e.closed)
	e.reqCtx, e.stopReq = context.WithCancel(context.Background())
	defer e.stopReq()

	// Barrier: begin at StartAt (or now if it has passed).
	now := time.Now()
	e.t0 = now
	if e.opts.StartAt.After(now) {
		t := time.NewTimer(e.opts.StartAt.Sub(now))
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("local runner: interrupted before the start: %w", ctx.Err())
		}
		// The barrier instant on this process's monotonic clock, so windows
		// of distributed workers align exactly on StartAt.
		now := time.Now()
		e.t0 = now.Add(e.opts.StartAt.Sub(now))
	}
	cpu0 := cpuTime()
	wall0 := time.Now()

	// The run's own context: the caller's, and an early stop when nothing
	// connects.
	parent := ctx
	ctx, e.stopRun = context.WithCancel(ctx)
	defer e.stopRun()

	// The collector/progress loop.
	colDone := make(chan struct{})
	stopCol := make(chan struct{})
	go func() {
		defer close(colDone)
		e.collectLoop(stopCol)
	}()

	if e.closed {
		e.runClosed(ctx)
	} else {
		e.runOpen(ctx)
	}
	e.sendEnd = time.Since(e.t0)
	interrupted := parent.Err() != nil
	stopped := interrupted || e.unreachable.Load()
	e.cutoff = min(e.sendEnd, e.total)
	if !stopped {
		e.cutoff = e.total
	}
	e.drain(stopped)
	close(stopCol)
	<-colDone
	e.col.collect()

	cpu := cpuTime() - cpu0
	wall := time.Since(wall0)
	// The load is over and nothing is timed from here on. What only the
	// load needed (sample buffers, connections, handshake and request
	// garbage) goes back to the OS before the results are built, under a
	// tight garbage-collector target: results are the peak of a run's
	// memory, and a collection now perturbs no latency.
	e.col.release()
	if !e.opts.Slot {
		defer results.TightenGC()()
		debug.FreeOSMemory()
	}
	f := e.results(id, stopped, cpu, wall)
	if interrupted {
		return f, fmt.Errorf("local runner: interrupted after %v: %w", e.cutoff.Round(time.Millisecond), parent.Err())
	}
	if e.col.responded == 0 && e.col.notConnected > 0 && e.col.notConnected == e.col.completed {
		return f, e.unreachableError()
	}
	return f, nil
}

func (e *engine) unreachableError() *UnreachableError {
	ue := &UnreachableError{
		Target: e.plan.Redact(e.plan.Target), After: e.cutoff,
		Early: e.unreachable.Load(), Failed: e.col.notConnected, First: "?",
	}
	if m := e.connectErr.Load(); m != nil {
		ue.First = *m
	}
	return ue
}

// checkReachable stops the run when, UnreachableAfter into it, requests
// have failed to connect and none got a response. Collector goroutine only.
func (e *engine) checkReachable(el time.Duration) {
	after := UnreachableAfter
	if e.opts.UnreachableAfter > 0 {
		after = e.opts.UnreachableAfter
	}
	if el >= after && e.col.responded == 0 && e.col.notConnected > 0 && !e.unreachable.Load() {
		e.unreachable.Store(true)
		e.stopRun()
	}
}

// drain waits for in-flight requests: up to the longest timeout after a
// normal end, DrainGrace after an interruption; then it aborts them.
func (e *engine) drain(interrupted bool) {
	wait := DrainGrace
	if !interrupted {
		for _, ep := range e.eps {
			wait = max(wait, ep.timeout+time.Second)
		}
	}
	done := make(chan struct{})
	go func() { e.wg.Wait(); close(done) }()
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		e.stopReq()
		<-done
	}
}

func (e *engine) collectLoop(stop <-chan struct{}) {
	tk := time.NewTicker(ProgressInterval)
	defer tk.Stop()
	last := time.Now()
	for {
		select {
		case <-stop:
			return
		case now := <-tk.C:
			e.col.collect()
			e.checkReachable(now.Sub(e.t0))
			n, p95 := e.col.interval()
			if e.progress != nil {
				el := now.Sub(e.t0)
				dt := now.Sub(last).Seconds()
				st := e.stages[stageAt(e.stages, max(el, 0))]
				name := st.Name
				e.progress(runners.Progress{
					Elapsed: el, Total: e.total, Stage: name,
					Requests: e.col.requests, Errors: e.col.errors,
					RPS: float64(n) / dt, P95: p95,
					InFlight: e.col.inFlight(), Dropped: e.droppedNow(),
				})
			}
			last = now
		}
	}
}

func (e *engine) droppedNow() int64 { return e.dropped.Load() }

func (e *engine) results(id string, interrupted bool, cpu, wall time.Duration) *results.File {
	p := e.plan
	scale := e.opts.RateScale
	f := &results.File{
		Schema: results.Schema,
		Plan:   results.PlanRef{Name: p.Name, File: p.Source},
		Run: results.Run{
			ID: id, Started: e.t0, Ended: e.t0.Add(max(e.sendEnd, e.cutoff)),
			Runner: "local", RunnerClass: fmt.Sprintf("local/%dcpu", runtime.NumCPU()),
			Workers: 1, Target: p.RedactURL(p.Target), Partial: interrupted, Label: e.opts.Label,
			Env: results.Env{OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU(), GoVersion: runtime.Version()},
		},
		Profile: e.profile(),
	}
	if h, err := os.Hostname(); err == nil {
		f.Run.Env.Host = h
	}
	f.Plan.Hash = p.Hash()

	var wsum int
	for _, ep := range e.eps {
		wsum += ep.weight
	}
	for i, ep := range e.eps {
		share := float64(ep.weight) / float64(wsum)
		offered := func(from, to time.Duration) float64 {
			if e.closed {
				return 0
			}
			return round3((cumulative(e.stages, scale, to) - cumulative(e.stages, scale, from)) / (to - from).Seconds() * share)
		}
		payload := func(mid time.Duration) int64 {
			if !ep.payload {
				return 0
			}
			return e.stages[stageAt(e.stages, mid)].PayloadBytes
		}
		re := e.col.endpoint(i, e.t0, e.cutoff, offered, payload)
		re.Name, re.Method, re.URL = ep.name, ep.method, p.Redact(ep.rawURL)
		f.Endpoints = append(f.Endpoints, re)
	}
	// Throughput over the time the generator really sent, which is longer
	// than planned when it fell behind.
	span := max(e.sendEnd, e.cutoff)
	measured := span - e.warm
	if measured <= 0 {
		measured = span
	}
	f.Finalize(measured)
	f.Validity = e.validity(cpu, wall)
	e.warnings(f)
	f.Derived = derive(p.Profile, e.stages, e.t0, f.Total.Windows)
	return f
}

// warnings records the run's caveats that do not invalidate it.
func (e *engine) warnings(f *results.File) {
	if e.setup.tls != nil && e.setup.tls.InsecureSkipVerify {
		f.Run.InsecureTLS = true
		f.Run.Warnings = append(f.Run.Warnings, "TLS certificates were NOT verified (tls.insecure_skip_verify): any host that answered may have served these figures")
	}
	if n := e.col.redirects; n > 0 {
		host := "?"
		if h := e.blockedRedirect.Load(); h != nil {
			host = *h
		}
		f.Run.Warnings = append(f.Run.Warnings, fmt.Sprintf(
			"%d responses were redirects to a host outside targets.allow (first: %s); they were not followed and count as %s errors",
			n, e.plan.Redact(host), runners.ErrRedirectDisallowed))
	}
}

func (e *engine) profile() results.Profile {
	pr := e.plan.Profile
	out := results.Profile{Type: pr.Type, Model: "open", Duration: results.Duration(e.total - e.warm), Warmup: results.Duration(e.warm)}
	if out.Type == "" {
		out.Type = plan.ProfileLoad
	}
	if e.closed {
		out.Model = "closed"
		out.VUs = scaleVUs(peakVUs(e.stages), e.opts.RateScale)
	} else {
		out.Rate = round3(peakRate(e.stages) * e.opts.RateScale)
	}
	for _, s := range e.stages {
		out.Stages = append(out.Stages, results.Stage{
			Name: s.Name, Duration: results.Duration(s.Duration),
			StartRate: round3(s.StartRate * e.opts.RateScale), EndRate: round3(s.EndRate * e.opts.RateScale),
			VUs: scaleVUs(s.VUs, e.opts.RateScale), PayloadBytes: s.PayloadBytes, Warmup: s.Warmup,
		})
	}
	return out
}

func (e *engine) validity(cpu, wall time.Duration) results.Validity {
	c := e.col
	v := results.Validity{Valid: true, Scheduled: e.scheduled, Sent: e.sent, Dropped: e.dropped.Load(), Late: c.late}
	if e.closed {
		v.Scheduled, v.Sent = c.completed, c.completed
	}
	if c.lag.Count() > 0 {
		v.LagP99Ms = float64(c.lag.Quantile(0.99)) / 1000
		v.LagMaxMs = float64(c.lag.Max()) / 1000
	}
	if wall > 0 {
		v.GeneratorCPU = round3(cpu.Seconds() / wall.Seconds() / float64(runtime.NumCPU()))
	}
	if v.Sent == 0 {
		v.Valid = false
		v.Causes = append(v.Causes, results.CauseNoRequests)
		v.Reasons = append(v.Reasons, "no request was sent")
	}
	if v.Scheduled > 0 && float64(v.Dropped) > MaxDroppedFraction*float64(v.Scheduled) {
		v.Valid = false
		v.Causes = append(v.Causes, results.CauseDropped)
		v.Reasons = append(v.Reasons, fmt.Sprintf(
			"the generator dropped %d of %d scheduled requests (%.1f%%, limit %.0f%%): they could not start within %v of their intended time, because %d requests were already in flight (raise profile.max_in_flight) or the generator was short of CPU",
			v.Dropped, v.Scheduled, 100*float64(v.Dropped)/float64(v.Scheduled), 100*MaxDroppedFraction, MaxStartDelay, e.bound))
	}
	maxLag := MaxLagP99
	if e.opts.MaxLagP99 > 0 {
		maxLag = e.opts.MaxLagP99
	}
	if !e.closed && v.LagP99Ms > float64(maxLag)/float64(time.Millisecond) {
		v.Valid = false
		v.Causes = append(v.Causes, results.CauseBehind)
		v.Reasons = append(v.Reasons, fmt.Sprintf(
			"the generator fell behind its schedule: 99%% of requests started within %.1f ms of their intended time (limit %v); the generator was short of CPU",
			v.LagP99Ms, maxLag))
	}
	if n := e.exhausted.Load(); n > 0 {
		src, _ := e.exhaustedSource.Load().(string)
		v.Valid = false
		v.Sent = max(0, v.Sent-n)
		v.Causes = append(v.Causes, results.CauseDataExhausted)
		v.Reasons = append(v.Reasons, fmt.Sprintf(
			"%d requests were not sent: data source %s (mode unique) ran out of rows; add rows, shorten the run or use mode sequential", n, src))
	}
	if v.GeneratorCPU > HighGeneratorCPU {
		v.Reasons = append(v.Reasons, fmt.Sprintf("the generator used %.0f%% of the machine's CPUs; the target competed with it", 100*v.GeneratorCPU))
	}
	return v
}

func scaleVUs(v int, scale float64) int {
	if v == 0 {
		return 0
	}
	return max(1, int(math.Round(float64(v)*scale)))
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return time.Now().UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:4])
}
