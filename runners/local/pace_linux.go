//go:build linux

package local

import (
	"runtime"
	"syscall"
	"time"
)

// finePacer sleeps the open-model pacer for the last stretch before an
// arrival with the kernel's high-resolution timer. Go's timers wake an idle
// process through epoll_wait, whose timeout is whole milliseconds, so a
// timer-paced arrival starts up to 1 ms late — and latency is measured from
// the intended time, so that lateness is in every request's figure.
type finePacer struct{}

// prSetTimerSlack is prctl's PR_SET_TIMERSLACK: how much the kernel may delay
// this thread's timers to batch wake-ups (50 µs by default).
const prSetTimerSlack = 29

// newFinePacer pins the calling goroutine to its thread (the sleeps block the
// thread, and the timer slack is per thread) and tightens the slack to 1 µs.
// release undoes both.
func newFinePacer() (p *finePacer, release func()) {
	runtime.LockOSThread()
	_, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1000, 0)
	return &finePacer{}, func() {
		if errno == 0 {
			// 0 restores the thread's default slack before it returns to the pool.
			_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 0, 0)
		}
		runtime.UnlockOSThread()
	}
}

// sleep blocks the thread for d, resuming after signals (the Go runtime
// preempts with SIGURG).
func (*finePacer) sleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for syscall.Nanosleep(&ts, &ts) == syscall.EINTR {
	}
}
