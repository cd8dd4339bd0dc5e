package local

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
)

// countingServer is a loopback target that counts the connections opened to it.
func countingServer(t *testing.T, tls bool) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(target.New(target.Options{}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv, &opened
}

// slotPlan is one short run of a closed model with vus workers: each worker
// needs a connection for the run's whole length. Long enough that every VU
// gets to send on a starved -race host (at 300 ms, two of five did not).
func slotPlan(url string, vus int) *plan.Plan {
	return &plan.Plan{
		Name: "slot", Target: url, Endpoints: []plan.Endpoint{ep("a", "/delay?ms=2", 1)},
		Profile: plan.Profile{Type: plan.ProfileLoad, VUs: vus, Duration: 1500 * time.Millisecond},
	}
}

// TestConnsCarryConnectionsAcrossRuns: the slots of one side of a paired
// run reuse their predecessors' connections (and only dial for concurrency
// beyond it), on plain HTTP and over TLS; without Conns each run dials anew.
func TestConnsCarryConnectionsAcrossRuns(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		tls  bool
	}{{"http", false}, {"https", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, opened := countingServer(t, tc.tls)
			plan := func(vus int) *plan.Plan {
				p := slotPlan(srv.URL, vus)
				if tc.tls {
					p.TLS.InsecureSkipVerify = true
				}
				return p
			}
			conns := NewConns()
			defer conns.Close()
			run(t, plan(3), Options{Conns: conns, Slot: true})
			if got := opened.Load(); got != 3 {
				t.Fatalf("first run opened %d connections, want 3 (one per VU)", got)
			}
			if n := conns.Len(); n != 3 {
				t.Fatalf("%d connections kept after the first run, want 3", n)
			}
			run(t, plan(3), Options{Conns: conns, Slot: true})
			if got := opened.Load(); got != 3 {
				t.Errorf("second run opened %d new connections, want none", got-3)
			}
			// More concurrency than before: only the difference is dialled.
			run(t, plan(5), Options{Conns: conns, Slot: true})
			if got := opened.Load(); got != 5 {
				t.Errorf("a run with 5 VUs after 3 opened %d new connections, want 2", got-3)
			}
			conns.Close()
			if n := conns.Len(); n != 0 {
				t.Errorf("Close left %d connections kept", n)
			}
			// Without Conns a run's connections end with it.
			before := opened.Load()
			run(t, plan(3), Options{Slot: true})
			run(t, plan(3), Options{Slot: true})
			if got := opened.Load() - before; got != 6 {
				t.Errorf("two runs without Conns opened %d connections, want 6", got)
			}
		})
	}
}

// TestConnsSurviveServerClosingIdle: a kept connection the server closed
// between runs costs a retry on a fresh one, never a failed request.
func TestConnsSurviveServerClosingIdle(t *testing.T) {
	t.Parallel()
	srv, opened := countingServer(t, false)
	conns := NewConns()
	defer conns.Close()
	run(t, slotPlan(srv.URL, 2), Options{Conns: conns, Slot: true})
	srv.CloseClientConnections()
	f := run(t, slotPlan(srv.URL, 2), Options{Conns: conns, Slot: true})
	for _, e := range f.Endpoints {
		if e.Errors != 0 {
			t.Errorf("%s: %d errors after the server closed kept connections: %v", e.Name, e.Errors, e.ErrorKinds)
		}
	}
	if got := opened.Load(); got != 4 {
		t.Errorf("opened %d connections, want 4 (2, then 2 replacing the closed ones)", got)
	}
}

// TestConnsOneTargetAtATime: connections kept for one target are never sent
// to another (a Conns serves one side; a different address starts afresh).
func TestConnsOneTargetAtATime(t *testing.T) {
	t.Parallel()
	a, openedA := countingServer(t, false)
	b, openedB := countingServer(t, false)
	conns := NewConns()
	defer conns.Close()
	run(t, slotPlan(a.URL, 2), Options{Conns: conns, Slot: true})
	f := run(t, slotPlan(b.URL, 2), Options{Conns: conns, Slot: true})
	if openedB.Load() != 2 || openedA.Load() != 2 {
		t.Errorf("opened a=%d b=%d, want 2 each", openedA.Load(), openedB.Load())
	}
	if f.Endpoints[0].Requests == 0 {
		t.Fatal("no requests reached b")
	}
	// keep_alive: false keeps nothing.
	p := slotPlan(b.URL, 2)
	p.HTTP.NoKeepAlive = true
	run(t, p, Options{Conns: conns, Slot: true})
	if n := conns.Len(); n != 0 {
		t.Errorf("keep_alive false: %d connections kept, want 0", n)
	}
}
