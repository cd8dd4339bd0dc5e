//go:build linux

package target

import (
	"runtime"
	"syscall"
	"time"
)

// PreciseSleep blocks for d to within the kernel's timer slack (~50 µs).
// time.Sleep in an otherwise idle process wakes through epoll_wait, whose
// timeout is whole milliseconds: it oversleeps by up to 1 ms, which rounds a
// few-millisecond latency distribution onto a millisecond grid and can hide
// a 10 % change of its p95 entirely. The sleeping goroutine holds its thread.
func PreciseSleep(d time.Duration) {
	if d <= 0 {
		return
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
