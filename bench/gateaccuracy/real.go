package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/loadgate/loadgate/internal/target"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/envprobe"
	"github.com/loadgate/loadgate/runners/local"
	"github.com/loadgate/loadgate/runners/paired"
)

// Latency model of the bench target (and of the simulation): log-normal with
// these medians and shape; the regressed build multiplies /work only.
const (
	workMedianMs  = 4.0
	otherMedianMs = 2.0
	thirdMedianMs = 8.0
	sigma         = 0.4
)

// serve runs one "build" of the bench target on loopback and prints its URL:
// /work sleeps log-normal(workMedianMs × mult), /other log-normal(otherMedianMs).
// Each response reports its handler time as Server-Timing.
func serve(mult float64) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	fmt.Printf("http://%s\n", ln.Addr())
	return http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		switch r.URL.Path {
		case "/work":
			target.PreciseSleep(target.LogNormal(workMedianMs*mult, sigma))
		case "/third":
			target.PreciseSleep(target.LogNormal(thirdMedianMs, sigma))
		default:
			target.PreciseSleep(target.LogNormal(otherMedianMs, sigma))
		}
		// The service's own time, without the machine's scheduling queue.
		target.SetServerTiming(w, start)
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
  - name: third
    request: GET /third
profile:
  type: load
  rate: %g/s
  duration: %s
  warmup: %s
`, rate, dur, warm)
	return plan.Parse([]byte(y), "gateaccuracy.yaml", ".", func(string) string { return "" })
}

// builds are the bench target's builds: A, and B5/B10/B20 with /work
// ×1.05/×1.1/×1.2. B5 is the stretch goal's build (paired +5 % on a quiet
// runner): recorded only when asked for by name, so "-pairs 5" means what it
// always meant.
var builds = []struct {
	name string
	mult float64
}{{"A", 1}, {"B5", 1.05}, {"B10", 1.1}, {"B20", 1.2}}

// optIn are the builds a plain count ("-pairs 5") leaves out.
var optIn = map[string]bool{"B5": true}

// counts is how many runs to record per build ("A=100,B10=60,B20=40", or one
// number for A, B10 and B20).
type counts map[string]int

func parseCounts(s string) (counts, error) {
	c := counts{}
	if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
		for _, b := range builds {
			if !optIn[b.name] {
				c[b.name] = n
			}
		}
		return c, nil
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("%q: want N or A=N,B5=N,B10=N,B20=N", s)
		}
		known := false
		for _, b := range builds {
			known = known || b.name == k
		}
		if !known {
			return nil, fmt.Errorf("%q: unknown build %q (A, B5, B10, B20)", s, k)
		}
		c[k] = n
	}
	return c, nil
}

// startWorkerTargets starts one process per build plus a twin of A ("A2"),
// which serves the head side of A/A comparisons.
func startWorkerTargets(ctx context.Context) (map[string]string, func(), error) {
	urls := map[string]string{}
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for _, b := range append(builds, struct {
		name string
		mult float64
	}{"A2", 1}) {
		u, cmd, err := startTarget(ctx, b.mult)
		if err != nil {
			stop()
			return nil, nil, err
		}
		cmds = append(cmds, cmd)
		urls[b.name] = u
	}
	return urls, stop, nil
}

// headTarget is the target the head side of a job of build b hits.
func headTarget(b string) string {
	if b == "A" {
		return "A2"
	}
	return b
}

// recordMeta describes how a directory's runs were recorded; the analysis
// labels its rows with it.
type recordMeta struct {
	Rate     float64 `json:"rate"`
	Parallel int     `json:"parallel"`
	// Burners is how many CPU burners ran during the (busy) recording;
	// Quiet how many committed-mode runs of A were recorded before them.
	Burners int `json:"burners,omitempty"`
	Quiet   int `json:"quiet,omitempty"`
}

const metaFile = "recording.json"

// job is one recording: a committed-mode run of a build, or a paired run of
// A against a build.
type job struct {
	build  string
	index  int
	paired bool
}

// record runs real load and writes every results file into dir:
// committed-mode runs of A, B10 and B20 and paired runs A/A, A/B10, A/B20,
// interleaved in time so machine drift spreads evenly over the kinds.
// parallel > 1 runs that many at once: a busy shared runner, on purpose.
//
// quiet > 0 first records that many committed-mode runs of A one at a time
// (the baseline "recorded on the quiet machine"); burners > 0 then starts
// that many CPU burners (processes of this binary spinning, stopped by PID
// when the recording ends) for the rest: a reproducible busy runner.
func record(ctx context.Context, dir string, rate float64, dur time.Duration, singles, pairs counts, parallel, quiet, burners int, logf func(string, ...any)) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	meta, _ := json.Marshal(recordMeta{Rate: rate, Parallel: parallel, Burners: burners, Quiet: quiet})
	if err := os.WriteFile(filepath.Join(dir, metaFile), meta, 0o644); err != nil {
		return err
	}
	p, err := benchPlan(rate, dur, time.Second)
	if err != nil {
		return err
	}
	if quiet > 0 {
		urls, stopTargets, err := startWorkerTargets(ctx)
		if err != nil {
			return err
		}
		for i := range quiet {
			q := *p
			q.Target = urls["A"]
			probe := envprobe.Start()
			f, err := local.New(local.Options{Label: "A"}).Run(ctx, &q)
			if err != nil {
				stopTargets()
				return err
			}
			f.Run.Health = probe.Finish()
			logf("quiet single A #%d valid=%v work p95 %.2f ms, calibration %v ms", i, f.Validity.Valid, f.Endpoint("work").Latency.P95, f.Run.Health.CalibrationMs)
			if err := results.WriteFile(filepath.Join(dir, fmt.Sprintf("quiet-A-%02d.json", i)), f); err != nil {
				stopTargets()
				return err
			}
		}
		stopTargets()
	}
	if burners > 0 {
		stop, err := startBurners(burners)
		if err != nil {
			return err
		}
		defer stop()
		logf("started %d CPU burners", burners)
	}
	var jobs []job
	for _, set := range []struct {
		c      counts
		paired bool
	}{{singles, false}, {pairs, true}} {
		for i := 0; ; i++ {
			added := false
			for _, b := range builds {
				if i < set.c[b.name] {
					jobs = append(jobs, job{b.name, i, set.paired})
					added = true
				}
			}
			if !added {
				break
			}
		}
	}
	next := make(chan job)
	errs := make(chan error, parallel)
	var wg sync.WaitGroup
	for w := range max(parallel, 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each worker has its own targets and connection pools, as
			// separate CI jobs would: base traffic goes to A, head traffic to
			// a second A process or a B build, so neither side's server also
			// serves the other side (or other workers) and the sides stay
			// symmetric.
			urls, stopTargets, err := startWorkerTargets(ctx)
			if err != nil {
				errs <- fmt.Errorf("worker %d: %w", w, err)
				return
			}
			defer stopTargets()
			for j := range next {
				if err := recordOne(ctx, dir, p, urls, j, logf); err != nil {
					errs <- fmt.Errorf("worker %d: %w", w, err)
					return
				}
			}
		}()
	}
	started := time.Now()
	for n, j := range jobs {
		select {
		case next <- j:
		case err := <-errs:
			close(next)
			wg.Wait()
			return err
		}
		if n%10 == 9 {
			logf("%d/%d runs started in %s", n+1, len(jobs), time.Since(started).Round(time.Second))
		}
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// recordOne runs and writes one job.
// Runs use the local runner's own client (the fast HTTP/1.1 path users'
// `loadgate run` takes); a paired run's sides keep theirs across slots.
func recordOne(ctx context.Context, dir string, p *plan.Plan, urls map[string]string, j job, logf func(string, ...any)) error {
	if !j.paired {
		q := *p
		q.Target = urls[headTarget(j.build)]
		probe := envprobe.Start()
		f, err := local.New(local.Options{Label: j.build}).Run(ctx, &q)
		if err != nil {
			return err
		}
		f.Run.Health = probe.Finish()
		logf("single %s #%d valid=%v work p95 %.2f ms", j.build, j.index, f.Validity.Valid, f.Endpoint("work").Latency.P95)
		return results.WriteFile(filepath.Join(dir, fmt.Sprintf("single-%s-%02d.json", j.build, j.index)), f)
	}
	// Each side keeps its connections from slot to slot, as `loadgate gate
	// --paired` does.
	conns := map[string]*local.Conns{paired.Base: local.NewConns(), paired.Head: local.NewConns()}
	defer func() {
		for _, c := range conns {
			_ = c.Close()
		}
	}()
	pr := &paired.Runner{BaseTarget: urls["A"], HeadTarget: urls[headTarget(j.build)], Seed: uint64(1000*j.index + len(j.build)),
		New: func(side string) runners.Runner {
			return local.New(local.Options{Label: side, Slot: true, Conns: conns[side]})
		}}
	base, head, err := pr.Run(ctx, p)
	if err != nil {
		return err
	}
	for side, f := range map[string]*results.File{"base": base, "head": head} {
		if err := results.WriteFile(filepath.Join(dir, fmt.Sprintf("paired-%s-%02d-%s.json", j.build, j.index, side)), f); err != nil {
			return err
		}
	}
	logf("paired %s #%d valid=%v/%v work p95 %.2f → %.2f ms", j.build, j.index, base.Validity.Valid, head.Validity.Valid,
		base.Endpoint("work").Latency.P95, head.Endpoint("work").Latency.P95)
	return nil
}

// burn spins one CPU until killed (a CPU burner of the busy runner).
func burn() {
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
		burnSink.Store(x)
	}
}

var burnSink atomic.Uint64

// startBurners starts n processes of this binary in -burn mode and returns a
// function that stops exactly those, by PID.
func startBurners(n int) (stop func(), err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var cmds []*exec.Cmd
	stop = func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for range n {
		c := exec.Command(exe, "-burn")
		if err := c.Start(); err != nil {
			stop()
			return nil, err
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}

// loadRecorded reads what record wrote (quiet runs of A under "quiet").
func loadRecorded(dir string) (meta recordMeta, singles map[string][]*results.File, pairs map[string][][2]*results.File, err error) {
	meta.Parallel = 1
	if b, err := os.ReadFile(filepath.Join(dir, metaFile)); err == nil {
		if err := json.Unmarshal(b, &meta); err != nil {
			return meta, nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, metaFile), err)
		}
	}
	singles = map[string][]*results.File{}
	pairs = map[string][][2]*results.File{}
	for i := 0; ; i++ {
		f, err := results.ReadFile(filepath.Join(dir, fmt.Sprintf("quiet-A-%02d.json", i)))
		if os.IsNotExist(err) {
			break
		}
		if err != nil {
			return meta, nil, nil, err
		}
		singles["quiet"] = append(singles["quiet"], f)
	}
	for _, bd := range builds {
		b := bd.name
		for i := 0; ; i++ {
			f, err := results.ReadFile(filepath.Join(dir, fmt.Sprintf("single-%s-%02d.json", b, i)))
			if os.IsNotExist(err) {
				break
			}
			if err != nil {
				return meta, nil, nil, err
			}
			singles[b] = append(singles[b], f)
		}
		for i := 0; ; i++ {
			base, err := results.ReadFile(filepath.Join(dir, fmt.Sprintf("paired-%s-%02d-base.json", b, i)))
			if os.IsNotExist(err) {
				break
			}
			if err != nil {
				return meta, nil, nil, err
			}
			head, err := results.ReadFile(filepath.Join(dir, fmt.Sprintf("paired-%s-%02d-head.json", b, i)))
			if err != nil {
				return meta, nil, nil, err
			}
			pairs[b] = append(pairs[b], [2]*results.File{base, head})
		}
	}
	return meta, singles, pairs, nil
}
