package importers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// k6Line is one line of `k6 run --out json=FILE`: a Metric declaration or a
// Point (sample). http_req_duration points carry the request's tags.
type k6Line struct {
	Type   string `json:"type"`
	Metric string `json:"metric"`
	Data   struct {
		Time  time.Time `json:"time"`
		Value *float64  `json:"value"`
		Tags  k6Tags    `json:"tags"`
	} `json:"data"`
}

type k6Tags struct {
	Name             string `json:"name"`
	URL              string `json:"url"`
	Method           string `json:"method"`
	Status           string `json:"status"`
	ExpectedResponse string `json:"expected_response"`
	ErrorCode        string `json:"error_code"`
	Error            string `json:"error"`
}

var (
	k6DurationMetric = []byte(`"http_req_duration"`)
	k6DroppedMetric  = []byte(`"dropped_iterations"`)
)

// parseK6JSON reads k6's NDJSON output. Only http_req_duration points are
// samples (one per HTTP request, value in ms); other lines are recognised by a
// cheap byte search and not decoded, which is what makes large files fast.
// A point's time is when the response ended; loadgate places the request at
// time − duration (its start), like the other importers.
func parseK6JSON(ctx context.Context, in *input, b *builder) error {
	b.model = "closed"
	var s sample
	return in.lines(ctx, func(n int64, line []byte) error {
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
		if n > 1 && !bytes.Contains(line, k6DurationMetric) && !bytes.Contains(line, k6DroppedMetric) {
			return nil
		}
		var l k6Line
		if err := json.Unmarshal(line, &l); err != nil {
			return b.bad(in.errorf(n, "not a k6 JSON line: %v", err))
		}
		if l.Type != "Point" && l.Type != "Metric" {
			return b.bad(in.errorf(n, "field \"type\": want Point or Metric, got %q", l.Type))
		}
		if l.Type == "Point" && l.Metric == "dropped_iterations" && l.Data.Value != nil && *l.Data.Value > 0 {
			b.dropped += int64(*l.Data.Value)
			b.droppedBy = "k6"
			return nil
		}
		if l.Type != "Point" || l.Metric != "http_req_duration" {
			return nil
		}
		if l.Data.Value == nil || *l.Data.Value < 0 {
			return b.bad(in.errorf(n, "field \"data.value\": missing or negative"))
		}
		if err := checkTime(l.Data.Time); err != nil {
			return b.bad(in.errorf(n, "field \"data.time\": %v", err))
		}
		tg := &l.Data.Tags
		lat := msToUS(*l.Data.Value)
		end := l.Data.Time.UnixNano()
		s = sample{label: tg.Name, method: tg.Method, url: tg.URL, t: end - lat*1000, end: end, latencyUS: lat}
		if tg.Name == tg.URL {
			s.label = "" // k6's default name tag is the URL: name by method + path
		}
		code := atoiStatus(tg.Status)
		if code > 0 {
			s.status = strconv.Itoa(code)
		}
		failed := statusFailed(code)
		switch tg.ExpectedResponse {
		case "true":
			failed = false
		case "false":
			failed = true
		}
		if failed {
			s.errKind = k6ErrorKind(tg.ErrorCode, tg.Error, code)
		}
		return b.addLine(in, n, &s)
	})
}

// k6ErrorKind maps k6's error_code tag (docs: "Error codes") to loadgate's classes.
func k6ErrorKind(codeTag, msg string, status int) string {
	c, _ := strconv.Atoi(codeTag)
	switch {
	case c == 1050 || c == 1211:
		return runners.ErrTimeout // request timeout, TCP dial timeout
	case c >= 1100 && c < 1200:
		return runners.ErrDNS
	case c == 1212:
		return runners.ErrRefused
	case c == 1220:
		return runners.ErrReset
	case c >= 1300 && c < 1400:
		return runners.ErrTLS
	case c >= 1400 && c < 1600:
		return runners.ErrStatus // HTTP 4xx / 5xx
	}
	return classify(msg, status)
}

// k6SummaryMetric is a metric of the end-of-test summary, in either form k6
// writes: `--summary-export` puts the figures at the top level
// ({"avg":…,"p(95)":…} / {"count":…,"rate":…} / {"passes":…,"fails":…}),
// handleSummary's data nests them under "values".
type k6SummaryMetric map[string]json.RawMessage

func (m k6SummaryMetric) values() map[string]float64 {
	src := map[string]json.RawMessage(m)
	if raw, ok := m["values"]; ok {
		var nested map[string]json.RawMessage
		if json.Unmarshal(raw, &nested) == nil {
			src = nested
		}
	}
	out := map[string]float64{}
	for k, v := range src {
		var f float64
		if json.Unmarshal(v, &f) == nil {
			out[k] = f
		}
	}
	return out
}

type k6Summary struct {
	Metrics map[string]k6SummaryMetric `json:"metrics"`
	State   struct {
		TestRunDurationMs float64 `json:"testRunDurationMs"`
	} `json:"state"`
}

// K6SummaryEndpoint names the all-requests endpoint of a k6 summary import
// (http_req_duration without a name submetric).
const K6SummaryEndpoint = "all"

// parseK6Summary reads the end-of-test summary JSON (`k6 run
// --summary-export=FILE`, or the data handleSummary receives, written with
// JSON.stringify). It holds only aggregates: endpoints are precision
// "aggregate". Per-endpoint figures exist only for submetrics the script
// declared with thresholds, e.g. 'http_req_duration{name:login}'.
func parseK6Summary(_ context.Context, in *input, b *builder) error {
	b.model = "closed"
	var sum k6Summary
	dec := json.NewDecoder(io.LimitReader(in.r, 64<<20))
	if err := dec.Decode(&sum); err != nil {
		return in.errorf(0, "not a k6 summary JSON: %v", err)
	}
	dur, ok := sum.Metrics["http_req_duration"]
	if !ok {
		return in.errorf(0, "not a k6 summary JSON: no \"metrics.http_req_duration\" (did the test make HTTP requests?)")
	}
	set := func(e *results.Endpoint, d k6SummaryMetric, reqs, failed k6SummaryMetric) {
		v := d.values()
		// The summary holds only the stats summaryTrendStats asked for (by
		// default no p(99) or p(99.9)): an absent one is unmeasured, not 0.
		fig := func(k string) float64 {
			if x, ok := v[k]; ok {
				return round3(x)
			}
			return results.Unmeasured
		}
		e.Latency = results.Summary{
			P50: fig("med"), P90: fig("p(90)"), P95: fig("p(95)"), P99: fig("p(99)"),
			P999: fig("p(99.9)"), Max: fig("max"), Min: fig("min"), Mean: fig("avg"),
		}
		if reqs != nil {
			rv := reqs.values()
			e.Requests = int64(rv["count"])
			e.ThroughputRPS = round3(rv["rate"])
		}
		if failed != nil {
			// http_req_failed is a Rate of "failed" booleans: its "passes" are the
			// non-zero (failed) requests (k6 issue #2386 explains the naming).
			e.Errors = int64(failed.values()["passes"])
		}
	}
	// Submetrics per request name: `http_req_duration{name:GET /users}`.
	var names []string
	for k := range sum.Metrics {
		if tag, ok := strings.CutPrefix(k, "http_req_duration{name:"); ok && strings.HasSuffix(tag, "}") {
			names = append(names, strings.TrimSuffix(tag, "}"))
		}
	}
	sort.Strings(names)
	total := &results.Endpoint{}
	set(total, dur, sum.Metrics["http_reqs"], sum.Metrics["http_req_failed"])
	if len(names) == 0 {
		e, err := b.aggregate(K6SummaryEndpoint)
		if err != nil {
			return in.errorf(0, "%v", err)
		}
		if e.Requests != 0 {
			return in.errorf(0, "cannot combine two k6 summaries: their percentiles do not add up (import the JSON outputs instead)")
		}
		*e = results.Endpoint{Name: e.Name}
		set(e, dur, sum.Metrics["http_reqs"], sum.Metrics["http_req_failed"])
	}
	for _, n := range names {
		if n == "" {
			return in.errorf(0, "metrics: %q has an empty name tag: no endpoint to give its figures to", "http_req_duration{name:}")
		}
		e, err := b.aggregate(n)
		if err != nil {
			return in.errorf(0, "%v", err)
		}
		name := e.Name
		*e = results.Endpoint{Name: name}
		var reqs, failed k6SummaryMetric
		if m, ok := sum.Metrics["http_reqs{name:"+n+"}"]; ok {
			reqs = m
		}
		if m, ok := sum.Metrics["http_req_failed{name:"+n+"}"]; ok {
			failed = m
		}
		set(e, sum.Metrics["http_req_duration{name:"+n+"}"], reqs, failed)
	}
	for _, e := range append([]*results.Endpoint{total}, b.aggregates()...) {
		if e.Requests < 0 || e.Errors < 0 || e.Errors > e.Requests {
			return in.errorf(0, "inconsistent counts for %q: %d requests, %d failed", e.Name, e.Requests, e.Errors)
		}
	}
	if m, ok := sum.Metrics["dropped_iterations"]; ok {
		if n := int64(m.values()["count"]); n > 0 {
			b.dropped += n
			b.droppedBy = "k6"
		}
	}
	b.total = total
	if sum.State.TestRunDurationMs > 0 {
		b.elapsed = time.Duration(sum.State.TestRunDurationMs * float64(time.Millisecond))
	} else if total.ThroughputRPS > 0 {
		b.elapsed = time.Duration(float64(total.Requests) / total.ThroughputRPS * float64(time.Second))
	}
	return nil
}
