package report

import (
	"strings"
	"testing"
)

func TestNoVerdictMarkdownEscapesAndSaysWhy(t *testing.T) {
	t.Parallel()
	got := NoVerdictMarkdown("shop <b>", "target http://x unreachable:\n all *3* requests", 3, "https://github.com/o/r/actions/runs/1")
	for _, want := range []string{"no verdict (exit 3)", "**no verdict: target", "shop &lt;b>", "[Workflow run](https://github.com/o/r/actions/runs/1)"} {
		if !strings.Contains(got, want) {
			t.Errorf("lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "<b>") || strings.Contains(got, "*3*") {
		t.Errorf("user strings not escaped:\n%s", got)
	}
}

func TestNoVerdictTitle(t *testing.T) {
	t.Parallel()
	if got := NoVerdictTitle("target  unreachable\n(refused 20)"); got != "no verdict: target unreachable (refused 20)" {
		t.Errorf("got %q", got)
	}
	long := NoVerdictTitle(strings.Repeat("é", 200))
	if len(long) > noVerdictTitleLen || !strings.HasSuffix(long, "…") || !strings.HasPrefix(long, "no verdict: é") {
		t.Errorf("long title: %d bytes %q", len(long), long)
	}
}
