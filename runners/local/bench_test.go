package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
)

// BenchmarkRecord is the per-request recording cost on a worker (append to
// its private shard) plus the collector's share (histograms, windows).
func BenchmarkRecord(b *testing.B) {
	c := newCollector(3, time.Minute, 0, true)
	sh := c.newShard()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sh.add(sample{at: int64(i) * 1000, lat: 1500000 + int64(i%1000)*1000, svc: 1400000, ep: int32(i % 3), status: 200})
		if i%4096 == 0 {
			c.collect()
		}
	}
	c.collect()
}

// BenchmarkSchedule is the cost of computing one arrival time on a ramp.
func BenchmarkSchedule(b *testing.B) {
	stages := []plan.Stage{{Duration: time.Hour, StartRate: 10, EndRate: 100000}}
	a := newArrivals(stages, 1)
	p := newPicker([]*endpoint{{weight: 5}, {weight: 1}, {weight: 2}})
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := a.next(); !ok {
			a = newArrivals(stages, 1)
		}
		p.next()
	}
}

// BenchmarkRequest is one full request through the hot path (closed model
// style) against an in-process target: request build, send, body read, record.
func BenchmarkRequest(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	defer srv.Close()
	p := &plan.Plan{Name: "b", Target: srv.URL, Endpoints: []plan.Endpoint{{Name: "a", Method: "GET", Path: "/"}}}
	setup, err := newClientSetup(p, false)
	if err != nil {
		b.Fatal(err)
	}
	eps, err := buildEndpoints(p, true)
	if err != nil {
		b.Fatal(err)
	}
	e := &engine{eps: eps, maxBody: DefaultMaxBodyBytes, t0: time.Now(), setup: setup, plan: p,
		client: &http.Client{Transport: setup.transport(4)}}
	e.col = newCollector(1, time.Hour, 0, false)
	e.reqCtx = context.Background()
	w, done := e.newWorker()
	defer done()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		e.do(w, 0, -1, nil, false)
		if i%4096 == 0 {
			e.col.collect()
		}
	}
}
