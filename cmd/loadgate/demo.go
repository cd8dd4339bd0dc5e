package main

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners/paired"
)

// The demo's plan and baseline are embedded so `go run ./cmd/loadgate demo`
// works on a fresh clone with nothing else installed. The baseline is written
// by loadgate itself: `go run ./cmd/loadgate demo --write-baseline
// cmd/loadgate/demo/baseline.json` (never edit it by hand).
var (
	//go:embed demo/plan.yaml
	demoPlan []byte
	//go:embed demo/baseline.json
	demoBaseline []byte
)

const (
	demoPlanName        = "demo/plan.yaml"
	demoBaselineName    = "demo/baseline.json"
	demoRegressEndpoint = "/orders"
	demoBaselineRuns    = 3
)

// demoSlot is the demo's paired slot: short, so the demo's 8 s per side make
// 16 pairs (a paired test needs several to reach 95 % across its checks) and
// the whole demo takes about 18 s.
const demoSlot = 500 * time.Millisecond

func newDemoCmd(a *app) *cobra.Command {
	var (
		regress       string
		regressPath   string
		out           string
		quiet         bool
		committed     bool
		writeBaseline string
		baselineFile  string
		reportFlags   []string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a self-contained demo: two embedded shops (base and head), measured paired",
		Long: `Start two embedded fake shops on loopback — the base build and the head build
of the same service, three endpoints with different latencies — and measure
them paired, as loadgate recommends on shared machines: alternating 0.5 s
slots (8 s per side after a 1 s warm-up), compared pair by pair. Whatever
else the machine is doing hits both builds alike, so the verdict holds on a
busy laptop or CI runner.

--regress 30% makes one endpoint of the head shop (POST /orders by default)
30 % slower: the demo then exits 1 with that endpoint, and only it, marked
regressed.

--committed compares one run of the head shop with the embedded baseline
instead (committed-baseline mode), as ` + "`loadgate gate --baseline`" + ` does.`,
		Example: `  loadgate demo
  loadgate demo --regress 30%
  loadgate demo -o results.json --report html=demo.html
  loadgate demo --committed                                        # against the embedded baseline
  loadgate demo --write-baseline cmd/loadgate/demo/baseline.json   # regenerate the embedded baseline`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			factor, err := parseRegress(regress)
			if err != nil {
				return withCode(exitUsage, err)
			}
			reports, err := pipeline.ParseReports(reportFlags)
			if err != nil {
				return withCode(exitUsage, err)
			}
			p, err := plan.Parse(demoPlan, demoPlanName, "", func(string) string { return "" })
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("embedded demo plan: %w", err))
			}
			shops, err := target.ServeDemoPair()
			if err != nil {
				return withCode(exitInfra, err)
			}
			defer shops.Close()
			if err := shops.Head.Regress(regressPath, factor); err != nil {
				return withCode(exitUsage, err)
			}
			ro := pipeline.RunOptions{Out: out, Quiet: quiet, Target: shops.HeadURL}
			if factor != 1 {
				fmt.Fprintf(a.stderr, "demo: %s made %.0f%% slower in the head shop\n", regressPath, (factor-1)*100)
			}
			if writeBaseline != "" {
				return a.writeDemoBaseline(p, ro, writeBaseline)
			}
			if !committed && baselineFile == "" {
				// The recommended mode: base shop and head shop interleaved,
				// each side with its own warm client.
				return a.judge(pipeline.Job{Plan: p, Run: ro, Reports: reports, Paired: &pipeline.PairedOptions{
					BaseTarget: shops.BaseURL, Slot: demoSlot, MaxLeftOut: paired.DefaultMaxLeftOut, Client: shops.Client,
				}})
			}
			base, err := baselines.Decode(demoBaseline, demoBaselineName)
			if err != nil {
				return withCode(exitUsage, fmt.Errorf("%w (regenerate it with `go run ./cmd/loadgate demo --write-baseline cmd/loadgate/demo/baseline.json`)", err))
			}
			if baselineFile != "" {
				if base, err = baselines.Load(baselineFile); err != nil {
					return withCode(exitUsage, err)
				}
			}
			if len(base.Runs) > 0 {
				// One run repeats the baseline's own schedule (the paired
				// demo's is shorter per side and split into slots).
				bp := base.Runs[len(base.Runs)-1].Profile
				p.Profile.Rate, p.Profile.Duration, p.Profile.Warmup = bp.Rate, bp.Duration.D(), bp.Warmup.D()
			}
			return a.judge(pipeline.Job{Plan: p, Run: ro, Baseline: pipeline.BaselineSource{Runs: base.Runs}, Reports: reports})
		},
	}
	cmd.Flags().StringVar(&regress, "regress", "", "make one endpoint of the head shop slower, e.g. 30%")
	cmd.Flags().StringVar(&regressPath, "regress-endpoint", demoRegressEndpoint, "path of the endpoint --regress slows down (/products, /products/{id}, /orders)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "also write the results file here (paired: the base side next to it as *.base.json)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no live progress")
	cmd.Flags().BoolVar(&committed, "committed", false, "compare one run with the embedded baseline (committed-baseline mode) instead of measuring base and head paired")
	cmd.Flags().StringVar(&writeBaseline, "write-baseline", "", "run the demo "+strconv.Itoa(demoBaselineRuns)+" times and write a fresh baseline file here instead of comparing")
	cmd.Flags().StringVar(&baselineFile, "baseline", "", "compare with this baseline file (committed-baseline mode) instead of the embedded one")
	pipeline.BindReportFlag(cmd.Flags(), &reportFlags)
	return cmd
}

// parseRegress turns "30%" (or "1.3x") into a slowdown factor; "" is 1.
func parseRegress(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 1, nil
	}
	if v, ok := strings.CutSuffix(s, "%"); ok {
		pct, err := strconv.ParseFloat(strings.TrimPrefix(v, "+"), 64)
		if err != nil || pct <= -100 {
			return 0, fmt.Errorf("--regress %q: want a percentage such as 30%%", s)
		}
		return 1 + pct/100, nil
	}
	if v, ok := strings.CutSuffix(s, "x"); ok {
		x, err := strconv.ParseFloat(v, 64)
		if err != nil || x <= 0 {
			return 0, fmt.Errorf("--regress %q: want a factor such as 1.3x", s)
		}
		return x, nil
	}
	return 0, fmt.Errorf("--regress %q: want a percentage such as 30%% or a factor such as 1.3x", s)
}

func (a *app) writeDemoBaseline(p *plan.Plan, ro pipeline.RunOptions, path string) error {
	for i := 0; i < demoBaselineRuns; i++ {
		fmt.Fprintf(a.stderr, "demo baseline: run %d of %d\n", i+1, demoBaselineRuns)
		res, err := a.execute(p, ro)
		if err != nil {
			return err
		}
		if !res.Validity.Valid {
			return withCode(exitInvalid, fmt.Errorf("demo baseline run %d invalid: %v", i+1, res.Validity.Reasons))
		}
		if err := baselines.Append(path, res, demoBaselineRuns); err != nil {
			return withCode(exitUsage, err)
		}
	}
	fmt.Fprintf(a.stdout, "wrote %s (%d runs)\n", path, demoBaselineRuns)
	return nil
}
