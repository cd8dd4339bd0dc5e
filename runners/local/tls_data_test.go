package local

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
)

// closeRecorder records templated requests and whether each asked to close
// its connection; conns counts the connections the server accepted.
type closeRecorder struct {
	*recordingTarget
	closes, conns atomic.Int64
}

func newMutualTLSRecorder(t *testing.T, k *testPKI) (*closeRecorder, *httptest.Server) {
	t.Helper()
	cr := &closeRecorder{recordingTarget: &recordingTarget{}}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Close && r.URL.Path != "/login" {
			cr.closes.Add(1)
		}
		cr.recordingTarget.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{k.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: k.pool}
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cr.conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return cr, srv
}

// A templated plan with a setup login against an HTTPS target that trusts
// only its own CA and requires a client certificate: the login and the load
// both use the plan's tls section, on both paths, and keep_alive: false gives
// every templated request its own connection.
func TestTemplatedOverTLS(t *testing.T) {
	t.Parallel()
	k := newTestPKI(t)
	for _, noFast := range []bool{false, true} {
		for _, keepAlive := range []bool{true, false} {
			cr, srv := newMutualTLSRecorder(t, k)
			p := dataPlan(t, srv.URL, "sequential", 5, templatedEndpoint, "{type: load, rate: 40/s, duration: 500ms}")
			p.TLS = plan.TLS{CAFile: k.caFile, CertFile: k.clientCert, KeyFile: k.clientKey, ServerName: "lg.test"}
			p.HTTP.NoKeepAlive = !keepAlive
			f := run(t, p, Options{NoFastPath: noFast})
			reqs := cr.requests()
			if len(reqs) != 20 || f.Total.Requests != 20 || f.Total.Errors != 0 {
				t.Fatalf("noFast=%v keepAlive=%v: server saw %d, results %d requests, errors %v; want 20, none",
					noFast, keepAlive, len(reqs), f.Total.Requests, f.Total.ErrorKinds)
			}
			ids(t, reqs) // rendered, with the token the login obtained over mTLS
			closes, conns := cr.closes.Load(), cr.conns.Load()
			switch {
			case !keepAlive && (closes != 20 || conns < 21):
				t.Errorf("noFast=%v keep_alive false: %d of 20 requests asked to close, %d connections; want 20 and ≥ 21 (login included)",
					noFast, closes, conns)
			case keepAlive && closes != 0:
				t.Errorf("noFast=%v keep_alive true: %d requests asked to close", noFast, closes)
			}
		}
	}
}

// The setup step gets the same TLS settings as the load: a server name the
// certificate does not cover, or a missing client certificate, fails the
// login, so no load starts.
func TestSetupUsesPlanTLS(t *testing.T) {
	t.Parallel()
	k := newTestPKI(t)
	cr, srv := newMutualTLSRecorder(t, k)
	for name, tc := range map[string]plan.TLS{
		"wrong server name":     {CAFile: k.caFile, CertFile: k.clientCert, KeyFile: k.clientKey, ServerName: "wrong.example"},
		"no client certificate": {CAFile: k.caFile},
		"no CA":                 {CertFile: k.clientCert, KeyFile: k.clientKey},
	} {
		p := dataPlan(t, srv.URL, "sequential", 5, templatedEndpoint, "{type: load, rate: 40/s, duration: 500ms}")
		p.TLS = tc
		_, err := New(Options{}).Run(context.Background(), p)
		var se *SetupError
		if !errors.As(err, &se) || se.Step != "login" {
			t.Errorf("%s: err %v, want the login step to fail", name, err)
		}
	}
	if n := len(cr.requests()); n != 0 {
		t.Errorf("%d load requests after a failed login", n)
	}
}

// Templated requests take the fast path over TLS: with a net/http client
// that cannot send anything, every request still arrives, rendered, and
// with keep_alive false its head says Connection: close.
func TestTemplatedTLSFastPath(t *testing.T) {
	t.Parallel()
	k := newTestPKI(t)
	for _, keepAlive := range []bool{true, false} {
		cr, srv := newMutualTLSRecorder(t, k)
		p := dataPlan(t, srv.URL, "sequential", 5, templatedEndpoint, "{type: load, rate: 40/s, duration: 500ms}")
		p.TLS = plan.TLS{CAFile: k.caFile, CertFile: k.clientCert, KeyFile: k.clientKey}
		p.HTTP.NoKeepAlive = !keepAlive
		setup, err := newClientSetup(p, false)
		if err != nil || setup.fast == nil || setup.fast.tls == nil {
			t.Fatalf("client setup %+v, %v; want a TLS fast path", setup, err)
		}
		eps, err := buildEndpointsWith(p, map[string]string{"token": "tok-SECRET-1", "session": "sess-42"}, setup.keepAlive)
		if err != nil || eps[0].dyn == nil {
			t.Fatalf("endpoints %v; want a templated one", err)
		}
		ds, err := newDataState(p, 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		e := &engine{eps: eps, maxBody: DefaultMaxBodyBytes, t0: time.Now(), setup: setup, plan: p, data: ds, anyDyn: true,
			client: &http.Client{Transport: failingTransport{}}}
		e.col = newCollector(1, time.Hour, 0, false)
		e.reqCtx = context.Background()
		w, done := e.newWorker()
		for range 6 {
			e.do(w, 0, -1, nil, false)
		}
		done()
		reqs := cr.requests()
		if len(reqs) != 6 || eps[0].viaClient.Load() {
			t.Fatalf("keepAlive=%v: server saw %d of 6 templated requests over the fast path", keepAlive, len(reqs))
		}
		ids(t, reqs)
		if want := map[bool]int64{true: 0, false: 6}[keepAlive]; cr.closes.Load() != want {
			t.Errorf("keepAlive=%v: %d requests with Connection: close, want %d", keepAlive, cr.closes.Load(), want)
		}
		if !keepAlive && cr.conns.Load() != 6 {
			t.Errorf("keep_alive false: %d connections for 6 requests", cr.conns.Load())
		}
	}
}

type failingTransport struct{}

func (failingTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("net/http must not be used here")
}
