package report

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

// unmeasuredInput is an imported k6 summary compared with a baseline import
// of the same test: the head's summary has no p(99), so its p99 check and
// its p99 SLO cannot be made; "browse" measured everything on both sides.
func unmeasuredInput() Input {
	agg := func(label string, slower, p99 float64) *results.File {
		start := fixtureStart
		f := &results.File{Schema: results.Schema, Plan: results.PlanRef{Name: "checkout-api", Hash: "sha256:4f2a9c"},
			Run:      results.Run{ID: "run-" + label, Runner: "import", Label: label, Started: start, Ended: start.Add(60 * time.Second)},
			Profile:  results.Profile{Type: "load"},
			Validity: results.Validity{Valid: true}}
		for _, e := range []struct {
			name          string
			p50, p95, p99 float64
		}{{"browse", 11, 19, 26}, {"checkout", 31, 58, p99}} {
			f.Endpoints = append(f.Endpoints, results.Endpoint{Name: e.name, Precision: results.PrecisionAggregate,
				Requests: 6000, Errors: 6, ThroughputRPS: 100 / slower,
				Latency: results.Summary{P50: e.p50 * slower, P90: e.p95 * 0.9 * slower, P95: e.p95 * slower, P99: e.p99 * slower,
					P999: results.Unmeasured, Max: 140}})
		}
		f.Total = results.Endpoint{Name: "total", Precision: results.PrecisionAggregate, Requests: 12000, Errors: 12, ErrorRate: 0.001,
			ThroughputRPS: 200 / slower, Latency: results.Summary{P50: 20 * slower, P90: 50 * slower, P95: 55 * slower, P99: p99 * slower,
				P999: results.Unmeasured, Max: 140}}
		return f
	}
	// The head is 3 % slower; its checkout p99 and total p99 were not measured.
	base, head := agg("base", 1, 83), agg("head", 1.03, results.Unmeasured)
	head.Endpoints[0].Latency.P99 = 27 // browse's p99 is measured
	pol := gate.DefaultPolicy()
	pol.SLO = map[gate.Metric]float64{gate.P99: 300}
	v := gate.Compare([]*results.File{base}, head, pol)
	return Input{Verdict: v, Head: head, Base: []*results.File{base}}
}

// A check a side did not measure reads as what it is in every format: "—"
// for the missing figure and "not measured" for the change, never a
// measured-looking "0.00 ms … +0.0%"; JSON carries null for the absent side.
func TestGoldenNotMeasured(t *testing.T) {
	t.Parallel()
	in := unmeasuredInput()
	ev := in.Verdict.Endpoints[1]
	if ev.Name != "checkout" || ev.Decision != gate.Inconclusive || in.Verdict.Decision != gate.Inconclusive {
		t.Fatalf("fixture: %s %s, verdict %s; want checkout inconclusive", ev.Name, ev.Decision, in.Verdict.Decision)
	}
	golden(t, "verdict-unmeasured.txt", render(t, "text", in, Options{}))
	golden(t, "verdict-unmeasured.md", render(t, "markdown", in, Options{}))
	golden(t, "verdict-unmeasured.json", render(t, "json", in, Options{}))
	golden(t, "verdict-unmeasured.junit.xml", render(t, "junit", in, Options{}))
	golden(t, "verdict-unmeasured.html", render(t, "html", in, Options{}))

	for _, f := range []string{"text", "markdown", "junit", "html"} {
		out := string(render(t, f, in, Options{}))
		if !strings.Contains(out, "not measured") {
			t.Errorf("%s does not say the p99 check was not measured", f)
		}
		for _, bad := range []string{"0.00 ms", "+0.0%", "-100.0%"} {
			if strings.Contains(out, bad) {
				t.Errorf("%s shows %q: an unmeasured figure read as a measurement", f, bad)
			}
		}
	}
	var p99, slo *gate.Check
	for i := range ev.Checks {
		c := &ev.Checks[i]
		if c.Metric == gate.P99 && c.Kind == "baseline" {
			p99 = c
		}
		if c.Metric == gate.P99 && c.Kind == "slo" {
			slo = c
		}
	}
	if p99 == nil || slo == nil {
		t.Fatalf("checkout checks %+v: want a p99 baseline check and a p99 SLO check", ev.Checks)
	}
	if got, want := CheckMessage(*p99), "p99 83.0 ms → — not measured (tolerance +20%)"; got != want {
		t.Errorf("CheckMessage = %q, want %q", got, want)
	}
	if got, want := CheckMessage(*slo), "p99 — (SLO 300 ms)"; got != want {
		t.Errorf("CheckMessage(SLO) = %q, want %q", got, want)
	}
	if got := ShortChange(*p99); got != "not measured" {
		t.Errorf("ShortChange = %q", got)
	}
	ann := Annotations(in.Verdict, "loadgate.yaml", nil)
	if len(ann) != 1 || ann[0].Level != AnnotationWarning || !strings.Contains(ann[0].Message, "not measured") {
		t.Errorf("annotations %+v, want one warning saying not measured", ann)
	}

	// JSON: the absent side and the change are null, the measured side kept,
	// and a decoded document still knows which side is absent.
	var doc struct {
		Verdict struct {
			Endpoints []struct {
				Checks []map[string]any `json:"checks"`
			} `json:"endpoints"`
		} `json:"verdict"`
	}
	raw := render(t, "json", in, Options{})
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, c := range doc.Verdict.Endpoints[1].Checks {
		if c["metric"] != "p99" || c["kind"] != "baseline" {
			continue
		}
		found = true
		if c["head"] != nil || c["delta"] != nil || c["base"] != 83.0 {
			t.Errorf("JSON p99 check base %v head %v delta %v, want 83, null, null", c["base"], c["head"], c["delta"])
		}
		if nm, _ := c["not_measured"].([]any); len(nm) != 1 || nm[0] != gate.SideHead {
			t.Errorf("JSON not_measured = %v", c["not_measured"])
		}
	}
	if !found {
		t.Error("JSON has no p99 baseline check for checkout")
	}
	d, err := DecodeVerdict(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range d.Verdict.Endpoints[1].Checks {
		if c.Metric == gate.P99 && c.Kind == "baseline" && (c.Measured(gate.SideHead) || !c.Measured(gate.SideBase) || c.Base != 83) {
			t.Errorf("decoded p99 check %+v", c)
		}
	}
}

// A p95 a side did not measure gets no bar in the Markdown chart (its
// Figures hold 0 there, which would draw as "0 % of baseline").
func TestMermaidSkipsUnmeasuredP95(t *testing.T) {
	t.Parallel()
	in := unmeasuredInput()
	v := *in.Verdict
	v.Endpoints = append([]gate.EndpointVerdict(nil), v.Endpoints...)
	h := *v.Endpoints[1].Head
	h.P95, h.Unmeasured = 0, append(h.Unmeasured, gate.P95)
	v.Endpoints[1].Head = &h
	chart := mermaidChart(&v, 0)
	if strings.Contains(chart, `"checkout"`) || !strings.Contains(chart, `"browse"`) || strings.Contains(chart, "bar [0") {
		t.Errorf("chart with checkout's p95 unmeasured:\n%s", chart)
	}
}
