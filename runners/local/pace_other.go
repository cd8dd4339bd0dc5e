//go:build !linux

package local

import "time"

// hasPreciseSleep is false where no finer sleep than a Go timer is wired up:
// the pacer sleeps on timers alone.
const hasPreciseSleep = false

func preciseSleep(d time.Duration) { time.Sleep(d) }
