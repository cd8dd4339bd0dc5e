package distributed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// Share is what a worker's runner needs to run its shard of the plan.
type Share struct {
	// RateScale multiplies every rate of the plan (this worker's share).
	RateScale float64
	// StartAt is the common start instant of all workers: the schedule begins
	// there, and results windows are aligned to it so they merge by time.
	StartAt time.Time
	// Label is the worker ID ("<region>/<n>").
	Label  string
	Index  int
	Region string
	// Workers is the number of workers in the run's manifest (indices are
	// 0..Workers-1): with Index, it splits data rows between workers.
	Workers int
}

// RunnerFactory builds the runner of one worker (the local runner in the CLI).
type RunnerFactory func(Share) (runners.Runner, error)

// WorkerOptions configure RunWorker.
type WorkerOptions struct {
	Store     Store
	RunID     string
	Index     int
	Region    string
	NewRunner RunnerFactory
	// Host is recorded in the ready marker (e.g. the task ARN or hostname).
	Host string
	// Log receives progress lines (nil: discarded).
	Log io.Writer
	// Getenv is the worker's environment, where the ${NAME} references of
	// the stored plan are resolved (nil: an empty environment, so a plan
	// with secrets fails with an *EnvError).
	Getenv func(string) string
	// ManifestWait bounds how long the worker waits for the manifest to
	// appear (S3 is strongly consistent, but the coordinator may still be
	// writing it when a fast local worker starts). Default 30s.
	ManifestWait time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// ErrExcluded is returned by RunWorker when the coordinator started the run
// without this worker (it was not ready in time).
var ErrExcluded = errors.New("worker excluded from the run (not ready before the start barrier)")

// ErrAborted is returned by RunWorker when the coordinator aborted the run.
var ErrAborted = errors.New("run aborted by the coordinator")

// RunWorker runs one worker: it loads plan and manifest, reports ready, waits
// for its region's start signal, runs its share of the plan from the common
// start instant, and uploads its results (partial ones too, when cancelled or
// aborted). Failures are uploaded too, so the coordinator can say why a worker
// delivered nothing.
func RunWorker(ctx context.Context, o WorkerOptions) (err error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.ManifestWait <= 0 {
		o.ManifestWait = 30 * time.Second
	}
	me := WorkerSpec{Index: o.Index, Region: o.Region}
	var p *plan.Plan // Redact is nil-safe: errors before the plan is read hold no secret
	defer func() {
		if err != nil && !errors.Is(err, ErrExcluded) {
			// Best effort, on a fresh context: the run's may be cancelled.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_ = putJSON(fctx, o.Store, workerKey(failedPrefix(o.RunID), me),
				Failure{Error: p.Redact(err.Error()), At: o.Now(), Config: IsWorkerConfigError(err)})
		}
	}()

	var m Manifest
	if err := waitGet(ctx, o.Store, manifestKey(o.RunID), &m, o.ManifestWait, time.Second); err != nil {
		return fmt.Errorf("worker %s: manifest: %w", me.ID(), err)
	}
	spec, ok := m.Worker(o.Index)
	if !ok || spec.Region != o.Region {
		return fmt.Errorf("worker %s: not in the run's manifest", me.ID())
	}
	pb, err := o.Store.Get(ctx, planKey(o.RunID))
	if err != nil {
		return fmt.Errorf("worker %s: plan: %w", me.ID(), err)
	}
	// Secrets and the TLS client key resolve from this worker's environment
	// before anything else: a missing variable or a key that does not match
	// the certificate fails here, before the ready marker, so no request is
	// ever sent with a reference instead of its value.
	if p, err = decodePlan(pb, o.Getenv); err != nil {
		return fmt.Errorf("worker %s: %w", me.ID(), err)
	}
	if h := p.Hash(); m.PlanHash != "" && h != m.PlanHash {
		return fmt.Errorf("worker %s: plan hash %s differs from the manifest's %s", me.ID(), h, m.PlanHash)
	}
	if err := putJSON(ctx, o.Store, workerKey(readyPrefix(o.RunID), spec), Ready{At: o.Now(), Host: o.Host}); err != nil {
		return fmt.Errorf("worker %s: ready: %w", me.ID(), err)
	}
	fmt.Fprintf(o.Log, "worker %s: ready (rate share %.4g), waiting for the start signal\n", spec.ID(), spec.RateScale)

	sig, err := waitStart(ctx, o, &m, spec)
	if err != nil {
		return err
	}
	if !slices.Contains(sig.Included, spec.Index) {
		fmt.Fprintf(o.Log, "worker %s: excluded from the run\n", spec.ID())
		return ErrExcluded
	}

	share := Share{RateScale: spec.RateScale, StartAt: sig.StartAt, Label: spec.ID(), Index: spec.Index, Region: spec.Region, Workers: len(m.Workers)}
	r, err := o.NewRunner(share)
	if err != nil {
		return fmt.Errorf("worker %s: %w", spec.ID(), err)
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go watchAbort(runCtx, cancel, o, &m, spec)

	// The runner waits for StartAt itself (so its schedule and windows are
	// anchored at exactly StartAt on every worker). The start is measured
	// here with the same kind of timer: when it fired, or when Run was called
	// if the signal arrived after StartAt (a late start, reported).
	armed := o.Now()
	startedCh := make(chan time.Time, 1)
	if d := sig.StartAt.Sub(armed); d > 0 {
		t := time.AfterFunc(d, func() { startedCh <- o.Now() })
		defer t.Stop()
	} else {
		startedCh <- armed
		fmt.Fprintf(o.Log, "worker %s: late by %s (start signal seen after the start instant)\n", spec.ID(), -d)
	}
	res, runErr := r.Run(runCtx, p)
	var started time.Time
	select {
	case started = <-startedCh:
	default:
		select {
		case started = <-startedCh:
		case <-runCtx.Done(): // cancelled before the start
		}
	}
	if res == nil {
		if runErr == nil {
			runErr = errors.New("runner returned no results")
		}
		return fmt.Errorf("worker %s: %w", spec.ID(), runErr)
	}
	res.Run.Workers = 1
	res.Run.Label = spec.ID()
	if res.Plan.Hash == "" {
		res.Plan.Hash = m.PlanHash
	}
	res.Workers = []results.Worker{{
		ID: spec.ID(), Region: spec.Region, Started: started,
		Requests: res.Total.Requests, Errors: res.Total.Errors, RateShare: spec.RateScale,
	}}
	if runErr != nil {
		res.Run.Partial = true
		res.Workers[0].Reason = p.Redact(runErr.Error())
	}
	var buf bytes.Buffer
	if err := results.Encode(&buf, res); err != nil {
		return fmt.Errorf("worker %s: encode results: %w", spec.ID(), err)
	}
	uctx, ucancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer ucancel()
	if err := o.Store.Put(uctx, ResultKey(o.RunID, spec), buf.Bytes()); err != nil {
		return fmt.Errorf("worker %s: upload results: %w", spec.ID(), err)
	}
	fmt.Fprintf(o.Log, "worker %s: uploaded %d requests (started %s after the barrier)\n",
		spec.ID(), res.Total.Requests, started.Sub(sig.StartAt).Round(time.Microsecond))
	if runErr != nil {
		return fmt.Errorf("worker %s: %w (partial results uploaded)", spec.ID(), runErr)
	}
	return nil
}

// waitGet polls key until it exists or wait elapses.
func waitGet(ctx context.Context, s Store, key string, v any, wait, every time.Duration) error {
	deadline := time.Now().Add(wait)
	for {
		err := getJSON(ctx, s, key, v)
		if err == nil || !errors.Is(err, ErrNotFound) || time.Now().After(deadline) {
			return err
		}
		if err := sleepCtx(ctx, every); err != nil {
			return err
		}
	}
}

// waitStart polls the region's start and abort signals, with jitter so that
// thousands of workers do not poll in lock step.
func waitStart(ctx context.Context, o WorkerOptions, m *Manifest, spec WorkerSpec) (*StartSignal, error) {
	every := m.PollInterval
	if every <= 0 {
		every = time.Second
	}
	for {
		var sig StartSignal
		err := getJSON(ctx, o.Store, startKey(o.RunID, spec.Region), &sig)
		if err == nil {
			return &sig, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("worker %s: start signal: %w", spec.ID(), err)
		}
		var ab AbortSignal
		if err := getJSON(ctx, o.Store, abortKey(o.RunID, spec.Region), &ab); err == nil {
			return nil, fmt.Errorf("worker %s: %w: %s", spec.ID(), ErrAborted, ab.Reason)
		}
		if !m.StartBy.IsZero() && o.Now().After(m.StartBy) {
			return nil, fmt.Errorf("worker %s: no start signal by %s", spec.ID(), m.StartBy.Format(time.RFC3339))
		}
		if err := sleepCtx(ctx, jitter(every)); err != nil {
			return nil, fmt.Errorf("worker %s: waiting for start: %w", spec.ID(), err)
		}
	}
}

// watchAbort cancels the run when the coordinator publishes an abort.
func watchAbort(ctx context.Context, cancel context.CancelCauseFunc, o WorkerOptions, m *Manifest, spec WorkerSpec) {
	every := m.PollInterval
	if every <= 0 {
		every = time.Second
	}
	for sleepCtx(ctx, jitter(every)) == nil {
		var ab AbortSignal
		if err := getJSON(ctx, o.Store, abortKey(o.RunID, spec.Region), &ab); err == nil {
			cancel(fmt.Errorf("%w: %s", ErrAborted, ab.Reason))
			return
		}
	}
}

// jitter spreads d over [0.75d, 1.25d).
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.75 + 0.5*rand.Float64()))
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
