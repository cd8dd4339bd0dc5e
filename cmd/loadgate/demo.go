package main

import (
	_ "embed"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/baselines"
	"github.com/loadgate/loadgate/internal/pipeline"
	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
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

func newDemoCmd(a *app) *cobra.Command {
	var (
		regress       string
		regressPath   string
		out           string
		quiet         bool
		writeBaseline string
		baselineFile  string
		reportFlags   []string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a self-contained demo: embedded target, plan and baseline",
		Long: `Start an embedded fake shop on loopback (three endpoints with different
latencies), run the embedded plan against it (12 s open-model load after a 2 s
warm-up), compare with the embedded baseline and print the verdict.

--regress 30% makes one endpoint (POST /orders by default) 30 % slower: the
demo then exits 1 with that endpoint, and only it, marked regressed.`,
		Example: `  loadgate demo
  loadgate demo --regress 30%
  loadgate demo -o results.json --report html=demo.html
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
			shop := target.NewDemo()
			if err := shop.Regress(regressPath, factor); err != nil {
				return withCode(exitUsage, err)
			}
			url, stop, err := serveLoopback(shop)
			if err != nil {
				return withCode(exitInfra, err)
			}
			defer stop()
			ro := pipeline.RunOptions{Out: out, Quiet: quiet, Target: url}

			if writeBaseline != "" {
				return a.writeDemoBaseline(p, ro, writeBaseline)
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
			if factor != 1 {
				fmt.Fprintf(a.stderr, "demo: %s made %.0f%% slower\n", regressPath, (factor-1)*100)
			}
			return a.judge(pipeline.Job{Plan: p, Run: ro, Baseline: pipeline.BaselineSource{Runs: base.Runs}, Reports: reports})
		},
	}
	cmd.Flags().StringVar(&regress, "regress", "", "make one endpoint slower, e.g. 30%")
	cmd.Flags().StringVar(&regressPath, "regress-endpoint", demoRegressEndpoint, "path of the endpoint --regress slows down (/products, /products/{id}, /orders)")
	cmd.Flags().StringVarP(&out, "out", "o", "", "also write the results file here")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "no live progress")
	cmd.Flags().StringVar(&writeBaseline, "write-baseline", "", "run the demo "+strconv.Itoa(demoBaselineRuns)+" times and write a fresh baseline file here instead of comparing")
	cmd.Flags().StringVar(&baselineFile, "baseline", "", "compare with this baseline file instead of the embedded one")
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

// serveLoopback serves h on 127.0.0.1 on a free port.
func serveLoopback(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo target: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
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
