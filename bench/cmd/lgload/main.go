// Command lgload drives runners/local directly with a one-endpoint plan built
// from flags, for the benchmarks (it does not depend on the loadgate CLI). It
// writes the results file and prints a one-line JSON summary.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"runtime/pprof"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners/local"
)

func main() {
	target := flag.String("url", "", "full URL, e.g. http://127.0.0.1:8080/fast")
	rate := flag.Float64("rate", 0, "open model: arrivals per second")
	vus := flag.Int("vus", 0, "closed model: concurrent virtual users (connections)")
	dur := flag.Duration("duration", 10*time.Second, "duration")
	timeout := flag.Duration("timeout", 5*time.Second, "per-request timeout")
	inflight := flag.Int("max-in-flight", 0, "open model in-flight bound (0 = derived)")
	out := flag.String("o", "", "write the results file here")
	cpuprof := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	if *cpuprof != "" {
		pf, err := os.Create(*cpuprof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	u, err := url.Parse(*target)
	if err != nil || u.Host == "" {
		log.Fatalf("-url: want a full URL, got %q", *target)
	}
	path := u.RequestURI()
	u.Path, u.RawQuery = "", ""
	p := &plan.Plan{
		Name: "bench", Target: u.String(),
		Defaults:  plan.Defaults{Timeout: *timeout},
		Endpoints: []plan.Endpoint{{Name: "bench", Method: "GET", Path: path, Weight: 1}},
		Profile:   plan.Profile{Type: plan.ProfileLoad, Rate: *rate, VUs: *vus, Duration: *dur, MaxInFlight: *inflight},
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	f, err := local.New(local.Options{}).Run(ctx, p)
	if err != nil && f == nil {
		log.Fatal(err)
	}
	if *out != "" {
		if err := results.WriteFile(*out, f); err != nil {
			log.Fatal(err)
		}
	}
	t := f.Total
	sum := map[string]any{
		"requests": t.Requests, "errors": t.Errors, "rps": t.ThroughputRPS,
		"p50_ms": t.Latency.P50, "p90_ms": t.Latency.P90, "p99_ms": t.Latency.P99,
		"svc_p50_ms": t.ServiceTime.P50, "svc_p90_ms": t.ServiceTime.P90, "svc_p99_ms": t.ServiceTime.P99,
		"valid": f.Validity.Valid, "dropped": f.Validity.Dropped, "late": f.Validity.Late,
		"lag_p99_ms": f.Validity.LagP99Ms, "generator_cpu": f.Validity.GeneratorCPU, "reasons": f.Validity.Reasons,
	}
	b, _ := json.Marshal(sum)
	fmt.Println(string(b))
	if err != nil {
		log.Print(err)
	}
}
