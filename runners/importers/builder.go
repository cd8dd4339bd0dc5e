package importers

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/results"
)

// Memory bounds. A results file holds one HdrHistogram per endpoint and per
// window; in memory each is ~170 KB (1 µs..10 min at 3 significant digits), so
// these bounds, not the input size, set an import's peak memory.
const (
	// MaxEndpoints bounds distinct endpoint names. More almost always means
	// per-request URLs (ids in paths) that need a Rename pattern.
	MaxEndpoints = 1000
	// MaxWindows bounds the windows held over all endpoints (~350 MB of
	// histograms). When an import would exceed it, the window width doubles and
	// existing windows merge pairwise (exact), with a warning.
	MaxWindows = 2048
	// nameCacheSize bounds the label → endpoint-name cache.
	nameCacheSize = 4096
)

// sample is one request as a tool recorded it.
type sample struct {
	label  string // the tool's name for the request ("" to derive from method+url)
	method string
	url    string
	// t is when the tool timestamped the request (Unix ns); it places the sample
	// in a window. end is when it finished (Unix ns), for the run's span.
	t, end    int64
	latencyUS int64
	status    string // HTTP status code, "" when the tool gives none
	errKind   string // "" for success, else one of the runners.Err* classes
	bytes     int64
	sent      int64
}

type acc struct {
	ep        results.Endpoint
	windows   map[int64]*results.Window // by start, Unix ns
	aggregate bool
}

type builder struct {
	opts     Options
	ren      *Renamer
	window   time.Duration
	maxWins  int // MaxWindows; lower in tests
	eps      map[string]*acc
	names    map[string]string
	nwindows int
	first    int64 // earliest sample time, Unix ns (0 = none)
	last     int64 // latest sample end, Unix ns

	// Set by aggregate formats.
	started, ended time.Time
	elapsed        time.Duration
	total          *results.Endpoint // the tool's own all-requests row
	model          string
	loc            *locustState
	// dropped counts what the tool itself says it could not start on time
	// (k6's dropped_iterations); droppedBy names the tool.
	dropped     int64
	droppedBy   string
	toolVersion string

	skipped  map[string]int64
	skipList []string // file names in first-skip order
	warnings []string
}

func newBuilder(opts Options, ren *Renamer) *builder {
	w := opts.Window
	if w <= 0 {
		w = DefaultWindow
	}
	return &builder{
		opts:    opts,
		ren:     ren,
		window:  w,
		maxWins: MaxWindows,
		eps:     map[string]*acc{},
		names:   map[string]string{},
		skipped: map[string]int64{},
	}
}

// bad handles a malformed record: with SkipBadLines it is counted and logged,
// otherwise it is the import's error.
func (b *builder) bad(err *LineError) error {
	if !b.opts.SkipBadLines {
		return err
	}
	if b.skipped[err.File] == 0 {
		b.skipList = append(b.skipList, err.File)
	}
	b.skipped[err.File]++
	b.logf("skipped %v", err)
	return nil
}

func (b *builder) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	for _, w := range b.warnings {
		if w == msg {
			return
		}
	}
	b.warnings = append(b.warnings, msg)
	b.logf("%s", msg)
}

func (b *builder) logf(format string, args ...any) {
	if b.opts.Logf != nil {
		b.opts.Logf(format, args...)
	}
}

// name returns the endpoint name for a tool label, or for method+URL when the
// label is empty or is itself a URL, after the Rename patterns.
func (b *builder) name(label, method, rawURL string) string {
	key := label + "\x00" + method + "\x00" + rawURL
	if n, ok := b.names[key]; ok {
		return n
	}
	n := label
	if n == "" || isURL(n) {
		u := rawURL
		if u == "" {
			u = label
		}
		n = pathOf(u)
		if method != "" {
			n = method + " " + n
		}
	}
	n = b.ren.Apply(n)
	if len(b.names) < nameCacheSize {
		b.names[key] = n
	}
	return n
}

func isURL(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// pathOf returns the path of a URL (query and fragment dropped), or s itself
// when it is not a URL.
func pathOf(s string) string {
	if !isURL(s) {
		if i := strings.IndexAny(s, "?#"); i >= 0 {
			return s[:i]
		}
		return s
	}
	u, err := url.Parse(s)
	if err != nil {
		return s
	}
	if u.Path == "" {
		return "/"
	}
	return u.Path
}

// safeURL drops credentials, query and fragment: tool outputs may carry tokens
// there, and results files are committed.
func safeURL(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return pathOf(s)
	}
	u.User, u.RawQuery, u.Fragment, u.ForceQuery = nil, "", "", false
	return u.String()
}

func (b *builder) endpoint(name string) (*acc, error) {
	a, ok := b.eps[name]
	if ok {
		return a, nil
	}
	if name == "" {
		// results files refuse an unnamed endpoint; say so here, where the
		// input is, rather than write a file that does not read back.
		return nil, errors.New("a request without a name (empty name or label)")
	}
	if len(b.eps) >= MaxEndpoints {
		return nil, fmt.Errorf("more than %d distinct endpoints (the %dth is %q): group dynamic URLs with --rename patterns such as /users/{id}", MaxEndpoints, MaxEndpoints+1, name)
	}
	a = &acc{ep: results.Endpoint{Name: name}, windows: map[int64]*results.Window{}}
	b.eps[name] = a
	return a, nil
}

// Sample times must fit time.Time.UnixNano (years 1678–2262); anything before
// the Unix epoch is a corrupt timestamp, not a load test. maxSampleUnix is
// 2262-01-01T00:00:00Z as a constant (a time.Date variable is init work).
const maxSampleUnix = 9214646400

// maxLatencyUS rejects latencies no request has (a day); histograms clamp at
// results.MaxTrackable anyway, this only keeps time arithmetic from overflowing.
const maxLatencyUS = int64(24 * time.Hour / time.Microsecond)

// sampleError is a record that parsed but cannot be a request; it is skippable.
type sampleError struct{ msg string }

func (e *sampleError) Error() string { return e.msg }

// addLine records s, read from line of in: a record that cannot be a request
// is a bad line (skippable), a limit reached is fatal.
func (b *builder) addLine(in *input, line int64, s *sample) error {
	err := b.add(s)
	var se *sampleError
	if errors.As(err, &se) {
		return b.bad(in.errorf(line, "%s", se.msg))
	}
	if err != nil {
		return in.errorf(line, "%v", err)
	}
	return nil
}

// checkTime rejects a timestamp outside what a results file can hold.
func checkTime(t time.Time) error {
	// Unix rounds down, so these are t < epoch and t ≥ 2262-01-01.
	if u := t.Unix(); u < 0 || u >= maxSampleUnix {
		return &sampleError{fmt.Sprintf("timestamp %s out of range", t.UTC().Format(time.RFC3339))}
	}
	return nil
}

// add records one request exactly.
func (b *builder) add(s *sample) error {
	name := b.name(s.label, s.method, s.url)
	if name == "" {
		return &sampleError{"no request name, label or URL"}
	}
	if s.latencyUS < 0 || s.latencyUS > maxLatencyUS {
		return &sampleError{fmt.Sprintf("latency %d µs out of range", s.latencyUS)}
	}
	if s.t < 0 {
		return &sampleError{"timestamp before 1970"}
	}
	a, err := b.endpoint(name)
	if err != nil {
		return err
	}
	e := &a.ep
	if e.Histogram == nil {
		e.Histogram = results.NewHistogram()
		e.Method = s.method
		e.URL = safeURL(s.url)
	}
	e.Requests++
	e.Bytes += s.bytes
	e.BytesSent += s.sent
	if s.status != "" && s.status != "0" {
		if e.Status == nil {
			e.Status = map[string]int64{}
		}
		e.Status[s.status]++
	}
	failed := s.errKind != ""
	if failed {
		e.Errors++
		if e.ErrorKinds == nil {
			e.ErrorKinds = map[string]int64{}
		}
		e.ErrorKinds[s.errKind]++
	}
	e.Histogram.RecordMicros(s.latencyUS)

	if b.first == 0 || s.t < b.first {
		b.first = s.t
	}
	end := s.end
	if end == 0 {
		end = s.t + s.latencyUS*1000
	}
	if end > b.last {
		b.last = end
	}

	ws := floorDiv(s.t, int64(b.window)) * int64(b.window)
	w := a.windows[ws]
	if w == nil {
		if b.nwindows >= b.maxWins {
			b.widen()
			ws = floorDiv(s.t, int64(b.window)) * int64(b.window)
			w = a.windows[ws]
		}
		if w == nil {
			w = &results.Window{Start: time.Unix(0, ws).UTC(), Width: results.Duration(b.window), Histogram: results.NewWindowHistogram()}
			a.windows[ws] = w
			b.nwindows++
		}
	}
	w.Requests++
	w.Bytes += s.bytes
	if failed {
		w.Errors++
	}
	w.Histogram.RecordMicros(s.latencyUS)
	return nil
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// widen doubles the window width and merges existing windows pairwise. Starts
// are multiples of the width since the Unix epoch, so the merge is exact.
func (b *builder) widen() {
	for b.nwindows >= b.maxWins {
		b.window *= 2
		b.nwindows = 0
		for _, a := range b.eps {
			if a.aggregate {
				continue // tool-made windows: no histograms, not counted
			}
			merged := make(map[int64]*results.Window, len(a.windows)/2+1)
			for start, w := range a.windows {
				ns := floorDiv(start, int64(b.window)) * int64(b.window)
				d := merged[ns]
				if d == nil {
					w.Start = time.Unix(0, ns).UTC()
					w.Width = results.Duration(b.window)
					merged[ns] = w
					continue
				}
				d.Requests += w.Requests
				d.Errors += w.Errors
				d.Bytes += w.Bytes
				_ = d.Histogram.Merge(w.Histogram) // same range: cannot drop values
			}
			a.windows = merged
			b.nwindows += len(merged)
		}
	}
	b.warn("windows widened to %s to keep at most %d windows in memory (pass a wider --window to choose the width)", b.window, b.maxWins)
}

// aggregate returns the endpoint for name, marked as holding only the tool's
// summary figures.
func (b *builder) aggregate(name string) (*results.Endpoint, error) {
	a, err := b.endpoint(b.ren.Apply(name))
	if err != nil {
		return nil, err
	}
	a.aggregate = true
	return &a.ep, nil
}

// toolOf is the tool a format belongs to: "k6-json" → "k6".
func toolOf(format string) string {
	tool, _, _ := strings.Cut(format, "-")
	return tool
}

// aggregates returns the aggregate endpoints built so far.
func (b *builder) aggregates() []*results.Endpoint {
	var out []*results.Endpoint
	for _, a := range b.eps {
		if a.aggregate {
			out = append(out, &a.ep)
		}
	}
	return out
}

// file assembles the results.
func (b *builder) file(runner, planName string) *results.File {
	f := &results.File{
		Schema: results.Schema,
		// The hash names the tool, not its output format, so a baseline from
		// `vegeta-gob` compares with a run imported from `vegeta-json`.
		Plan: results.PlanRef{Name: planName, Hash: "import:" + toolOf(runner) + ":" + planName},
		Run: results.Run{
			Runner:  "import:" + runner,
			Workers: 1,
		},
		Profile:  results.Profile{Type: "load", Model: b.model},
		Validity: results.Validity{Valid: true},
	}
	started, ended := b.started, b.ended
	if b.first != 0 {
		fs, fe := time.Unix(0, b.first).UTC(), time.Unix(0, b.last).UTC()
		if started.IsZero() || fs.Before(started) {
			started = fs
		}
		if ended.IsZero() || fe.After(ended) {
			ended = fe
		}
	}
	f.Run.Started, f.Run.Ended = started, ended
	f.Run.Env.ToolVersion = b.toolVersion
	if !started.IsZero() {
		f.Run.ID = runner + "-" + started.Format("20060102T150405Z")
	} else {
		f.Run.ID = runner
	}
	// The measured span wins; b.elapsed is a tool's own duration for formats
	// without timestamps.
	elapsed := ended.Sub(started)
	if started.IsZero() || elapsed <= 0 {
		elapsed = b.elapsed
	}
	f.Profile.Duration = results.Duration(elapsed)

	names := make([]string, 0, len(b.eps))
	for n := range b.eps {
		names = append(names, n)
	}
	sort.Strings(names)
	var sent int64
	for _, n := range names {
		a := b.eps[n]
		e := a.ep
		if a.aggregate || e.Histogram == nil {
			e.Precision = results.PrecisionAggregate
		} else {
			e.Precision = results.PrecisionExact
		}
		if len(a.windows) > 0 {
			e.Windows = make([]results.Window, 0, len(a.windows))
			for _, w := range a.windows {
				e.Windows = append(e.Windows, *w)
			}
		}
		sent += e.Requests
		f.Endpoints = append(f.Endpoints, e)
	}
	// Finalize recomputes throughput from elapsed; keep a tool-reported figure
	// when there is no time span to compute it from.
	tput := make([]float64, len(f.Endpoints))
	for i := range f.Endpoints {
		tput[i] = f.Endpoints[i].ThroughputRPS
	}
	f.Finalize(elapsed)
	if elapsed <= 0 {
		for i := range f.Endpoints {
			f.Endpoints[i].ThroughputRPS = tput[i]
		}
	}
	if b.total != nil {
		// The tool's own all-requests figures win: its per-name rows may not
		// cover every request (k6 submetrics exist only where thresholds asked).
		t := b.total
		f.Total.Latency = t.Latency
		if t.Requests > 0 {
			f.Total.Requests, f.Total.Errors = t.Requests, t.Errors
			f.Total.ErrorRate = float64(t.Errors) / float64(t.Requests)
			if t.Bytes > 0 {
				f.Total.Bytes = t.Bytes
			}
			if len(t.Status) > 0 {
				f.Total.Status = t.Status
			}
			if elapsed > 0 {
				f.Total.ThroughputRPS = round3(float64(t.Requests) / elapsed.Seconds())
			}
		}
		if elapsed <= 0 && t.ThroughputRPS > 0 {
			f.Total.ThroughputRPS = t.ThroughputRPS
		}
		f.Total.Precision = results.PrecisionAggregate
	}
	if f.Total.Precision == "" {
		f.Total.Precision = results.PrecisionExact
	}
	if b.total == nil && f.Total.Precision == results.PrecisionAggregate {
		// Summaries do not merge: the one endpoint's figures are the total's,
		// several endpoints' percentiles have no honest total.
		if len(f.Endpoints) == 1 {
			f.Total.Latency = f.Endpoints[0].Latency
		} else {
			u := results.Unmeasured
			f.Total.Latency = results.Summary{P50: u, P90: u, P95: u, P99: u, P999: u, Max: u, Mean: u}
		}
	}
	if b.total != nil && b.total.Requests > sent {
		sent = b.total.Requests
	}
	f.Validity.Sent = sent
	// An import cannot know what the tool meant to send; it records what it sent.
	f.Validity.Scheduled = sent
	if b.dropped > 0 {
		f.Validity.Valid = false
		f.Validity.Dropped = b.dropped
		f.Validity.Reasons = append(f.Validity.Reasons, fmt.Sprintf(
			"%s dropped %d iterations: its executor could not start them on schedule (generator saturated or too few VUs)", b.droppedBy, b.dropped))
	}
	for _, file := range b.skipList {
		f.Validity.Reasons = append(f.Validity.Reasons, fmt.Sprintf("skipped %d malformed line(s) in %s", b.skipped[file], file))
	}
	f.Validity.Reasons = append(f.Validity.Reasons, b.warnings...)
	if sent == 0 {
		// An empty or header-only file, or a tool that wrote nothing: the
		// results are invalid, never a run of zero requests that passes.
		msg := "the import holds no requests: nothing was measured (an empty or header-only file, or a tool that wrote nothing?)"
		for _, e := range f.Endpoints {
			if len(e.ErrorKinds) > 0 {
				msg = "the import holds failure counts but no requests (a Locust _failures.csv alone?): import it with its _stats.csv or _stats_history.csv"
				break
			}
		}
		f.Validity.Valid = false
		f.Validity.AddCauses(results.CauseNoRequests)
		f.Validity.Reasons = append([]string{msg}, f.Validity.Reasons...)
		b.logf("WARNING: %s", msg)
	}
	return f
}

// Skipped returns how many malformed lines an import skipped, read back from
// the results' validity reasons.
func Skipped(f *results.File) int64 {
	var n int64
	for _, r := range f.Validity.Reasons {
		var k int64
		var rest string
		if c, _ := fmt.Sscanf(r, "skipped %d malformed line(s) in %s", &k, &rest); c == 2 {
			n += k
		}
	}
	return n
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// msToUS converts milliseconds (possibly fractional) to whole microseconds.
func msToUS(ms float64) int64 { return int64(math.Round(ms * 1000)) }

// parseFloat is strconv.ParseFloat that rejects NaN and infinities, which no
// tool writes for a measurement.
func parseFloat(s string) (float64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return 0, err
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("not a finite number")
	}
	return v, nil
}
