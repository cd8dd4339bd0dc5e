package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/results"
)

// cli runs the CLI in process with its own environment.
func cli(t *testing.T, ctx context.Context, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string { return env[k] }
	code = run(ctx, args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// shortPlan is a 3-second plan (1 s warm-up) against url.
func shortPlan(url string) string {
	return `name: short
target: ` + url + `
endpoints:
  - name: fast
    request: GET /fast
    weight: 3
  - name: slow
    request: GET /delay?ms=5
profile:
  type: load
  rate: 100/s
  duration: 3s
  warmup: 1s
gate:
  p50: +50%
  p95: +100%
`
}

func TestVersion(t *testing.T) {
	t.Parallel()
	code, out, _ := cli(t, context.Background(), nil, "version")
	if code != 0 || !strings.HasPrefix(out, "loadgate ") {
		t.Fatalf("version: code %d, out %q", code, out)
	}
}

func TestUnknownCommandAndFlagAreUsageErrors(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"frobnicate"}, {"run", "--no-such-flag", "x.yaml"}, {"run"}} {
		if code, _, errOut := cli(t, context.Background(), nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, exitUsage)
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := writeFile(t, dir, "good.yaml", shortPlan("http://127.0.0.1:9"))
	if code, out, errOut := cli(t, context.Background(), nil, "validate", good); code != 0 || !strings.Contains(out, "ok") {
		t.Fatalf("good plan: exit %d, %s %s", code, out, errOut)
	}
	bad := writeFile(t, dir, "bad.yaml", `name: x
target: http://127.0.0.1:9
endpoints:
  - name: a
    request: GET /a
    weight: -1
    colour: blue
profile:
  type: load
  rate: -5/s
  duration: 0s
`)
	code, _, errOut := cli(t, context.Background(), nil, "validate", bad)
	if code != exitUsage {
		t.Fatalf("bad plan: exit %d, want %d", code, exitUsage)
	}
	for _, want := range []string{"bad.yaml:6:", "weight", "bad.yaml:7:", "colour", "rate", "duration"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("error output lacks %q:\n%s", want, errOut)
		}
	}
	if code, _, errOut := cli(t, context.Background(), nil, "validate", filepath.Join(dir, "missing.yaml")); code != exitUsage || !strings.Contains(errOut, "missing.yaml") {
		t.Errorf("missing plan: exit %d, %s", code, errOut)
	}
}

func TestRunGateBaselineRoundTrip(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(target.New(target.Options{}))
	defer srv.Close()
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", shortPlan(srv.URL))
	res := filepath.Join(dir, "results.json")
	ctx := context.Background()

	// The lag limit is generous: this test is about the round trip, and
	// beside two CPU burners the generator once fell 7 s behind (exit 4).
	code, out, errOut := cli(t, ctx, nil, "run", planPath, "-o", res, "-q", "--max-schedule-lag", "60s")
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, errOut)
	}
	r, err := results.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Endpoints) != 2 || r.Total.Requests < 250 || r.Run.Env.ToolVersion == "" || r.Plan.Hash == "" {
		t.Fatalf("results: %d endpoints, %d requests, version %q, hash %q", len(r.Endpoints), r.Total.Requests, r.Run.Env.ToolVersion, r.Plan.Hash)
	}

	base := filepath.Join(dir, "baselines", "short.json")
	if err := os.MkdirAll(filepath.Dir(base), 0o755); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := cli(t, ctx, nil, "baseline", "update", res, "--baseline", base); code != 0 {
		t.Fatalf("baseline update: exit %d\n%s\n%s", code, out, errOut)
	}
	b, err := baselines.Load(base)
	if err != nil || len(b.Runs) != 1 {
		t.Fatalf("baseline: %v, %d runs", err, len(b.Runs))
	}

	// The same results against their own baseline: nothing regressed.
	if code, out, errOut := cli(t, ctx, nil, "compare", "--baseline", base, res); code != 0 {
		t.Fatalf("compare with itself: exit %d\n%s\n%s", code, out, errOut)
	}

	// gate runs again and writes reports.
	md := filepath.Join(dir, "summary.md")
	js := filepath.Join(dir, "verdict.json")
	code, out, errOut = cli(t, ctx, nil, "gate", planPath, "-b", base, "-q", "--max-schedule-lag", "60s", "--report", "markdown="+md, "--report", "json="+js)
	if code != 0 && code != exitFail {
		t.Fatalf("gate: exit %d\n%s\n%s", code, out, errOut)
	}
	for _, p := range []string{md, js} {
		if fi, err := os.Stat(p); err != nil || fi.Size() == 0 {
			t.Errorf("report %s not written: %v", p, err)
		}
	}
	if !strings.Contains(out, "fast") || !strings.Contains(out, "slow") {
		t.Errorf("terminal report lacks endpoints:\n%s", out)
	}
}

func TestCompareBadInputs(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	f := &results.File{Schema: results.Schema, Plan: results.PlanRef{Name: "p", Hash: "h1"},
		Endpoints: []results.Endpoint{{Name: "a", Requests: 10, Histogram: results.NewHistogram()}}}
	for range 10 { // the histogram must hold every successful request
		f.Endpoints[0].Histogram.Record(time.Millisecond)
	}
	f.Finalize(time.Second)
	if err := results.WriteFile(good, f); err != nil {
		t.Fatal(err)
	}
	other := *f
	other.Plan.Hash = "h2"
	otherPath := filepath.Join(dir, "other.json")
	if err := results.WriteFile(otherPath, &other); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(good)
	trunc := writeFile(t, dir, "trunc.json", string(data[:len(data)/2]))
	future := writeFile(t, dir, "future.json", `{"schema":"loadgate/results/v7"}`)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"truncated baseline", []string{"compare", "-b", trunc, good}, exitUsage, "trunc.json"},
		{"future head", []string{"compare", "-b", good, future}, exitUsage, "future.json"},
		{"missing head", []string{"compare", "-b", good, filepath.Join(dir, "nope.json")}, exitUsage, "nope.json"},
		{"different plan", []string{"compare", "-b", otherPath, good}, exitUsage, "allow-plan-change"},
		{"no baseline", []string{"compare", good}, exitUsage, "--baseline"},
	}
	for _, c := range cases {
		code, out, errOut := cli(t, context.Background(), nil, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%s: exit %d, stderr %q (stdout %q); want exit %d mentioning %q", c.name, code, errOut, out, c.code, c.want)
		}
	}
}

func TestUnreachableTargetIsInfraError(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now: connections are refused
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", strings.Replace(shortPlan("http://"+addr), "duration: 3s", "duration: 2s", 1))
	for _, args := range [][]string{{"run"}, {"gate", "-b", filepath.Join(dir, "none.json")}} {
		cmd := args[0]
		code, _, errOut := cli(t, context.Background(), nil, append(args, planPath, "-q")...)
		if code != exitInfra || !strings.Contains(errOut, "unreachable") {
			t.Errorf("%s: exit %d, %s; want %d (target unreachable)", cmd, code, errOut, exitInfra)
		}
	}
}

// A certificate the plan does not trust fails every handshake: exit 3 with
// the reason, never a run of errors judged as a regression.
func TestUntrustedCertificateIsInfraError(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(target.New(target.Options{}))
	defer srv.Close()
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", strings.Replace(shortPlan(srv.URL), "duration: 3s", "duration: 1s", 1))
	code, _, errOut := cli(t, context.Background(), nil, "run", planPath, "-q")
	if code != exitInfra || !strings.Contains(errOut, "unreachable") || !strings.Contains(errOut, "certificate signed by unknown authority") {
		t.Errorf("exit %d, %s; want %d naming the unknown authority", code, errOut, exitInfra)
	}
}

func TestInterruptWritesPartialResults(t *testing.T) {
	t.Parallel()
	// Interrupt once the target has answered 250 requests, not after a fixed
	// 2 s: at 100/s the first second is warm-up, and on a busy machine 2 s
	// once ended the run before any measured request had come back. The
	// 250th is scheduled 1.5 s past the warm-up, so the requests before it
	// are measured ones. The 20 s timer only keeps a starved run short.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var served atomic.Int64
	h := target.New(target.Options{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if served.Add(1) == 250 {
			cancel()
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", strings.Replace(shortPlan(srv.URL), "duration: 3s", "duration: 30s", 1))
	res := filepath.Join(dir, "partial.json")
	time.AfterFunc(20*time.Second, cancel)
	code, _, errOut := cli(t, ctx, nil, "run", planPath, "-o", res, "-q")
	if code != exitInvalid || !strings.Contains(errOut, "partial") {
		t.Fatalf("exit %d, %s; want %d with partial results", code, errOut, exitInvalid)
	}
	r, err := results.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Run.Partial || r.Total.Requests == 0 {
		t.Fatalf("partial=%v requests=%d", r.Run.Partial, r.Total.Requests)
	}
}

// verdictOf is the status the terminal table gives an endpoint: the "→ X"
// under its name ("" when the endpoint is not in the table).
func verdictOf(table, endpoint string) string {
	lines := strings.Split(table, "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) > 0 && f[0] == endpoint && i+1 < len(lines) {
			if _, after, ok := strings.Cut(lines[i+1], "→"); ok {
				if g := strings.Fields(after); len(g) > 0 {
					return g[0]
				}
			}
		}
	}
	return ""
}

func TestPairedGateFlagsRegressionOnlyOnSlowerEndpoint(t *testing.T) {
	t.Parallel()
	base := httptest.NewServer(target.New(target.Options{}))
	defer base.Close()
	slow := target.New(target.Options{})
	head := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/delay" {
			// 8 ms → 16 ms: +100 %, inside the handler, so the target's
			// Server-Timing carries it too. On a busy -race host the
			// client-side figures drown in queueing (p95 of 75 ms for a
			// 2 ms endpoint); the server's own time does not.
			r.URL.RawQuery = "ms=16"
		}
		slow.ServeHTTP(w, r)
	}))
	defer head.Close()
	dir := t.TempDir()
	planPath := writeFile(t, dir, "plan.yaml", `name: paired
target: `+head.URL+`
endpoints:
  - name: fast
    request: GET /fast
  - name: slow
    request: GET /delay?ms=8
profile:
  type: load
  rate: 60/s
  duration: 12s
gate:
  p50: +20%
`)
	out := filepath.Join(dir, "head.json")
	// The test is about the pairing and the verdict, not this machine's
	// scheduling: a generous lag limit keeps a busy CI host's stalls from
	// making the run invalid, and 99 % confidence keeps the sub-millisecond
	// /fast from a chance flag (at most 0.5 %) on a noisy -race host.
	// A chance flag of /fast is still possible at that level; the same flag
	// in a second, independent run (≤ 0.01 %) is a defect, not chance.
	var code int
	var stdout, stderr string
	for attempt := 1; ; attempt++ {
		code, stdout, stderr = cli(t, context.Background(), nil, "gate", planPath, "--paired", "--base-target", base.URL, "-q", "-o", out, "--seed", strconv.Itoa(6+attempt), "--max-schedule-lag", "2s", "--confidence", "0.99")
		if code != exitFail || !strings.EqualFold(verdictOf(stdout, "fast"), "regressed") || attempt == 2 {
			break
		}
		t.Logf("run %d flagged the unchanged /fast, once within the 1 %% level; running again:\n%s", attempt, stdout)
	}
	if code == exitInvalid && strings.Contains(stdout, "generator fell behind") {
		t.Skipf("machine too starved for a valid paired run even at 2s lag:\n%s", stdout)
	}
	// On a starved -race host the +100 % can drown in scheduling noise: the
	// gate must then say inconclusive (never pass, never flag /fast). Power
	// on real load is measured by bench/gateaccuracy, not asserted here.
	if code == exitPass && verdictOf(stdout, "slow") == "inconclusive" && verdictOf(stdout, "fast") != "regressed" {
		t.Skipf("machine too noisy for this run to show +100 %%; the gate said inconclusive, as it must:\n%s", stdout)
	}
	if code != exitFail {
		t.Fatalf("paired gate: exit %d, want %d\n%s\n%s", code, exitFail, stdout, stderr)
	}
	// The endpoint's verdict, not its first check's line: the +100 % may be
	// carried by the server p50 check alone when the client side is noisy.
	if !strings.EqualFold(verdictOf(stdout, "slow"), "regressed") || strings.EqualFold(verdictOf(stdout, "fast"), "regressed") ||
		!strings.Contains(stdout, "\nregressed: slow\n") {
		t.Errorf("want only slow regressed:\n%s", stdout)
	}
	for _, p := range []string{out, filepath.Join(dir, "head.base.json")} {
		if _, err := results.ReadFile(p); err != nil {
			t.Errorf("paired results %s: %v", p, err)
		}
	}
	if code, _, stderr := cli(t, context.Background(), nil, "gate", planPath, "--paired"); code != exitUsage || !strings.Contains(stderr, "--base-target") {
		t.Errorf("--paired without --base-target: exit %d, %s", code, stderr)
	}
}

// TestDemoRegressFlagsTheSlowEndpoint runs the README's demo with --regress.
// The quiet-machine claim (exit 0 without, only create-order regressed with)
// is checked by .ci/run on an idle machine; here, among other packages'
// tests, the run may be too starved to be valid (exit 4), which the demo must
// then say rather than pass.
func TestDemoRegressFlagsTheSlowEndpoint(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("14 s of load")
	}
	res := filepath.Join(t.TempDir(), "demo.json")
	// The demo's verdict holds at 95 % family-wise: an unchanged endpoint is
	// flagged by chance in at most 5 % of runs (0–1 % measured, see
	// bench/gateaccuracy/RESULTS.md). One such flag is no evidence of a defect;
	// the same in a second, independent run (≤ 0.25 % by chance) is.
	var code int
	var out, errOut string
	for attempt := 1; ; attempt++ {
		code, out, errOut = cli(t, context.Background(), nil, "demo", "--regress", "30%", "-q", "-o", res)
		if code != exitFail || strings.Contains(out, "\nregressed: create-order\n") || attempt == 2 {
			break
		}
		t.Logf("run %d flagged more than create-order, once within the family-wise level; running again:\n%s", attempt, out)
	}
	switch code {
	case exitFail:
		if !strings.Contains(out, "\nregressed: create-order\n") {
			t.Errorf("demo --regress: want only create-order regressed:\n%s", out)
		}
	case exitInvalid:
		if !strings.Contains(out, "INVALID") {
			t.Errorf("exit 4 without saying the run is invalid:\n%s", out)
		}
		t.Logf("machine too busy for a valid run; the demo said so:\n%s", out)
	case exitPass:
		// Among other packages' -race tests the 30 % can drown in the
		// host's noise (a miss of power, which .ci/run checks on the quiet
		// machine afterwards); what must hold here is that no unchanged
		// endpoint is flagged and the demo does not claim a regression.
		if strings.Contains(out, "regressed: ") {
			t.Errorf("exit 0 with a regression listed:\n%s", out)
		}
		t.Skipf("machine too noisy to show +30 %% in this run:\n%s", out)
	default:
		t.Fatalf("demo --regress 30%%: exit %d, want 1 (or 4 on a starved machine)\n%s\n%s", code, out, errOut)
	}
	r, err := results.ReadFile(res)
	if err != nil {
		t.Fatalf("demo -o: %v", err)
	}
	if r.Plan.Name != "demo-shop" || len(r.Endpoints) != 3 {
		t.Errorf("demo results: plan %q, %d endpoints", r.Plan.Name, len(r.Endpoints))
	}
}

func TestDemoBadRegress(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"fast", "-200%", "0x"} {
		if code, _, errOut := cli(t, context.Background(), nil, "demo", "--regress", v); code != exitUsage {
			t.Errorf("--regress %s: exit %d (%s), want 2", v, code, errOut)
		}
	}
	if code, _, _ := cli(t, context.Background(), nil, "demo", "--regress", "30%", "--regress-endpoint", "/nope"); code != exitUsage {
		t.Errorf("unknown --regress-endpoint: exit %d, want 2", code)
	}
}
