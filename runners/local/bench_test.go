package local

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strconv"
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
// style) against an in-process target: request build, send, body read,
// record. The templated variant sends GET /products/{{ data.products.id }}
// with an X-Request-Id of {{ uuid }} and a body with {{ seq }}: the
// request builder's cost next to the plain request (sub-benchmarks, so
// benchstat compares them).
func BenchmarkRequest(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) }))
	defer srv.Close()
	rows := make([][]string, 1000)
	for i := range rows {
		rows[i] = []string{strconv.Itoa(i + 1)}
	}
	data := []plan.DataSource{{Name: "products", Mode: plan.ModeSequential, Columns: []string{"id"}, Rows: rows}}
	cases := []struct {
		name string
		ep   plan.Endpoint
	}{
		{"plain", plan.Endpoint{Name: "a", Method: "POST", Path: "/products/17", Headers: map[string]string{"X-Request-Id": "0f8fad5b-d9cb-469f-a165-70867728950e"}, Body: `{"n":17}`}},
		{"templated", plan.Endpoint{Name: "a", Method: "POST", Path: "/products/{{ data.products.id }}", Headers: map[string]string{"X-Request-Id": "{{ uuid }}"}, Body: `{"n":{{ seq }}}`}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			p := &plan.Plan{Name: "b", Target: srv.URL, Data: data, Endpoints: []plan.Endpoint{c.ep}}
			eps, err := buildEndpoints(p)
			if err != nil {
				b.Fatal(err)
			}
			ds, _ := newDataState(p, 0, 1)
			e := &engine{eps: eps, maxBody: DefaultMaxBodyBytes, t0: time.Now(), client: &http.Client{Transport: newTransport(4)}, data: ds, anyDyn: eps[0].dyn != nil}
			e.col = newCollector(1, time.Hour, 0, false)
			e.reqCtx = context.Background()
			if addr, ok := fastPathOK(srv.URL); ok {
				e.fastAddr = addr
			}
			w, done := e.newWorker()
			defer done()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				e.do(w, 0, -1, nil, false)
				if i%4096 == 0 {
					e.col.collect()
				}
			}
		})
	}
}

// BenchmarkBuild is the request builder alone: row pick and rendering of a
// templated head and body, without sending.
func BenchmarkBuild(b *testing.B) {
	rows := [][]string{{"1"}, {"2"}, {"3"}}
	p := &plan.Plan{Name: "b", Target: "http://127.0.0.1:1", Data: []plan.DataSource{{Name: "products", Mode: plan.ModeSequential, Columns: []string{"id"}, Rows: rows}},
		Endpoints: []plan.Endpoint{{Name: "a", Method: "POST", Path: "/products/{{ data.products.id }}", Headers: map[string]string{"X-Request-Id": "{{ uuid }}"}, Body: `{"n":{{ seq }}}`}}}
	eps, err := buildEndpoints(p)
	if err != nil {
		b.Fatal(err)
	}
	ds, _ := newDataState(p, 0, 1)
	t := newTState(1)
	b.ReportAllocs()
	for b.Loop() {
		if _, ex, err := eps[0].dyn.build(t, ds, eps[0], true); ex != "" || err != nil {
			b.Fatal(ex, err)
		}
	}
}
