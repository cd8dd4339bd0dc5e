package main

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/report"
	"github.com/loadgate/loadgate/results"
)

// synthResults builds a results file with one log-normal endpoint of the given
// median, 20 one-second windows (2 warm-up), from a fixed seed.
func synthResults(t *testing.T, dir, name string, seed uint64, medianMs float64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, seed))
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	f := &results.File{Schema: results.Schema, Plan: results.PlanRef{Name: "synthetic", Hash: "h1"},
		Run:      results.Run{ID: name, Started: start, Ended: start.Add(20 * time.Second), Runner: "local", Workers: 1},
		Profile:  results.Profile{Type: "load", Model: "open", Rate: 100, Duration: results.Duration(20 * time.Second), Warmup: results.Duration(2 * time.Second)},
		Validity: results.Validity{Valid: true}}
	e := results.Endpoint{Name: "api | <x>", Histogram: results.NewHistogram(), Precision: results.PrecisionExact}
	for i := 0; i < 20; i++ {
		// Window precision, as the local runner records windows (and 7× less
		// to copy per window under -race).
		w := results.Window{Start: start.Add(time.Duration(i) * time.Second), Width: results.Duration(time.Second), Histogram: results.NewWindowHistogram(), Warmup: i < 2}
		for j := 0; j < 100; j++ {
			w.Histogram.RecordMicros(int64(medianMs * 1000 * math.Exp(0.2*rng.NormFloat64())))
			w.Requests++
		}
		e.Requests += w.Requests
		_ = e.Histogram.Merge(w.Histogram)
		e.Windows = append(e.Windows, w)
	}
	e.Finalize(20 * time.Second)
	f.Endpoints = []results.Endpoint{e}
	f.Total = e
	f.Total.Name = "total"
	path := filepath.Join(dir, name+".json")
	if err := results.WriteFile(path, f); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestReportCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	base := synthResults(t, dir, "base", 1, 10)
	same := synthResults(t, dir, "same", 2, 10)
	slow := synthResults(t, dir, "slow", 3, 14)

	// Every format, inferred from the extension, from a computed verdict.
	for _, ext := range []string{"txt", "md", "json", "xml", "html"} {
		out := filepath.Join(dir, "r."+ext)
		code, _, stderr := cli(t, ctx, nil, "report", slow, "--baseline", base, "-o", out)
		if code != 0 {
			t.Fatalf("report -o %s: exit %d: %s", out, code, stderr)
		}
		data, err := os.ReadFile(out)
		if err != nil || len(data) == 0 {
			t.Fatalf("%s: %v (%d bytes)", out, err, len(data))
		}
		if !strings.Contains(string(data), "regress") {
			t.Errorf("%s does not show the 40%% regression", out)
		}
	}

	// The JSON verdict renders again through --verdict, and --exit-code maps it.
	vpath := filepath.Join(dir, "r.json")
	code, stdout, _ := cli(t, ctx, nil, "report", slow, "--verdict", vpath, "--format", "text")
	if code != 0 || !strings.Contains(stdout, "REGRESSED") || !strings.Contains(stdout, "api | <x>") {
		t.Errorf("--verdict text: exit %d\n%s", code, stdout)
	}
	if code, _, _ := cli(t, ctx, nil, "report", slow, "--verdict", vpath, "--exit-code"); code != exitFail {
		t.Errorf("--exit-code on a regression: exit %d, want 1", code)
	}
	if code, _, _ := cli(t, ctx, nil, "report", same, "-b", base, "--exit-code"); code != exitPass {
		t.Errorf("--exit-code on the same distribution: exit %d, want 0", code)
	}

	// Markdown bounded by --max-chars.
	code, stdout, _ = cli(t, ctx, nil, "report", slow, "-b", base, "-f", "markdown", "--max-chars", "600")
	if code != 0 || len(stdout) > 600 || !strings.Contains(stdout, "shortened") {
		t.Errorf("--max-chars 600: exit %d, %d bytes\n%s", code, len(stdout), stdout)
	}

	// A run alone (SLO-only verdict) renders as HTML with its charts.
	code, stdout, _ = cli(t, ctx, nil, "report", same, "-f", "html")
	if code != 0 || strings.Count(stdout, "<svg") < 3 {
		t.Errorf("run-only html: exit %d, %d charts", code, strings.Count(stdout, "<svg"))
	}

	// The JSON document decodes with the public decoder.
	f, err := os.Open(vpath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := report.DecodeVerdict(f)
	if err != nil || doc.ExitCode != exitFail || len(doc.Regressions) != 1 {
		t.Errorf("decoded verdict: %v %+v", err, doc)
	}
}

func TestReportCommandBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	res := synthResults(t, dir, "r", 1, 10)
	junk := writeFile(t, dir, "junk.json", `{"schema":"loadgate/verdict/v9"}`)
	for name, args := range map[string][]string{
		"no args":         {"report"},
		"missing results": {"report", filepath.Join(dir, "nope.json")},
		"unknown format":  {"report", res, "--format", "pdf"},
		"bad verdict":     {"report", res, "--verdict", junk},
		"missing verdict": {"report", res, "--verdict", filepath.Join(dir, "nope.json")},
		"bad baseline":    {"report", res, "--baseline", junk},
		"negative max":    {"report", res, "--max-chars", "-1"},
	} {
		code, _, stderr := cli(t, ctx, nil, args...)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr)
		}
	}
	// A failed write leaves no partial file behind.
	out := filepath.Join(dir, "no-such-dir", "r.html")
	if code, _, _ := cli(t, ctx, nil, "report", res, "-o", out); code != exitInfra {
		t.Errorf("unwritable -o: exit %d, want 3", code)
	}
}

// TestReportsDocCommands keeps docs/reports.md's command lines real.
func TestReportsDocCommands(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join("..", "..", "docs", "reports.md"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, m := range regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(data), -1) {
		for _, line := range strings.Split(m[1], "\n") {
			if i := strings.Index(line, "#"); i >= 0 {
				line = line[:i]
			}
			if f := strings.Fields(line); len(f) > 1 && f[0] == "loadgate" {
				n++
				checkCommandLine(t, f[1:])
			}
		}
	}
	if n < 4 {
		t.Fatalf("found %d loadgate commands in docs/reports.md", n)
	}
}
