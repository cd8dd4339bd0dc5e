//go:build unix && !linux

package local

import "syscall"

// rawWrite and rawRead are the ordinary system calls outside Linux (see
// rawio_linux.go).
func rawWrite(fd int, p []byte) (int, syscall.Errno) { return errno(syscall.Write(fd, p)) }

func rawRead(fd int, p []byte) (int, syscall.Errno) { return errno(syscall.Read(fd, p)) }

func errno(n int, err error) (int, syscall.Errno) {
	if err == nil {
		return n, 0
	}
	if e, ok := err.(syscall.Errno); ok {
		return n, e
	}
	return n, syscall.EIO
}
