package local

import (
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// Error kinds as small integers on the hot path; kindNames maps them to the
// runners.Err* strings of the results file.
const (
	kindOK uint8 = iota
	kindTimeout
	kindRefused
	kindReset
	kindDNS
	kindTLS
	kindStatus
	kindBodyTooLarge
	kindOther
	kindRedirect
	numKinds
)

var kindNames = [numKinds]string{
	kindTimeout:      runners.ErrTimeout,
	kindRefused:      runners.ErrRefused,
	kindReset:        runners.ErrReset,
	kindDNS:          runners.ErrDNS,
	kindTLS:          runners.ErrTLS,
	kindStatus:       runners.ErrStatus,
	kindBodyTooLarge: runners.ErrBodyTooLarge,
	kindOther:        runners.ErrOther,
	kindRedirect:     runners.ErrRedirectDisallowed,
}

// sample is one finished request as a worker saw it. Offsets and durations
// are nanoseconds on the run's monotonic clock.
type sample struct {
	at     int64 // intended send (open model) or actual send (closed), since the schedule start
	lat    int64 // from at to the end of the response
	svc    int64 // from the actual send to the end of the response
	bytes  int64 // response body bytes read
	sent   int64 // request body bytes
	status int32 // 0 when no response arrived
	ep     int32
	srv    int32 // the target's Server-Timing duration, µs (≤ MaxTrackable+1 fits); meaningful when hasSrv
	kind   uint8
	timed  bool // latency is meaningful (a response arrived, or it timed out)
	noConn bool // failed before a connection to the target existed
	hasSrv bool // the response carried the plan's Server-Timing metric
}

// shard is one worker's private buffer of samples. Only its worker and the
// collector touch its lock, so workers never contend with each other.
type shard struct {
	mu   sync.Mutex
	buf  []sample
	busy atomic.Bool
	_    [40]byte // keep neighbouring shards off this cache line
}

func (s *shard) add(x sample) {
	s.mu.Lock()
	s.buf = append(s.buf, x)
	s.mu.Unlock()
}

// take swaps the shard's buffer for spare and returns the filled one.
func (s *shard) take(spare []sample) []sample {
	s.mu.Lock()
	b := s.buf
	s.buf = spare[:0]
	s.mu.Unlock()
	return b
}

// epAcc accumulates one endpoint's figures. Only the collector goroutine
// touches it.
type epAcc struct {
	requests, errors, bytes, bytesSent int64 // measured part (warm-up excluded)
	status                             map[int32]int64
	kinds                              [numKinds]int64
	hist, svc                          *results.Histogram
	// server is the Server-Timing histogram, made on the first sample so a
	// target that sends none costs no memory.
	server  *results.Histogram
	windows []winAcc
}

type winAcc struct {
	requests, errors, bytes int64
	hist, server            *results.Histogram // made on the first sample
}

// collector merges the workers' samples into per-endpoint totals and
// fixed-width windows, and keeps the figures live progress reports.
type collector struct {
	eps     []*epAcc
	width   time.Duration
	nwin    int
	warmEnd int64 // ns; samples intended before it are warm-up
	open    bool

	lag       *results.Histogram
	late      int64
	completed int64
	requests  int64 // all, warm-up included (progress)
	errors    int64
	// responded counts requests that got a response, notConnected those
	// that failed before a connection existed (warm-up included): a run
	// with none of the first and some of the second never reached its target.
	responded, notConnected int64
	redirects               int64 // redirects outside targets.allow, warm-up included

	// the current progress interval
	ivHist *results.Histogram
	ivReq  int64

	mu     sync.Mutex // guards shards (workers are added while running)
	shards []*shard
	spare  []sample
}

func newCollector(nEP int, total, warm time.Duration, open bool) *collector {
	width := WindowWidth
	for total > width*MaxWindows {
		width *= 2 // the same as merging adjacent pairs until at most MaxWindows remain
	}
	nwin := int((total + width - 1) / width)
	c := &collector{width: width, nwin: max(nwin, 1), warmEnd: int64(warm), open: open,
		lag: results.NewWindowHistogram(), ivHist: results.NewWindowHistogram()}
	for range nEP {
		c.eps = append(c.eps, &epAcc{status: map[int32]int64{}, hist: results.NewHistogram(),
			svc: results.NewHistogram(), windows: make([]winAcc, c.nwin)})
	}
	return c
}

func (c *collector) newShard() *shard {
	// A small start: the open model may keep hundreds of workers, most
	// with a few samples per collection; busy ones grow theirs.
	s := &shard{buf: make([]sample, 0, 8)}
	c.mu.Lock()
	c.shards = append(c.shards, s)
	c.mu.Unlock()
	return s
}

func (c *collector) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, s := range c.shards {
		if s.busy.Load() {
			n++
		}
	}
	return n
}

// collect drains every shard. Called by one goroutine at a time.
func (c *collector) collect() {
	c.mu.Lock()
	shards := c.shards
	c.mu.Unlock()
	for _, s := range shards {
		b := s.take(c.spare)
		for i := range b {
			c.record(&b[i])
		}
		c.spare = b
	}
}

// release drops the workers' sample buffers once the last samples are
// collected.
func (c *collector) release() {
	c.mu.Lock()
	c.shards = nil
	c.mu.Unlock()
	c.spare = nil
}

func (c *collector) record(x *sample) {
	const us = int64(time.Microsecond)
	e := c.eps[x.ep]
	c.requests++
	c.completed++
	c.ivReq++
	isErr := x.kind != kindOK
	if isErr {
		c.errors++
	}
	if x.status != 0 {
		c.responded++
	} else if x.noConn {
		c.notConnected++
	}
	if x.kind == kindRedirect {
		c.redirects++
	}
	if c.open {
		lag := x.lat - x.svc
		c.lag.RecordMicros(lag / us)
		if lag > int64(LateThreshold) {
			c.late++
		}
	}
	if x.timed {
		c.ivHist.RecordMicros(x.lat / us)
	}
	wi := min(int(max(x.at, 0)/int64(c.width)), c.nwin-1)
	w := &e.windows[wi]
	w.requests++
	w.bytes += x.bytes
	if isErr {
		w.errors++
	}
	if x.timed {
		if w.hist == nil {
			w.hist = results.NewWindowHistogram()
		}
		w.hist.RecordMicros(x.lat / us)
	}
	if x.hasSrv {
		if w.server == nil {
			w.server = results.NewWindowHistogram()
		}
		w.server.RecordMicros(int64(x.srv))
	}
	if x.at < c.warmEnd {
		return
	}
	e.requests++
	e.bytes += x.bytes
	e.bytesSent += x.sent
	if x.status != 0 {
		e.status[x.status]++
	}
	if isErr {
		e.errors++
		e.kinds[x.kind]++
	}
	if x.timed {
		e.hist.RecordMicros(x.lat / us)
		e.svc.RecordMicros(x.svc / us)
	}
	if x.hasSrv {
		if e.server == nil {
			e.server = results.NewHistogram()
		}
		e.server.RecordMicros(int64(x.srv))
	}
}

// interval returns and resets the progress interval's figures.
func (c *collector) interval() (n int64, p95 time.Duration) {
	n = c.ivReq
	p95 = time.Duration(c.ivHist.Quantile(0.95)) * time.Microsecond
	c.ivReq = 0
	c.ivHist.Reset()
	return n, p95
}

// endpoint builds a results endpoint from the accumulated figures. Windows
// end at runEnd (the schedule end, or the cut-off of an interrupted run).
func (c *collector) endpoint(i int, t0 time.Time, runEnd time.Duration, offered func(from, to time.Duration) float64, payload func(mid time.Duration) int64) results.Endpoint {
	e := c.eps[i]
	out := results.Endpoint{
		Precision: results.PrecisionExact,
		Requests:  e.requests,
		Errors:    e.errors,
		Bytes:     e.bytes,
		BytesSent: e.bytesSent,
		Histogram: e.hist, ServiceHistogram: e.svc, ServerHistogram: e.server,
	}
	if len(e.status) > 0 {
		out.Status = map[string]int64{}
		for code, n := range e.status {
			out.Status[strconv.Itoa(int(code))] += n
		}
	}
	for k, n := range e.kinds {
		if n > 0 {
			if out.ErrorKinds == nil {
				out.ErrorKinds = map[string]int64{}
			}
			out.ErrorKinds[kindNames[k]] = n
		}
	}
	nwin := min(c.nwin, int((runEnd+c.width-1)/c.width))
	for wi := 0; wi < nwin; wi++ {
		w := e.windows[wi]
		from := time.Duration(wi) * c.width
		to := from + c.width
		rw := results.Window{
			Start:           t0.Add(from),
			Width:           results.Duration(c.width),
			Requests:        w.requests,
			Errors:          w.errors,
			Bytes:           w.bytes,
			OfferedRPS:      offered(from, to),
			PayloadBytes:    payload(from + c.width/2),
			Warmup:          int64(from+c.width/2) < c.warmEnd,
			Histogram:       w.hist,
			ServerHistogram: w.server,
		}
		out.Windows = append(out.Windows, rw)
	}
	return out
}
