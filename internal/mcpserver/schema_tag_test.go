package mcpserver

import (
	"regexp"
	"testing"
)

var wordEqualsCases = []string{"", "plain description", "a=b", "=x", "word =x", "a\t=b", "ab\n=c", "key=value with spaces", "ü=1", "\xff=", "a b=c"}

// wordEquals must accept exactly what the regular expression it replaced matched.
func TestWordEqualsMatchesRegexp(t *testing.T) {
	for _, s := range wordEqualsCases {
		checkWordEquals(t, s)
	}
}

func FuzzWordEquals(f *testing.F) {
	for _, s := range wordEqualsCases {
		f.Add(s)
	}
	f.Fuzz(checkWordEquals)
}

var wordEqualsRE = regexp.MustCompile(`^[^ \t\n]*=`)

func checkWordEquals(t *testing.T, s string) {
	if got, want := wordEquals(s), wordEqualsRE.MatchString(s); got != want {
		t.Fatalf("wordEquals(%q) = %v, the regular expression gives %v", s, got, want)
	}
}
