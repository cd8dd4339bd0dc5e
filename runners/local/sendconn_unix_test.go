//go:build unix

package local

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// echoServer answers every message it reads in full (n bytes) with reply,
// on each accepted connection, until the listener closes.
func echoServer(t *testing.T, n int, reply []byte, before func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer func() { _ = c.Close() }()
				if before != nil {
					before(c)
				}
				buf := make([]byte, n)
				for {
					if _, err := io.ReadFull(c, buf); err != nil {
						return
					}
					if _, err := c.Write(reply); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func dialSend(t *testing.T, addr string) *sendConn {
	t.Helper()
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_, sc := newSendConn(raw)
	if sc == nil {
		t.Fatal("a TCP connection was not wrapped")
	}
	t.Cleanup(func() { _ = sc.Close() })
	return sc
}

// holdWrite writes b the way h1conn does: held for the next Read.
func holdWrite(t *testing.T, sc *sendConn, b []byte) {
	t.Helper()
	sc.setHold(true)
	n, err := sc.Write(b)
	sc.setHold(false)
	if n != len(b) || err != nil {
		t.Fatalf("held write: %d, %v", n, err)
	}
}

func TestSendConnSendsHeldRequestOnRead(t *testing.T) {
	t.Parallel()
	req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	sc := dialSend(t, echoServer(t, len(req), []byte("pong"), nil))
	buf := make([]byte, 16)
	for i := range 50 {
		holdWrite(t, sc, req)
		n, err := io.ReadFull(sc, buf[:4])
		if err != nil || string(buf[:n]) != "pong" {
			t.Fatalf("request %d: read %q, %v", i, buf[:n], err)
		}
		if len(sc.pending) != 0 {
			t.Fatalf("request %d: %d bytes still held after the response", i, len(sc.pending))
		}
		// The storage goes back to the pool: an idle connection keeps none.
		if cap(sc.pending) != 0 || sc.pbuf != nil {
			t.Fatalf("request %d: the idle connection keeps %d bytes of held-request storage", i, cap(sc.pending))
		}
	}
	// A write not held goes out at once (the TLS handshake's case).
	if _, err := sc.Write(req); err != nil {
		t.Fatal(err)
	}
	if n, err := io.ReadFull(sc, buf[:4]); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("unheld write: read %q, %v", buf[:n], err)
	}
}

// A held request larger than the socket buffers fills them while the server
// waits: the rest is sent the ordinary way, and the response still arrives.
func TestSendConnHeldRequestLargerThanSocketBuffer(t *testing.T) {
	t.Parallel()
	const size = 16 << 20
	req := bytes.Repeat([]byte{'x'}, size)
	sc := dialSend(t, echoServer(t, size, []byte("done"), func(net.Conn) { time.Sleep(50 * time.Millisecond) }))
	if err := sc.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	holdWrite(t, sc, req)
	buf := make([]byte, 4)
	if n, err := io.ReadFull(sc, buf); err != nil || string(buf[:n]) != "done" {
		t.Fatalf("read %q, %v; want the response to the whole request", buf[:n], err)
	}
}

// A target that never answers: the read deadline ends the wait with a
// timeout error, as for a plain connection.
func TestSendConnDeadline(t *testing.T) {
	t.Parallel()
	req := []byte("GET / HTTP/1.1\r\n\r\n")
	sc := dialSend(t, echoServer(t, len(req)+1, nil, nil)) // waits for a byte that never comes
	if err := sc.SetDeadline(time.Now().Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	holdWrite(t, sc, req)
	_, err := sc.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || classify(err) != kindTimeout {
		t.Fatalf("err %v (kind %d), want a timeout", err, classify(err))
	}
}

// A target that closed the connection: the held request's read reports the
// end of the stream (or a reset), which h1conn retries once on a fresh one.
func TestSendConnClosedByPeer(t *testing.T) {
	t.Parallel()
	sc := dialSend(t, echoServer(t, 1, nil, func(c net.Conn) { _ = c.Close() }))
	if err := sc.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // let the close arrive first, as for an idle keep-alive
	holdWrite(t, sc, []byte("GET / HTTP/1.1\r\n\r\n"))
	n, err := sc.Read(make([]byte, 8))
	if n != 0 || err == nil || (classify(err) != kindReset) {
		t.Fatalf("read %d, %v (kind %d), want the end of the stream or a reset", n, err, classify(err))
	}
}

// A server that sends a response before any request (out of step): the
// fast path answers a held request from those bytes, finds the request
// still held, and drops the connection rather than sending it late.
func TestH1DropsConnectionWithHeldRequest(t *testing.T) {
	t.Parallel()
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	// Two out-of-step responses in one write arrive in one segment, so the
	// first request's read takes both and the second request is answered
	// from the buffer while still held, however the scheduler interleaves.
	addr := echoServer(t, len(req), resp, func(c net.Conn) { _, _ = c.Write(append(append([]byte{}, resp...), resp...)) })
	c := newH1(testDialer(t, "http://"+addr))
	defer c.close()
	for i := range 2 {
		r, err := c.do(context.Background(), []byte("GET / HTTP/1.1\r\nHost: x\r\n"), "GET", nil, time.Now().Add(time.Minute), 1<<20)
		if err != nil || r.status != 200 {
			t.Fatalf("request %d: status %d, %v", i, r.status, err)
		}
	}
	if c.conn != nil {
		t.Error("the connection with a request still held was kept")
	}
}

// Bytes past a response's end, sent before any request asked for them (out
// of step, like a response sent early): the read buffer goes back to the
// pool after each response, so rather than being dropped with it or taken
// as the next request's response they make the fast path drop the
// connection; the next request gets its own response on a new one.
func TestH1DropsConnectionWithBytesPastResponse(t *testing.T) {
	t.Parallel()
	req := "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
	// One write, one segment: the first response's read takes the stray
	// response too.
	reply := []byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 203 Stray\r\nContent-Length: 0\r\n\r\n")
	var conns atomic.Int64
	addr := echoServer(t, len(req), reply, func(net.Conn) { conns.Add(1) })
	c := newH1(testDialer(t, "http://"+addr))
	defer c.close()
	for i := range 2 {
		r, err := c.do(context.Background(), []byte("GET / HTTP/1.1\r\nHost: x\r\n"), "GET", nil, time.Now().Add(time.Minute), 1<<20)
		if err != nil || r.status != 200 || r.bytes != 2 {
			t.Fatalf("request %d: status %d, %d bytes, %v; want its own 200 with 2 bytes", i, r.status, r.bytes, err)
		}
		if c.conn != nil {
			t.Fatalf("request %d: the connection with bytes past the response was kept", i)
		}
	}
	if n := conns.Load(); n != 2 {
		t.Errorf("%d connections, want one per request", n)
	}
}

// A peer that resets the connection (linger 0): the held request's send or
// read reports ECONNRESET (EPIPE on some systems) wrapped as net's own
// errors are, so it is counted as a reset, not as another error.
func TestSendConnPeerReset(t *testing.T) {
	t.Parallel()
	sc := dialSend(t, echoServer(t, 1, nil, func(c net.Conn) {
		time.Sleep(10 * time.Millisecond) // after the dial completed
		_ = c.(*net.TCPConn).SetLinger(0)
		_ = c.Close()
	}))
	if err := sc.SetDeadline(time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the reset arrives before the request
	holdWrite(t, sc, []byte("GET / HTTP/1.1\r\n\r\n"))
	n, err := sc.Read(make([]byte, 8))
	var oe *net.OpError
	if n != 0 || !errors.As(err, &oe) || !(errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)) || classify(err) != kindReset {
		t.Fatalf("read %d, %v (kind %d), want a *net.OpError wrapping ECONNRESET", n, err, classify(err))
	}
}

// rawRead and rawWrite report what read(2) and write(2) do, errno apart
// from the count: a failed call counts no bytes, and an empty
// non-blocking socket says EAGAIN (the poll callback then waits).
func TestRawIO(t *testing.T) {
	t.Parallel()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = syscall.Close(fds[0]); _ = syscall.Close(fds[1]) }()
	if err := syscall.SetNonblock(fds[1], true); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 8)
	if n, e := rawRead(fds[1], buf); n > 0 || e != syscall.EAGAIN {
		t.Fatalf("read of an empty socket: %d, %v; want EAGAIN", n, e)
	}
	if n, e := rawWrite(fds[0], []byte("ping")); n != 4 || e != 0 {
		t.Fatalf("write: %d, %v", n, e)
	}
	if n, e := rawRead(fds[1], buf); n != 4 || e != 0 || string(buf[:n]) != "ping" {
		t.Fatalf("read: %q, %v", buf[:max(n, 0)], e)
	}
	if n, e := rawRead(fds[1], nil); n != 0 || e != 0 {
		t.Fatalf("empty read: %d, %v", n, e)
	}
	_ = syscall.Close(fds[0])
	if n, e := rawRead(fds[1], buf); n != 0 || e != 0 {
		t.Fatalf("read after the peer closed: %d, %v; want 0 (end of stream)", n, e)
	}
	if n, e := rawWrite(-1, []byte("x")); n > 0 || e != syscall.EBADF {
		t.Fatalf("write to a bad descriptor: %d, %v; want EBADF", n, e)
	}
}
