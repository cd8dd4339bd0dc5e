package ghclient

import (
	"strings"
	"unicode/utf8"
)

const truncationNote = "\n\n> [!NOTE]\n> Truncated to GitHub's size limit; the full report is in the job summary and the results artifact.\n"

// Truncate shortens s to at most limit bytes (so at most limit characters),
// cutting at a line break when one is near, closing an open code fence or
// <details> block and appending note. Bytes bound characters from above, so
// the result is within GitHub's character limits whatever the text.
func Truncate(s string, limit int, note string) string {
	if len(s) <= limit {
		return s
	}
	const closers = "\n```\n</details>\n"
	keep := limit - len(note) - len(closers)
	if keep < 0 {
		keep = 0
	}
	for keep > 0 && !utf8.RuneStart(s[keep]) {
		keep--
	}
	cut := s[:keep]
	if i := strings.LastIndexByte(cut, '\n'); i > keep/2 {
		cut = cut[:i]
	}
	var b strings.Builder
	b.WriteString(cut)
	if strings.Count(cut, "```")%2 == 1 {
		b.WriteString("\n```")
	}
	if strings.Count(cut, "<details>") > strings.Count(cut, "</details>") {
		b.WriteString("\n</details>")
	}
	if len(note) > limit {
		note = ""
	}
	b.WriteString(note)
	out := b.String()
	if len(out) > limit { // tiny limits: hard cut
		out = out[:limit]
		for len(out) > 0 && !utf8.ValidString(out) {
			out = out[:len(out)-1]
		}
	}
	return out
}

// BodyLimit is the longest rendering that fits both a comment or issue body
// after the Marker line and a check-run summary. Render shortens to it by
// leaving out whole parts of the report (chart, unchanged endpoints, notes,
// then rows) and saying so, rather than cutting text as Truncate must.
func BodyLimit(plan string) int {
	return max(min(MaxCheckOutput, MaxCommentBody-len(Marker(plan))-len("\n")), 1)
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
