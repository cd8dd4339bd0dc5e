package gate

import (
	"fmt"
	"strings"

	"github.com/loadgate/loadgate/results"
)

// Server time (docs/statistics.md "Server time (Server-Timing)"). A target
// that reports its own duration per response (W3C Server-Timing) gives a
// second latency: the time inside the server, without the network and
// without either machine's scheduling queue in front of the application.
// On a busy 2-core runner that queue is most of the client-seen p95 and is
// the same on both sides, so a handler 20 % slower moves the client figure by
// a few per cent and the server figure by 20 %.
//
// When both sides of an endpoint carry enough server samples, every latency
// percentile the policy checks on that endpoint gets a second check on server
// time ("server p95"): same tolerance, same tests, in the same family (paired
// mode's max-T over the swaps, committed mode's Bonferroni count), so adding
// them widens the family and keeps its level. Client-seen latency stays
// checked as before; an endpoint regresses when any of its checks does.
// Server checks are added only where the data allow a decision by the
// latency checks' own rules (windows or pairs, requests per side): a thin
// Server-Timing series says so in a note rather than turn a passing endpoint
// inconclusive.

// SourceServer marks a check made on the durations the target reported in
// its Server-Timing header (Check.Source).
const SourceServer = "server"

// serverView is e with each window's Server-Timing samples in place of its
// latency samples (requests = responses that carried the metric), so the
// latency statistics apply unchanged. Windows without server samples are
// empty; warm-up marks and widths are kept, so window i is still slot i.
func serverView(e *results.Endpoint) *results.Endpoint {
	v := &results.Endpoint{Name: e.Name, Precision: e.Precision, Windows: make([]results.Window, len(e.Windows))}
	for i, w := range e.Windows {
		sw := results.Window{Start: w.Start, Width: w.Width, Warmup: w.Warmup}
		if h := w.ServerHistogram; h != nil && h.Count() > 0 {
			sw.Requests, sw.Histogram = h.Count(), h
			sw.P50, sw.P90, sw.P95, sw.P99, sw.Max = w.ServerP50, w.ServerP90, w.ServerP95, w.ServerP99, w.ServerMax
		}
		v.Windows[i] = sw
	}
	return v
}

func serverViews(eps []*results.Endpoint) []*results.Endpoint {
	out := make([]*results.Endpoint, len(eps))
	for i, e := range eps {
		out[i] = serverView(e)
	}
	return out
}

// hasServerTime says whether any window of e (warm-up excluded when the
// policy excludes it) carries Server-Timing samples.
func hasServerTime(e *results.Endpoint, warmupExcluded bool) bool {
	for _, w := range e.Windows {
		if warmupExcluded && w.Warmup {
			continue
		}
		if w.ServerHistogram != nil && w.ServerHistogram.Count() > 0 {
			return true
		}
	}
	return false
}

// serverCounts are what the evidence rules need of one side's server samples.
type serverCounts struct {
	samples int64
	// windows with samples, and per measured window how many it has
	// (paired mode counts pairs where both have some).
	windows int
	per     []int64
}

// truncate keeps the first n windows, as paired mode aligns them.
func (sc *serverCounts) truncate(n int) {
	sc.per = sc.per[:min(n, len(sc.per))]
	sc.samples, sc.windows = 0, 0
	for _, c := range sc.per {
		sc.samples += c
		if c > 0 {
			sc.windows++
		}
	}
}

func countServer(eps []*results.Endpoint, warmupExcluded bool) serverCounts {
	var sc serverCounts
	for _, e := range eps {
		for _, w := range e.Windows {
			if warmupExcluded && w.Warmup {
				continue
			}
			n := int64(0)
			if w.ServerHistogram != nil {
				n = w.ServerHistogram.Count()
			}
			sc.samples += n
			sc.per = append(sc.per, n)
			if n > 0 {
				sc.windows++
			}
		}
	}
	return sc
}

// serverMetrics decides which server-time checks an endpoint gets: the
// latency percentiles its policy checks (max is one request, which server
// time cannot make more telling), when both sides have Server-Timing samples
// enough for the percentile by the latency checks' rules. note explains
// whatever is left out ("" when nothing is); it is never a failure. The
// decision depends on sample counts only, never on the values, so it is the
// same under every swap of the randomization test and A/A stays exact.
func (c *comparer) serverMetrics(name string, bes []*results.Endpoint, he *results.Endpoint) (out []metricTol, note string) {
	if len(bes) == 0 || he == nil {
		return nil, ""
	}
	inHead := hasServerTime(he, c.pol.WarmupExcluded)
	inBase := false
	for _, be := range bes {
		inBase = inBase || hasServerTime(be, c.pol.WarmupExcluded)
	}
	if !inHead && !inBase {
		// The common case, and the only cost a target without
		// Server-Timing pays: one look at each window.
		return nil, ""
	}
	var pcts []metricTol
	for _, mt := range c.pol.thresholds(name) {
		if q, ok := quantileOf(mt.m); ok && q < 1 {
			pcts = append(pcts, mt)
		}
	}
	if len(pcts) == 0 {
		return nil, ""
	}
	headName, baseName := "this run", "the baseline"
	if c.paired {
		headName, baseName = "head", "base"
	}
	switch {
	case !inBase:
		note = fmt.Sprintf("server time: only %s reported Server-Timing, %s did not: no server-time checks", headName, baseName)
		if !c.paired {
			note += " until the baseline is recorded again"
		}
		return nil, note
	case !inHead:
		return nil, fmt.Sprintf("server time: only %s reported Server-Timing, %s did not: no server-time checks", baseName, headName)
	}
	hc := countServer([]*results.Endpoint{he}, c.pol.WarmupExcluded)
	bc := countServer(bes, c.pol.WarmupExcluded)
	hw, bw := hc.windows, bc.windows
	minUnits := c.pol.MinWindows
	if c.paired {
		n := min(len(hc.per), len(bc.per))
		hc.truncate(n)
		bc.truncate(n)
		pairs := 0
		for i := range n {
			if hc.per[i] > 0 && bc.per[i] > 0 {
				pairs++
			}
		}
		hw, bw = pairs, pairs
		minUnits = max(minUnits, minPairsForLevel(1-c.pol.Confidence))
	}
	var left []string
	var needLeft int64
	for _, mt := range pcts {
		need := c.pol.requiredRequests(mt.m)
		if hw < minUnits || bw < minUnits || hc.samples < need || bc.samples < need {
			left = append(left, string(mt.m))
			needLeft = max(needLeft, need)
			continue
		}
		out = append(out, mt)
	}
	if len(left) > 0 {
		unit := "windows"
		if c.paired {
			unit = "pairs"
		}
		note = fmt.Sprintf("server time: too few Server-Timing samples for %s (%s %d in %d %s, %s %d in %d; want ≥ %d %s and ≥ %d samples per side): not checked",
			strings.Join(left, ", "), headName, hc.samples, hw, unit, baseName, bc.samples, bw, minUnits, unit, needLeft)
	}
	return out, note
}
