package report

import (
	"fmt"
	"io"
	"math"
	"time"

	"github.com/loadgate/loadgate/results"
)

// The Profile block: each test type's own figure (knee, recovery, drift,
// curve, bytes/s) with the caveats that qualify it, for the terminal, the
// text report and the HTML page alike.

const (
	// driftMinSpan is the shortest measured span whose per-hour drift is
	// shown without a warning: a slope fitted over a few minutes and
	// multiplied to an hour mostly measures noise (endurance runs usually
	// last hours).
	driftMinSpan = 30 * time.Minute
	// scaleEfficiency is the share of the offered rate a step must achieve
	// to count as keeping up (scalability "scales up to").
	scaleEfficiency = 0.95
	// spikeRecoveryTolerance mirrors the generator's "back to the pre-spike
	// p95" rule (within 10 %), for results written before the generator
	// recorded whether the spike degraded at all.
	spikeRecoveryTolerance = 0.10
)

// profileSummary is a profile's figures as label/value pairs and caveats in
// plain words.
type profileSummary struct {
	Type    string
	Facts   []kv
	Caveats []string
}

func (s *profileSummary) fact(k, format string, args ...any) {
	s.Facts = append(s.Facts, kv{k, fmt.Sprintf(format, args...)})
}

func (s *profileSummary) caveat(format string, args ...any) {
	s.Caveats = append(s.Caveats, fmt.Sprintf(format, args...))
}

// summarizeProfile returns the Profile block of a run, or nil for a run
// without a profile type (imported results).
func summarizeProfile(f *results.File) *profileSummary {
	if f == nil || f.Profile.Type == "" {
		return nil
	}
	s := &profileSummary{Type: f.Profile.Type}
	d := f.Derived
	if d == nil {
		d = &results.Derived{}
	}
	switch f.Profile.Type {
	case "load":
		loadFacts(s, f)
	case "stress":
		stressFacts(s, f, d)
	case "spike":
		spikeFacts(s, d)
	case "endurance":
		enduranceFacts(s, f, d)
	case "scalability":
		scalabilityFacts(s, d)
	case "volume":
		volumeFacts(s, d)
	default:
		loadFacts(s, f)
	}
	return s
}

func loadFacts(s *profileSummary, f *results.File) {
	t := f.Total
	s.fact("throughput", "%s achieved", formatValue(t.ThroughputRPS, "rps"))
	if f.Profile.Rate > 0 {
		s.Facts[len(s.Facts)-1].V += " of " + formatValue(f.Profile.Rate, "rps") + " planned"
		if t.ThroughputRPS < f.Profile.Rate*scaleEfficiency {
			s.caveat("the run achieved %.0f%% of the planned rate: the target (or the generator) did not keep up", 100*t.ThroughputRPS/f.Profile.Rate)
		}
	}
	s.fact("latency", "p50 %s · p95 %s · p99 %s", formatMs(t.Latency.P50), formatMs(t.Latency.P95), formatMs(t.Latency.P99))
	s.fact("errors", "%s (%d of %d)", formatValue(t.ErrorRatePct(), "%"), t.Errors, t.Requests)
}

func stressFacts(s *profileSummary, f *results.File, d *results.Derived) {
	highest := 0.0
	for _, c := range d.Curve {
		highest = math.Max(highest, c.OfferedRPS)
	}
	switch {
	case len(d.Curve) == 0:
		s.caveat("no measured step: the knee cannot be found")
	case d.BreakingRPS == 0:
		s.fact("highest sustainable rate", "≥ %s (every step held)", formatValue(highest, "rps"))
		s.caveat("knee not reached: no step up to %s broke a limit; raise the profile's top rate to find it", formatValue(highest, "rps"))
	case d.MaxSustainableRPS == 0:
		s.fact("breaking rate", "%s (the first step)", formatValue(d.BreakingRPS, "rps"))
		s.caveat("the first step already broke a limit: the knee lies below %s; start lower", formatValue(d.BreakingRPS, "rps"))
	default:
		s.fact("highest sustainable rate (knee)", "%s", formatValue(d.MaxSustainableRPS, "rps"))
		s.fact("breaking rate", "%s", formatValue(d.BreakingRPS, "rps"))
	}
	curveFacts(s, d)
}

func spikeFacts(s *profileSummary, d *results.Derived) {
	if d.PreSpikeP95Ms <= 0 {
		s.caveat("no request before the spike: there is no pre-spike level to recover to")
		return
	}
	pre := formatMs(d.PreSpikeP95Ms)
	if d.PreSpikeWindows > 0 {
		pre += fmt.Sprintf(" (from %s before the spike)", plural(d.PreSpikeWindows, "window"))
	}
	s.fact("pre-spike p95", "%s", pre)
	if d.SpikePeakP95Ms > 0 {
		s.fact("peak p95 from the spike on", "%s", formatMs(d.SpikePeakP95Ms))
	}
	if d.PreSpikeWindows == 1 {
		s.caveat("the pre-spike level comes from a single window; lengthen the time before the spike for a steadier reference")
	}
	switch {
	case !spikeDegraded(d):
		s.fact("recovery", "not applicable")
		s.caveat("the spike never degraded p95 beyond %.0f%% of the pre-spike level, so there was nothing to recover from", 100*(1+spikeRecoveryTolerance))
	case d.Recovered != nil && !*d.Recovered:
		s.fact("recovery", "did not recover within the %.1f s after the spike", d.RecoveryMs/1000)
		s.caveat("p95 stayed above the pre-spike level until the run ended: lengthen the run after the spike to measure recovery")
	case d.RecoveryMs == 0:
		s.fact("recovery", "back to the pre-spike p95 in the first window after the spike")
	default:
		s.fact("recovery", "back to the pre-spike p95 %.1f s after the spike", d.RecoveryMs/1000)
	}
}

// spikeDegraded says whether the spike pushed p95 above the pre-spike level
// at all. Results from before the generator recorded it fall back on the
// recovery time: 0 means the first window after the spike was already back.
func spikeDegraded(d *results.Derived) bool {
	if d.SpikeDegraded != nil {
		return *d.SpikeDegraded
	}
	if d.SpikePeakP95Ms > 0 && d.PreSpikeP95Ms > 0 {
		return d.SpikePeakP95Ms > d.PreSpikeP95Ms*(1+spikeRecoveryTolerance)
	}
	return d.Recovered == nil || !*d.Recovered || d.RecoveryMs > 0
}

func enduranceFacts(s *profileSummary, f *results.File, d *results.Derived) {
	span, n := measuredSpan(runWindows(f))
	s.fact("p95 drift", "%+.2f ms/hour", d.P95DriftMsPerHour)
	s.fact("error-rate drift", "%+.3f pp/hour", d.ErrorRateDriftPPPerHour)
	s.fact("measured", "%s in %s", formatSpan(span), plural(n, "window"))
	switch {
	case n < 2:
		s.caveat("fewer than two measured windows: no drift can be fitted")
	case span < driftMinSpan:
		s.caveat("too short for a drift: the per-hour slopes are extrapolated from %s of measurement; run at least %s", formatSpan(span), formatSpan(driftMinSpan))
	}
}

// measuredSpan is the total width of the measured (non-warm-up, non-empty)
// windows and their count.
func measuredSpan(ws []results.Window) (time.Duration, int) {
	var span time.Duration
	n := 0
	for _, w := range ws {
		if w.Warmup || w.Requests == 0 {
			continue
		}
		span += w.Width.D()
		n++
	}
	return span, n
}

func scalabilityFacts(s *profileSummary, d *results.Derived) {
	if len(d.Curve) == 0 {
		s.caveat("no measured step: no curve")
		return
	}
	scales := 0.0
	for _, c := range sortedCurve(d) {
		if c.OfferedRPS > 0 && c.AchievedRPS >= c.OfferedRPS*scaleEfficiency {
			scales = c.OfferedRPS
			continue
		}
		break
	}
	if scales > 0 {
		s.fact("keeps up to", "%s offered (achieved ≥ %.0f%% of offered)", formatValue(scales, "rps"), 100*scaleEfficiency)
	} else {
		s.caveat("the first step already fell short of its offered rate")
	}
	curveFacts(s, d)
}

func sortedCurve(d *results.Derived) []results.CurvePoint {
	pts := append([]results.CurvePoint(nil), d.Curve...)
	for i := 1; i < len(pts); i++ {
		for j := i; j > 0 && pts[j].OfferedRPS < pts[j-1].OfferedRPS; j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
	return pts
}

func curveFacts(s *profileSummary, d *results.Derived) {
	for _, c := range sortedCurve(d) {
		s.fact("at "+formatValue(c.OfferedRPS, "rps")+" offered", "%s achieved · p95 %s · errors %s",
			formatValue(c.AchievedRPS, "rps"), formatMs(c.P95Ms), formatValue(100*c.ErrorRate, "%"))
	}
}

func volumeFacts(s *profileSummary, d *results.Derived) {
	if len(d.Payloads) == 0 {
		s.caveat("no measured payload stage: no bytes/s")
		return
	}
	pts := append([]results.PayloadPoint(nil), d.Payloads...)
	for i := 1; i < len(pts); i++ {
		for j := i; j > 0 && pts[j].PayloadBytes < pts[j-1].PayloadBytes; j-- {
			pts[j], pts[j-1] = pts[j-1], pts[j]
		}
	}
	for _, p := range pts {
		s.fact("payload "+formatBytes(p.PayloadBytes), "%s moved · p50 %s · p95 %s · %d requests",
			formatRate(p.BytesPerSec), formatMs(p.P50Ms), formatMs(p.P95Ms), p.Requests)
	}
}

// formatRate is bytes per second in binary units ("12.5 MiB/s").
func formatRate(bps float64) string {
	if bps < 0 || math.IsNaN(bps) {
		bps = 0
	}
	return formatBytes(int64(math.Round(bps))) + "/s"
}

// WriteProfile writes the Profile block of a run (its type's figure and
// caveats) as plain text: the block `loadgate run` prints after its summary
// and the text report shows under the verdict table. It writes nothing for
// results without a profile type.
func WriteProfile(w io.Writer, f *results.File) error {
	ew := &errWriter{w: w}
	writeProfileText(ew, f)
	return ew.result("profile")
}

func writeProfileText(ew *errWriter, f *results.File) {
	s := summarizeProfile(f)
	if s == nil {
		return
	}
	ew.printf("Profile: %s\n", textSafe(s.Type))
	width := 0
	for _, k := range s.Facts {
		width = max(width, len([]rune(k.K)))
	}
	for _, k := range s.Facts {
		ew.printf("  %-*s  %s\n", width+1, k.K+":", textSafe(k.V))
	}
	for _, c := range s.Caveats {
		ew.printf("  ! %s\n", c)
	}
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// formatSpan is a duration in words a reader takes in at once: "36 s",
// "12 min", "2.5 h".
func formatSpan(d time.Duration) string {
	switch {
	case d < 2*time.Minute:
		return fmt.Sprintf("%.0f s", d.Seconds())
	case d < 2*time.Hour:
		return fmt.Sprintf("%.0f min", d.Minutes())
	}
	return fmt.Sprintf("%.1f h", d.Hours())
}
