package gate

import (
	"math"
	"sort"

	"github.com/loadgate/loadgate/results"
)

// window is one measured window reduced to what the statistics use.
type window struct {
	requests, errors int64
	seconds          float64
	// vals are the window's own summary figures (ms) by latency metric index.
	vals [nLatency]float64
	// dist is the window's latency distribution as (index into side.values,
	// count), ascending; nil when the window carries no histogram.
	dist []bucket
}

type bucket struct {
	idx   int32
	count int64
}

// Latency metrics in stat-array order.
var latencyMetrics = [...]Metric{P50, P90, P95, P99, Max}

const (
	nLatency = len(latencyMetrics)
	// stat indexes: the latency metrics, then throughput and error rate.
	statThroughput = nLatency
	statErrorRate  = nLatency + 1
	nStats         = nLatency + 2
)

func statIndex(m Metric) int {
	for i, l := range latencyMetrics {
		if l == m {
			return i
		}
	}
	switch m {
	case Throughput:
		return statThroughput
	case ErrorRate:
		return statErrorRate
	}
	return -1
}

// side is one side of a comparison for one endpoint: windows grouped by run.
type side struct {
	// runs[r] are the indexes into wins of run r's windows.
	runs [][]int
	wins []window
	// values are the distinct latency values (µs) of all windows, ascending.
	values []int64
	// hist is true when every window with requests carries a histogram, so
	// quantiles come from the merged distribution (exact) rather than from the
	// median of per-window summaries.
	hist bool
	// requests and errors over all measured windows.
	requests, errors int64
}

// newSide builds a side from endpoint data of one or more runs. Endpoints
// without windows contribute nothing (callers check precision first).
func newSide(eps []*results.Endpoint, warmupExcluded bool) *side {
	s := &side{hist: true}
	type raw struct {
		w    window
		vals []int64
		cnts []int64
	}
	var raws []raw
	for _, e := range eps {
		var run []int
		src := e.Windows
		if warmupExcluded {
			src = e.MeasuredWindows()
		}
		for _, w := range src {
			secs := w.Width.D().Seconds()
			if secs <= 0 {
				secs = 1
			}
			r := raw{w: window{requests: w.Requests, errors: w.Errors, seconds: secs,
				vals: [nLatency]float64{w.P50, w.P90, w.P95, w.P99, w.Max}}}
			if w.Histogram != nil && w.Histogram.Count() > 0 {
				w.Histogram.Distribution(func(v, c int64) {
					r.vals = append(r.vals, v)
					r.cnts = append(r.cnts, c)
				})
				r.w.vals = distQuantiles(r.vals, r.cnts)
			} else if w.Requests > 0 {
				s.hist = false
			}
			run = append(run, len(raws))
			raws = append(raws, r)
			s.requests += w.Requests
			s.errors += w.Errors
		}
		s.runs = append(s.runs, run)
	}
	if s.hist {
		seen := map[int64]bool{}
		for _, r := range raws {
			for _, v := range r.vals {
				if !seen[v] {
					seen[v] = true
					s.values = append(s.values, v)
				}
			}
		}
		sort.Slice(s.values, func(i, j int) bool { return s.values[i] < s.values[j] })
		pos := make(map[int64]int32, len(s.values))
		for i, v := range s.values {
			pos[v] = int32(i)
		}
		for i := range raws {
			for j, v := range raws[i].vals {
				raws[i].w.dist = append(raws[i].w.dist, bucket{pos[v], raws[i].cnts[j]})
			}
		}
	}
	s.wins = make([]window, len(raws))
	for i, r := range raws {
		s.wins[i] = r.w
	}
	return s
}

// distQuantiles are the latency metrics (ms) of one distribution of ascending
// values (µs) and their counts, by HdrHistogram's rank rule, so they equal the
// histogram's own Summary without walking it again.
func distQuantiles(vals, cnts []int64) [nLatency]float64 {
	var out [nLatency]float64
	var total int64
	for _, c := range cnts {
		total += c
	}
	if total == 0 {
		return out
	}
	out[statIndex(Max)] = float64(vals[len(vals)-1]) / 1000
	var cum int64
	li := 0
	for i, c := range cnts {
		cum += c
		for li < nLatency-1 && cum >= rankOf(latencyMetrics[li], total) {
			out[li] = float64(vals[i]) / 1000
			li++
		}
	}
	return out
}

// rankOf is the rank HdrHistogram's ValueAtQuantile reads for metric m among
// total values: round(q × total), at least 1.
func rankOf(m Metric, total int64) int64 {
	q, _ := quantileOf(m)
	return max(1, int64(q*float64(total)+0.5))
}

// nonEmpty counts windows with at least one request.
func (s *side) nonEmpty() int {
	n := 0
	for _, w := range s.wins {
		if w.requests > 0 {
			n++
		}
	}
	return n
}

// scratch holds reusable buffers for stats.
type scratch struct {
	counts []int64
	vals   []float64
	wts    []float64
}

// stats computes every statistic of the side with window i counted weight[i]
// times (nil weight = every window once). Latencies in ms, throughput in rps,
// error rate in percent. NaN marks a statistic without data.
func (s *side) stats(weight []int32, sc *scratch, out *[nStats]float64) {
	var req, errs int64
	var secs float64
	for i, w := range s.wins {
		m := int64(1)
		if weight != nil {
			m = int64(weight[i])
		}
		if m == 0 {
			continue
		}
		req += m * w.requests
		errs += m * w.errors
		secs += float64(m) * w.seconds
	}
	for i := range out {
		out[i] = math.NaN()
	}
	if secs > 0 {
		out[statThroughput] = float64(req) / secs
	}
	if req > 0 {
		out[statErrorRate] = 100 * float64(errs) / float64(req)
	}
	if req == 0 {
		return
	}
	if s.hist {
		s.histQuantiles(weight, sc, out)
		return
	}
	for li := range latencyMetrics {
		sc.vals, sc.wts = sc.vals[:0], sc.wts[:0]
		for i, w := range s.wins {
			m := 1.0
			if weight != nil {
				m = float64(weight[i])
			}
			if m == 0 || w.requests == 0 {
				continue
			}
			sc.vals = append(sc.vals, w.vals[li])
			sc.wts = append(sc.wts, m)
		}
		out[li] = weightedMedian(sc.vals, sc.wts)
	}
}

// histQuantiles finds the quantiles of the union of the weighted windows'
// distributions, with HdrHistogram's rank rule so that unweighted results equal
// results.Histogram.Quantile of the merged histogram.
func (s *side) histQuantiles(weight []int32, sc *scratch, out *[nStats]float64) {
	if cap(sc.counts) < len(s.values) {
		sc.counts = make([]int64, len(s.values))
	}
	counts := sc.counts[:len(s.values)]
	clear(counts)
	var total int64
	hi := -1
	for i, w := range s.wins {
		m := int64(1)
		if weight != nil {
			m = int64(weight[i])
		}
		if m == 0 {
			continue
		}
		for _, b := range w.dist {
			counts[b.idx] += m * b.count
			total += m * b.count
			if int(b.idx) > hi {
				hi = int(b.idx)
			}
		}
	}
	if total == 0 {
		return
	}
	out[statIndex(Max)] = float64(s.values[hi]) / 1000
	var targets [nLatency - 1]int64
	for li := range targets {
		targets[li] = rankOf(latencyMetrics[li], total)
	}
	var cum int64
	li := 0
	for i := 0; i <= hi && li < nLatency-1; i++ {
		cum += counts[i]
		for li < nLatency-1 && cum >= targets[li] {
			out[li] = float64(s.values[i]) / 1000
			li++
		}
	}
}

// weightedMedian is the lower weighted median of vals.
func weightedMedian(vals, wts []float64) float64 {
	if len(vals) == 0 {
		return math.NaN()
	}
	idx := make([]int, len(vals))
	var total float64
	for i := range idx {
		idx[i] = i
		total += wts[i]
	}
	sort.Slice(idx, func(a, b int) bool { return vals[idx[a]] < vals[idx[b]] })
	var cum float64
	for _, i := range idx {
		cum += wts[i]
		if cum >= total/2 {
			return vals[i]
		}
	}
	return vals[idx[len(idx)-1]]
}

// perWindow returns each non-empty window's value of stat si (the samples of
// the rank tests).
func (s *side) perWindow(si int, run int) []float64 {
	idx := s.runs[run]
	out := make([]float64, 0, len(idx))
	for _, i := range idx {
		w := s.wins[i]
		switch si {
		case statThroughput:
			out = append(out, float64(w.requests)/w.seconds)
		case statErrorRate:
			if w.requests > 0 {
				out = append(out, 100*float64(w.errors)/float64(w.requests))
			}
		default:
			if w.requests > 0 {
				out = append(out, w.vals[si])
			}
		}
	}
	return out
}

// pooled returns perWindow over all runs.
func (s *side) pooled(si int) []float64 {
	var out []float64
	for r := range s.runs {
		out = append(out, s.perWindow(si, r)...)
	}
	return out
}

// runWeights returns weights selecting only run r's windows.
func (s *side) runWeights(r int) []int32 {
	w := make([]int32, len(s.wins))
	for _, i := range s.runs[r] {
		w[i] = 1
	}
	return w
}
