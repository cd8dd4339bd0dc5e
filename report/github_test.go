package report

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/loadgate/loadgate/gate"
	goldenfile "github.com/loadgate/loadgate/internal/golden"
)

// loadVerdict reads a JSON verdict document of testdata/github at the
// repository root.
func loadVerdict(t testing.TB, name string) *gate.Verdict {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "testdata", "github", name))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Verdict *gate.Verdict `json:"verdict"`
	}
	if err := json.Unmarshal(data, &doc); err != nil || doc.Verdict == nil {
		t.Fatalf("%s: %v", name, err)
	}
	return doc.Verdict
}

func TestGitHubGolden(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"regressed", "pass", "inconclusive"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			v := loadVerdict(t, "verdict."+name+".json")
			got := GitHub(v, GitHubOptions{RunURL: "https://github.com/Codertocat/Hello-World/actions/runs/1"})
			goldenfile.Check(t, filepath.Join("testdata", "github", "render."+name+".md"), []byte(got))
		})
	}
}

func TestGitHubEscapesUserStrings(t *testing.T) {
	t.Parallel()
	v := loadVerdict(t, "verdict.regressed.json")
	v.Endpoints[0].Name = "a|b <img src=x onerror=alert(1)> [click](https://evil.example) @octocat `x`\n# h"
	v.Endpoints[0].Decision = gate.Regressed
	v.Warnings = append(v.Warnings, "</details><script>")
	got := GitHub(v, GitHubOptions{})
	for _, bad := range []string{"<img", "<script", "[click](", "@octocat", "a|b", "\n# h", "</details><script>"} {
		if strings.Contains(got, bad) {
			t.Errorf("rendered Markdown contains %q", bad)
		}
	}
	if !strings.Contains(got, "```mermaid\nxychart-beta") {
		t.Error("no Mermaid chart")
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "    x-axis") && strings.Count(line, `"`)%2 != 0 {
			t.Errorf("unbalanced quotes in chart labels: %s", line)
		}
	}
}

func TestGitHubOrdersRegressionsFirst(t *testing.T) {
	t.Parallel()
	got := GitHub(loadVerdict(t, "verdict.regressed.json"), GitHubOptions{})
	reg := strings.Index(got, "create-order")
	inc := strings.Index(got, "search")
	det := strings.Index(got, "<details>")
	pass := strings.Index(got, "list-products")
	if !(reg >= 0 && reg < inc && inc < det && det < pass) {
		t.Errorf("order: regressed@%d inconclusive@%d details@%d unchanged@%d", reg, inc, det, pass)
	}
}

func TestCheckTitle(t *testing.T) {
	t.Parallel()
	for file, want := range map[string]string{
		"verdict.regressed.json":    "1 regression: create-order p95 +26.0%",
		"verdict.pass.json":         "No regression in 4 endpoints",
		"verdict.inconclusive.json": "Inconclusive: no regression proven in 4 endpoints",
	} {
		if got := CheckTitle(loadVerdict(t, file)); got != want {
			t.Errorf("%s: title %q, want %q", file, got, want)
		}
	}
}

func TestGitHubEscapesEveryVerdictField(t *testing.T) {
	t.Parallel()
	// A verdict read back from an artifact written by an untrusted run.
	v := loadVerdict(t, "verdict.regressed.json")
	v.Decision = "<i>x</i>"
	v.Mode = "<b>m</b>"
	v.Endpoints[1].Checks[0].Metric = "<script>m</script>"
	v.Endpoints[1].Checks[0].Unit = "<u>ms</u>"
	v.Endpoints[1].Checks[0].Tolerance = "<a href=x>t</a>"
	v.Endpoints[1].Checks[0].Kind = "slo"
	v.Endpoints[1].Checks[1].Tolerance = "![t](https://evil.example/t.png)"
	v.Endpoints[1].Checks[1].Kind = "slo"
	v.Endpoints[1].Checks[1].Decision = gate.Regressed
	got := GitHub(v, GitHubOptions{RunURL: "javascript:alert(1)) <x>", Note: "<img src=x> @octocat"})
	// An escaped "\]" closes no link or image.
	inert := strings.ReplaceAll(got, "\\]", " ")
	for _, bad := range []string{"<i>", "<I>", "<b>", "<script", "<SCRIPT", "<u>", "<a href", "<x>", "<img", "](", "@octocat", "javascript"} {
		if strings.Contains(inert, bad) {
			t.Errorf("rendered Markdown contains %q:\n%s", bad, got)
		}
	}
}

// The PR comment is the Markdown report: `loadgate report --format markdown`
// and the comment cannot drift apart.
func TestGitHubIsTheMarkdownReport(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"regressed", "pass", "inconclusive"} {
		v := loadVerdict(t, "verdict."+name+".json")
		var want strings.Builder
		if err := Markdown(&want, Input{Verdict: v}); err != nil {
			t.Fatal(err)
		}
		if got := GitHub(v, GitHubOptions{}); got != want.String() {
			t.Errorf("%s: GitHub differs from Markdown (-want +got):\n%s", name, cmp.Diff(want.String(), got))
		}
	}
}

func TestEndpointMessage(t *testing.T) {
	t.Parallel()
	v := loadVerdict(t, "verdict.regressed.json")
	var msgs []string
	for _, a := range Annotations(v, "plan.yaml", nil) {
		msgs = append(msgs, a.Level+" "+a.Title+" | "+a.Message)
	}
	want := []string{
		"failure create-order: regressed | create-order: regressed p95 120 ms → 151 ms +26.0% [+18.0, +33.0] p<0.001 (tolerance +5%)",
		"warning search | <script>alert(1)</script> @admin: inconclusive | search | <script>alert(1)</script> @admin: inconclusive p95 50.0 ms → 56.0 ms ~ [+7.0, +17.0] p=0.090 (tolerance +10%): need ≥ 6 windows, have 4",
	}
	if strings.Join(msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("annotations:\n%s\nwant:\n%s", strings.Join(msgs, "\n"), strings.Join(want, "\n"))
	}

	// A pass with a warned check is a notice, so a pass a longer run could
	// overturn shows on the plan line; a pass without warnings is silent.
	v = loadVerdict(t, "verdict.pass.json")
	if got := Annotations(v, "plan.yaml", nil); len(got) != 0 {
		t.Fatalf("clean pass: %d annotations, want none: %+v", len(got), got)
	}
	for i := range v.Endpoints {
		if v.Endpoints[i].Name == "create-order" {
			v.Endpoints[i].Checks[0].Warnings = []string{"the interval reaches past the tolerance"}
		}
	}
	got := Annotations(v, "plan.yaml", func(string) int { return 7 })
	wantNotice := "create-order: pass p95 120 ms → 122 ms ~ [-3.1, +7.1] p=0.410 (tolerance +5%): the interval reaches past the tolerance"
	if len(got) != 1 || got[0].Level != AnnotationNotice || got[0].StartLine != 7 || got[0].Message != wantNotice {
		t.Errorf("warned pass: %+v\nwant one notice on line 7: %s", got, wantNotice)
	}
}
