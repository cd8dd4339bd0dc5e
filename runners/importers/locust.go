package importers

import (
	"context"
	"encoding/csv"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/results"
)

// Locust writes, with `locust --headless --csv PREFIX [--csv-full-history]`:
//   - PREFIX_stats.csv: one row per Type+Name with counts, min/avg/max and
//     percentiles (rounded ms), plus an "Aggregated" row;
//   - PREFIX_stats_history.csv: a row per CSV interval (1 s) with cumulative
//     counts and "current" percentiles over Locust's sliding 10 s window, for every
//     Type+Name with --csv-full-history (otherwise only "Aggregated");
//   - PREFIX_failures.csv: Method,Name,Error,Occurrences.
//
// Locust keeps no per-request samples, so every endpoint is precision
// "aggregate". Both locust formats accept any of the three files and combine
// them: figures from _stats, windows from _stats_history, error kinds from
// _failures.

// locustAggregated is the Name of Locust's all-requests row.
const locustAggregated = "Aggregated"

type locustState struct {
	fromStats map[string]bool
	hist      map[string]*locustHist
	// totalWin holds the Aggregated rows' windows of a history written without
	// --csv-full-history, which has no per-name rows.
	totalWin []results.Window
	sawNamed bool
}

type locustHist struct {
	prevTS          int64
	prevReq, prevKO int64
}

func (b *builder) locust() *locustState {
	if b.loc == nil {
		b.loc = &locustState{fromStats: map[string]bool{}, hist: map[string]*locustHist{}}
	}
	return b.loc
}

// locustName is the endpoint name of a Locust Type+Name: a name that is a path
// gets its method in front ("GET /users/{id}"), like the other importers.
func locustName(typ, name string) string {
	if strings.HasPrefix(name, "/") && typ != "" {
		return typ + " " + name
	}
	return name
}

func parseLocust(ctx context.Context, in *input, b *builder) error {
	b.model = "closed"
	cr := csv.NewReader(in.r)
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return in.errorf(1, "empty file")
		}
		return in.errorf(1, "header: %v", err)
	}
	idx := map[string]int{}
	for i, h := range head {
		idx[strings.ToLower(strings.TrimSpace(h))] = i
	}
	has := func(k string) bool { _, ok := idx[k]; return ok }
	switch {
	case has("timestamp") && has("total request count"):
		return parseLocustHistory(ctx, in, b, cr, idx)
	case has("occurrences") && has("error"):
		return parseLocustFailures(ctx, in, b, cr, idx)
	case has("name") && (has("request count") || has("# requests")):
		return parseLocustStats(ctx, in, b, cr, idx)
	}
	return in.errorf(1, "not a Locust CSV (_stats, _stats_history or _failures): header %q", strings.Join(head, ","))
}

// locustRow reads named columns of one record.
type locustRow struct {
	in   *input
	idx  map[string]int
	rec  []string
	line int64
}

func (r *locustRow) str(names ...string) string {
	for _, n := range names {
		if i, ok := r.idx[n]; ok && i < len(r.rec) {
			return strings.TrimSpace(r.rec[i])
		}
	}
	return ""
}

// num parses a numeric column; "N/A" (no data yet) and a missing column are 0.
func (r *locustRow) num(names ...string) (float64, error) {
	s := r.str(names...)
	if s == "" || s == "N/A" {
		return 0, nil
	}
	v, err := parseFloat(s)
	if err != nil {
		return 0, r.in.errorf(r.line, "column %q: not a number %q", names[0], s)
	}
	return v, nil
}

// nums parses several columns, stopping at the first bad one.
func (r *locustRow) nums(dst []*float64, names ...string) error {
	for i, n := range names {
		v, err := r.num(strings.ToLower(n))
		if err != nil {
			return err
		}
		*dst[i] = v
	}
	return nil
}

func readLocustRows(ctx context.Context, in *input, b *builder, cr *csv.Reader, idx map[string]int, fn func(*locustRow) error) error {
	return eachCSVRecord(ctx, in, b, cr, func(rec []string, line int64) error {
		err := fn(&locustRow{in: in, idx: idx, rec: rec, line: line})
		var le *LineError
		if errors.As(err, &le) {
			return b.bad(le)
		}
		return err
	})
}

func parseLocustStats(ctx context.Context, in *input, b *builder, cr *csv.Reader, idx map[string]int) error {
	st := b.locust()
	return readLocustRows(ctx, in, b, cr, idx, func(r *locustRow) error {
		typ, name := r.str("type", "method"), r.str("name")
		var count, fails, med, avg, minv, maxv, size, rps, p50, p90, p95, p99, p999 float64
		countCol, failCol := "request count", "failure count"
		if _, ok := idx[countCol]; !ok { // Locust < 1.0 column names
			countCol, failCol = "# requests", "# failures"
		}
		if err := r.nums([]*float64{&count, &fails, &med, &avg, &minv, &maxv, &size, &rps},
			countCol, failCol, "median response time", "average response time",
			"min response time", "max response time", "average content size", "requests/s"); err != nil {
			return err
		}
		if err := r.nums([]*float64{&p50, &p90, &p95, &p99, &p999}, "50%", "90%", "95%", "99%", "99.9%"); err != nil {
			return err
		}
		if name == "" {
			return in.errorf(r.line, "column \"Name\": empty")
		}
		if p50 == 0 {
			p50 = med
		}
		if count < 0 || fails < 0 || fails > count || count > 1<<53 {
			return in.errorf(r.line, "inconsistent counts (requests %v, failures %v)", count, fails)
		}
		e := &results.Endpoint{}
		if typ == "" && name == locustAggregated {
			b.total = e
			st.fromStats["\x00"] = true
		} else {
			var err error
			if e, err = b.aggregate(locustName(typ, name)); err != nil {
				return err
			}
			st.fromStats[e.Name] = true
			e.Method = typ
		}
		e.Requests, e.Errors = int64(count), int64(fails)
		e.Bytes = int64(size*count + 0.5)
		e.ThroughputRPS = rps
		e.Latency = results.Summary{P50: p50, P90: p90, P95: p95, P99: p99, P999: p999, Max: round3(maxv), Min: round3(minv), Mean: round3(avg)}
		if typ == "" && name == locustAggregated && rps > 0 && b.elapsed == 0 {
			b.elapsed = time.Duration(count / rps * float64(time.Second))
		}
		return nil
	})
}

func parseLocustHistory(ctx context.Context, in *input, b *builder, cr *csv.Reader, idx map[string]int) error {
	st := b.locust()
	st.sawNamed = false
	err := readLocustRows(ctx, in, b, cr, idx, func(r *locustRow) error {
		typ, name := r.str("type"), r.str("name")
		tsS := r.str("timestamp")
		ts, err := strconv.ParseInt(tsS, 10, 64)
		if err != nil || ts <= 0 {
			return in.errorf(r.line, "column \"Timestamp\": not a Unix time %q", tsS)
		}
		var req, ko, p50, p90, p95, p99, maxv, tmed, tavg, tmin, tmax, tsize float64
		if err := r.nums([]*float64{&req, &ko, &p50, &p90, &p95, &p99, &maxv, &tmed, &tavg, &tmin, &tmax, &tsize},
			"total request count", "total failure count", "50%", "90%", "95%", "99%", "100%",
			"total median response time", "total average response time", "total min response time",
			"total max response time", "total average content size"); err != nil {
			return err
		}
		if name == "" {
			return in.errorf(r.line, "column \"Name\": empty")
		}
		if req < 0 || ko < 0 || ko > req || req > 1<<53 {
			return in.errorf(r.line, "inconsistent counts (requests %v, failures %v)", req, ko)
		}
		t := time.Unix(ts, 0).UTC()
		if b.started.IsZero() || t.Before(b.started) {
			b.started = t
		}
		if t.After(b.ended) {
			b.ended = t
		}
		isTotal := typ == "" && name == locustAggregated
		key := locustName(typ, name)
		if isTotal {
			key = "\x00" + locustAggregated
		}
		h := st.hist[key]
		if h == nil {
			h = &locustHist{prevTS: ts - 1}
			st.hist[key] = h
		}
		dReq, dKO := int64(req)-h.prevReq, int64(ko)-h.prevKO
		width := ts - h.prevTS
		if dReq < 0 || dKO < 0 || width <= 0 {
			return in.errorf(r.line, "cumulative counts or timestamps go backwards for %q", name)
		}
		h.prevTS, h.prevReq, h.prevKO = ts, int64(req), int64(ko)
		if isTotal {
			if b.total == nil {
				b.total = &results.Endpoint{}
			}
			if !st.fromStats["\x00"] {
				setLocustTotals(b.total, req, ko, tmed, tavg, tmin, tmax, tsize)
			}
			if dReq > 0 {
				st.totalWin = append(st.totalWin, locustWindow(h.prevTS-width, width, dReq, dKO, p50, p90, p95, p99, maxv))
			}
			return nil
		}
		st.sawNamed = true
		e, err := b.aggregate(key)
		if err != nil {
			return err
		}
		e.Method = typ
		if !st.fromStats[e.Name] {
			setLocustTotals(e, req, ko, tmed, tavg, tmin, tmax, tsize)
		}
		a := b.eps[e.Name]
		if dReq == 0 {
			return nil
		}
		w := locustWindow(h.prevTS-width, width, dReq, dKO, p50, p90, p95, p99, maxv)
		a.windows[w.Start.UnixNano()] = &w
		return nil
	})
	if err == nil && st.sawNamed && b.total != nil {
		// The Aggregated row is every request; the named rows must add up
		// to it, or the totals and the windows built from the named rows
		// would disagree (found by FuzzLocust).
		var reqs, errs int64
		for _, e := range b.aggregates() {
			reqs += e.Requests
			errs += e.Errors
		}
		if reqs != b.total.Requests || errs != b.total.Errors {
			return in.errorf(0, "the %s rows count %d requests and %d failures in all, the named rows %d and %d: an inconsistent history",
				locustAggregated, b.total.Requests, b.total.Errors, reqs, errs)
		}
	}
	if err != nil || st.sawNamed || len(st.totalWin) == 0 || b.total == nil {
		return err
	}
	// Without --csv-full-history there are only Aggregated rows: they become
	// one endpoint so the results still hold windows.
	e, err := b.aggregate(LocustAllEndpoint)
	if err != nil {
		return in.errorf(0, "%v", err)
	}
	name := e.Name
	*e = *b.total
	e.Name = name
	a := b.eps[name]
	for i := range st.totalWin {
		w := st.totalWin[i]
		a.windows[w.Start.UnixNano()] = &w
	}
	st.totalWin = nil
	return nil
}

// LocustAllEndpoint names the endpoint made from a Locust history that has
// only "Aggregated" rows (written without --csv-full-history).
const LocustAllEndpoint = "all"

// locustWindow is the interval (start, start+width] of a history row, in
// seconds. Its percentiles are Locust's "current" ones: a sliding window over
// the last 10 s, not this window alone.
func locustWindow(start, width, reqs, fails int64, p50, p90, p95, p99, maxv float64) results.Window {
	return results.Window{
		Start: time.Unix(start, 0).UTC(), Width: results.Duration(time.Duration(width) * time.Second),
		Requests: reqs, Errors: fails, P50: p50, P90: p90, P95: p95, P99: p99, Max: maxv,
	}
}

func setLocustTotals(e *results.Endpoint, req, ko, med, avg, minv, maxv, size float64) {
	e.Requests, e.Errors = int64(req), int64(ko)
	e.Bytes = int64(size*req + 0.5)
	// The history has only the median of the whole run: p90…p99.9 are
	// unmeasured (null), never 0.
	u := results.Unmeasured
	e.Latency = results.Summary{P50: med, P90: u, P95: u, P99: u, P999: u, Mean: round3(avg), Min: round3(minv), Max: round3(maxv)}
}

func parseLocustFailures(ctx context.Context, in *input, b *builder, cr *csv.Reader, idx map[string]int) error {
	return readLocustRows(ctx, in, b, cr, idx, func(r *locustRow) error {
		typ, name, msg := r.str("method", "type"), r.str("name"), r.str("error")
		n, err := r.num("occurrences")
		if err != nil {
			return err
		}
		if name == "" {
			return in.errorf(r.line, "column \"Name\": empty")
		}
		e, err := b.aggregate(locustName(typ, name))
		if err != nil {
			return err
		}
		if e.ErrorKinds == nil {
			e.ErrorKinds = map[string]int64{}
		}
		e.ErrorKinds[classify(msg, locustErrorStatus(msg))] += int64(n)
		return nil
	})
}

// locustErrorStatus finds the status in requests' HTTPError text,
// "HTTPError('500 Server Error: …')", or returns 0.
func locustErrorStatus(msg string) int {
	i := strings.Index(msg, "HTTPError(")
	if i < 0 {
		return 0
	}
	rest := strings.TrimLeft(msg[i+len("HTTPError("):], "'\"")
	if len(rest) < 3 {
		return 0
	}
	return atoiStatus(rest[:3])
}
