package plan

import (
	"regexp"
	"testing"
)

func TestKeyTablesHaveUniqueNames(t *testing.T) {
	for _, table := range [][]keySet{sectionKeys, profileKeys} {
		seen := map[string]bool{}
		for _, k := range table {
			if seen[k.name] {
				t.Errorf("%q listed twice; keysOf would only ever see the first", k.name)
			}
			seen[k.name] = true
		}
	}
	for _, typ := range ProfileTypes {
		if _, ok := keysOf(profileKeys, typ); !ok {
			t.Errorf("profile type %s has no key set", typ)
		}
	}
}

var yamlLineCases = []string{
	"yaml: line 3: did not find expected key",
	"yaml: line 12: mapping values are not allowed in this context",
	"yaml: line : x", "yaml: line 3:x", "yaml: line 3: ", "yaml: line 3: a\nb", "yaml: line x3: y",
	"yaml: unmarshal errors:\n  line 2: cannot unmarshal", "yaml: line 99999999999999999999: big", "", "yaml: line 7: ü\xff",
}

// yamlLine must split exactly what the regular expression it replaced matched.
func TestYAMLLineMatchesRegexp(t *testing.T) {
	for _, s := range yamlLineCases {
		checkYAMLLine(t, s)
	}
}

func FuzzYAMLLine(f *testing.F) {
	for _, s := range yamlLineCases {
		f.Add(s)
	}
	f.Fuzz(checkYAMLLine)
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func checkYAMLLine(t *testing.T, s string) {
	line, rest, ok := yamlLine(s)
	m := yamlLineRE.FindStringSubmatch(s)
	if ok != (m != nil) || ok && (line != m[1] || rest != m[2]) {
		t.Fatalf("yamlLine(%q) = %q, %q, %v; the regular expression gives %q", s, line, rest, ok, m)
	}
}
