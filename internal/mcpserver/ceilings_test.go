package mcpserver

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners"
)

// TestOperatorCeilings: the plan's limits are the assistant's to write, so
// the operator's --max-rate and --max-concurrency refuse a plan whatever its
// limits say, and --max-wall-clock stops a run that takes longer in real
// time than allowed.
func TestOperatorCeilings(t *testing.T) {
	t.Parallel()
	ts, _ := target(t)
	var mu sync.Mutex
	var seen []*plan.Plan
	te := newTestEnv(t, func(p *plan.Plan) (runners.Runner, error) {
		mu.Lock()
		seen = append(seen, p)
		mu.Unlock()
		return &httpRunner{}, nil
	}, func(o *Options) { o.MaxRate, o.MaxConcurrency, o.MaxWallClock = 50, 4, 300*time.Millisecond })
	allow := "targets: {allow: [127.0.0.1]}"

	fast := te.write(t, "fast.yaml", strings.Replace(planYAML(ts.URL, allow, "limits: {max_rate: 100000/s}\n"), "rate: 20/s", "rate: 2000/s", 1))
	wantToolError(t, te.call(t, ToolRunPlan, map[string]any{"plan": fast}, nil), "peak rate 2000/s exceeds the MCP server's cap 50/s")

	vus := te.write(t, "vus.yaml", strings.Replace(planYAML(ts.URL, allow, ""), "rate: 20/s", "vus: 10", 1))
	wantToolError(t, te.call(t, ToolRunPlan, map[string]any{"plan": vus}, nil), "10 virtual users exceed the MCP server's cap of 4")
	if n := te.runners.Load(); n != 0 {
		t.Fatalf("%d runners built for refused plans", n)
	}

	// Planned for 5 minutes (within --max-duration), stopped by the wall clock.
	long := te.write(t, "long.yaml", strings.Replace(planYAML(ts.URL, allow, ""), "duration: 1s", "duration: 5m", 1))
	var st RunStatus
	res := te.call(t, ToolRunPlan, map[string]any{"plan": long, "wait": true}, &st)
	if res.IsError {
		t.Fatal(text(res))
	}
	mu.Lock()
	inFlight := seen[0].Profile.MaxInFlight
	mu.Unlock()
	if inFlight != 4 {
		t.Errorf("open-model in-flight bound = %d, want the server's --max-concurrency 4", inFlight)
	}
	if st.Status != StatusFailed || !strings.Contains(st.Error, "wall-clock cap") {
		t.Errorf("run past the wall clock: status %s error %q; want failed at the wall-clock cap", st.Status, st.Error)
	}
}
