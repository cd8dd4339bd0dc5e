package local

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The fast path: a minimal HTTP/1.1 client, one connection per worker, plain
// or over crypto/tls. It writes a request head prebuilt once per endpoint and
// parses the response in place, with no goroutines, channels or allocations
// per request — net/http's client costs about three times the CPU per
// request, and on a CI runner every generator cycle is taken from the service
// under test. What it does not handle (HTTP/2, a caller's own client,
// redirects to follow) goes through net/http.
//
// The codec takes the request as bytes (head, body) per call, so a request
// rendered per call (templated path, headers or body) plugs in by building
// its head with appendH1Head instead of using the endpoint's prebuilt one.

// h1Head is an endpoint's prebuilt request head, without the final
// Content-Length line and blank line. keepAlive false adds Connection: close.
func h1Head(req *http.Request, keepAlive bool) ([]byte, error) {
	return appendH1Head(nil, req, keepAlive)
}

// appendH1Head appends req's request head to b.
func appendH1Head(b []byte, req *http.Request, keepAlive bool) ([]byte, error) {
	u := req.URL
	host := req.Host
	if host == "" {
		host = u.Host
	}
	b = fmt.Appendf(b, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, u.RequestURI(), host)
	keys := make([]string, 0, len(req.Header))
	for k := range req.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Connection") {
			continue // set by the client
		}
		for _, v := range req.Header[k] {
			if strings.ContainsAny(k+v, "\r\n") {
				return nil, fmt.Errorf("header %q: line breaks are not allowed", k)
			}
			b = fmt.Appendf(b, "%s: %s\r\n", k, v)
		}
	}
	if req.Header.Get("User-Agent") == "" {
		b = append(b, "User-Agent: "+userAgent+"\r\n"...)
	}
	if !keepAlive {
		b = append(b, "Connection: close\r\n"...)
	}
	return b, nil
}

// userAgent identifies loadgate's requests in the target's logs.
const userAgent = "loadgate"

// h1conn is one worker's connection; only its worker uses it.
type h1conn struct {
	mu   sync.Mutex // guards conn against abort from another goroutine
	d    *h1dialer
	conn net.Conn
	sc   *sendConn // conn's TCP layer, when it can hold a request (nil: it cannot)
	loc  []byte    // the last redirect's Location
	used bool      // a request completed on conn (so a failure may be a stale keep-alive)
}

// h1BufSize is the read buffer of a fast-path request (headers must fit).
const h1BufSize = 4 << 10

// h1bufs are the buffers one request needs from its write to the end of
// its response: the request bytes and the response's read buffer. They are
// shared (h1Pool) rather than kept per connection: an open-model worker is
// idle most of the time, and after a stall hundreds of them each keep a
// connection, while only the requests in flight need buffers (what the
// stall's burst needed goes at the following collections).
type h1bufs struct {
	br *bufio.Reader
	w  []byte
}

var h1Pool = sync.Pool{New: func() any { return &h1bufs{br: bufio.NewReaderSize(nil, h1BufSize)} }}

func newH1(d *h1dialer) *h1conn {
	return &h1conn{d: d}
}

func (c *h1conn) close() {
	if c.conn != nil {
		_ = c.conn.Close()
		c.mu.Lock()
		c.conn = nil
		c.mu.Unlock()
	}
}

// adopt makes c, kept from an earlier run, this worker's connection. It
// counts as used: if the server closed it meanwhile, the first request is
// retried on a fresh one.
func (c *h1conn) adopt(pc pooledConn) {
	c.mu.Lock()
	c.conn, c.sc, c.used = pc.conn, pc.sc, true
	c.mu.Unlock()
}

// release hands over an open keep-alive connection (to keep it for the next
// run); ok is false when there is none.
func (c *h1conn) release() (pc pooledConn, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn == nil || !c.d.keepAlive {
		return pooledConn{}, false
	}
	pc = pooledConn{conn: c.conn, sc: c.sc}
	c.conn, c.sc = nil, nil
	return pc, true
}

// abort unblocks the connection's pending I/O (run shutdown); any goroutine.
func (c *h1conn) abort() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.conn != nil {
		_ = c.conn.SetDeadline(time.Unix(1, 0))
	}
}

// h1Response is what the fast path learnt about a response.
type h1Response struct {
	status int
	bytes  int64
	// location is a redirect's Location header (nil for other responses);
	// valid until the connection's next request.
	location []byte
	// server is the Server-Timing metric the plan picks (see stPicker).
	server stResult
}

var errBodyTooLarge = errors.New("response body too large")

// do sends one request and reads its response. A failure on a reused
// connection before any response byte arrived (the server closed an idle
// keep-alive connection) is retried once on a fresh one, as net/http does.
func (c *h1conn) do(ctx context.Context, head []byte, method string, body []byte, deadline time.Time, maxBody int64) (h1Response, error) {
	for attempt := 0; ; attempt++ {
		r, fresh, got, err := c.try(ctx, head, method, body, deadline, maxBody)
		if err == nil {
			return r, nil
		}
		c.close()
		if attempt == 0 && !fresh && !got && !isTimeout(err) && ctx.Err() == nil {
			continue
		}
		return r, err
	}
}

func (c *h1conn) try(ctx context.Context, head []byte, method string, body []byte, deadline time.Time, maxBody int64) (r h1Response, fresh, got bool, err error) {
	if c.conn == nil {
		dctx, cancel := context.WithDeadline(ctx, deadline)
		conn, sc, err := c.d.dial(dctx)
		cancel()
		if err != nil {
			return r, true, false, err
		}
		c.sc = sc
		c.mu.Lock()
		c.conn = conn
		c.mu.Unlock()
		if ctx.Err() != nil { // aborted while dialling
			c.close()
			return r, true, false, ctx.Err()
		}
		c.used = false
	}
	fresh = !c.used
	if err := c.conn.SetDeadline(deadline); err != nil {
		return r, fresh, false, err
	}
	b := h1Pool.Get().(*h1bufs)
	defer func() {
		b.br.Reset(nil) // no reference to a connection from the pool
		h1Pool.Put(b)
	}()
	w := append(b.w[:0], head...)
	if len(body) > 0 || hasBodyMethod(method) {
		w = append(w, "Content-Length: "...)
		w = strconv.AppendInt(w, int64(len(body)), 10)
		w = append(w, "\r\n"...)
	}
	w = append(w, "\r\n"...)
	if len(body) <= 16<<10 {
		w = append(w, body...)
		body = nil
	}
	b.w = w[:0]
	// A request sent whole is held and sent by the read of its response
	// (sendConn); a larger body is written as it comes.
	hold := c.sc != nil && len(body) == 0
	if hold {
		c.sc.setHold(true)
	}
	_, err = c.conn.Write(w)
	if hold {
		c.sc.setHold(false)
	}
	if err != nil {
		return r, fresh, false, err
	}
	if len(body) > 0 {
		if _, err := c.conn.Write(body); err != nil {
			return r, fresh, false, err
		}
	}
	b.br.Reset(c.conn)
	r, got, keep, err := readResponse(b.br, method, maxBody, c.loc, c.d.st)
	if r.location != nil {
		c.loc = r.location[:0]
	}
	if err != nil {
		return r, fresh, got, err
	}
	c.used = true
	// A request still held was answered from bytes the server sent before
	// it, and bytes past the response's end were sent before any request
	// asked for them (a misbehaving server, either way): the connection is
	// out of step.
	if !keep || !c.d.keepAlive || (c.sc != nil && c.sc.held()) || b.br.Buffered() > 0 {
		c.close()
	}
	return r, fresh, got, nil
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// readResponse parses one response and discards its body. got reports
// whether any byte of the response arrived; keep whether the connection can
// carry another request.
// A redirect's Location is copied into locBuf; st (nil: off) reads the
// Server-Timing header.
func readResponse(br *bufio.Reader, method string, maxBody int64, locBuf []byte, st *stPicker) (r h1Response, got, keep bool, err error) {
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			got = true
		}
		if err != nil {
			if err == io.EOF && got {
				err = io.ErrUnexpectedEOF
			}
			return r, got, false, err
		}
		// "HTTP/1.1 200 OK"
		if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
			return r, got, false, fmt.Errorf("malformed HTTP status line %q", trimCRLF(line))
		}
		http10 := line[7] == '0'
		code, perr := strconv.Atoi(string(line[9:12]))
		if perr != nil || code < 100 {
			return r, got, false, fmt.Errorf("malformed HTTP status line %q", trimCRLF(line))
		}
		r.status = code
		r.server = stResult{} // an interim response's metrics are not the final one's
		var length int64 = -1
		chunked, closeConn, keepAlive := false, false, false
		for {
			h, err := br.ReadSlice('\n')
			if err != nil {
				if err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return r, got, false, err
			}
			h = trimCRLF(h)
			if len(h) == 0 {
				break
			}
			i := bytes.IndexByte(h, ':')
			if i <= 0 {
				continue
			}
			k, v := h[:i], bytes.TrimSpace(h[i+1:])
			switch {
			case asciiEqualFold(k, "Content-Length"):
				n, perr := strconv.ParseInt(string(v), 10, 64)
				if perr != nil || n < 0 {
					return r, got, false, fmt.Errorf("malformed Content-Length %q", v)
				}
				length = n
			case asciiEqualFold(k, "Transfer-Encoding"):
				chunked = containsFold(v, "chunked")
			case asciiEqualFold(k, "Connection"):
				closeConn = containsFold(v, "close")
				keepAlive = containsFold(v, "keep-alive")
			case st != nil && asciiEqualFold(k, "Server-Timing"):
				scanServerTiming(st, v, &r.server)
			case asciiEqualFold(k, "Location"):
				if code >= 300 && code < 400 {
					r.location = append(locBuf[:0], v...)
				}
			}
		}
		if code >= 100 && code < 200 && code != 101 {
			continue // interim response (100 Continue, 103 Early Hints)
		}
		keep = !closeConn && (!http10 || keepAlive)
		switch {
		case method == http.MethodHead || code == 204 || code == 304 || code == 101:
			return r, got, keep && code != 101, nil
		case chunked:
			r.bytes, err = readChunked(br, maxBody, st, &r.server)
			return r, got, keep && err == nil, err
		case length >= 0:
			if length > maxBody {
				n, _ := br.Discard(int(min(maxBody, int64(br.Buffered()))))
				r.bytes = int64(n)
				return r, got, false, errBodyTooLarge
			}
			n, err := discardN(br, length)
			r.bytes = n
			return r, got, keep && err == nil, err
		default: // body until the server closes
			// One byte past the limit tells "too large" from "exactly
			// the limit"; it is read but not counted.
			n, err := discardN(br, maxBody+1)
			r.bytes = min(n, maxBody)
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return r, got, false, nil
			}
			if err == nil {
				return r, got, false, errBodyTooLarge
			}
			return r, got, false, err
		}
	}
}

// discardN discards exactly n bytes (io.ErrUnexpectedEOF if the stream ends first).
func discardN(br *bufio.Reader, n int64) (int64, error) {
	var done int64
	for done < n {
		m, err := br.Discard(int(min(n-done, 1<<30)))
		done += int64(m)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return done, err
		}
	}
	return done, nil
}

// readChunked discards a chunked body. A Server-Timing trailer (a server
// that knows its time only after the body) adds to the header's metrics.
func readChunked(br *bufio.Reader, maxBody int64, st *stPicker, server *stResult) (int64, error) {
	var total int64
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return total, err
		}
		line = trimCRLF(line)
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		size, perr := strconv.ParseInt(string(bytes.TrimSpace(line)), 16, 64)
		if perr != nil || size < 0 {
			return total, fmt.Errorf("malformed chunk size %q", line)
		}
		if size == 0 {
			// Trailers until a blank line.
			for {
				t, err := br.ReadSlice('\n')
				if err != nil {
					return total, io.ErrUnexpectedEOF
				}
				t = trimCRLF(t)
				if len(t) == 0 {
					return total, nil
				}
				if i := bytes.IndexByte(t, ':'); st != nil && i > 0 && asciiEqualFold(t[:i], "Server-Timing") {
					scanServerTiming(st, bytes.TrimSpace(t[i+1:]), server)
				}
			}
		}
		if total+size > maxBody {
			return total, errBodyTooLarge
		}
		n, err := discardN(br, size+2) // data + CRLF
		total += min(n, size)
		if err != nil {
			return total, err
		}
	}
}

func trimCRLF(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c1, c2 := b[i], s[i]
		if c1|0x20 != c2|0x20 {
			return false
		}
	}
	return true
}

// containsFold reports whether b contains the lower-case ASCII s, ignoring
// case, without allocating (bytes.ToLower would, on every chunked response).
func containsFold(b []byte, s string) bool {
	for i := 0; i+len(s) <= len(b); i++ {
		if asciiEqualFold(b[i:i+len(s)], s) {
			return true
		}
	}
	return false
}
