package report

import (
	"html"
	"regexp"
	"strings"
	"testing"
)

func TestGoldenHTML(t *testing.T) {
	t.Parallel()
	golden(t, "verdict.html", render(t, "html", fixtureInput(), Options{}))
	golden(t, "stress.html", render(t, "html", profileInput("stress"), Options{}))
}

var (
	reExternal = regexp.MustCompile(`(?i)<script|<link|<iframe|<object|<embed|<img|\ssrc=|@import|url\(|https?://[^"<\s]*\.(js|css|woff2?|ttf|png|svg)`)
	reSVG      = regexp.MustCompile(`<svg role="img"`)
)

// assertSelfContained fails when the page would fetch anything or run a script.
func assertSelfContained(t *testing.T, page string) {
	t.Helper()
	if m := reExternal.FindString(page); m != "" {
		t.Errorf("page is not self-contained: found %q", m)
	}
	if !strings.Contains(page, `content="default-src 'none'`) {
		t.Error("no Content-Security-Policy forbidding network access")
	}
}

func TestHTMLVerdictPage(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	raw := string(render(t, "html", in, Options{}))
	assertSelfContained(t, raw)
	page := html.UnescapeString(raw)
	// Three charts for each of the 6 endpoints with a head run, one (percentile) for the missing one.
	if n, want := len(reSVG.FindAllString(page, -1)), 6*3+1; n != want {
		t.Errorf("%d charts, want %d", n, want)
	}
	for _, want := range []string{
		`▲ regressed`, `+12.6% [+8.1, +16.9] p=0.002`, `~ [-2.1, +3.4] p=0.410`,
		trickyName,
		`baseline tool version v0.0.9 differs from v0.1.0`, `need ≥ 6 windows`,
		`warm-up (excluded)`, `>baseline</text>`, `>current</text>`, `>99.9%</text>`,
		`0123456789abcdef0123456789abcdef01234567`, `baseline run 2 of 2`, `generator CPU`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(raw, "<admin>") || !strings.Contains(raw, "get-user | &lt;admin&gt; ") {
		t.Error("endpoint name not escaped")
	}
	// Regressions come first in the table, as in the other formats.
	if i, j := strings.Index(page, ">create-order<"), strings.Index(page, ">list-products<"); i < 0 || j < 0 || i > j {
		t.Errorf("regressed endpoint not first (%d, %d)", i, j)
	}
}

func TestHTMLProfiles(t *testing.T) {
	t.Parallel()
	for kind, wants := range map[string][]string{
		"stress":    {"knee: 210/s sustainable", "broke at 280/s", "offered = achieved", "task-c <x>", "⛔ missing", "task stopped: OutOfMemory", "highest sustainable rate (knee)", "33%", `id="regions"`, "us-east-1"},
		"spike":     {"recovered after 2.0 s", "pre-spike p95", ">spike</text>", "back to the pre-spike p95 2.0 s after the spike"},
		"endurance": {"drift +1080.00 ms/h", "p95 drift", "+1080.00 ms/hour", "error-rate drift", "+0.010 pp/hour", "⚠ too short for a drift"},
		"volume":    {"payload (KiB)", "Latency vs request payload size", "bytes/s (sent + received)", "payload 1.0 MiB", "70.0 MiB/s"},
	} {
		raw := string(render(t, "html", profileInput(kind), Options{}))
		assertSelfContained(t, raw)
		page := html.UnescapeString(raw)
		for _, w := range wants {
			if !strings.Contains(page, w) {
				t.Errorf("%s: page lacks %q", kind, w)
			}
		}
		if strings.Contains(page, `id="verdict"`) {
			t.Errorf("%s: a run without verdict shows a verdict banner", kind)
		}
	}
}

func TestHTMLInvalidRunBanner(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	in.Head.Validity = resultsInvalid()
	page := string(render(t, "html", in, Options{}))
	if !strings.Contains(page, "This run is invalid: dropped 312") {
		t.Error("no invalid-run banner")
	}
}

func TestNinesLabels(t *testing.T) {
	t.Parallel()
	for n, want := range map[float64]string{0: "0%", 1: "90%", 2: "99%", 3: "99.9%", 4: "99.99%", 5: "99.999%"} {
		if got := ninesLabel(n); got != want {
			t.Errorf("ninesLabel(%g) = %q, want %q", n, got, want)
		}
	}
}

func TestTickLabels(t *testing.T) {
	t.Parallel()
	lo, hi, ts := niceRange(0, 0.7, 5)
	if lo != 0 || hi < 0.7 || len(ts) < 3 {
		t.Errorf("niceRange(0, 0.7) = %v, %v, %v", lo, hi, ts)
	}
	for _, tk := range ts {
		if len(tk.Label) > 4 {
			t.Errorf("tick label %q", tk.Label)
		}
	}
	// A latency axis starts near the data, not at 0.
	if lo, _, _ := niceRange(23.4, 80.2, 5); lo != 20 {
		t.Errorf("niceRange(23.4, 80.2) starts at %v, want 20", lo)
	}
}
