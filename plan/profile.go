package plan

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Closed reports whether the profile uses the closed model (virtual users
// looping request → response) rather than arrival rates.
func (pr *Profile) Closed() bool {
	if pr.VUs > 0 {
		return true
	}
	return len(pr.Stages) > 0 && pr.Stages[0].VUs > 0
}

func (p *parser) profile(n *yaml.Node) Profile {
	var pr Profile
	m := p.mapping(n, "profile", "profile")
	if m == nil {
		return pr
	}
	tn := m.get("type")
	if tn == nil {
		p.errorf(m.node, "profile.type", "required (one of %s)", strings.Join(ProfileTypes, ", "))
		return pr
	}
	pr.Type = p.text(tn, "profile.type", false)
	keys, ok := keysOf(profileKeys, pr.Type)
	if !ok {
		if pr.Type != "" {
			p.errorf(tn, "profile.type", "unknown profile type %q%s; one of %s", pr.Type, suggest(pr.Type, ProfileTypes), strings.Join(ProfileTypes, ", "))
		}
		return pr
	}
	for _, k := range m.order {
		if !slices.Contains(keys, k) {
			p.errorf(m.keyNode(k), "profile."+k, "not used by profile type %s (it uses %s)", pr.Type, strings.Join(keys[1:], ", "))
		}
	}
	get := func(k string) *yaml.Node {
		if slices.Contains(keys, k) {
			return m.get(k)
		}
		return nil
	}

	if v := get("warmup"); v != nil {
		pr.Warmup = p.duration(v, "profile.warmup", true)
	}
	if v := get("rate"); v != nil {
		pr.Rate = p.rate(v, "profile.rate", false)
	}
	if v := get("vus"); v != nil {
		pr.VUs = p.integer(v, "profile.vus", 1, MaxVUs)
		if get("rate") != nil {
			p.errorf(m.keyNode("vus"), "profile.vus", "rate and vus are mutually exclusive (rate: open model, arrivals per second; vus: closed model)")
		}
	}
	if v := get("think_time"); v != nil {
		pr.ThinkTime = p.thinkTime(v)
		defer func() {
			if !pr.Closed() {
				p.errorf(m.keyNode("think_time"), "profile.think_time", "applies to the closed model (vus): an open model's arrivals follow the rate, not the responses")
			}
		}()
	}
	if v := get("max_in_flight"); v != nil {
		pr.MaxInFlight = p.integer(v, "profile.max_in_flight", 1, 10_000_000)
	}
	needLoad := func() {
		if get("rate") == nil && get("vus") == nil {
			p.errorf(m.node, "profile.rate", "required: rate (open model, e.g. 100/s) or vus (closed model)")
		}
	}
	needDuration := func() {
		if v := get("duration"); v != nil {
			pr.Duration = p.duration(v, "profile.duration", false)
		} else {
			p.errorf(m.node, "profile.duration", "required, e.g. 60s")
		}
	}
	stepDuration := func() {
		pr.StepDuration = DefaultStepDuration
		if v := get("step_duration"); v != nil {
			pr.StepDuration = p.duration(v, "profile.step_duration", false)
		}
	}

	switch pr.Type {
	case ProfileLoad, ProfileEndurance:
		needLoad()
		needDuration()
	case ProfileSpike:
		needLoad()
		needDuration()
		pr.Multiplier = DefaultMultiplier
		if v := get("multiplier"); v != nil {
			if x, ok := p.number(v, "profile.multiplier"); ok {
				if x <= 1 || x > 1000 {
					p.errorf(v, "profile.multiplier", "must be > 1 and <= 1000, got %v", x)
				} else {
					pr.Multiplier = x
				}
			}
		}
		if pr.Duration > 0 {
			pr.SpikeAt = pr.Duration / 3
			pr.SpikeDuration = pr.Duration / 10
		}
		if v := get("spike_at"); v != nil {
			pr.SpikeAt = p.duration(v, "profile.spike_at", false)
		}
		if v := get("spike_duration"); v != nil {
			pr.SpikeDuration = p.duration(v, "profile.spike_duration", false)
		}
		if pr.Duration > 0 && pr.SpikeAt > 0 && pr.SpikeDuration > 0 && pr.SpikeAt+pr.SpikeDuration >= pr.Duration {
			at := m.keyNode("spike_duration")
			if at == nil {
				at = m.keyNode("spike_at")
			}
			if at == nil {
				at = m.keyNode("duration")
			}
			p.errorf(at, "profile.spike_duration", "the spike must end before duration so recovery can be measured (spike_at %v + spike_duration %v >= duration %v)", pr.SpikeAt, pr.SpikeDuration, pr.Duration)
		}
		if pr.VUs > 0 && float64(pr.VUs)*pr.Multiplier > MaxVUs {
			p.errorf(m.get("vus"), "profile.vus", "vus × multiplier exceeds %d", MaxVUs)
		}
		if pr.Rate*pr.Multiplier > MaxRateValue {
			p.errorf(m.get("rate"), "profile.rate", "rate × multiplier exceeds %s", FormatRate(MaxRateValue))
		}
	case ProfileStress, ProfileScalability:
		if get("rate") == nil {
			p.errorf(m.node, "profile.rate", "required: the highest rate to step up to, e.g. 500/s")
		}
		stepDuration()
		if pr.Rate > 0 {
			pr.StepRate = pr.Rate * DefaultStepFraction
		}
		if v := get("step_rate"); v != nil {
			pr.StepRate = p.rate(v, "profile.step_rate", false)
		}
		pr.StartRate = pr.StepRate
		if v := get("start_rate"); v != nil {
			pr.StartRate = p.rate(v, "profile.start_rate", false)
		}
		if pr.Rate > 0 && pr.StartRate > pr.Rate {
			p.errorf(m.get("start_rate"), "profile.start_rate", "must be <= rate (%s), got %s", FormatRate(pr.Rate), FormatRate(pr.StartRate))
		} else if pr.Rate > 0 && pr.StepRate > 0 && pr.StartRate > 0 {
			if stepCount(pr.StartRate, pr.StepRate, pr.Rate) > MaxSteps {
				at := m.get("step_rate")
				if at == nil {
					at = m.get("rate")
				}
				p.errorf(at, "profile.step_rate", "more than %d steps from %s to %s; raise step_rate or start_rate", MaxSteps, FormatRate(pr.StartRate), FormatRate(pr.Rate))
			}
		}
		if pr.Type == ProfileStress {
			pr.BreakErrorRate = DefaultBreakErrorRate
			if v := get("break_error_rate"); v != nil {
				pr.BreakErrorRate = p.percent(v, "profile.break_error_rate")
			}
			if v := get("break_p95"); v != nil {
				pr.BreakP95 = p.duration(v, "profile.break_p95", false)
			}
		}
	case ProfileVolume:
		needLoad()
		stepDuration()
		pn := get("payloads")
		if pn == nil {
			p.errorf(m.node, "profile.payloads", "required: a list of payload sizes, e.g. [1KB, 64KB, 1MiB]")
			break
		}
		items := p.sequence(pn, "profile.payloads", "sizes")
		if rn := p.resolve(pn); rn != nil && rn.Kind == yaml.SequenceNode && len(items) == 0 {
			p.errorf(rn, "profile.payloads", "must list at least one size")
		}
		if len(items) > MaxSteps {
			p.errorf(pn, "profile.payloads", "at most %d sizes", MaxSteps)
			break
		}
		for i, it := range items {
			if b := p.size(it, fmt.Sprintf("profile.payloads[%d]", i), MaxPayloadBytes); b > 0 {
				pr.Payloads = append(pr.Payloads, b)
			}
		}
	case ProfileStages:
		pr.Stages = p.stages(get("stages"), m.node)
	}
	if pr.MaxInFlight > 0 && pr.Closed() {
		p.errorf(m.keyNode("max_in_flight"), "profile.max_in_flight", "applies to the open model (rate); with vus the number of users bounds concurrency")
	}
	return pr
}

// stepCount is the number of constant-rate steps from start by step up to
// top, the last one being top itself.
func stepCount(start, step, top float64) int {
	n := math.Floor((top-start)/step+1e-9) + 1
	if n > MaxSteps+1 {
		return MaxSteps + 1
	}
	k := int(n)
	if start+float64(k-1)*step < top-1e-9 {
		k++
	}
	return k
}

func (p *parser) stages(n *yaml.Node, profileNode *yaml.Node) []Stage {
	if n == nil {
		p.errorf(profileNode, "profile.stages", "required: a list of stages, e.g. [{duration: 30s, ramp: 10/s -> 100/s}]")
		return nil
	}
	items := p.sequence(n, "profile.stages", "stages")
	if rn := p.resolve(n); rn != nil && rn.Kind == yaml.SequenceNode && len(items) == 0 {
		p.errorf(rn, "profile.stages", "must list at least one stage")
	}
	if len(items) > MaxSteps {
		p.errorf(n, "profile.stages", "at most %d stages", MaxSteps)
		return nil
	}
	var out []Stage
	closed := -1 // unknown; 0 open; 1 closed
	for i, it := range items {
		path := fmt.Sprintf("profile.stages[%d]", i)
		m := p.mapping(it, path, "stage")
		if m == nil {
			continue
		}
		var st Stage
		if v := m.get("name"); v != nil {
			st.Name = p.str(v, path+".name", false)
		}
		if v := m.get("duration"); v != nil {
			st.Duration = p.duration(v, path+".duration", false)
		} else {
			p.errorf(m.node, path+".duration", "required, e.g. 30s")
		}
		var set []string
		for _, k := range []string{"rate", "ramp", "vus"} {
			if m.get(k) != nil {
				set = append(set, k)
			}
		}
		switch {
		case len(set) == 0:
			p.errorf(m.node, path, "needs one of rate (e.g. 100/s), ramp (e.g. 10/s -> 100/s) or vus (e.g. 10)")
		case len(set) > 1:
			p.errorf(m.keyNode(set[1]), path+"."+set[1], "%s and %s are mutually exclusive: a stage has one of rate, ramp or vus", set[0], set[1])
		}
		isClosed := 0
		switch {
		case m.get("rate") != nil:
			st.StartRate = p.rate(m.get("rate"), path+".rate", true)
			st.EndRate = st.StartRate
		case m.get("ramp") != nil:
			v := m.get("ramp")
			if s, ok := p.scalar(v, path+".ramp", "a ramp like 10/s -> 100/s", false); ok {
				from, to, ok := strings.Cut(s, "->")
				if !ok {
					p.errorf(v, path+".ramp", "want a ramp like 10/s -> 100/s, got %q", s)
				} else {
					st.StartRate = p.checkRate(v, path+".ramp", strings.TrimSpace(from), true)
					st.EndRate = p.checkRate(v, path+".ramp", strings.TrimSpace(to), true)
				}
			}
		case m.get("vus") != nil:
			st.VUs = p.integer(m.get("vus"), path+".vus", 1, MaxVUs)
			isClosed = 1
		}
		if len(set) == 1 {
			if closed >= 0 && closed != isClosed {
				p.errorf(m.keyNode(set[0]), path+"."+set[0], "stages cannot mix vus (closed model) with rate/ramp (open model)")
			}
			closed = isClosed
		}
		out = append(out, st)
	}
	return out
}

// Schedule expands the profile into consecutive stages, each a linear ramp of
// arrival rate from StartRate to EndRate (equal for a constant rate) or a VU
// count (closed model) held for Duration. A warm-up, when set, comes first
// as a stage flagged Warmup at the rate (or VUs) the profile starts with; it
// is measured but excluded from the verdict. Per profile type:
//
//   - load, endurance: one stage at rate (or vus) for duration.
//   - stress, scalability: one stage per step: start_rate, +step_rate, …, up
//     to rate (the last step is rate itself), each step_duration long.
//   - spike: base rate for spike_at ("pre-spike"), rate×multiplier for spike_duration, base
//     rate for the rest of duration (vus×multiplier in the closed model).
//   - volume: one stage per payload size, each step_duration long, carrying
//     PayloadBytes.
//   - stages: the plan's stages as written.
func (p *Plan) Schedule() []Stage {
	pr := &p.Profile
	var out []Stage
	switch pr.Type {
	case ProfileLoad, ProfileEndurance:
		out = append(out, Stage{Name: "steady", Duration: pr.Duration, StartRate: pr.Rate, EndRate: pr.Rate, VUs: pr.VUs})
	case ProfileStress, ProfileScalability:
		if pr.StepRate <= 0 || pr.Rate <= 0 {
			break
		}
		k := stepCount(pr.StartRate, pr.StepRate, pr.Rate)
		for i := 0; i < k && i < MaxSteps; i++ {
			r := math.Min(pr.StartRate+float64(i)*pr.StepRate, pr.Rate)
			out = append(out, Stage{Name: "step " + FormatRate(r), Duration: pr.StepDuration, StartRate: r, EndRate: r})
		}
	case ProfileSpike:
		vus := 0
		if pr.VUs > 0 {
			vus = int(math.Round(float64(pr.VUs) * pr.Multiplier))
		}
		rest := pr.Duration - pr.SpikeAt - pr.SpikeDuration
		out = append(out,
			Stage{Name: "pre-spike", Duration: pr.SpikeAt, StartRate: pr.Rate, EndRate: pr.Rate, VUs: pr.VUs},
			Stage{Name: "spike", Duration: pr.SpikeDuration, StartRate: pr.Rate * pr.Multiplier, EndRate: pr.Rate * pr.Multiplier, VUs: vus},
			Stage{Name: "post-spike", Duration: rest, StartRate: pr.Rate, EndRate: pr.Rate, VUs: pr.VUs})
	case ProfileVolume:
		for _, b := range pr.Payloads {
			out = append(out, Stage{Name: fmt.Sprintf("payload %s", FormatSize(b)), Duration: pr.StepDuration, StartRate: pr.Rate, EndRate: pr.Rate, VUs: pr.VUs, PayloadBytes: b})
		}
	case ProfileStages:
		for i, s := range pr.Stages {
			if s.Name == "" {
				s.Name = fmt.Sprintf("stage %d", i+1)
			}
			out = append(out, s)
		}
	}
	// Plans changed after parsing (e.g. a --duration override shorter than a
	// spike) can leave empty stages; they carry no load.
	out = slices.DeleteFunc(out, func(s Stage) bool { return s.Duration <= 0 })
	if pr.Warmup > 0 && len(out) > 0 {
		first := out[0]
		w := Stage{Name: "warmup", Duration: pr.Warmup, StartRate: first.StartRate, EndRate: first.StartRate, VUs: first.VUs, PayloadBytes: first.PayloadBytes, Warmup: true}
		out = append([]Stage{w}, out...)
	}
	return out
}

// TotalDuration is the schedule's length, warm-up included.
func (p *Plan) TotalDuration() time.Duration {
	var d time.Duration
	for _, s := range p.Schedule() {
		d += s.Duration
	}
	return d
}

// PeakRate is the highest arrival rate (per second) anywhere in the
// schedule; 0 for the closed model.
func (p *Plan) PeakRate() float64 {
	var peak float64
	for _, s := range p.Schedule() {
		peak = math.Max(peak, math.Max(s.StartRate, s.EndRate))
	}
	return peak
}

// PeakVUs is the highest VU count in the schedule (closed model); 0 for the
// open model.
func (p *Plan) PeakVUs() int {
	peak := 0
	for _, s := range p.Schedule() {
		peak = max(peak, s.VUs)
	}
	return peak
}

// FormatSize formats bytes with the largest binary unit that divides it
// exactly ("64KiB", "1MiB", "1500B").
func FormatSize(b int64) string {
	switch {
	case b >= 1<<30 && b%(1<<30) == 0:
		return fmt.Sprintf("%dGiB", b>>30)
	case b >= 1<<20 && b%(1<<20) == 0:
		return fmt.Sprintf("%dMiB", b>>20)
	case b >= 1<<10 && b%(1<<10) == 0:
		return fmt.Sprintf("%dKiB", b>>10)
	}
	return fmt.Sprintf("%dB", b)
}
