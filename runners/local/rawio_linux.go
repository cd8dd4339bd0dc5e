//go:build linux

package local

import (
	"syscall"
	"unsafe"
)

// rawWrite and rawRead are write(2) and read(2) on a non-blocking socket
// without the runtime's syscall bookkeeping. syscall.Write and Read tell the
// scheduler the thread may block (entersyscall/exitsyscall); on a loaded
// loopback a send often lasts longer than sysmon's 20 µs tick, so sysmon
// takes the P away, starts or wakes another thread for it, and the writer
// then has to get a P back: futex calls, context switches and thread
// migrations per request (bench/RESULTS.md, session 11). These calls cannot
// block (the poller made the socket non-blocking), so the P stays. Unlike
// syscall.Read and Write they carry no race-detector annotations; the
// buffers belong to the worker alone while its request is in flight.
func rawWrite(fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_WRITE, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}

func rawRead(fd int, p []byte) (int, syscall.Errno) {
	if len(p) == 0 {
		return 0, 0
	}
	n, _, e := syscall.RawSyscall(syscall.SYS_READ, uintptr(fd), uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
	return int(n), e
}
