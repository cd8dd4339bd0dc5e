package pipeline

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
)

// TestPairedSidesKeepTheirConnections: each side's slots reuse the
// connections of its earlier slots. Dialling anew in every slot put
// connection set-up into each slot's first requests, more of it on the side
// whose other endpoints were slower (more workers), which made an unchanged
// endpoint look slower on that side.
func TestPairedSidesKeepTheirConnections(t *testing.T) {
	t.Parallel()
	serve := func() (*httptest.Server, *atomic.Int64) {
		var opened atomic.Int64
		srv := httptest.NewUnstartedServer(target.New(target.Options{}))
		srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			if s == http.StateNew {
				opened.Add(1)
			}
		}
		srv.Start()
		t.Cleanup(srv.Close)
		return srv, &opened
	}
	base, baseOpened := serve()
	head, headOpened := serve()
	const slot, pairs, rate = 250 * time.Millisecond, 8, 20
	p := &plan.Plan{
		Name: "conns", Target: head.URL,
		Endpoints: []plan.Endpoint{{Name: "a", Method: http.MethodGet, Path: "/delay?ms=2", Weight: 1}},
		Profile:   plan.Profile{Type: plan.ProfileLoad, Rate: rate, Duration: pairs * slot},
	}
	env, _, errOut := testEnv()
	o := Run(context.Background(), Job{Env: env, Plan: p, Paired: &PairedOptions{BaseTarget: base.URL, Slot: slot, Seed: 3, MaxLeftOut: 0.4},
		Run: RunOptions{MaxLag: 2 * time.Second}})
	if o.Head == nil || len(o.Base) != 1 {
		t.Fatalf("paired run: %v\n%s", o.Err, errOut)
	}
	// A slot has rate × slot = 5 arrivals, so no slot needs more than 5
	// connections; dialling per slot would open at least one per slot.
	perSlot := int64(rate * slot.Seconds())
	for side, n := range map[string]int64{"base": baseOpened.Load(), "head": headOpened.Load()} {
		if n < 1 || n > perSlot {
			t.Errorf("%s: %d connections opened over %d slots, want 1 to %d (kept from slot to slot)", side, n, pairs, perSlot)
		}
	}
}
