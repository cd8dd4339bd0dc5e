package local

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
)

func TestReadResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, method, in string
		max              int64
		status           int
		bytes            int64
		keep             bool
		err              bool
		rest             string // what must remain unread (the next response)
	}{
		{"content-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\nNEXT", 1 << 20, 200, 3, true, false, "NEXT"},
		{"chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nTrailer: 1\r\n\r\nNEXT", 1 << 20, 200, 5, true, false, "NEXT"},
		{"until-close", "GET", "HTTP/1.1 200 OK\r\n\r\nabcdef", 1 << 20, 200, 6, false, false, ""},
		{"http10", "GET", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 1 << 20, 200, 1, false, false, ""},
		{"http10-keepalive", "GET", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx", 1 << 20, 200, 1, true, false, ""},
		{"connection-close", "GET", "HTTP/1.1 503 Busy\r\nconnection: Close\r\ncontent-length: 0\r\n\r\n", 1 << 20, 503, 0, false, false, ""},
		{"head", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nNEXT", 1 << 20, 200, 0, true, false, "NEXT"},
		{"204", "GET", "HTTP/1.1 204 No Content\r\n\r\nNEXT", 1 << 20, 204, 0, true, false, "NEXT"},
		{"100-continue", "POST", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nokNEXT", 1 << 20, 201, 2, true, false, "NEXT"},
		{"too-large-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n" + strings.Repeat("x", 100), 10, 200, 10, false, true, ""},
		{"too-large-chunked", "GET", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + strings.Repeat("x", 100) + "\r\n0\r\n\r\n", 10, 200, 0, false, true, ""},
		{"until-close-too-large", "GET", "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("x", 11), 10, 200, 10, false, true, ""},
		{"truncated", "GET", "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1 << 20, 200, 3, false, true, ""},
		{"garbage", "GET", "SSH-2.0-OpenSSH\r\n", 1 << 20, 0, 0, false, true, ""},
		{"bad-length", "GET", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 1 << 20, 200, 0, false, true, ""},
	} {
		br := bufio.NewReaderSize(strings.NewReader(tc.in), 64)
		r, got, keep, err := readResponse(br, tc.method, tc.max, nil, nil)
		if (err != nil) != tc.err || r.status != tc.status || r.bytes != tc.bytes || keep != tc.keep || !got {
			t.Errorf("%s: status %d bytes %d keep %v got %v err %v; want %d %d %v err=%v",
				tc.name, r.status, r.bytes, keep, got, err, tc.status, tc.bytes, tc.keep, tc.err)
		}
		if !tc.err {
			rest, _ := io.ReadAll(br)
			if string(rest) != tc.rest {
				t.Errorf("%s: left %q unread, want %q", tc.name, rest, tc.rest)
			}
		}
	}
	r, _, _, err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 302 Found\r\nLocation:  https://login.example/a?b \r\nContent-Length: 0\r\n\r\n")), "GET", 1, nil, nil)
	if err != nil || string(r.location) != "https://login.example/a?b" {
		t.Errorf("redirect: location %q err %v", r.location, err)
	}
	if _, got, _, err := readResponse(bufio.NewReader(strings.NewReader("")), "GET", 1, nil, nil); got || err != io.EOF {
		t.Errorf("empty stream: got %v err %v, want nothing and io.EOF", got, err)
	}
}

func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	f.Add("HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 204 No\r\n\r\n")
	f.Add("HTTP/1.1 301 Moved\r\nLocation: /x\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		br := bufio.NewReaderSize(strings.NewReader(in), 16)
		r, _, _, err := readResponse(br, "GET", 1<<10, make([]byte, 0, 4), nil)
		if r.bytes < 0 || r.bytes > 1<<10 {
			t.Fatalf("bytes %d outside 0..limit", r.bytes)
		}
		// Only a redirect carries a Location, and it is a copy that
		// outlives the reader's buffer.
		if r.location != nil && (r.status < 300 || r.status > 399) {
			t.Fatalf("location %q on status %d", r.location, r.status)
		}
		if err == nil && r.location != nil && !strings.Contains(in, string(r.location)) {
			t.Fatalf("location %q is not in the response", r.location)
		}
	})
}

// The fast path sends the plan's method, headers and body, keeps the
// connection alive, and survives the server closing idle connections.
func TestFastPathRequests(t *testing.T) {
	t.Parallel()
	var conns, bad atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		if string(b) != `{"sku":"A1"}` || r.Header.Get("X-Token") != "t0k" || r.Header.Get("User-Agent") != userAgent || r.Host != "shop.test" {
			bad.Add(1)
		}
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /chunked", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("a"))
		w.(http.Flusher).Flush() // forces chunked encoding
		_, _ = w.Write([]byte("bc"))
	})
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Config.IdleTimeout = 30 * time.Millisecond // closes keep-alive conns between requests
	srv.Start()
	defer srv.Close()

	p := &plan.Plan{Name: "fast", Target: srv.URL, Defaults: plan.Defaults{Headers: map[string]string{"X-Token": "t0k", "Host": "shop.test"}},
		Endpoints: []plan.Endpoint{
			{Name: "order", Method: "POST", Path: "/orders", Body: `{"sku":"A1"}`, Weight: 1, Expect: plan.Expect{Status: []int{201}}},
			{Name: "chunked", Method: "GET", Path: "/chunked", Weight: 1},
		},
		Profile: plan.Profile{Type: plan.ProfileLoad, Rate: 20, Duration: time.Second, MaxInFlight: 1}}
	f := run(t, p, Options{})
	o, c := f.Endpoint("order"), f.Endpoint("chunked")
	if o.Requests != 10 || o.Errors != 0 || bad.Load() != 0 || o.BytesSent != 10*int64(len(`{"sku":"A1"}`)) {
		t.Errorf("order: %d requests, %d errors %v, %d bad on the server, %d bytes sent", o.Requests, o.Errors, o.ErrorKinds, bad.Load(), o.BytesSent)
	}
	if c.Requests != 10 || c.Errors != 0 || c.Bytes != 30 {
		t.Errorf("chunked: %d requests, %d errors %v, %d bytes", c.Requests, c.Errors, c.ErrorKinds, c.Bytes)
	}
	// Requests 50 ms apart against a 30 ms idle timeout: most need a new
	// connection, and none of the closes may surface as an error.
	if n := conns.Load(); n < 2 {
		t.Errorf("%d connections; the idle timeout should have forced reconnects", n)
	}
}

// A shutdown aborts a fast-path request blocked on a slow target.
func TestFastPathAbort(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer srv.Close()
	c := newH1(testDialer(t, srv.URL))
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(ctx, c.abort)
	defer stop()
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	start := time.Now()
	_, err := c.do(ctx, []byte("GET / HTTP/1.1\r\nHost: x\r\n"), "GET", nil, time.Now().Add(time.Minute), 1<<20)
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("err %v after %v, want an error soon after the cancel", err, time.Since(start))
	}
	c.close()
}

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want uint8
	}{
		{context.DeadlineExceeded, kindTimeout},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, kindTimeout},
		{&net.DNSError{Err: "no such host", Name: "x.invalid", IsNotFound: true}, kindDNS},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, kindRefused},
		{&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}, kindReset},
		{io.ErrUnexpectedEOF, kindReset},
		{tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, kindTLS},
		{&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, kindTLS},
		{errors.New("something else"), kindOther},
	} {
		if got := classify(tc.err); got != tc.want {
			t.Errorf("classify(%v) = %s, want %s", tc.err, kindNames[got], kindNames[tc.want])
		}
	}
}

// testDialer is the fast path's dialer for target.
func testDialer(t testing.TB, target string) *h1dialer {
	t.Helper()
	s, err := newClientSetup(&plan.Plan{Target: target}, false)
	if err != nil || s.fast == nil {
		t.Fatalf("no fast path for %s: %v", target, err)
	}
	return s.fast
}
