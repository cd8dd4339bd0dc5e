package paired_test

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/local"
	"github.com/loadgate/loadgate/runners/paired"
)

// build is one "build" of a service: /work has a log-normal latency with the
// given median, /other a fixed one. PreciseSleep, because time.Sleep wakes on
// the netpoller's millisecond grid and, on a busy CI host, adds more noise
// than the difference between the builds.
func build(workMedianMs float64) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/work":
			target.PreciseSleep(target.LogNormal(workMedianMs, 0.3))
		default:
			target.PreciseSleep(target.LogNormal(3, 0.3))
		}
		w.WriteHeader(http.StatusOK)
	})
}

// TestLocalRunnerHeadSlower sends real load, interleaved, to two loopback
// builds that differ only in a 50 % slower /work, and expects the paired gate
// to flag that endpoint and only it. The test is about the wiring, not the
// gate's power (bench/gateaccuracy measures that): the change is far past
// the tolerance and the confidence is 99 %, so neither a miss nor a false
// flag on /other happens on a busy -race host.
func TestLocalRunnerHeadSlower(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("sends real load for about 26 s")
	}
	base := httptest.NewServer(build(5))
	defer base.Close()
	head := httptest.NewServer(build(7.5))
	defer head.Close()
	p, err := plan.Parse([]byte(`name: paired-test
target: http://127.0.0.1:1
endpoints:
  - name: work
    request: GET /work
  - name: other
    request: GET /other
profile:
  type: load
  rate: 100/s
  duration: 12s
  warmup: 1s
`), "paired.yaml", ".", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	clients := map[string]*http.Client{paired.Base: base.Client(), paired.Head: head.Client()}
	r := &paired.Runner{
		BaseTarget: base.URL, HeadTarget: head.URL, Seed: 11,
		New: func(side string) runners.Runner {
			return local.New(local.Options{Label: side, Client: clients[side]})
		},
	}
	b, h, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	pol := gate.DefaultPolicy()
	// 12 pairs, so that 99 % family-wise is reachable (all 12 alike:
	// 2/4096 per check; 9 pairs could not, and at 95 % a busy -race host
	// flagged the unchanged /other: p95 +47.7 %, p = 0.018).
	pol.Confidence = 0.99
	pol.Thresholds = map[gate.Metric]gate.Tolerance{gate.P50: gate.Rel(0.10), gate.P95: gate.Rel(0.10)}
	v := gate.ComparePaired(b, h, pol)
	for _, e := range v.Endpoints {
		for _, c := range e.Checks {
			t.Logf("%s %s: %.3f → %.3f ms %+.1f%% [%+.1f, %+.1f] p=%.4f %s", e.Name, c.Metric, c.Base, c.Head, 100*c.Delta, 100*c.CILow, 100*c.CIHigh, c.PValue, c.Decision)
		}
	}
	if !b.Validity.Valid || !h.Validity.Valid {
		// A machine too busy to hold 100 rps (shared CI, -race) must give an
		// invalid verdict, never a pass or a regression.
		t.Logf("run invalid on this machine: base %q head %q", b.Validity.Reasons, h.Validity.Reasons)
		if v.Decision != gate.Invalid || v.ExitCode() != gate.ExitInvalid {
			t.Errorf("invalid run judged %s", v.Decision)
		}
		return
	}
	got := v.Regressions()
	for _, name := range got {
		if name != "work" {
			t.Errorf("regressed endpoints %v: %s never changed", got, name)
		}
	}
	// Whether +50 % shows depends on the machine: when scheduler delays
	// dwarf the 5 ms service time (/other's base median at twice its 3 ms
	// or more), the change may be lost in them; a miss then is the
	// machine's, and the test asserts only what the code controls — no
	// false flag, and the change caught whenever the machine can show it.
	if other := b.Endpoint("other"); other.Latency.P50 > 6 {
		t.Logf("machine too busy to require the +50 %% (base /other p50 %.1f ms for a 3 ms service)", other.Latency.P50)
		return
	}
	if len(got) == 0 && (v.Decision == gate.Pass || v.Decision == gate.Inconclusive) {
		// Under a parallel -race suite even a moderate slowdown of the host
		// can hide +50 % (or leave too few pairs): power is measured by
		// bench/gateaccuracy and checked end to end by .ci/run's demo on
		// the quiet machine.
		t.Skipf("+50 %% not shown on this run (%s: a miss of power, not a false flag); see the log", v.Decision)
	}
	if len(got) != 1 {
		t.Errorf("regressed endpoints %v, want [work]; verdict %s", got, v.Decision)
	}
}

// serverTimed is a build whose /timed reports its time as Server-Timing and
// whose /plain reports nothing.
func serverTimed(ms string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/timed" {
			w.Header().Set("Server-Timing", "app;dur="+ms)
		}
		w.WriteHeader(http.StatusOK)
	})
}

// Both sides' files carry the server histograms per endpoint and per slot
// window, made from the same slots as the latency; an endpoint whose
// target sends no Server-Timing has none.
func TestLocalRunnerServerTiming(t *testing.T) {
	t.Parallel()
	base := httptest.NewServer(serverTimed("2"))
	defer base.Close()
	head := httptest.NewServer(serverTimed("3"))
	defer head.Close()
	p, err := plan.Parse([]byte(`name: paired-st
target: http://127.0.0.1:1
endpoints:
  - name: timed
    request: GET /timed
  - name: plain
    request: GET /plain
profile:
  type: load
  rate: 40/s
  duration: 2s
  warmup: 500ms
`), "paired.yaml", ".", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	r := &paired.Runner{
		BaseTarget: base.URL, HeadTarget: head.URL, Seed: 3, Slot: 500 * time.Millisecond,
		New: func(side string) runners.Runner { return local.New(local.Options{Label: side}) },
	}
	b, h, err := r.Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	for _, side := range []struct {
		f    *results.File
		name string
		ms   float64
	}{{b, "base", 2}, {h, "head", 3}} {
		f, err := results.DecodeBytes(encode(t, side.f), side.name)
		if err != nil {
			t.Fatalf("%s: results do not round-trip: %v", side.name, err)
		}
		e := f.Endpoint("timed")
		if e == nil || e.ServerHistogram == nil || e.Histogram.Count() == 0 || e.ServerHistogram.Count() != e.Histogram.Count() {
			t.Fatalf("%s timed: %+v; want a server sample per latency sample", side.name, e)
		}
		if math.Abs(e.ServerTime.P50-side.ms) > 0.01 {
			t.Errorf("%s timed: server p50 %v ms, want %v", side.name, e.ServerTime.P50, side.ms)
		}
		measured := 0
		for i, w := range e.Windows {
			if w.ServerHistogram == nil || w.ServerHistogram.Count() != w.Histogram.Count() || w.ServerP50 == 0 {
				t.Errorf("%s timed window %d: server %v (p50 %v), latency %d samples", side.name, i, w.ServerHistogram, w.ServerP50, w.Histogram.Count())
			}
			if !w.Warmup {
				measured++
			}
		}
		if measured == 0 {
			t.Errorf("%s: no measured windows", side.name)
		}
		pl := f.Endpoint("plain")
		if pl == nil || pl.ServerHistogram != nil {
			t.Fatalf("%s plain: %+v; want no server histogram", side.name, pl)
		}
		for i, w := range pl.Windows {
			if w.ServerHistogram != nil {
				t.Errorf("%s plain window %d has a server histogram", side.name, i)
			}
		}
	}
}

func encode(t *testing.T, f *results.File) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := results.Encode(&b, f); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
