package local

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/loadgate/loadgate/plan"
)

// clientSetup is how a run talks to its target, from the plan's tls and
// http sections: the fast HTTP/1.1 path (plain or over TLS) when it can
// serve the plan, net/http otherwise (HTTP/2, a caller's own client).
type clientSetup struct {
	fast      *h1dialer // nil: every request through net/http
	tls       *tls.Config
	http2     bool
	keepAlive bool
	allowed   func(host string) bool // where redirects may go
	st        *stPicker              // the Server-Timing metric recorded; nil: off
}

func newClientSetup(p *plan.Plan, noFastPath bool) (*clientSetup, error) {
	u, err := url.Parse(p.Target)
	if err != nil {
		return nil, fmt.Errorf("target: %w", err)
	}
	s := &clientSetup{http2: p.HTTP.Version == plan.HTTP2, keepAlive: !p.HTTP.NoKeepAlive, allowed: allowedHosts(p), st: newSTPicker(p)}
	if u.Scheme == "https" {
		c, err := p.TLSConfig()
		if err != nil {
			return nil, err
		}
		if c.ServerName == "" {
			c.ServerName = u.Hostname()
		}
		// Resumed sessions skip the certificate exchange on reconnects (a
		// keep-alive the server closed, or keep_alive: false), as browsers and
		// every client in front of a real service do.
		c.ClientSessionCache = tls.NewLRUClientSessionCache(64)
		s.tls = c
	}
	if !s.http2 && !noFastPath {
		host, port := u.Hostname(), u.Port()
		if port == "" {
			port = "80"
			if u.Scheme == "https" {
				port = "443"
			}
		}
		d := &h1dialer{addr: net.JoinHostPort(host, port), dialer: net.Dialer{KeepAlive: 30 * time.Second}, keepAlive: s.keepAlive, st: s.st}
		if s.tls != nil {
			d.tls = s.tls.Clone()
			d.tls.NextProtos = []string{"http/1.1"}
		}
		s.fast = d
	}
	return s, nil
}

// identity names what a kept connection is good for: the same scheme,
// address, server name and protocol (see Conns).
func (s *clientSetup) identity(p *plan.Plan) string {
	key := p.Target
	if u, err := url.Parse(p.Target); err == nil {
		key = u.Scheme + "://" + u.Host
	}
	if s.tls != nil {
		key += " sni=" + s.tls.ServerName
	}
	if s.http2 {
		key += " h2"
	}
	if s.fast == nil {
		key += " net/http"
	}
	return key
}

// shareSessions makes TLS session tickets outlive the run (see Conns), so
// a connection a later run adds resumes rather than redoing the full
// handshake.
func (s *clientSetup) shareSessions(c tls.ClientSessionCache) {
	if s.tls != nil {
		s.tls.ClientSessionCache = c
	}
	if s.fast != nil && s.fast.tls != nil {
		s.fast.tls.ClientSessionCache = c
	}
}

// transport returns the net/http transport of a run, sized for bound
// concurrent requests so connections are reused rather than re-dialled.
func (s *clientSetup) transport(bound int) *http.Transport {
	d := &net.Dialer{Timeout: DefaultTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:                 nil, // load goes where the plan says, never through an environment proxy
		DialContext:           d.DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   bound,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   DefaultTimeout,
		DisableCompression:    true, // measure the bytes the server sends, and spare the CPU
		DisableKeepAlives:     !s.keepAlive,
		ExpectContinueTimeout: 0,
	}
	if s.tls != nil {
		tr.TLSClientConfig = s.tls.Clone()
	}
	var protos http.Protocols
	if s.http2 {
		// Only HTTP/2: a server that does not offer it fails the request
		// rather than silently measuring HTTP/1.1.
		protos.SetHTTP2(true)
		protos.SetUnencryptedHTTP2(true)
	} else {
		protos.SetHTTP1(true)
	}
	tr.Protocols = &protos
	return tr
}

// allowedHosts says where redirects may lead: hosts in targets.allow, or
// only the target's own host when the list is empty (a plan that names no
// list still does not spread load to other hosts).
func allowedHosts(p *plan.Plan) func(string) bool {
	if len(p.Targets.Allow) > 0 {
		return p.AllowedHost
	}
	own := plan.Targets{}
	if u, err := url.Parse(p.Target); err == nil {
		own.Allow = []string{u.Hostname()}
	}
	return own.AllowedHost
}

// redirectPolicy follows redirects only to allowed hosts; the 3xx of one it
// does not follow is the response (and counted as redirect_disallowed).
func redirectPolicy(allowed func(string) bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxRedirects || !allowed(req.URL.Host) {
			return http.ErrUseLastResponse
		}
		return nil
	}
}

// maxRedirects is net/http's default limit.
const maxRedirects = 10

// h1dialer opens the fast path's connections: TCP, and TLS over it for https.
type h1dialer struct {
	addr      string
	tls       *tls.Config // nil: plain http
	dialer    net.Dialer
	keepAlive bool // false: a connection carries one request
	st        *stPicker
}

// dial connects; sc (nil where unsupported) is the TCP layer that can hold
// a request's bytes until its response is read (sendconn_unix.go).
func (d *h1dialer) dial(ctx context.Context) (conn net.Conn, sc *sendConn, err error) {
	raw, err := d.dialer.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, nil, &connectError{err}
	}
	conn, sc = newSendConn(raw)
	if d.tls == nil {
		return conn, sc, nil
	}
	tc := tls.Client(conn, d.tls)
	if err := handshake(ctx, tc); err != nil {
		_ = raw.Close()
		return nil, nil, &connectError{err}
	}
	return tc, sc, nil
}

// handshake runs tc's handshake on a goroutine of its own. It is the
// deepest code a worker would run (key exchange, certificate checks) and
// would leave the worker's stack doubled for the rest of the run, while the
// open model keeps a worker per request in flight: hundreds when a busy
// host makes the generator fall behind.
func handshake(ctx context.Context, tc *tls.Conn) error {
	done := make(chan error, 1)
	go func() { done <- tc.HandshakeContext(ctx) }()
	return <-done
}

// connectError is a failure to open a connection (TCP connect or TLS
// handshake): the request never reached the target's HTTP server.
type connectError struct{ err error }

func (e *connectError) Error() string { return e.err.Error() }
func (e *connectError) Unwrap() error { return e.err }

// notConnected reports whether err happened before a connection to the
// target existed (on either path).
func notConnected(err error, kind uint8) bool {
	var ce *connectError
	var op *net.OpError
	switch {
	case errors.As(err, &ce):
		return true
	case kind == kindRefused, kind == kindDNS, kind == kindTLS:
		return true
	case errors.As(err, &op) && op.Op == "dial":
		return true
	}
	return false
}
