package report

import (
	"bytes"
	"strings"
	"testing"
)

// Every profile type's Profile block, and the caveats that qualify a figure,
// as the terminal shows them.
func TestGoldenProfileBlocks(t *testing.T) {
	t.Parallel()
	ins := map[string]Input{}
	for _, kind := range []string{"load", "stress", "spike", "endurance", "scalability", "volume"} {
		ins[kind] = profileInput(kind)
	}
	for _, v := range []string{"stress-knee-not-reached", "spike-not-degraded", "spike-not-recovered"} {
		ins[v] = profileVariant(v)
	}
	for name, in := range ins {
		var buf bytes.Buffer
		if err := WriteProfile(&buf, in.Head); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(buf.String(), "Profile: ") {
			t.Errorf("%s: no Profile block:\n%s", name, buf.String())
		}
		golden(t, "profile-"+name+".txt", buf.Bytes())
	}
}

func TestProfileCaveats(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"stress-knee-not-reached": "knee not reached",
		"spike-not-degraded":      "the spike never degraded p95",
		"spike-not-recovered":     "did not recover",
	} {
		s := summarizeProfile(profileVariant(name).Head)
		if !strings.Contains(strings.Join(s.Caveats, "\n")+factsText(s), want) {
			t.Errorf("%s: no %q in %+v", name, want, s)
		}
	}
	// A flat spike must never read "recovered after 0.0 s", in text or HTML.
	in := profileVariant("spike-not-degraded")
	var buf bytes.Buffer
	if err := WriteProfile(&buf, in.Head); err != nil {
		t.Fatal(err)
	}
	page := string(render(t, "html", in, Options{}))
	for _, out := range []string{buf.String(), page} {
		if strings.Contains(out, "recovered after") || strings.Contains(out, "0.0 s after") {
			t.Errorf("a spike that never degraded reads as a recovery:\n%s", out)
		}
	}
	// Endurance: a 40 s run's per-hour drift is flagged as extrapolated.
	s := summarizeProfile(profileInput("endurance").Head)
	if !strings.Contains(strings.Join(s.Caveats, "\n"), "too short for a drift") || !strings.Contains(factsText(s), "error-rate drift") {
		t.Errorf("endurance: %+v", s)
	}
}

func factsText(s *profileSummary) string {
	var b strings.Builder
	for _, f := range s.Facts {
		b.WriteString(f.K + ": " + f.V + "\n")
	}
	return b.String()
}

// Results from before the generator recorded SpikeDegraded: a recovery of 0
// ms means the spike never visibly degraded p95.
func TestSpikeDegradedFallback(t *testing.T) {
	t.Parallel()
	yes := true
	in := profileInput("spike")
	in.Head.Derived.RecoveryMs = 0
	in.Head.Derived.Recovered = &yes
	if spikeDegraded(in.Head.Derived) {
		t.Error("recovery 0 with no record read as degraded")
	}
	in.Head.Derived.RecoveryMs = 2000
	if !spikeDegraded(in.Head.Derived) {
		t.Error("recovery after 2 s read as not degraded")
	}
}
