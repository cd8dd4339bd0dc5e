//go:build unix

package local

import (
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// sendConn sends a held request from inside the read that waits for its
// response. Through net.Conn a request costs a write, a read that finds
// nothing yet (EAGAIN: the target has not answered within the microseconds
// since the write), a park, and the read of the response. Writing from the
// poller's read callback, after the poller reset its readiness, lets the
// goroutine park at once and read only when the response arrived: one read
// per request instead of two (perf counts in bench/RESULTS.md, session 7).
// The readiness edge of the response cannot be missed: it comes after the
// write, and the write comes after the reset.
type sendConn struct {
	*net.TCPConn
	rc      syscall.RawConn
	pending []byte  // held request bytes, sent by the next Read
	pbuf    *[]byte // pending's storage, from pendingPool while bytes are held
	hold    bool    // Write appends to pending instead of sending

	// The state of one Read's poll callback, kept here with the callback
	// bound once: a closure over locals would allocate on every request.
	step    func(fd uintptr) bool
	p       []byte
	n, sent int
	err     error
	blocked bool // the socket buffer filled: send the rest the ordinary way
}

// newSendConn wraps a TCP connection; other connections are returned as
// they are (with a nil sendConn).
func newSendConn(c net.Conn) (net.Conn, *sendConn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c, nil
	}
	s := &sendConn{TCPConn: tc, rc: rc}
	s.step = s.sendThenRead
	return s, s
}

// setHold makes Write hold its bytes for the next Read (on) or send them
// (off). Only the connection's worker calls it.
func (c *sendConn) setHold(on bool) { c.hold = on }

// held reports whether bytes wait for the next Read.
func (c *sendConn) held() bool { return len(c.pending) > 0 }

// pendingPool holds the storage of held requests: a request is held only
// from its write to the read of its response, so idle connections (most of
// an open model's after a stall) need none, and a request body of up to
// 16 KiB sent inline is not kept per connection.
var pendingPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func (c *sendConn) Write(b []byte) (int, error) {
	if c.hold {
		if c.pbuf == nil {
			c.pbuf = pendingPool.Get().(*[]byte)
			c.pending = (*c.pbuf)[:0]
		}
		c.pending = append(c.pending, b...)
		return len(b), nil
	}
	if len(c.pending) > 0 {
		_, err := c.TCPConn.Write(c.pending)
		c.release()
		if err != nil {
			return 0, err
		}
	}
	return c.TCPConn.Write(b)
}

// release returns pending's storage to the pool: its bytes were sent.
func (c *sendConn) release() {
	if c.pbuf != nil {
		*c.pbuf = c.pending[:0]
		pendingPool.Put(c.pbuf)
	}
	c.pbuf, c.pending = nil, nil
}

func (c *sendConn) Read(p []byte) (int, error) {
	if len(c.pending) == 0 || len(p) == 0 {
		return c.TCPConn.Read(p)
	}
	c.p, c.n, c.sent, c.err, c.blocked = p, 0, 0, nil, false
	rerr := c.rc.Read(c.step)
	n, err := c.n, c.err
	c.p, c.err = nil, nil
	if rerr == nil && err == nil && c.blocked {
		_, err := c.TCPConn.Write(c.pending[c.sent:])
		c.release()
		if err != nil {
			return 0, err
		}
		return c.TCPConn.Read(p)
	}
	c.release()
	switch {
	case rerr != nil:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: rerr}
	case err != nil:
		return n, err
	}
	return n, nil
}

// sendThenRead is the poll callback: the first call sends the held bytes
// and asks to wait for readability; the next ones read.
func (c *sendConn) sendThenRead(fd uintptr) bool {
	if c.sent < len(c.pending) {
		for c.sent < len(c.pending) {
			m, e := rawWrite(int(fd), c.pending[c.sent:])
			if m > 0 && e == 0 {
				c.sent += m
			}
			switch e {
			case 0, syscall.EINTR:
			case syscall.EAGAIN:
				c.blocked = true
				return true
			default:
				c.err = c.opError("write", e)
				return true
			}
		}
		return false // sent: wait for the response
	}
	for {
		m, e := rawRead(int(fd), c.p)
		switch {
		case e == syscall.EINTR:
			continue
		case e == syscall.EAGAIN:
			return false // woken early: wait again
		case e != 0:
			c.err = c.opError("read", e)
		case m == 0:
			c.err = io.EOF
		default:
			c.n = m
		}
		return true
	}
}

func (c *sendConn) opError(op string, e error) error {
	return &net.OpError{Op: op, Net: "tcp", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, e)}
}
