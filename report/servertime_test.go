package report

import (
	"strings"
	"testing"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

func serverChk(m gate.Metric, base, head, delta, lo, hi, p float64, sig bool, tol string, d gate.Decision, warn ...string) gate.Check {
	c := chk(m, "ms", base, head, delta, lo, hi, p, sig, tol, d, warn...)
	c.Source = gate.SourceServer
	return c
}

// serverTimeInput is a paired verdict on a busy runner where the target
// reports Server-Timing: create-order's handler slowed by a fifth, which its
// client-seen p95 (mostly queueing) barely shows and its server p95 does;
// search reported Server-Timing on the head side only.
func serverTimeInput() Input {
	head, base := fixtureFiles()
	b := base[0]
	ev := func(name string, d gate.Decision, checks []gate.Check, warn ...string) gate.EndpointVerdict {
		return gate.EndpointVerdict{Name: name, Decision: d, Checks: checks, Warnings: warn, Base: figs(b, name), Head: figs(head, name)}
	}
	v := &gate.Verdict{
		Plan: "checkout-api", Decision: gate.Regressed, Mode: gate.ModePaired, BaseRuns: 1, Confidence: 0.95,
		Endpoints: []gate.EndpointVerdict{
			ev("list-products", gate.Pass, []gate.Check{
				chk(gate.P95, "ms", 19.6, 19.9, 0.015, -0.021, 0.034, 0.41, false, "+10%", gate.Pass),
				chk(gate.P99, "ms", 24.1, 24.3, 0.008, -0.04, 0.05, 0.62, false, "+20%", gate.Pass),
				chk(gate.Throughput, "rps", 200, 200, 0, -0.01, 0.01, 0.97, false, "-5%", gate.Pass),
				serverChk(gate.P95, 3.1, 3.12, 0.006, -0.03, 0.04, 0.8, false, "+10%", gate.Pass),
				serverChk(gate.P99, 4.4, 4.41, 0.002, -0.05, 0.06, 0.9, false, "+20%", gate.Pass),
			}),
			ev("create-order", gate.Regressed, []gate.Check{
				chk(gate.P95, "ms", 70.2, 71.0, 0.012, -0.03, 0.06, 0.52, false, "+10%", gate.Pass),
				chk(gate.P99, "ms", 90.5, 91.8, 0.014, -0.05, 0.08, 0.7, false, "+20%", gate.Pass),
				chk(gate.Throughput, "rps", 60, 60, 0, -0.01, 0.01, 0.99, false, "-5%", gate.Pass),
				serverChk(gate.P95, 8.2, 9.9, 0.207, 0.15, 0.26, 0.001, true, "+10%", gate.Regressed),
				serverChk(gate.P99, 11.4, 13.5, 0.184, 0.09, 0.28, 0.004, true, "+20%", gate.Pass,
					"the interval reaches +28.0 %, beyond the tolerance +20%: this run cannot rule out a change that large; about 1.8× the requests (a longer run or a higher rate) would be needed to keep it within the tolerance"),
			}),
			ev("search", gate.Pass, []gate.Check{
				chk(gate.P95, "ms", 173, 171, -0.012, -0.05, 0.03, 0.6, false, "+10%", gate.Pass),
			}, "server time: only head reported Server-Timing, base did not: no server-time checks"),
		},
	}
	h := *head
	return Input{Verdict: v, Head: &h, Base: []*results.File{b}}
}

// Server-time checks appear in every report like latency checks, labelled
// "server p95", after the latency rows they mirror.
func TestGoldenServerTime(t *testing.T) {
	t.Parallel()
	in := serverTimeInput()
	golden(t, "verdict-server.txt", render(t, "text", in, Options{}))
	golden(t, "verdict-server.md", render(t, "markdown", in, Options{}))
	golden(t, "verdict-server.json", render(t, "json", in, Options{}))
	golden(t, "verdict-server.junit.xml", render(t, "junit", in, Options{}))
	golden(t, "verdict-server.html", render(t, "html", in, Options{}))

	if got, want := CheckTitle(in.Verdict), "1 regression: create-order server p95 +20.7%"; got != want {
		t.Errorf("CheckTitle = %q, want %q", got, want)
	}
	var order []string
	for _, r := range buildTable(in.Verdict).Endpoints[0].Rows {
		order = append(order, r.Metric)
	}
	if got := strings.Join(order, ","); got != "p50,p95,p99,throughput,error_rate,server p95,server p99" {
		t.Errorf("create-order rows %s", got)
	}
	msg := EndpointMessage(in.Verdict.Endpoints[1])
	if !strings.Contains(msg, "regressed server p95 8.20 ms → 9.90 ms") {
		t.Errorf("annotation message %q", msg)
	}
	ann := Annotations(in.Verdict, "loadgate.yaml", nil)
	if len(ann) != 1 || ann[0].Level != AnnotationFailure || !strings.Contains(ann[0].Message, "server p95") {
		t.Errorf("annotations %+v", ann)
	}
	doc, err := DecodeVerdict(strings.NewReader(string(render(t, "json", in, Options{}))))
	if err != nil {
		t.Fatal(err)
	}
	if c := doc.Verdict.Endpoints[1].Checks[3]; c.Source != gate.SourceServer || c.Label() != "server p95" {
		t.Errorf("JSON round trip lost the source: %+v", c)
	}
}
