package report

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// reExcerpt finds fenced blocks tagged with the golden file they quote, e.g.
// ```text golden=verdict.txt
var reExcerpt = regexp.MustCompile("(?ms)^```[a-z]* golden=([^\\s]+)\\n(.*?)^```")

// TestDocsExcerpts keeps docs/reports.md honest: every line of every excerpt
// must appear in the golden file it names.
func TestDocsExcerpts(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile(filepath.Join("..", "docs", "reports.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks := reExcerpt.FindAllStringSubmatch(string(doc), -1)
	if len(blocks) < 5 {
		t.Fatalf("found %d golden excerpts in docs/reports.md, want one per format", len(blocks))
	}
	for _, b := range blocks {
		golden, err := os.ReadFile(filepath.Join("testdata", "golden", b[1]))
		if err != nil {
			t.Errorf("docs quote %s: %v", b[1], err)
			continue
		}
		for _, line := range strings.Split(b[2], "\n") {
			if strings.TrimSpace(line) == "" {
				continue
			}
			if !strings.Contains(string(golden), line+"\n") {
				t.Errorf("docs/reports.md quotes a line not in %s:\n%s", b[1], line)
			}
		}
	}
}
