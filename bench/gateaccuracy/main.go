// Command gateaccuracy measures how often loadgate's gate is wrong: the
// false-positive rate on A/A comparisons (same build on both sides) and the
// power on A/B comparisons (one endpoint's latency ×1.1 or ×1.2), for the
// committed-baseline mode, the paired mode, and the naive rule "fail if p95
// grew more than X %", on the same runs. It prints one Markdown table
// (committed as RESULTS.md).
//
//	go run ./bench/gateaccuracy                    # simulation only (≈ 10 min on 2 cores)
//	go run ./bench/gateaccuracy -record out/real -rate 800 -singles 6 -pairs 10   # real load (≈ 27 min, idle machine)
//	go run ./bench/gateaccuracy -record out/busy -rate 800 -parallel 3 -singles A=16,B10=8,B20=8 -pairs A=100,B10=40,B20=40   # ≈ 47 min, 3 runs at once
//	go run ./bench/gateaccuracy -record out/burn -rate 600 -quiet 3 -burners 2 -parallel 2 -singles A=100,B10=20,B20=20 -pairs A=100,B10=40,B20=40   # "Done means": quiet baseline, then 2 burners + 2 load tests at once (hours)
//	go run ./bench/gateaccuracy -record out/quiet5 -rate 600 -singles 0 -pairs A=0,B5=30   # the stretch goal: paired +5 % on a quiet runner (≈ 21 min)
//	go run ./bench/gateaccuracy -real out/real,out/busy      # simulation + recorded runs
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	var (
		serveMode = flag.Bool("serve", false, "internal: run one bench target build and print its URL")
		burnMode  = flag.Bool("burn", false, "internal: spin one CPU until killed (a CPU burner)")
		quiet     = flag.Int("quiet", 0, "-record: committed-mode runs of A recorded first, one at a time, before any burner (the quiet baseline)")
		burners   = flag.Int("burners", 0, "-record: CPU burners to run during the recording after the quiet runs (a busy runner)")
		mult      = flag.Float64("mult", 1, "internal (-serve): latency multiplier of /work")
		recordDir = flag.String("record", "", "record real load runs into this directory, then exit")
		realDirs  = flag.String("real", "", "also analyze real runs recorded in these directories (comma-separated)")
		rate      = flag.Float64("rate", 200, "-record: total arrival rate (requests/s, split over 2 endpoints)")
		parallel  = flag.Int("parallel", 1, "-record: runs at once (more than 1 makes a busy runner on purpose)")
		simRates  = flag.String("sim-rates", "200,400,800", "simulation: total arrival rates to simulate, comma-separated")
		dur       = flag.Duration("duration", 20*time.Second, "measured duration of each run (per side in paired mode)")
		singles   = flag.String("singles", "8", "-record: committed-mode runs per build: N, or A=N,B10=N,B20=N")
		pairsN    = flag.String("pairs", "5", "-record: paired runs per kind (A/A, A/B10, A/B20; A/B5 only by name): N, or A=N,B5=N,B10=N,B20=N")
		simN      = flag.Int("sim", 300, "simulated comparisons per row (0: skip the simulation)")
		goals     = flag.Bool("goals-only", false, "-real: only the rows the goals name (quiet baselines vs each head, paired runs); skips thousands of all-combinations comparisons")
	)
	flag.Parse()
	goalsOnly = *goals
	if *burnMode {
		burn()
	}
	if *serveMode {
		if err := serve(*mult); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	logf := func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", args...)
	}
	if *recordDir != "" {
		sc, err := parseCounts(*singles)
		if err != nil {
			fmt.Fprintln(os.Stderr, "-singles:", err)
			os.Exit(2)
		}
		pc, err := parseCounts(*pairsN)
		if err != nil {
			fmt.Fprintln(os.Stderr, "-pairs:", err)
			os.Exit(2)
		}
		if err := record(ctx, *recordDir, *rate, *dur, sc, pc, *parallel, *quiet, *burners, logf); err != nil {
			fmt.Fprintln(os.Stderr, "record:", err)
			os.Exit(1)
		}
		return
	}
	var rates []float64
	for _, f := range strings.Split(*simRates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			fmt.Fprintf(os.Stderr, "-sim-rates: bad rate %q\n", f)
			os.Exit(2)
		}
		rates = append(rates, r)
	}
	var dirs []string
	if *realDirs != "" {
		dirs = strings.Split(*realDirs, ",")
	}
	if err := report(os.Stdout, *simN, rates, *dur, dirs, logf); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
