//go:build !linux

package target

import "time"

// PreciseSleep is time.Sleep where no finer sleep is wired up.
func PreciseSleep(d time.Duration) { time.Sleep(d) }
