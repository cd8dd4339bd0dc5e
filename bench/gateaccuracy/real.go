package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/local"
	"github.com/loadgate/loadgate/runners/paired"
)

// Latency model of the bench target (and of the simulation): log-normal with
// these medians and shape; the regressed build multiplies /work only.
const (
	workMedianMs  = 4.0
	otherMedianMs = 2.0
	sigma         = 0.4
)

// serve runs one "build" of the bench target on loopback and prints its URL:
// /work sleeps log-normal(workMedianMs × mult), /other log-normal(otherMedianMs).
func serve(mult float64) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/work" {
			target.PreciseSleep(target.LogNormal(workMedianMs*mult, sigma))
		} else {
			target.PreciseSleep(target.LogNormal(otherMedianMs, sigma))
		}
		w.WriteHeader(http.StatusOK)
	}))
}

// startTarget starts `gateaccuracy -serve -mult m` as a separate process (so
// the target's CPU is not the generator's Go runtime) and returns its URL.
func startTarget(ctx context.Context, mult float64) (string, *exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", nil, err
	}
	cmd := exec.CommandContext(ctx, exe, "-serve", "-mult", strconv.FormatFloat(mult, 'f', -1, 64))
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", nil, err
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return "", nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		_ = cmd.Process.Kill()
		return "", nil, fmt.Errorf("target did not start: %w", err)
	}
	go io.Copy(io.Discard, out)
	return strings.TrimSpace(line), cmd, nil
}

func benchPlan(rate float64, dur, warm time.Duration) (*plan.Plan, error) {
	y := fmt.Sprintf(`name: gate-accuracy
target: http://127.0.0.1:1
defaults:
  timeout: 2s
endpoints:
  - name: work
    request: GET /work
  - name: other
    request: GET /other
profile:
  type: load
  rate: %g/s
  duration: %s
  warmup: %s
`, rate, dur, warm)
	return plan.Parse([]byte(y), "gateaccuracy.yaml", ".", func(string) string { return "" })
}

// record runs real load and writes every results file into dir:
// committed-mode runs (A, B10, B20 interleaved in time, so machine drift
// spreads evenly) and paired runs (A/A, A/B10, A/B20).
func record(ctx context.Context, dir string, rate float64, dur time.Duration, singles, pairs int, logf func(string, ...any)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	urls := map[string]string{}
	for _, b := range []struct {
		name string
		mult float64
	}{{"A", 1}, {"B10", 1.1}, {"B20", 1.2}} {
		u, cmd, err := startTarget(ctx, b.mult)
		if err != nil {
			return err
		}
		defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
		urls[b.name] = u
	}
	p, err := benchPlan(rate, dur, time.Second)
	if err != nil {
		return err
	}
	clients := map[string]*http.Client{}
	client := func(key string) *http.Client {
		if c, ok := clients[key]; ok {
			return c
		}
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256, MaxIdleConns: 256, IdleConnTimeout: time.Minute}}
		clients[key] = c
		return c
	}
	for i := range singles {
		for _, b := range []string{"A", "B10", "B20"} {
			q := *p
			q.Target = urls[b]
			f, err := local.New(local.Options{Label: b, Client: client(b)}).Run(ctx, &q)
			if err != nil {
				return err
			}
			name := filepath.Join(dir, fmt.Sprintf("single-%s-%02d.json", b, i))
			if err := results.WriteFile(name, f); err != nil {
				return err
			}
			logf("%s valid=%v work p95=%.2f ms", filepath.Base(name), f.Validity.Valid, f.Endpoint("work").Latency.P95)
		}
	}
	for i := range pairs {
		for _, b := range []string{"A", "B10", "B20"} {
			pr := &paired.Runner{BaseTarget: urls["A"], HeadTarget: urls[b], Seed: uint64(1000*i + len(b)),
				New: func(side string) runners.Runner {
					return local.New(local.Options{Label: side, Client: client(side + b)})
				}}
			base, head, err := pr.Run(ctx, p)
			if err != nil {
				return err
			}
			for side, f := range map[string]*results.File{"base": base, "head": head} {
				name := filepath.Join(dir, fmt.Sprintf("paired-%s-%02d-%s.json", b, i, side))
				if err := results.WriteFile(name, f); err != nil {
					return err
				}
			}
			logf("paired %s #%d valid=%v/%v work p95 %.2f → %.2f ms", b, i, base.Validity.Valid, head.Validity.Valid,
				base.Endpoint("work").Latency.P95, head.Endpoint("work").Latency.P95)
		}
	}
	return nil
}

// loadRecorded reads what record wrote.
func loadRecorded(dir string) (singles map[string][]*results.File, pairs map[string][][2]*results.File, err error) {
	singles = map[string][]*results.File{}
	pairs = map[string][][2]*results.File{}
	for _, b := range []string{"A", "B10", "B20"} {
		for i := 0; ; i++ {
			f, err := results.ReadFile(filepath.Join(dir, fmt.Sprintf("single-%s-%02d.json", b, i)))
			if os.IsNotExist(err) {
				break
			}
			if err != nil {
				return nil, nil, err
			}
			singles[b] = append(singles[b], f)
		}
		for i := 0; ; i++ {
			base, err := results.ReadFile(filepath.Join(dir, fmt.Sprintf("paired-%s-%02d-base.json", b, i)))
			if os.IsNotExist(err) {
				break
			}
			if err != nil {
				return nil, nil, err
			}
			head, err := results.ReadFile(filepath.Join(dir, fmt.Sprintf("paired-%s-%02d-head.json", b, i)))
			if err != nil {
				return nil, nil, err
			}
			pairs[b] = append(pairs[b], [2]*results.File{base, head})
		}
	}
	return singles, pairs, nil
}
