package action

import (
	"regexp"
	"strings"
	"testing"
)

// branchSafeRE is the regular expression branchSafe stands for.
func branchSafeRE(s string) string {
	s = strings.Trim(regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(s, "-"), "-.")
	if s == "" {
		return "plan"
	}
	return s
}

var branchSafeCases = []string{"", "api", "my plan/v2", "--a..b--", "ünïcödé plan", "a\xffb\xfe", "..", "a  b\t\nc", "x-_-.y", "日本"}

func TestBranchSafeMatchesRegexp(t *testing.T) {
	for _, s := range branchSafeCases {
		if got, want := branchSafe(s), branchSafeRE(s); got != want {
			t.Errorf("branchSafe(%q) = %q, the regular expression gives %q", s, got, want)
		}
	}
}

func FuzzBranchSafe(f *testing.F) {
	for _, s := range branchSafeCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := branchSafe(s), branchSafeRE(s); got != want {
			t.Fatalf("branchSafe(%q) = %q, the regular expression gives %q", s, got, want)
		}
	})
}
