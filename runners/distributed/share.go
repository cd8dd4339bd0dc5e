package distributed

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

// planProfile is the profile of the whole plan as a single process runs it
// (as runners/local records it at rate scale 1): the merged results of N
// workers record the plan's rate, not one worker's share, so a baseline
// recorded with another number of workers (or none) compares; only the
// runner class differs.
func planProfile(p *plan.Plan) results.Profile {
	out := results.Profile{Type: p.Profile.Type, Model: "open",
		Duration: results.Duration(p.TotalDuration() - p.Profile.Warmup), Warmup: results.Duration(p.Profile.Warmup)}
	if out.Type == "" {
		out.Type = plan.ProfileLoad
	}
	if p.Profile.Closed() {
		out.Model = "closed"
		out.VUs = p.PeakVUs()
	} else {
		out.Rate = round3(p.PeakRate())
	}
	for _, s := range p.Schedule() {
		out.Stages = append(out.Stages, results.Stage{Name: s.Name, Duration: results.Duration(s.Duration),
			StartRate: round3(s.StartRate), EndRate: round3(s.EndRate), VUs: s.VUs, PayloadBytes: s.PayloadBytes, Warmup: s.Warmup})
	}
	return out
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

// delivered is the fraction (0..1) of its share a worker ran over the
// measured interval [from, to): 1 for a complete run, the covered part of the
// interval for a partial one (a worker stopped by SIGTERM, a Spot reclaim or
// an abort uploads what it measured until then).
func delivered(st *workerState, from, to time.Time) float64 {
	if !st.done {
		return 0
	}
	if !st.partial {
		return 1
	}
	span := to.Sub(from)
	if span <= 0 {
		return 0
	}
	begin := from
	if st.info.Started.After(begin) {
		begin = st.info.Started
	}
	end := st.ended
	if end.After(to) {
		end = to
	}
	return math.Max(0, math.Min(1, end.Sub(begin).Seconds()/span.Seconds()))
}

// workerReasons groups the workers' own validity reasons by text, each a
// sentence naming its workers: "worker eu-west-1/3: the generator fell behind
// …." rather than the same words once per worker.
func workerReasons(order []*workerState) []string {
	var texts []string
	who := map[string][]string{}
	for _, st := range order {
		for _, r := range st.validity {
			r = strings.TrimSpace(r)
			if r == "" {
				continue
			}
			if _, ok := who[r]; !ok {
				texts = append(texts, r)
			}
			who[r] = append(who[r], st.spec.ID())
		}
	}
	out := make([]string, 0, len(texts))
	for _, r := range texts {
		out = append(out, sentence(fmt.Sprintf("%s: %s", workerList(who[r]), r)))
	}
	return out
}

// workerList names workers: "worker a/0", "workers a/0, a/1", "workers a/0,
// a/1, a/2 and 7 more".
func workerList(ids []string) string {
	const show = 3
	if len(ids) == 1 {
		return "worker " + ids[0]
	}
	if len(ids) <= show {
		return "workers " + strings.Join(ids, ", ")
	}
	return fmt.Sprintf("workers %s and %d more", strings.Join(ids[:show], ", "), len(ids)-show)
}

// sentence ends s with a full stop.
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.HasSuffix(s, ".") {
		return s
	}
	return s + "."
}
