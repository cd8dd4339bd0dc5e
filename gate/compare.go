package gate

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/loadgate/loadgate/results"
)

// Modes of a Verdict.
const (
	ModeBaseline = "baseline"
	ModePaired   = "paired"
	ModeSLOOnly  = "slo-only"
)

// IncompatibleError reports a baseline that was made from a different plan or
// profile than the run it would be compared with. Callers branch on it with
// errors.As to exit 2; Policy.AllowPlanChange turns it into warnings.
type IncompatibleError struct {
	Reasons []string
}

func (e *IncompatibleError) Error() string {
	return "baseline is incompatible with this run: " + strings.Join(e.Reasons, "; ") +
		" (re-record the baseline, or allow the comparison with --allow-plan-change)"
}

// Compatible checks that base runs and head come from the same plan (hash) and
// profile. It returns an *IncompatibleError unless pol.AllowPlanChange, in which
// case the reasons come back as warnings. A runner-class difference is always a
// warning: it changes the noise, not the meaning of the numbers.
func Compatible(base []*results.File, head *results.File, pol Policy) (warnings []string, err error) {
	var reasons []string
	for i, b := range base {
		label := runLabel(i, b)
		if b.Plan.Hash != head.Plan.Hash {
			reasons = append(reasons, fmt.Sprintf("%s is from plan %q hash %s, this run from plan %q hash %s",
				label, b.Plan.Name, short(b.Plan.Hash), head.Plan.Name, short(head.Plan.Hash)))
		}
		if d := b.Profile.ShapeDiff(head.Profile); d != "" {
			reasons = append(reasons, fmt.Sprintf("%s used a different profile (%s)", label, d))
		}
		if b.Run.RunnerClass != "" && head.Run.RunnerClass != "" && b.Run.RunnerClass != head.Run.RunnerClass {
			warnings = append(warnings, fmt.Sprintf("%s ran on runner class %s, this run on %s: noise levels may differ",
				label, b.Run.RunnerClass, head.Run.RunnerClass))
		}
	}
	if len(reasons) == 0 {
		return warnings, nil
	}
	if pol.AllowPlanChange {
		for _, r := range reasons {
			warnings = append(warnings, "plan changed (allowed): "+r)
		}
		return warnings, nil
	}
	return warnings, &IncompatibleError{Reasons: reasons}
}

func runLabel(i int, f *results.File) string {
	if f.Run.ID != "" {
		return fmt.Sprintf("baseline run %d (%s)", i+1, f.Run.ID)
	}
	return fmt.Sprintf("baseline run %d", i+1)
}

func short(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	if h == "" {
		return "(none)"
	}
	return h
}

// Compare decides a verdict for head against the runs of a committed baseline
// (any number, oldest first; none gives an SLO-only verdict). See
// docs/statistics.md for the model: per-window samples pooled across baseline
// runs, a bootstrap interval for each relative change, a Mann-Whitney U test
// on per-window values, and a prediction interval that makes the change exceed
// the spread between runs (estimated from the baseline's runs, floored by
// Policy.MinRunSpread).
func Compare(base []*results.File, head *results.File, pol Policy) *Verdict {
	pol = pol.normalized()
	v := &Verdict{Mode: ModeBaseline, Confidence: pol.Confidence, FailOnInconclusive: pol.FailOnInconclusive}
	if head == nil {
		v.Decision = Invalid
		v.Warnings = append(v.Warnings, "no results to judge")
		return v
	}
	v.Plan = head.Plan.Name
	warns, err := Compatible(base, head, pol)
	v.Warnings = append(v.Warnings, warns...)
	if ie, ok := err.(*IncompatibleError); ok {
		v.Decision = Incompatible
		v.Incompatible = ie.Reasons
		return v
	}
	var valid []*results.File
	for i, b := range base {
		if b == nil {
			continue
		}
		if !b.Validity.Valid {
			v.Warnings = append(v.Warnings, fmt.Sprintf("%s is invalid (%s): left out of the baseline",
				runLabel(i, b), reasonText(b.Validity)))
			continue
		}
		valid = append(valid, b)
	}
	baseInvalid := ""
	if len(base) > 0 && len(valid) == 0 {
		baseInvalid = "every baseline run is invalid: nothing to compare with"
	}
	if len(valid) == 0 {
		v.Mode = ModeSLOOnly
	}
	v.BaseRuns = len(valid)
	if len(valid) == 1 {
		v.Warnings = append(v.Warnings, "the baseline holds 1 run: run-to-run variance is unknown and not in the intervals; keep ≥ 3 runs (baseline keep) or use paired mode")
	}
	c := &comparer{pol: pol, paired: false, profile: head.Profile.Type}
	c.alpha = familyAlpha(pol, len(valid) > 0, head, func(name string) bool {
		for _, b := range valid {
			if b.Endpoint(name) != nil {
				return true
			}
		}
		return false
	}, c.serverCheckCount(valid, head))
	seen := map[string]bool{}
	for i := range head.Endpoints {
		he := &head.Endpoints[i]
		seen[he.Name] = true
		var bes []*results.Endpoint
		for _, b := range valid {
			if be := b.Endpoint(he.Name); be != nil {
				bes = append(bes, be)
			}
		}
		v.Endpoints = append(v.Endpoints, c.endpoint(he.Name, bes, he, len(valid) > 0))
	}
	for _, b := range valid {
		for i := range b.Endpoints {
			name := b.Endpoints[i].Name
			if seen[name] {
				continue
			}
			seen[name] = true
			var bes []*results.Endpoint
			for _, bb := range valid {
				if be := bb.Endpoint(name); be != nil {
					bes = append(bes, be)
				}
			}
			v.Endpoints = append(v.Endpoints, c.missing(name, bes))
		}
	}
	c.machineChanged(v, valid, head)
	finish(v, head, baseInvalid)
	return v
}

// ComparePaired decides a verdict from base and head measured interleaved in
// the same job (runners/paired): window i of base and window i of head ran in
// the same slot pair, in an order drawn at random, so machine drift cancels in
// their ratio and swapping the sides within pairs gives the change's
// distribution under "no change" (a randomization test; randomization.go).
func ComparePaired(base, head *results.File, pol Policy) *Verdict {
	pol = pol.normalized()
	v := &Verdict{Mode: ModePaired, Confidence: pol.Confidence, FailOnInconclusive: pol.FailOnInconclusive, BaseRuns: 1}
	if head == nil || base == nil {
		v.Decision = Invalid
		v.Warnings = append(v.Warnings, "paired mode needs both base and head results")
		return v
	}
	v.Plan = head.Plan.Name
	if base.Plan.Hash != head.Plan.Hash {
		v.Warnings = append(v.Warnings, fmt.Sprintf("base and head ran different plans (hash %s vs %s)", short(base.Plan.Hash), short(head.Plan.Hash)))
	}
	if pr := head.Run.Pairing; pr != nil && len(pr.LeftOut) > 0 {
		nums := make([]string, len(pr.LeftOut))
		for i, lo := range pr.LeftOut {
			nums[i] = strconv.Itoa(lo.Pair)
		}
		v.Warnings = append(v.Warnings, fmt.Sprintf("%d of %d pairs left out (%s): the generator fell behind its schedule in one of their slots; "+
			"both sides of a pair leave together (and extra pairs replace them), so the comparison stays paired and exact", len(pr.LeftOut), pr.Pairs+len(pr.LeftOut), strings.Join(nums, ", ")))
	}
	c := &comparer{pol: pol, paired: true, alpha: 1 - pol.Confidence, profile: head.Profile.Type}
	c.perm = c.randomization(base, head)
	seen := map[string]bool{}
	for i := range head.Endpoints {
		he := &head.Endpoints[i]
		seen[he.Name] = true
		var bes []*results.Endpoint
		if be := base.Endpoint(he.Name); be != nil {
			bes = append(bes, be)
		}
		v.Endpoints = append(v.Endpoints, c.endpoint(he.Name, bes, he, true))
	}
	for i := range base.Endpoints {
		if !seen[base.Endpoints[i].Name] {
			v.Endpoints = append(v.Endpoints, c.missing(base.Endpoints[i].Name, []*results.Endpoint{&base.Endpoints[i]}))
		}
	}
	baseInvalid := ""
	if !base.Validity.Valid && (head.Validity.Valid || reasonText(base.Validity) != reasonText(head.Validity)) {
		// The paired runner marks both sides with what happened to the
		// pairs; say it once.
		baseInvalid = "the base series is invalid, so nothing can be compared: " + reasonText(base.Validity)
	} else if !base.Validity.Valid {
		baseInvalid = "-"
	}
	finish(v, head, baseInvalid)
	return v
}

func reasonText(val results.Validity) string {
	if len(val.Reasons) == 0 {
		return "the generator did not hold the schedule"
	}
	return strings.Join(val.Reasons, "; ")
}

// finish applies run validity and derives the overall decision. baseInvalid
// is non-empty when the base side cannot be used: the warning to give ("-"
// when another warning already says it).
func finish(v *Verdict, head *results.File, baseInvalid string) {
	if head.Run.Partial {
		v.Warnings = append(v.Warnings, "the run was interrupted: results are partial")
	}
	// The runner's own caveats (unverified TLS certificates, redirects
	// outside targets.allow) reach every report through the verdict.
	v.Warnings = append(v.Warnings, head.Run.Warnings...)
	headInvalid := !head.Validity.Valid
	if headInvalid {
		v.Warnings = append(v.Warnings, "the run is invalid, so no regression can be claimed: "+reasonText(head.Validity))
		for i := range v.Endpoints {
			e := &v.Endpoints[i]
			e.Decision = Invalid
			for j := range e.Checks {
				if d := e.Checks[j].Decision; d == Regressed || d == Improved {
					e.Checks[j].Decision = Invalid
				}
			}
		}
	}
	if baseInvalid != "" && baseInvalid != "-" {
		v.Warnings = append(v.Warnings, baseInvalid)
	}
	worst := Pass
	for _, e := range v.Endpoints {
		switch e.Decision {
		case Invalid:
			worst = Invalid
		case Regressed:
			if worst != Invalid {
				worst = Regressed
			}
		case Inconclusive, Missing:
			if worst == Pass {
				worst = Inconclusive
			}
		}
	}
	if headInvalid || baseInvalid != "" {
		worst = Invalid
	}
	if len(v.Endpoints) == 0 && worst == Pass {
		v.Warnings = append(v.Warnings, "the run has no endpoints")
		worst = Invalid
	} else if measuredRequests(v) == 0 && worst != Invalid {
		// An empty import or a tool that wrote nothing: the baseline's
		// endpoints all look "missing", which must not read as inconclusive.
		v.Warnings = append(v.Warnings, "the run measured no requests: nothing to judge (an empty import, or a tool that wrote nothing?)")
		worst = Invalid
	}
	v.Decision = worst
}

// comparer evaluates endpoints under one policy.
type comparer struct {
	pol    Policy
	paired bool
	// alpha is each check's significance level in committed-baseline mode
	// (Bonferroni-adjusted when family-wise; paired mode's randomization test
	// adjusts with max-T instead).
	alpha float64
	// perm holds paired mode's randomization test, by endpoint and metric.
	perm map[string]map[checkKey]permCheck
	// profile is the run's profile type (default SLOs depend on it).
	profile string
}

// familyAlpha is the per-check alpha: 1 - Confidence, divided by the number
// of baseline checks the verdict will test when the policy is family-wise.
// servers is the number of server-time checks among them.
func familyAlpha(pol Policy, hasBase bool, head *results.File, inBase func(string) bool, servers int) float64 {
	alpha := 1 - pol.Confidence
	if !pol.FamilyWise || !hasBase {
		return alpha
	}
	m := servers
	for _, e := range head.Endpoints {
		if inBase(e.Name) {
			m += len(pol.thresholds(e.Name))
		}
	}
	if m > 1 {
		alpha /= float64(m)
	}
	return alpha
}

// serverCheckCount is how many server-time checks a committed-baseline
// verdict will make (servertime.go), decided from sample counts before any
// test, for the family's Bonferroni count.
func (c *comparer) serverCheckCount(valid []*results.File, head *results.File) int {
	n := 0
	for i := range head.Endpoints {
		he := &head.Endpoints[i]
		bes := baselineEntries(valid, he.Name)
		exact := hasWindows(he)
		for _, be := range bes {
			exact = exact && hasWindows(be)
		}
		if !exact {
			continue
		}
		sms, _ := c.serverMetrics(he.Name, bes, he)
		n += len(sms)
	}
	return n
}

// baselineEntries are the entries of endpoint name in the baseline runs.
func baselineEntries(valid []*results.File, name string) []*results.Endpoint {
	var bes []*results.Endpoint
	for _, b := range valid {
		if be := b.Endpoint(name); be != nil {
			bes = append(bes, be)
		}
	}
	return bes
}

// missing is a baseline endpoint the run did not contain.
func (c *comparer) missing(name string, bes []*results.Endpoint) EndpointVerdict {
	ev := EndpointVerdict{Name: name, Decision: Missing,
		Warnings: []string{"in the baseline but not in this run (renamed or removed endpoint?)"}}
	ev.Base = figuresOf(bes, c.pol.WarmupExcluded)
	return ev
}

// endpoint evaluates one endpoint of the run; bes are its baseline entries (one
// per baseline run holding it); hasBase is false in SLO-only mode.
func (c *comparer) endpoint(name string, bes []*results.Endpoint, he *results.Endpoint, hasBase bool) EndpointVerdict {
	ev := EndpointVerdict{Name: name}
	ev.Head = figuresOf([]*results.Endpoint{he}, c.pol.WarmupExcluded)
	if len(bes) > 0 {
		ev.Base = figuresOf(bes, c.pol.WarmupExcluded)
	}
	if ev.Head.Requests == 0 {
		ev.Decision = Invalid
		ev.Warnings = append(ev.Warnings, "no requests were measured (after warm-up): zero requests is never a pass")
		return ev
	}
	exact := hasWindows(he)
	for _, be := range bes {
		exact = exact && hasWindows(be)
	}
	if exact {
		c.statChecks(&ev, bes, he)
	} else {
		c.figureChecks(&ev, bes, he)
	}
	if ch, ok := successCheck(he, bes, c.pol.WarmupExcluded); ok && !c.errorsAccepted(name) {
		ev.Checks = append(ev.Checks, ch)
	}
	switch {
	case !hasBase:
		ev.Decision = decide(ev.Checks, Pass)
	case len(bes) == 0:
		ev.Decision = decide(ev.Checks, New)
		ev.Warnings = append(ev.Warnings, "new endpoint: not in the baseline, only SLOs are checked")
	default:
		ev.Decision = decide(ev.Checks, Pass)
	}
	return ev
}

// decide folds check decisions into an endpoint decision starting from def.
func decide(checks []Check, def Decision) Decision {
	rank := func(d Decision) int {
		switch d {
		case Invalid:
			return 5
		case Regressed:
			return 4
		case Inconclusive:
			return 3
		case Improved:
			return 2
		}
		return 0
	}
	out := def
	for _, ch := range checks {
		if rank(ch.Decision) > rank(out) {
			out = ch.Decision
		}
	}
	return out
}

// figuresOf summarizes endpoint entries (several baseline runs pooled) from
// their measured windows, or from their summaries when they have none.
func figuresOf(eps []*results.Endpoint, warmupExcluded bool) *Figures {
	withWindows := true
	for _, e := range eps {
		if !hasWindows(e) {
			withWindows = false
		}
	}
	if withWindows {
		s := newSide(eps, warmupExcluded)
		var st [nStats]float64
		s.stats(nil, &scratch{}, &st)
		f := &Figures{Requests: s.requests}
		f.P50, f.P90, f.P95, f.P99, f.Max = nz(st[0]), nz(st[1]), nz(st[2]), nz(st[3]), nz(st[4])
		f.Throughput, f.ErrorRatePct = round(nz(st[statThroughput])), round(nz(st[statErrorRate]))
		return f
	}
	// Summaries only: pool counts, take the median run's figures; a figure
	// any run did not measure is unmeasured (0 in Figures, named in Unmeasured).
	f := &Figures{}
	var vals [nStats][]float64
	var errs int64
	for _, e := range eps {
		f.Requests += e.Requests
		errs += e.Errors
		for i, v := range []float64{e.Latency.P50, e.Latency.P90, e.Latency.P95, e.Latency.P99, e.Latency.Max, e.ThroughputRPS} {
			vals[i] = append(vals[i], v)
		}
	}
	med := func(m Metric, xs []float64) float64 {
		v := measuredFigure(xs)
		if math.IsNaN(v) {
			if len(xs) > 0 {
				f.Unmeasured = append(f.Unmeasured, m)
			}
			return 0
		}
		return v
	}
	f.P50, f.P90, f.P95, f.P99, f.Max = med(P50, vals[0]), med(P90, vals[1]), med(P95, vals[2]), med(P99, vals[3]), med(Max, vals[4])
	f.Throughput = med(Throughput, vals[statThroughput])
	if f.Requests > 0 {
		f.ErrorRatePct = round(100 * float64(errs) / float64(f.Requests))
	}
	return f
}

func nz(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// figureValue reads metric m from figures.
func figureValue(f *Figures, m Metric) float64 {
	switch m {
	case P50:
		return f.P50
	case P90:
		return f.P90
	case P95:
		return f.P95
	case P99:
		return f.P99
	case Max:
		return f.Max
	case Throughput:
		return f.Throughput
	case ErrorRate:
		return f.ErrorRatePct
	}
	return math.NaN()
}

// figureChecks compares summary figures only (imported aggregates, results
// without windows): the tolerance applies to the figures, no significance is
// claimed.
func (c *comparer) figureChecks(ev *EndpointVerdict, bes []*results.Endpoint, he *results.Endpoint) {
	ev.Warnings = append(ev.Warnings, "summary figures only (imported aggregate or no per-window data): compared figure against figure with the tolerance, without a significance test")
	if len(bes) > 0 {
		for _, mt := range c.pol.thresholds(ev.Name) {
			base, head := figureValue(ev.Base, mt.m), figureValue(ev.Head, mt.m)
			ch := newCheck(mt.m, "baseline", base, head, mt.t.describe(mt.m))
			if math.IsNaN(base) {
				continue
			}
			if sides := unmeasuredSides(ev, mt.m); len(sides) > 0 {
				ev.Checks = append(ev.Checks, notMeasuredCheck(mt.m, "baseline", mt.t.describe(mt.m), base, head, sides))
				continue
			}
			ch.Decision = toleranceDecision(mt.m, mt.t, base, head, true)
			ev.Checks = append(ev.Checks, ch)
		}
	}
	slos, defaulted := c.slos(ev.Name, len(bes) > 0)
	for _, s := range slos {
		if unmeasured(ev.Head, s.m) {
			ev.Checks = append(ev.Checks, notMeasuredCheck(s.m, "slo", sloText(s.m, s.v), s.v, 0, []string{SideHead}))
			continue
		}
		head := figureValue(ev.Head, s.m)
		ch := sloCheck(s.m, s.v, head)
		if defaulted && s.m == ErrorRate {
			markDefault(&ch)
		}
		ev.Checks = append(ev.Checks, ch)
	}
}

// newCheck fills the common fields; Delta is relative, or pp for error rate.
func newCheck(m Metric, kind string, base, head float64, tol string) Check {
	ch := Check{Metric: m, Kind: kind, Unit: unitOf(m), Base: round(base), Head: round(head), PValue: -1, Tolerance: tol}
	ch.Delta = round6(delta(m, base, head))
	return ch
}

func round6(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1e6) / 1e6
}

// delta is the relative change, or the pp difference for error rate.
func delta(m Metric, base, head float64) float64 {
	if m == ErrorRate {
		return head - base
	}
	if base == 0 {
		if head == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return head/base - 1
}

// worse and better say whether the change from base to head exceeds the
// tolerance in the bad or the good direction.
func exceeds(m Metric, t Tolerance, base, head float64) (worse, better bool) {
	var change float64 // positive = worse
	switch t.Kind {
	case KindPP:
		change = head - base // error rate in %, so pp
	case KindAbsolute:
		change = head - base
	default:
		if base == 0 {
			change = math.Copysign(math.Inf(1), head)
			if head == 0 {
				change = 0
			}
		} else {
			change = head/base - 1
		}
	}
	if !higherIsWorse(m) {
		change = -change
	}
	lim := math.Abs(t.Value)
	return change > lim, change < -lim
}

// toleranceDecision decides a check on the tolerance alone (significant says
// whether the significance requirement is met or waived).
func toleranceDecision(m Metric, t Tolerance, base, head float64, significant bool) Decision {
	worse, better := exceeds(m, t, base, head)
	switch {
	case worse && significant:
		return Regressed
	case better && significant:
		return Improved
	}
	return Pass
}

// sloCheck checks an absolute limit: a ceiling for latencies and error rate
// (Delta relative to the limit, pp for error rate), a floor for throughput.
func sloCheck(m Metric, limit, head float64) Check {
	ch := newCheck(m, "slo", limit, head, sloText(m, limit))
	breach := head > limit
	if !higherIsWorse(m) {
		breach = head < limit
	}
	ch.Decision = Pass
	if breach {
		ch.Decision = Regressed
	}
	return ch
}

// sloText is the limit as a plain value ("300 ms", "1%", "100 rps"); the
// direction (ceiling, or floor for throughput) is the metric's.
func sloText(m Metric, v float64) string {
	switch m {
	case Throughput:
		return fmt.Sprintf("%g rps", v)
	case ErrorRate:
		return fmt.Sprintf("%g%%", v)
	}
	return fmt.Sprintf("%g ms", v)
}

// describe renders a tolerance for metric m as written in a plan.
func (t Tolerance) describe(m Metric) string {
	if t.Raw != "" {
		return t.Raw
	}
	sign := "+"
	if !higherIsWorse(m) {
		sign = "-"
	}
	v := math.Abs(t.Value)
	switch t.Kind {
	case KindPP:
		return fmt.Sprintf("%s%gpp", sign, v)
	case KindAbsolute:
		return fmt.Sprintf("%s%g%s", sign, v, unitOf(m))
	}
	return fmt.Sprintf("%s%g%%", sign, v*100)
}
