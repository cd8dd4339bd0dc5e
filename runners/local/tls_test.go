package local

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/runnertest"
)

// testPKI is a CA with a server certificate for 127.0.0.1 and lg.test and a
// client certificate, written as PEM files.
type testPKI struct {
	dir                   string
	caFile                string
	clientCert, clientKey string
	pool                  *x509.CertPool
	server                tls.Certificate
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	k := runnertest.NewPKI(t)
	return &testPKI{
		dir: k.Dir, caFile: filepath.Join(k.Dir, "ca.pem"),
		clientCert: filepath.Join(k.Dir, "client.pem"), clientKey: filepath.Join(k.Dir, "client-key.pem"),
		pool: k.Pool, server: k.Server,
	}
}

// tlsTarget is an HTTPS server that counts its connections and records how
// requests arrived.
type tlsTarget struct {
	*httptest.Server
	conns, resumed, h2, h1 atomic.Int64
}

func newTLSTarget(t *testing.T, cfg *tls.Config, http2 bool) *tlsTarget {
	t.Helper()
	tt := &tlsTarget{}
	var seen sync.Map
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			tt.h2.Add(1)
		} else {
			tt.h1.Add(1)
		}
		if _, dup := seen.LoadOrStore(r.RemoteAddr, true); !dup && r.TLS != nil && r.TLS.DidResume {
			tt.resumed.Add(1)
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			tt.conns.Add(1)
		}
	}
	srv.EnableHTTP2 = http2
	if cfg != nil {
		srv.TLS = cfg
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tt.Server = srv
	return tt
}

func tlsPlan(url string, n int, tc plan.TLS) *plan.Plan {
	p := loadPlan(url, float64(n)*4, 250*time.Millisecond, ep("a", "/", 1))
	p.TLS = tc
	return p
}

// Every request succeeds; which connections carried them is the caller's check.
func runAllOK(t *testing.T, p *plan.Plan, opts Options) *results.File {
	t.Helper()
	f := run(t, p, opts)
	if f.Total.Requests == 0 || f.Total.Errors != 0 {
		t.Fatalf("%d requests, errors %v; want all OK", f.Total.Requests, f.Total.ErrorKinds)
	}
	return f
}

func TestTLSCAFile(t *testing.T) {
	t.Parallel()
	k := newTestPKI(t)
	srv := newTLSTarget(t, &tls.Config{Certificates: []tls.Certificate{k.server}}, false)
	// Without the CA the certificate is unknown: nothing connects.
	_, err := New(Options{}).Run(context.Background(), tlsPlan(srv.URL, 10, plan.TLS{}))
	var ue *UnreachableError
	if !errors.As(err, &ue) || !strings.Contains(ue.First, "certificate signed by unknown authority") {
		t.Fatalf("without ca_file: err %v, want unreachable for an unknown authority", err)
	}
	srv.h1.Store(0)
	f := runAllOK(t, tlsPlan(srv.URL, 10, plan.TLS{CAFile: k.caFile, MinVersion: "1.3"}), Options{})
	if srv.h1.Load() != f.Total.Requests {
		t.Errorf("server saw %d HTTP/1.1 requests, results %d", srv.h1.Load(), f.Total.Requests)
	}
	if f.Run.InsecureTLS || len(f.Run.Warnings) != 0 {
		t.Errorf("verified run: insecure %v warnings %q", f.Run.InsecureTLS, f.Run.Warnings)
	}
}

func TestTLSMutual(t *testing.T) {
	t.Parallel()
	k := newTestPKI(t)
	srv := newTLSTarget(t, &tls.Config{
		Certificates: []tls.Certificate{k.server},
		ClientAuth:   tls.RequireAndVerifyClientCert, ClientCAs: k.pool,
	}, false)
	for _, noFast := range []bool{false, true} {
		runAllOK(t, tlsPlan(srv.URL, 10, plan.TLS{CAFile: k.caFile, CertFile: k.clientCert, KeyFile: k.clientKey}), Options{NoFastPath: noFast})
	}
	// Without the client certificate the server refuses every request (TLS
	// 1.3 reports it after the client's side of the handshake).
	f, err := New(Options{}).Run(context.Background(), tlsPlan(srv.URL, 10, plan.TLS{CAFile: k.caFile}))
	if f == nil || f.Total.Errors != f.Total.Requests || f.Total.ErrorKinds[runners.ErrTLS] == 0 {
		t.Fatalf("without a client certificate: err %v, results %+v; want every request a TLS error", err, f)
	}
}

func TestTLSInsecure(t *testing.T) {
	t.Parallel()
	srv := newTLSTarget(t, nil, false) // httptest's own self-signed certificate
	f := runAllOK(t, tlsPlan(srv.URL, 10, plan.TLS{InsecureSkipVerify: true}), Options{})
	if !f.Run.InsecureTLS || len(f.Run.Warnings) != 1 || !strings.Contains(f.Run.Warnings[0], "NOT verified") {
		t.Errorf("insecure run: insecure_tls %v warnings %q; want both", f.Run.InsecureTLS, f.Run.Warnings)
	}
	// The flag and the warning survive the results file and a merge.
	g, err := results.DecodeBytes(mustEncode(t, f), "x")
	if err != nil {
		t.Fatal(err)
	}
	m, err := results.Merge(g, g)
	if err != nil || !m.Run.InsecureTLS || len(m.Run.Warnings) != 1 {
		t.Errorf("merged: %v insecure %v warnings %q", err, m.Run.InsecureTLS, m.Run.Warnings)
	}
}

func TestHTTP2Negotiated(t *testing.T) {
	t.Parallel()
	k := newTestPKI(t)
	h2 := newTLSTarget(t, &tls.Config{Certificates: []tls.Certificate{k.server}}, true)
	p := tlsPlan(h2.URL, 10, plan.TLS{CAFile: k.caFile})
	p.HTTP.Version = plan.HTTP2
	f := runAllOK(t, p, Options{})
	if h2.h2.Load() != f.Total.Requests || h2.h1.Load() != 0 {
		t.Errorf("server saw %d HTTP/2 and %d HTTP/1.1 requests of %d", h2.h2.Load(), h2.h1.Load(), f.Total.Requests)
	}
	// A server without HTTP/2 fails the requests instead of silently
	// measuring HTTP/1.1.
	h1 := newTLSTarget(t, &tls.Config{Certificates: []tls.Certificate{k.server}}, false)
	p = tlsPlan(h1.URL, 10, plan.TLS{CAFile: k.caFile})
	p.HTTP.Version = plan.HTTP2
	f, _ = New(Options{}).Run(context.Background(), p)
	if f == nil || f.Total.Errors != f.Total.Requests || h1.h1.Load() != 0 {
		t.Errorf("h2 against an HTTP/1.1-only server: %+v, server saw %d HTTP/1.1 requests; want every request failed", f, h1.h1.Load())
	}
}

func TestHTTP2Cleartext(t *testing.T) {
	t.Parallel()
	var h2 atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 2 {
			h2.Add(1)
		}
	}))
	srv.Config.Protocols = new(http.Protocols)
	srv.Config.Protocols.SetHTTP1(true)
	srv.Config.Protocols.SetUnencryptedHTTP2(true)
	srv.Start()
	defer srv.Close()
	p := loadPlan(srv.URL, 40, 250*time.Millisecond, ep("a", "/", 1))
	p.HTTP.Version = plan.HTTP2
	f := runAllOK(t, p, Options{})
	if h2.Load() != f.Total.Requests {
		t.Errorf("server saw %d HTTP/2 requests of %d", h2.Load(), f.Total.Requests)
	}
}

// A certificate for another name fails the handshake: the run stops early,
// and the error says why.
func TestTLSWrongServerName(t *testing.T) {
	t.Parallel()
	k := newTestPKI(t)
	srv := newTLSTarget(t, &tls.Config{Certificates: []tls.Certificate{k.server}}, false)
	good := tlsPlan(srv.URL, 10, plan.TLS{CAFile: k.caFile, ServerName: "lg.test"})
	runAllOK(t, good, Options{})

	p := tlsPlan(srv.URL, 10, plan.TLS{CAFile: k.caFile, ServerName: "wrong.example"})
	p.Profile.Duration = 30 * time.Second
	start := time.Now()
	f, err := New(Options{UnreachableAfter: 200 * time.Millisecond}).Run(context.Background(), p)
	var ue *UnreachableError
	if !errors.As(err, &ue) || !ue.Early || !strings.Contains(err.Error(), "not wrong.example") {
		t.Fatalf("err %v, want an early UnreachableError naming the certificate's mismatch", err)
	}
	if time.Since(start) > 20*time.Second || f == nil || f.Total.ErrorKinds[runners.ErrTLS] == 0 {
		t.Errorf("took %v (planned 30s), results %+v", time.Since(start), f)
	}
}

// keep_alive: false opens a connection per request, resuming the TLS session.
func TestNoKeepAliveResumes(t *testing.T) {
	t.Parallel()
	k := newTestPKI(t)
	srv := newTLSTarget(t, &tls.Config{Certificates: []tls.Certificate{k.server}}, false)
	for _, noFast := range []bool{false, true} {
		srv.conns.Store(0)
		srv.resumed.Store(0)
		p := tlsPlan(srv.URL, 10, plan.TLS{CAFile: k.caFile})
		p.HTTP.NoKeepAlive = true
		f := runAllOK(t, p, Options{NoFastPath: noFast})
		// A handshake that starts before the first session ticket arrived
		// cannot resume; most do.
		if srv.conns.Load() != f.Total.Requests || srv.resumed.Load() < f.Total.Requests/2 {
			t.Errorf("noFast=%v: %d requests over %d connections, %d resumed; want one each, most resumed",
				noFast, f.Total.Requests, srv.conns.Load(), srv.resumed.Load())
		}
	}
	// Kept alive, a worker reuses its connection.
	srv.conns.Store(0)
	p := loadPlan(srv.URL, 40, 250*time.Millisecond, ep("a", "/", 1))
	p.Profile.Type, p.Profile.Rate, p.Profile.VUs = plan.ProfileLoad, 0, 1
	p.TLS.CAFile = k.caFile
	f := runAllOK(t, p, Options{})
	if srv.conns.Load() != 1 || f.Total.Requests < 2 {
		t.Errorf("one VU: %d requests over %d connections, want one", f.Total.Requests, srv.conns.Load())
	}
}
