package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/results"
)

// TestRunShopDataExample runs examples/plans/shop-data.yaml (data, setup,
// think time) against the demo shop: the login token authorizes every order
// (the demo refuses tokens it did not issue), and no output holds it.
func TestRunShopDataExample(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	demo := target.NewDemo()
	srv := httptest.NewServer(demo)
	defer srv.Close()
	out := filepath.Join(t.TempDir(), "results.json")
	code, stdout, stderr := cli(t, context.Background(), nil, "run", filepath.Join("..", "..", "examples", "plans", "shop-data.yaml"),
		"--target", srv.URL, "--duration", "1s", "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]results.Endpoint{}
	for _, e := range r.Endpoints {
		byName[e.Name] = e
	}
	if len(byName) != 3 || byName["get-product"].URL != srv.URL+"/products/{{ data.products.id }}" {
		t.Fatalf("endpoints %+v", r.Endpoints)
	}
	if o := byName["create-order"]; o.Requests == 0 || o.Errors != 0 {
		t.Errorf("create-order: %d requests, %d errors (status codes %v): the token from setup must authorize them", o.Requests, o.Errors, o.Status)
	}
	raw, _ := os.ReadFile(out)
	for _, s := range []string{string(raw), stdout, stderr} {
		if strings.Contains(s, "demo-") {
			t.Errorf("an extracted token appears in the output")
		}
	}
}

// TestRunSetupFailureExit3: a target without the login endpoint fails setup:
// exit 3, a message naming the step, and not one request of the plan sent.
func TestRunSetupFailureExit3(t *testing.T) {
	t.Parallel()
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/login" {
			n.Add(1)
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	code, _, stderr := cli(t, context.Background(), nil, "run", filepath.Join("..", "..", "examples", "plans", "shop-data.yaml"),
		"--target", srv.URL, "--duration", "1s", "-q")
	if code != exitInfra || !strings.Contains(stderr, `setup step "login" (POST /login) failed, nothing was run: status 404, want [200]`) {
		t.Errorf("exit %d: %s", code, stderr)
	}
	if n.Load() != 0 {
		t.Errorf("%d requests sent after a failed setup", n.Load())
	}
}

// TestWorkersSplitUniqueRows: local workers of one run send disjoint rows of
// a unique source, and seq values that do not repeat.
func TestWorkersSplitUniqueRows(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.URL.Path]++
		mu.Unlock()
	}))
	defer srv.Close()
	dir := t.TempDir()
	var rows strings.Builder
	rows.WriteString("id\n")
	for i := range 200 {
		fmt.Fprintf(&rows, "%d\n", i)
	}
	writeFile(t, dir, "ids.csv", rows.String())
	planPath := writeFile(t, dir, "plan.yaml", fmt.Sprintf(`name: split
target: %s
targets: {allow: [127.0.0.1, "::1"]}
data:
  ids: {file: ids.csv, mode: unique}
endpoints:
  - {name: item, request: "GET /items/{{ data.ids.id }}"}
profile: {type: load, rate: 40/s, duration: 2s}
`, srv.URL))
	out := filepath.Join(dir, "results.json")
	code, stdout, stderr := cli(t, context.Background(), nil, "run", planPath, "--workers", "2", "--worker-binary", bin,
		"--store-dir", filepath.Join(dir, "store"), "-o", out, "-q")
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatalf("exit %d, no results: %v\n%s\n%s", code, err, stdout, stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	var total int
	for path, c := range seen {
		total += c
		if c > 1 {
			t.Errorf("%s sent %d times by the workers of one run (mode unique)", path, c)
		}
	}
	if total < 70 || int64(total) != r.Total.Requests {
		t.Errorf("target saw %d requests, results %d (want about 80)", total, r.Total.Requests)
	}
}
