// Package runners defines how load is produced: the Runner interface and the
// optional abilities a caller detects by type assertion.
package runners

import (
	"context"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

// Runner executes a plan and returns its results.
//
// When ctx is cancelled mid-run, Run stops sending, waits (bounded) for in-flight
// requests, and returns the partial results (Run.Partial = true) together with
// an error wrapping ctx.Err(), so callers can still write them.
type Runner interface {
	Run(ctx context.Context, p *plan.Plan) (*results.File, error)
}

// Progress is a live snapshot of a running test.
type Progress struct {
	Elapsed  time.Duration
	Total    time.Duration // planned duration
	Stage    string
	Requests int64
	Errors   int64
	// RPS is the achieved rate over the last interval.
	RPS float64
	// P95 over the last interval.
	P95      time.Duration
	InFlight int
	Dropped  int64
}

// ProgressFunc receives progress snapshots, at most a few per second.
type ProgressFunc func(Progress)

// Progresser is implemented by runners that report live progress.
type Progresser interface {
	OnProgress(ProgressFunc)
}

// Cleaner is implemented by runners that hold external resources (cloud tasks)
// that must be released even when Run was interrupted.
type Cleaner interface {
	Cleanup(ctx context.Context) error
}

// Error classes used in results.Endpoint.ErrorKinds.
const (
	ErrTimeout      = "timeout"
	ErrRefused      = "refused"
	ErrReset        = "reset"
	ErrDNS          = "dns"
	ErrTLS          = "tls"
	ErrStatus       = "status"
	ErrBodyTooLarge = "body_too_large"
	ErrOther        = "other"
	// ErrRedirectDisallowed is a redirect to a host outside targets.allow:
	// not followed, and not a success (a service redirecting everything to
	// a login host must not pass).
	ErrRedirectDisallowed = "redirect_disallowed"
)
