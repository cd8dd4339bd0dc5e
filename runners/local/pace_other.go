//go:build !linux

package local

import "time"

// finePacer is Linux-only; elsewhere the pacer sleeps on Go timers alone.
type finePacer struct{}

func newFinePacer() (*finePacer, func()) { return nil, func() {} }

func (*finePacer) sleep(time.Duration) {}
