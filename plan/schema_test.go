package plan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"
)

func schemaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(JSONSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

func compileSchema(t *testing.T) *jsonschema.Schema {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(JSONSchema()))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("schema.json", doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile("schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return sch
}

// TestSchemaMatchesParser walks the schema's sections and the parser's
// accepted keys in both directions.
func TestSchemaMatchesParser(t *testing.T) {
	t.Parallel()
	defs := schemaDoc(t)["$defs"].(map[string]any)
	for _, set := range sectionKeys {
		section, keys := set.name, set.keys
		def, ok := defs[section].(map[string]any)
		if !ok {
			t.Errorf("schema has no $defs.%s", section)
			continue
		}
		props, _ := def["properties"].(map[string]any)
		var got []string
		for k := range props {
			got = append(got, k)
		}
		sort.Strings(got)
		want := slices.Clone(keys)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("$defs.%s properties = %v, parser accepts %v", section, got, want)
		}
		if def["additionalProperties"] != false {
			t.Errorf("$defs.%s: additionalProperties must be false", section)
		}
	}
	for name, d := range defs {
		if _, isObj := d.(map[string]any)["properties"]; isObj {
			if _, ok := keysOf(sectionKeys, name); !ok {
				t.Errorf("schema $defs.%s has properties the parser does not know", name)
			}
		}
	}
	// Per-profile-type key sets.
	prof := defs["profile"].(map[string]any)
	seen := map[string]bool{}
	for _, x := range prof["allOf"].([]any) {
		cond := x.(map[string]any)
		typ := cond["if"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["const"].(string)
		var got []string
		for _, k := range cond["then"].(map[string]any)["propertyNames"].(map[string]any)["enum"].([]any) {
			got = append(got, k.(string))
		}
		if want, _ := keysOf(profileKeys, typ); !slices.Equal(got, want) {
			t.Errorf("schema keys for profile %s = %v, parser %v", typ, got, want)
		}
		seen[typ] = true
	}
	for _, typ := range ProfileTypes {
		if !seen[typ] {
			t.Errorf("schema has no key set for profile type %s", typ)
		}
	}
	enum := defs["profile"].(map[string]any)["properties"].(map[string]any)["type"].(map[string]any)["enum"].([]any)
	if len(enum) != len(ProfileTypes) {
		t.Errorf("profile.type enum %v, parser %v", enum, ProfileTypes)
	}
	from := defs["import"].(map[string]any)["properties"].(map[string]any)["from"].(map[string]any)["enum"].([]any)
	if len(from) != len(ImportFormats) {
		t.Errorf("import.from enum %v, parser %v", from, ImportFormats)
	}
}

// TestSchemaDescriptions: every property of every object has a description
// and every object forbids unknown keys.
func TestSchemaDescriptions(t *testing.T) {
	t.Parallel()
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch x := v.(type) {
		case map[string]any:
			if props, ok := x["properties"].(map[string]any); ok {
				if _, ok := x["additionalProperties"]; !ok {
					t.Errorf("%s: object without additionalProperties", path)
				}
				for k, p := range props {
					if d, _ := p.(map[string]any)["description"].(string); d == "" {
						t.Errorf("%s.%s: no description", path, k)
					}
				}
			}
			for k, c := range x {
				if k == "if" {
					continue // a condition, not a definition
				}
				walk(path+"/"+k, c)
			}
		case []any:
			for i, c := range x {
				walk(path+"/"+string(rune('0'+i%10)), c)
			}
		}
	}
	walk("#", schemaDoc(t))
}

// yamlToJSON converts a plan's YAML to the generic value a JSON Schema
// validator takes.
func yamlToJSON(t *testing.T, data []byte) any {
	t.Helper()
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func examplePlans(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../examples/plans/*.yaml")
	if err != nil || len(files) < 8 {
		t.Fatalf("example plans: %v %v", files, err)
	}
	return files
}

// TestExamples: every example plan parses, validates against the schema, and
// starts with the yaml-language-server line.
func TestExamples(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	env := envOf(nil) // examples must validate out of the box
	types := map[string]bool{}
	for _, f := range examplePlans(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("# yaml-language-server: $schema=../../plan/schema.json\n")) {
			t.Errorf("%s: does not start with the yaml-language-server schema line", f)
		}
		p, err := Load(f, env)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		types[p.Profile.Type] = true
		if err := sch.Validate(yamlToJSON(t, data)); err != nil {
			t.Errorf("%s: schema: %v", f, err)
		}
		if p.Profile.Type != "" && (len(p.Schedule()) == 0 || p.TotalDuration() <= 0) {
			t.Errorf("%s: empty schedule", f)
		}
	}
	for _, typ := range ProfileTypes {
		if !types[typ] {
			t.Errorf("no example plan for profile type %s", typ)
		}
	}
}

// TestCheckoutUsesEveryKey: the full example exercises every key of every
// section, so the docs example cannot fall behind the parser.
func TestCheckoutUsesEveryKey(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../examples/plans/checkout.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		t.Fatal(err)
	}
	used := map[string]map[string]bool{}
	var walk func(n *yaml.Node, section string)
	child := map[[2]string]string{
		{"plan", "targets"}: "targets", {"plan", "limits"}: "limits", {"plan", "defaults"}: "defaults",
		{"plan", "endpoints"}: "endpoint", {"plan", "profile"}: "profile", {"plan", "gate"}: "gate",
		{"plan", "runner"}: "runner", {"defaults", "expect"}: "expect", {"endpoint", "expect"}: "expect",
		{"gate", "slo"}: "slo", {"override", "slo"}: "slo", {"runner", "import"}: "import",
		{"gate", "endpoints"}: "override*", {"profile", "stages"}: "stage",
		{"plan", "data"}: "source*", {"plan", "setup"}: "setup", {"setup", "expect"}: "expect",
		{"setup", "extract"}: "extract*", {"profile", "think_time"}: "think_time",
		{"plan", "tls"}: "tls", {"plan", "http"}: "http",
	}
	walk = func(n *yaml.Node, section string) {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for _, c := range n.Content {
				walk(c, section)
			}
		case yaml.MappingNode:
			if named, ok := strings.CutSuffix(section, "*"); ok { // a mapping of names to sections
				for i := 1; i < len(n.Content); i += 2 {
					walk(n.Content[i], named)
				}
				return
			}
			if used[section] == nil {
				used[section] = map[string]bool{}
			}
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				used[section][k] = true
				if c, ok := child[[2]string{section, k}]; ok {
					walk(n.Content[i+1], c)
				}
			}
		}
	}
	walk(&root, "plan")
	// The full example uses every key except the profile keys of other types
	// and the runner (which replaces the built-in generator).
	for _, set := range sectionKeys {
		section, keys := set.name, set.keys
		if section == "profile" || section == "stage" || section == "runner" || section == "import" || section == "think_time" || section == "tls" {
			continue
		}
		for _, k := range keys {
			if !used[section][k] && !(section == "plan" && (k == "runner" || k == "tls")) && !(section == "endpoint" && k == "body") {
				t.Errorf("checkout.yaml does not use %s key %q", section, k)
			}
		}
	}
	// Across all examples, every key of every section appears.
	for _, f := range examplePlans(t) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var n yaml.Node
		if err := yaml.Unmarshal(data, &n); err != nil {
			t.Fatal(err)
		}
		walk(&n, "plan")
	}
	for _, set := range sectionKeys {
		section, keys := set.name, set.keys
		for _, k := range keys {
			if !used[section][k] {
				t.Errorf("no example plan uses %s key %q", section, k)
			}
		}
	}
}

// TestSchemaRejectsWhatParserRejects: unknown keys in each section fail both.
func TestSchemaRejectsWhatParserRejects(t *testing.T) {
	t.Parallel()
	sch := compileSchema(t)
	cases := []string{
		minimal + "bogus: 1\n",
		rep(minimal, "request: GET /a", "request: GET /a\n    wieght: 2"),
		rep(minimal, "duration: 5s", "duration: 5s, multiplier: 2"),
		rep(minimal, "type: load", "type: lode"),
		minimal + "gate: {p95: +10%, slo: {p95: 1s, p42: 1s}}\n",
		minimal + "defaults: {expect: {status: [200], body: x}}\n",
		minimal + "limits: {max_rps: 1}\n",
		minimal + "targets: {allow: [x], deny: [y]}\n",
		minimal + "gate: {endpoints: {a: {p95: +5%, nope: 1}}}\n",
		minimal + "runner: {exec: k6, shell: true}\n",
		rep(minimal, "duration: 5s", "duration: five"),
		rep(minimal, "rate: 10/s", "rate: 10/d"),
		minimal + "gate: {p95: 10 percent}\n",
	}
	for _, src := range cases {
		if _, err := Parse([]byte(src), "p.yaml", ".", nil); err == nil {
			t.Errorf("parser accepted:\n%s", src)
		}
		if err := sch.Validate(yamlToJSON(t, []byte(src))); err == nil {
			t.Errorf("schema accepted:\n%s", src)
		} else if strings.TrimSpace(err.Error()) == "" {
			t.Error("empty schema error")
		}
	}
}

// TestDocsCoverEveryKey keeps docs/plan.md in step with the parser.
func TestDocsCoverEveryKey(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/plan.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, set := range sectionKeys {
		section, keys := set.name, set.keys
		for _, k := range keys {
			if !bytes.Contains(doc, []byte("`"+k+"`")) && !bytes.Contains(doc, []byte("`"+section+"."+k+"`")) {
				t.Errorf("docs/plan.md does not document %s key `%s`", section, k)
			}
		}
	}
	for _, typ := range ProfileTypes {
		if !bytes.Contains(doc, []byte("### "+typ+" ")) {
			t.Errorf("docs/plan.md has no section for profile type %s", typ)
		}
	}
	for _, f := range ImportFormats {
		if !bytes.Contains(doc, []byte("`"+f+"`")) {
			t.Errorf("docs/plan.md does not list import format %s", f)
		}
	}
}

// TestDocsErrorExample: the error listing in docs/plan.md is what the parser
// prints for testdata/bad.yaml.
func TestDocsErrorExample(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../docs/plan.md")
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile("testdata/bad.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(src, "plan.yaml", "testdata", envOf(map[string]string{"API_TOKEN": "x"}))
	if err == nil {
		t.Fatal("bad.yaml parsed")
	}
	if !bytes.Contains(doc, []byte("```\n"+err.Error()+"\n```")) {
		t.Errorf("docs/plan.md does not show the current error listing:\n%v", err)
	}
}
