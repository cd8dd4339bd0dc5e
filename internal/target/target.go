// Package target is an HTTP target for loadgate's tests, demo and benchmarks.
// It serves endpoints with known, controllable behaviour (fixed and random
// delays, periodic global stalls, status codes, large bodies, connection
// resets) and records the latency it measures itself, so a test can compare
// what the load generator reports with what the server saw.
//
// Routes of Handler:
//
//	/fast                            tiny 200 response
//	/delay?ms=N                      sleeps N ms (fractions allowed)
//	/stall                           tiny response, but requests arriving during a
//	                                 global stall wait until it ends (CO test)
//	/status?code=N                   responds with status N
//	/bytes?n=N                       N-byte body
//	/lognormal?median_ms=M&sigma=S   lognormally distributed delay
//	/reset                           closes the connection with a TCP RST
//	/stats                           JSON of the latencies measured so far, per path
//	/stats/reset                     clears them
//
// Every route but /reset and /stats reports the time it spent as
// `Server-Timing: app;dur=<ms>` (see SetServerTiming), unless
// Options.NoServerTiming.
package target

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/loadgate/loadgate/results"
)

// Defaults of the /stall route: a 500 ms stall every 2 s, which at a steady
// arrival rate gives a coordinated-omission-free p90 of 300 ms and p99 of 480 ms.
const (
	DefaultStallPeriod = 2 * time.Second
	DefaultStallFor    = 500 * time.Millisecond
)

// Limits that keep a misbehaving test from exhausting the machine.
const (
	// MaxDelay caps /delay and /lognormal sleeps.
	MaxDelay = time.Minute
	// MaxBytes caps /bytes bodies (large enough for the 100 MB body test).
	MaxBytes = 1 << 30
)

// Options configure a Handler.
type Options struct {
	// StallPeriod and StallFor shape /stall: the first StallFor of every
	// StallPeriod (counted from Epoch) is a stall. Zero means the defaults.
	StallPeriod time.Duration
	StallFor    time.Duration
	// Epoch anchors the stall periods; zero means the handler's creation time.
	Epoch time.Time
	// NoServerTiming leaves out the Server-Timing header: a target that
	// does not report its own time.
	NoServerTiming bool
}

// Handler is the test target. Create it with New; it is safe for concurrent use.
type Handler struct {
	mux   *http.ServeMux
	opts  Options
	rec   *Recorder
	chunk []byte
}

// New returns a target handler.
func New(opts Options) *Handler {
	if opts.StallPeriod <= 0 {
		opts.StallPeriod = DefaultStallPeriod
	}
	if opts.StallFor <= 0 {
		opts.StallFor = DefaultStallFor
	}
	if opts.StallFor > opts.StallPeriod {
		opts.StallFor = opts.StallPeriod
	}
	if opts.Epoch.IsZero() {
		opts.Epoch = time.Now()
	}
	h := &Handler{mux: http.NewServeMux(), opts: opts, rec: NewRecorder(), chunk: make([]byte, 64<<10)}
	for i := range h.chunk {
		h.chunk[i] = 'x'
	}
	h.mux.HandleFunc("/fast", h.fast)
	h.mux.HandleFunc("/delay", h.delay)
	h.mux.HandleFunc("/stall", h.stall)
	h.mux.HandleFunc("/status", h.status)
	h.mux.HandleFunc("/bytes", h.bytes)
	h.mux.HandleFunc("/lognormal", h.lognormal)
	h.mux.HandleFunc("/reset", h.reset)
	h.mux.Handle("/stats", h.rec.StatsHandler())
	h.mux.Handle("/stats/reset", h.rec.ResetHandler())
	return h
}

// Recorder returns the recorder holding the latencies the handler measured.
func (h *Handler) Recorder() *Recorder { return h.rec }

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

var okBody = []byte("ok\n")

func (h *Handler) fast(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	drain(r)
	h.serverTiming(w, start)
	writeOK(w)
	h.rec.Record("/fast", time.Since(start))
}

func (h *Handler) delay(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	drain(r)
	ms, _ := strconv.ParseFloat(r.URL.Query().Get("ms"), 64)
	sleep(time.Duration(ms * float64(time.Millisecond)))
	h.serverTiming(w, start)
	writeOK(w)
	h.rec.Record("/delay", time.Since(start))
}

// StallRemaining returns how long a request arriving at t waits on /stall.
func (h *Handler) StallRemaining(t time.Time) time.Duration {
	phase := t.Sub(h.opts.Epoch) % h.opts.StallPeriod
	if phase < 0 {
		phase += h.opts.StallPeriod
	}
	if phase < h.opts.StallFor {
		return h.opts.StallFor - phase
	}
	return 0
}

func (h *Handler) stall(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	drain(r)
	if d := h.StallRemaining(start); d > 0 {
		time.Sleep(d)
	}
	h.serverTiming(w, start)
	writeOK(w)
	h.rec.Record("/stall", time.Since(start))
}

func (h *Handler) status(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	drain(r)
	code, err := strconv.Atoi(r.URL.Query().Get("code"))
	if err != nil || code < 100 || code > 999 {
		code = http.StatusBadRequest
	}
	w.Header().Set("Content-Length", "3")
	h.serverTiming(w, start)
	w.WriteHeader(code)
	_, _ = w.Write(okBody)
	h.rec.Record("/status", time.Since(start))
}

func (h *Handler) bytes(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	drain(r)
	n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
	n = min(max(n, 0), MaxBytes)
	w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
	w.Header().Set("Content-Type", "application/octet-stream")
	h.serverTiming(w, start)
	for n > 0 {
		c := h.chunk[:min(n, int64(len(h.chunk)))]
		if _, err := w.Write(c); err != nil {
			return // client gave up (e.g. its body bound was reached)
		}
		n -= int64(len(c))
	}
	h.rec.Record("/bytes", time.Since(start))
}

func (h *Handler) lognormal(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	drain(r)
	q := r.URL.Query()
	median, _ := strconv.ParseFloat(q.Get("median_ms"), 64)
	sigma, _ := strconv.ParseFloat(q.Get("sigma"), 64)
	sleep(LogNormal(median, sigma))
	h.serverTiming(w, start)
	writeOK(w)
	h.rec.Record("/lognormal", time.Since(start))
}

func (h *Handler) reset(w http.ResponseWriter, r *http.Request) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "hijack unsupported", http.StatusInternalServerError)
		return
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		return
	}
	// Linger 0 makes Close send a RST instead of a FIN, so the client sees
	// "connection reset by peer".
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = conn.Close()
}

func (h *Handler) serverTiming(w http.ResponseWriter, start time.Time) {
	if !h.opts.NoServerTiming {
		SetServerTiming(w, start)
	}
}

// SetServerTiming sets `Server-Timing: app;dur=<ms>` (3 decimals) to the
// time since start: what a service reports of its own time, which loadgate
// records beside the latency its client sees. Call it just before the
// response is written.
func SetServerTiming(w http.ResponseWriter, start time.Time) {
	var b [32]byte
	v := append(b[:0], "app;dur="...)
	v = strconv.AppendFloat(v, float64(time.Since(start))/float64(time.Millisecond), 'f', 3, 64)
	w.Header().Set("Server-Timing", string(v))
}

// LogNormal returns a delay whose logarithm is normal with the given median
// (ms) and sigma; it is the usual shape of service latencies.
func LogNormal(medianMs, sigma float64) time.Duration {
	if medianMs <= 0 {
		return 0
	}
	ms := math.Exp(math.Log(medianMs) + sigma*rand.NormFloat64())
	return time.Duration(ms * float64(time.Millisecond))
}

func sleep(d time.Duration) {
	if d > MaxDelay {
		d = MaxDelay
	}
	if d > 0 {
		time.Sleep(d)
	}
}

func writeOK(w http.ResponseWriter) {
	w.Header().Set("Content-Length", "3")
	_, _ = w.Write(okBody)
}

// drain reads a request body to its end (volume tests send large bodies).
func drain(r *http.Request) {
	if r.Body == nil {
		return
	}
	var buf [32 << 10]byte
	for {
		if _, err := r.Body.Read(buf[:]); err != nil {
			return
		}
	}
}

// Recorder keeps latency histograms per route, measured inside the server
// (handler entry to the last byte written).
type Recorder struct {
	mu    sync.Mutex
	hists map[string]*routeRec
}

type routeRec struct {
	hist        *results.Histogram
	first, last time.Time // arrivals, for the rate the server saw
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{hists: map[string]*routeRec{}} }

// Record adds one latency for route, for a request that arrived d ago.
func (r *Recorder) Record(route string, d time.Duration) {
	arrived := time.Now().Add(-d)
	r.mu.Lock()
	rr := r.hists[route]
	if rr == nil {
		rr = &routeRec{hist: results.NewHistogram(), first: arrived}
		r.hists[route] = rr
	}
	rr.hist.Record(d)
	if arrived.Before(rr.first) {
		rr.first = arrived
	}
	if arrived.After(rr.last) {
		rr.last = arrived
	}
	r.mu.Unlock()
}

// Histogram returns a copy of route's histogram (empty if none recorded).
func (r *Recorder) Histogram(route string) *results.Histogram {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rr := r.hists[route]; rr != nil {
		return rr.hist.Clone()
	}
	return results.NewHistogram()
}

// Reset clears every histogram.
func (r *Recorder) Reset() {
	r.mu.Lock()
	r.hists = map[string]*routeRec{}
	r.mu.Unlock()
}

// RouteStats is one route's server-measured latency summary.
type RouteStats struct {
	Route    string          `json:"route"`
	Requests int64           `json:"requests"`
	Latency  results.Summary `json:"latency_ms"`
	// RateRPS is the arrival rate the server saw: requests between the first
	// and the last arrival over that time.
	RateRPS float64 `json:"rate_rps"`
}

// Stats returns a summary per route, sorted by route.
func (r *Recorder) Stats() []RouteStats {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RouteStats, 0, len(r.hists))
	for route, rr := range r.hists {
		s := RouteStats{Route: route, Requests: rr.hist.Count(), Latency: rr.hist.Summary()}
		if span := rr.last.Sub(rr.first).Seconds(); span > 0 {
			s.RateRPS = math.Round(float64(s.Requests-1)/span*1000) / 1000
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Route < out[j].Route })
	return out
}

// StatsHandler serves Stats as JSON.
func (r *Recorder) StatsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(r.Stats())
	})
}

// ResetHandler clears the recorder.
func (r *Recorder) ResetHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		r.Reset()
		w.WriteHeader(http.StatusNoContent)
	})
}
