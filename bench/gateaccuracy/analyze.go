package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

// kinds of comparison: the multiplier applied to /work on the head side.
var kinds = []struct {
	name string
	mult float64
}{{"A/A", 1}, {"A/B +10 %", 1.1}, {"A/B +20 %", 1.2}}

// tally counts one rule's outcomes on one kind of comparison.
type tally struct {
	n, work, other, anyFlag, inconclusive, invalid int
}

func (t tally) rate(k int) string {
	if t.n == 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f %%", 100*float64(k)/float64(t.n))
}

// verdict is what a rule said about one comparison.
type verdict struct {
	work, other, inconclusive, invalid bool
}

// rule judges one comparison.
type rule struct {
	name  string
	judge func(base []*results.File, head *results.File) verdict
}

func gatePolicy(p95 float64) gate.Policy {
	pol := gate.DefaultPolicy()
	pol.Thresholds[gate.P95] = gate.Tolerance{Kind: gate.KindRelative, Value: p95, Raw: fmt.Sprintf("+%g%%", 100*p95)}
	return pol
}

func gateRule(name string, paired bool, pol gate.Policy) rule {
	return rule{name: name, judge: func(base []*results.File, head *results.File) verdict {
		var v *gate.Verdict
		if paired {
			v = gate.ComparePaired(base[0], head, pol)
		} else {
			v = gate.Compare(base, head, pol)
		}
		var w, o bool
		for _, e := range v.Endpoints {
			if e.Decision == gate.Regressed {
				w = w || e.Name == "work"
				o = o || e.Name != "work"
			}
		}
		return verdict{w, o, v.Decision == gate.Inconclusive, v.Decision == gate.Invalid}
	}}
}

// naiveRule fails when an endpoint's whole-run p95 grew more than x against
// the most recent baseline run — what a single-number benchmark alert does.
func naiveRule(name string, x float64) rule {
	return rule{name: name, judge: func(base []*results.File, head *results.File) verdict {
		last := base[len(base)-1]
		grew := func(ep string) bool {
			b, h := last.Endpoint(ep), head.Endpoint(ep)
			return h.Latency.P95 > b.Latency.P95*(1+x)
		}
		other := false
		for _, e := range head.Endpoints {
			if e.Name != "work" && last.Endpoint(e.Name) != nil {
				other = other || grew(e.Name)
			}
		}
		return verdict{work: grew("work"), other: other}
	}}
}

// comparison is one (base, head) case of a kind.
type comparison struct {
	base []*results.File
	head *results.File
}

// source yields the comparisons of one kind on demand, so a simulation of
// thousands of runs never holds more than the ones being judged (each window
// histogram is ~160 KB in memory).
type source struct {
	n   int
	get func(i int) comparison
}

func fixed(cs []comparison) source {
	return source{n: len(cs), get: func(i int) comparison { return cs[i] }}
}

// row is one line of the table. A stretch row holds paired A/B +5 %
// comparisons in t[1] and goes to its own table.
type row struct {
	source, mode, rule string
	t                  [3]tally
	stretch            bool
}

func evaluate(r rule, byKind [3]source) [3]tally {
	var out [3]tally
	for k, src := range byKind {
		vs := make([]verdict, src.n)
		// Comparisons are independent and the gate is pure: judge them in
		// parallel, tally in order.
		var wg sync.WaitGroup
		next := make(chan int)
		for range runtime.NumCPU() {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					c := src.get(i)
					vs[i] = r.judge(c.base, c.head)
				}
			}()
		}
		for i := range src.n {
			next <- i
		}
		close(next)
		wg.Wait()
		for _, v := range vs {
			out[k].n++
			if v.work {
				out[k].work++
			}
			if v.other {
				out[k].other++
			}
			if v.work || v.other {
				out[k].anyFlag++
			}
			if v.inconclusive {
				out[k].inconclusive++
			}
			if v.invalid {
				out[k].invalid++
			}
		}
	}
	return out
}

// report runs the simulation (and analyzes recorded real runs) and writes the
// Markdown table.
func report(w io.Writer, simN int, rates []float64, dur time.Duration, realDirs []string, logf func(string, ...any)) error {
	start := time.Now()
	var rows []row
	tight, def := gatePolicy(0.05), gate.DefaultPolicy()
	for _, rate := range rates {
		if simN <= 0 {
			break
		}
		cfg := simCfg{rps: rate / 2, windows: int(dur / time.Second)}
		src := fmt.Sprintf("simulated, %g rps/endpoint", rate/2)
		seed := uint64(rate)
		for _, R := range []int{1, 5} {
			var byKind [3]source
			for k, kd := range kinds {
				byKind[k] = source{n: simN, get: func(i int) comparison {
					rng := rand.New(rand.NewPCG(seed, uint64(1000000*R+1000*k+i)))
					var base []*results.File
					for r := range R {
						base = append(base, simSingle(rng, cfg, 1, fmt.Sprintf("base%d-%d", i, r)))
					}
					return comparison{base, simSingle(rng, cfg, kd.mult, "head")}
				}}
			}
			mode := fmt.Sprintf("committed baseline, %d run(s)", R)
			logf("simulating %s, %s: %d comparisons per rule", src, mode, 3*simN)
			// Kept short: the machine this runs on is shared and slow. The
			// default policy and the naive rules are shown in paired mode
			// and on real runs.
			for _, rl := range []rule{gateRule("gate, p95 +5 %", false, tight), naiveRule("naive p95 > +10 %", 0.10)} {
				if R > 1 && strings.HasPrefix(rl.name, "naive") {
					continue // the naive rule looks at one baseline run: same as R = 1
				}
				rows = append(rows, row{source: src, mode: mode, rule: rl.name, t: evaluate(rl, byKind)})
			}
		}
		var byKind [3]source
		for k, kd := range kinds {
			byKind[k] = source{n: simN, get: func(i int) comparison {
				rng := rand.New(rand.NewPCG(seed, uint64(7000000+1000*k+i)))
				b, h := simPaired(rng, cfg, kd.mult)
				return comparison{[]*results.File{b}, h}
			}}
		}
		logf("simulating %s, paired: %d comparisons per rule", src, 3*simN)
		strict := gatePolicy(0.05)
		strict.Confidence = 0.99
		for _, rl := range []rule{gateRule("gate, p95 +5 %", true, tight), gateRule("gate, p95 +5 %, confidence 99 %", true, strict), gateRule("gate, default (p95 +10 %)", true, def),
			naiveRule("naive p95 > +5 %", 0.05), naiveRule("naive p95 > +10 %", 0.10)} {
			rows = append(rows, row{source: src, mode: "paired", rule: rl.name, t: evaluate(rl, byKind)})
		}
	}
	var realNotes []string
	for _, dir := range realDirs {
		rr, note, err := realRows(dir, tight, def, logf)
		if err != nil {
			return err
		}
		rows = append(rows, rr...)
		realNotes = append(realNotes, note)
	}
	fmt.Fprintf(w, "# Gate accuracy\n\n")
	fmt.Fprintf(w, "Generated by `go run ./bench/gateaccuracy %s` on %s/%s, %d CPUs, in %s.\n\n",
		strings.Join(os.Args[1:], " "), runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), time.Since(start).Round(time.Second))
	fmt.Fprintf(w, "Each run: 2 endpoints simulated, 3 in recordings since the busy-runner bench (requests/s per endpoint in the source column) for %s (per side in paired mode), 1 s windows. "+
		"`/work` latency is log-normal (median %g ms, σ %g), `/other` log-normal (median %g ms), `/third` log-normal (median %g ms); A/B multiplies `/work` by 1.1 or 1.2 (its p95 +10 %% / +20 %%), the others never change.\n\n",
		dur, workMedianMs, sigma, otherMedianMs, thirdMedianMs)
	fmt.Fprintf(w, "*False positives* = A/A comparisons where any endpoint was marked regressed. *Power* = A/B comparisons where `/work` was marked regressed. "+
		"*Untouched flagged* = A/B comparisons where an endpoint other than `/work` was marked regressed. *Inconclusive* = verdicts with too little data (they pass unless `--fail-on inconclusive`). "+
		"*Invalid* = verdicts refused because the load generator could not hold the schedule (exit 4; never a pass, never a regression).\n\n")
	fmt.Fprintln(w, "| source | mode | rule | false positives (A/A) | power +10 % | power +20 % | untouched flagged (A/B) | inconclusive | invalid | n (A/A / +10 / +20) |")
	fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|---|---|")
	var stretch []row
	for _, r := range rows {
		if r.stretch {
			stretch = append(stretch, r)
			continue
		}
		aa, b10, b20 := r.t[0], r.t[1], r.t[2]
		other := tally{n: b10.n + b20.n, other: b10.other + b20.other}
		all := tally{n: aa.n + b10.n + b20.n, inconclusive: aa.inconclusive + b10.inconclusive + b20.inconclusive, invalid: aa.invalid + b10.invalid + b20.invalid}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d / %d / %d |\n", r.source, r.mode, r.rule,
			aa.rate(aa.anyFlag), b10.rate(b10.work), b20.rate(b20.work), other.rate(other.other), all.rate(all.inconclusive), all.rate(all.invalid), aa.n, b10.n, b20.n)
	}
	fmt.Fprintln(w)
	if len(stretch) > 0 {
		fmt.Fprintln(w, "Paired A/B +5 % (`/work` ×1.05; the stretch goal):")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| source | mode | rule | power +5 % | untouched flagged | inconclusive | invalid | n |")
		fmt.Fprintln(w, "|---|---|---|---|---|---|---|---|")
		for _, r := range stretch {
			t := r.t[1]
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %d |\n", r.source, r.mode, r.rule,
				t.rate(t.work), t.rate(t.other), t.rate(t.inconclusive), t.rate(t.invalid), t.n)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "Simulated machine noise (log scale): run level N(0, %g) per job, AR(1) drift with sd %g and correlation %g per second, "+
		"and in %g %% of windows a stall adding U(0, %g ms) to %g %% of requests. In paired mode base and head share the job and alternate 1 s slots (random order per pair).\n",
		runSD, driftSD, driftPhi, 100*hiccupP, hiccupMs, 100*hiccupFrac)
	for _, note := range realNotes {
		fmt.Fprintf(w, "\n%s\n", note)
	}
	return nil
}

// realRows analyzes recorded real runs. Runs the local runner marked invalid
// (this shared machine could not hold the schedule) are counted in the note
// and still compared with their validity forced to true: the question here is
// the statistics' accuracy, not whether the generator kept up.
func realRows(dir string, tight, def gate.Policy, logf func(string, ...any)) ([]row, string, error) {
	meta, singles, pairs, err := loadRecorded(dir)
	if err != nil {
		return nil, "", err
	}
	perEndpoint := meta.Rate / 2
	for _, fs := range singles {
		if len(fs) > 0 && len(fs[0].Endpoints) > 0 {
			perEndpoint = meta.Rate / float64(len(fs[0].Endpoints))
			break
		}
	}
	for _, ps := range pairs { // a paired-only recording has no singles
		if len(ps) > 0 && len(ps[0][1].Endpoints) > 0 && len(singles) == 0 {
			perEndpoint = meta.Rate / float64(len(ps[0][1].Endpoints))
			break
		}
	}
	label := fmt.Sprintf("real load, %g rps/endpoint", perEndpoint)
	if meta.Parallel > 1 {
		label += fmt.Sprintf(", %d runs at once", meta.Parallel)
	}
	if meta.Burners > 0 {
		label += fmt.Sprintf(", %d CPU burners", meta.Burners)
	}
	invalid, total := 0, 0
	count := func(f *results.File) {
		total++
		if !f.Validity.Valid {
			invalid++
		}
	}
	for _, bd := range builds {
		b := bd.name
		for _, f := range singles[b] {
			count(f)
		}
		for _, p := range pairs[b] {
			count(p[0])
			count(p[1])
		}
	}
	busyRunner := meta.Burners > 0 || meta.Parallel > 1
	rows := realSet(label, busyRunner, singles, pairs, tight, def, true)
	rows = append(rows, stretchRows(label, pairs["B5"], tight, def)...)
	force := func(f *results.File) *results.File {
		c := *f
		c.Validity.Valid = true
		return &c
	}
	fs, fp := map[string][]*results.File{}, map[string][][2]*results.File{}
	for _, b := range []string{"A", "B10", "B20"} {
		for _, f := range singles[b] {
			fs[b] = append(fs[b], force(f))
		}
		for _, p := range pairs[b] {
			fp[b] = append(fp[b], [2]*results.File{force(p[0]), force(p[1])})
		}
	}
	if invalid > 0 && !goalsOnly {
		rows = append(rows, realSet(label+", validity ignored", busyRunner, fs, fp, tight, def, false)...)
	}
	logf("real %s: %d results files, %d invalid", dir, total, invalid)
	busy := "one run at a time"
	if meta.Parallel > 1 {
		busy = fmt.Sprintf("%d runs at once on the same cores, each its own runner with its own connections (a busy shared runner, on purpose)", meta.Parallel)
	}
	note := fmt.Sprintf("Real load (*%s*): the local runner against three builds of the target (separate processes on loopback, latency slept with nanosleep), %s; "+
		"runs of the kinds interleaved in time; committed-mode comparisons are all combinations of the recorded runs, so they are not independent, while every paired comparison is its own paired run. "+
		"%d of %d recorded results were marked invalid by the local runner (it could not hold the schedule); the gate refuses those (column *invalid*)", label, busy, invalid, total)
	if invalid > 0 {
		note += ", and the rows \"validity ignored\" compare them anyway to show what the statistics alone would have said"
	}
	note += "."
	return rows, note, nil
}

// goalsOnly limits the analysis of recordings to the rows the goals name
// (quiet committed baselines against each head, and paired runs), leaving out
// the all-combinations committed rows and the "validity ignored" view.
var goalsOnly bool

// realSet builds the rows of one view of the recorded runs.
func realSet(label string, busyRunner bool, singles map[string][]*results.File, pairs map[string][][2]*results.File, tight, def gate.Policy, withNaive bool) []row {
	var rows []row
	A := singles["A"]
	heads := [3][]*results.File{A, singles["B10"], singles["B20"]}
	// 1-run baselines: every ordered pair (base A_i, head X_j), i ≠ j for A/A.
	var one, three, pr [3][]comparison
	for k := range kinds {
		for i, b := range A {
			for j, h := range heads[k] {
				if k == 0 && i == j {
					continue
				}
				one[k] = append(one[k], comparison{[]*results.File{b}, h})
			}
		}
	}
	// 3-run baselines: consecutive A runs (as a baseline file keeps them),
	// head any run not among them.
	for a := 0; a+3 <= len(A); a++ {
		base := A[a : a+3]
		for k := range kinds {
			for j, h := range heads[k] {
				if k == 0 && j >= a && j < a+3 {
					continue
				}
				three[k] = append(three[k], comparison{base, h})
			}
		}
	}
	for k, b := range []string{"A", "B10", "B20"} {
		for _, p := range pairs[b] {
			pr[k] = append(pr[k], comparison{[]*results.File{p[0]}, p[1]})
		}
	}
	// Committed baseline recorded on the quiet machine (before the burners),
	// every head from the busy one.
	// Every 3 consecutive quiet runs make one baseline (as a baseline file
	// keeps them); each is compared with every busy head.
	if quiet := singles["quiet"]; len(quiet) > 0 {
		var qs [3][]comparison
		n := min(3, len(quiet))
		for a := 0; a+n <= len(quiet); a++ {
			for k := range kinds {
				for _, h := range heads[k] {
					qs[k] = append(qs[k], comparison{quiet[a : a+n], h})
				}
			}
		}
		where := "the same quiet runner"
		if busyRunner {
			where = "the busy runner"
		}
		mode := fmt.Sprintf("committed baseline, %d quiet runs (of %d), head on %s", n, len(quiet), where)
		for _, rl := range []rule{gateRule("gate, p95 +5 %", false, tight), gateRule("gate, default (p95 +10 %)", false, def)} {
			rows = append(rows, row{source: label, mode: mode, rule: rl.name, t: evaluate(rl, [3]source{fixed(qs[0]), fixed(qs[1]), fixed(qs[2])})})
		}
	}
	for _, set := range []struct {
		mode   string
		cs     [3][]comparison
		paired bool
		naive  bool
	}{{"committed baseline, 1 run", one, false, true}, {"committed baseline, 3 runs", three, false, false}, {"paired", pr, true, true}} {
		if goalsOnly && !set.paired {
			continue // every combination of recorded runs: thousands of comparisons
		}
		rules := []rule{gateRule("gate, p95 +5 %", set.paired, tight), gateRule("gate, default (p95 +10 %)", set.paired, def)}
		if set.paired && reportsServerTime(set.cs) {
			// The same runs with the Server-Timing samples dropped: what the
			// gate decides from client-seen latency alone.
			rules = append(rules, clientOnly(gateRule("gate, p95 +5 %, client latency only", true, tight)),
				clientOnly(gateRule("gate, default, client latency only", true, def)))
		}
		if set.naive && withNaive {
			rules = append(rules, naiveRule("naive p95 > +5 %", 0.05), naiveRule("naive p95 > +10 %", 0.10))
		}
		for _, rl := range rules {
			rows = append(rows, row{source: label, mode: set.mode, rule: rl.name, t: evaluate(rl, [3]source{fixed(set.cs[0]), fixed(set.cs[1]), fixed(set.cs[2])})})
		}
	}
	return rows
}

// stretchRows judges the paired A/B5 runs (none recorded: no rows).
func stretchRows(label string, b5 [][2]*results.File, tight, def gate.Policy) []row {
	if len(b5) == 0 {
		return nil
	}
	var cs [3][]comparison
	for _, p := range b5 {
		cs[1] = append(cs[1], comparison{[]*results.File{p[0]}, p[1]})
	}
	// A change as large as the tolerance is caught about half the time
	// (docs/statistics.md): +5 % is meant to be caught with a tolerance
	// below it. The tolerance only adds a condition to significance, so it
	// cannot raise the A/A rate above the confidence level.
	below := gatePolicy(0.02)
	rules := []rule{gateRule("gate, p95 +2 %", true, below), gateRule("gate, p95 +5 %", true, tight), gateRule("gate, default (p95 +10 %)", true, def)}
	if reportsServerTime(cs) {
		rules = append(rules, clientOnly(gateRule("gate, p95 +2 %, client latency only", true, below)))
	}
	var rows []row
	for _, rl := range rules {
		rows = append(rows, row{source: label, mode: "paired", rule: rl.name, stretch: true,
			t: evaluate(rl, [3]source{fixed(nil), fixed(cs[1]), fixed(nil)})})
	}
	return rows
}

// reportsServerTime says whether any recorded run carries Server-Timing samples.
func reportsServerTime(cs [3][]comparison) bool {
	for _, k := range cs {
		for _, c := range k {
			for _, e := range c.head.Endpoints {
				if e.ServerHistogram != nil {
					return true
				}
			}
		}
	}
	return false
}

// clientOnly wraps r so that it judges copies of the runs without their
// Server-Timing samples.
func clientOnly(r rule) rule {
	judge := r.judge
	r.judge = func(base []*results.File, head *results.File) verdict {
		bs := make([]*results.File, len(base))
		for i, b := range base {
			bs[i] = withoutServerTime(b)
		}
		return judge(bs, withoutServerTime(head))
	}
	return r
}

func withoutServerTime(f *results.File) *results.File {
	c := *f
	c.Endpoints = make([]results.Endpoint, len(f.Endpoints))
	for i, e := range f.Endpoints {
		e.ServerHistogram, e.ServerTime = nil, results.Summary{}
		e.Windows = append([]results.Window(nil), e.Windows...)
		for j := range e.Windows {
			w := &e.Windows[j]
			w.ServerHistogram = nil
			w.ServerP50, w.ServerP90, w.ServerP95, w.ServerP99, w.ServerMax = 0, 0, 0, 0, 0
		}
		c.Endpoints[i] = e
	}
	return &c
}
