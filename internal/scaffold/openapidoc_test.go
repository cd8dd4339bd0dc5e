package scaffold

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSpec writes a document to a temporary file and returns its path.
func writeSpec(t testing.TB, name, doc string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

const specHead = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\n"

// TestReadOpenAPIErrors: bad input names the file, the line and the field.
func TestReadOpenAPIErrors(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct{ doc, want string }{
		"missing ref": {specHead + `paths:
  /x:
    get:
      parameters:
        - $ref: '#/components/parameters/Nope'
`, "api.yaml:7: paths./x.get.parameters[0]: $ref #/components/parameters/Nope not found"},
		"external ref where scaffolding never looks": {specHead + `paths:
  /x:
    get:
      responses:
        '200': {$ref: 'http://127.0.0.1:1/r.yaml#/r'}
`, `api.yaml:7: paths./x.get.responses.200: $ref "http://127.0.0.1:1/r.yaml#/r": only refs within the document`},
		"ref cycle": {specHead + `paths:
  /x:
    get:
      parameters: [{$ref: '#/components/parameters/A'}]
components:
  parameters:
    A: {$ref: '#/components/parameters/B'}
    B: {$ref: '#/components/parameters/A'}
`, "more than 32 refs in a chain"},
		"parameters not a list": {specHead + `paths:
  /x:
    get:
      parameters: {name: a}
`, "api.yaml:6: paths./x.get.parameters: want a list"},
		"required not a bool": {specHead + `paths:
  /x:
    post:
      requestBody: {required: maybe, content: {}}
`, `api.yaml:6: paths./x.post.requestBody.required: want true or false, not "maybe"`},
		"bad minItems": {specHead + `paths:
  /x:
    post:
      requestBody:
        content:
          application/json:
            schema: {type: array, minItems: lots}
`, `api.yaml:9: paths./x.post.requestBody.content.application/json.schema.minItems: want a whole number`},
		"swagger 2":   {"swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {}\n", "Swagger 2.0 document: want OpenAPI 3"},
		"no version":  {"info: {title: t}\npaths: {}\n", `version "": want an OpenAPI 3 document`},
		"not a map":   {"- openapi\n", "not an OpenAPI document"},
		"broken yaml": {"openapi: [\n", "api.yaml: yaml: line"},
	} {
		_, err := FromOpenAPI(writeSpec(t, "api.yaml", c.doc), OpenAPIOptions{Name: "x", IncludeWrites: true})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", name, err, c.want)
		}
	}
}

// TestReadOpenAPIJSON: JSON that YAML parsers reject (tab indentation,
// surrogate pairs) reads, and errors give the JSON line.
func TestReadOpenAPIJSON(t *testing.T) {
	t.Parallel()
	doc := "{\n\t\"openapi\": \"3.0.0\",\n\t\"info\": {\"title\": \"\\ud83d\\ude00\", \"version\": \"1\"},\n\t\"paths\": {\"/a\": {\"get\": {\"operationId\": \"x\"}}}\n}\n"
	g, err := FromOpenAPI(writeSpec(t, "api.json", doc), OpenAPIOptions{Name: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(g.Files[0].Content), "from api.json (😀 1)") {
		t.Errorf("title not read:\n%s", g.Files[0].Content)
	}
	bad := "{\"openapi\": \"3.0.0\",\n\"paths\": {\"/a\": {\"get\": {\n\"parameters\": [{\"$ref\": \"#/nope\"}]}}}}"
	_, err = FromOpenAPI(writeSpec(t, "api.json", bad), OpenAPIOptions{Name: "x"})
	if err == nil || !strings.Contains(err.Error(), "api.json:3: paths./a.get.parameters[0]: $ref #/nope not found") {
		t.Errorf("error %v", err)
	}
}

// TestFromOpenAPINumbersAndNullableTypes pins three fixes over the
// kin-openapi reader: numbers were float64 (a parameter example 1000000 was
// sent as 1e+06, large integers lost digits), and a 3.1 nullable type
// [object, "null"] built a null body.
func TestFromOpenAPINumbersAndNullableTypes(t *testing.T) {
	t.Parallel()
	spec := writeSpec(t, "api.yaml", `openapi: 3.1.0
info: {title: t, version: "1"}
paths:
  /a:
    get:
      operationId: big
      parameters:
        - {name: n, in: query, required: true, example: 1000000}
        - {name: id, in: query, required: true, schema: {type: integer, example: 12345678901234567890}}
    post:
      operationId: nullable
      requestBody:
        required: true
        content:
          application/json:
            schema:
              type: [object, "null"]
              required: [name, count, self]
              properties:
                name: {type: [string, "null"]}
                count: {type: integer}
                self: {$ref: '#/paths/~1a/post/requestBody/content/application~1json/schema'}
`)
	g, err := FromOpenAPI(spec, OpenAPIOptions{Name: "x", IncludeWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	plan := string(g.Files[0].Content)
	if !strings.Contains(plan, "request: GET /a?id=12345678901234567890&n=1000000") {
		t.Errorf("numbers:\n%s", plan)
	}
	var data string
	for _, f := range g.Files[1:] {
		data += string(f.Content)
	}
	// The recursive property ends at the depth bound.
	want := `{"body":{"count":1,"name":"string","self":{"count":1,"name":"string","self":{"count":1,"name":"string","self":{"count":1,"name":"string","self":{"count":1,"name":"string","self":{"count":1,"name":"string","self":{"count":null,"name":null,"self":null}}}}}}}}` + "\n"
	if data != want {
		t.Errorf("body %s, want %s", data, want)
	}
	if err := Validate(g.Files, PlanFile); err != nil {
		t.Error(err)
	}
}

// TestReadOpenAPIAliasBomb: YAML aliases that expand without end are
// bounded, not followed to exhaustion.
func TestReadOpenAPIAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(specHead + "x-a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]\n")
	for i := 1; i < 9; i++ {
		b.WriteString("x-a" + string(rune('0'+i)) + ": &a" + string(rune('0'+i)) + " [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString("*a" + string(rune('0'+i-1)))
		}
		b.WriteString("]\n")
	}
	b.WriteString(`paths:
  /a:
    post:
      requestBody:
        content:
          application/json:
            example: *a8
`)
	g, err := FromOpenAPI(writeSpec(t, "api.yaml", b.String()), OpenAPIOptions{Name: "x", IncludeWrites: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Warnings) != 1 || !strings.Contains(g.Warnings[0], "left out") {
		t.Errorf("warnings %q", g.Warnings)
	}
}

// FuzzReadOpenAPI: no document makes the reader panic or loop, and every
// plan generated from one is valid. Seeds: testdata/fuzz/FuzzReadOpenAPI.
func FuzzReadOpenAPI(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		if len(doc) > 1<<16 {
			return
		}
		path := writeSpec(t, "api.yaml", string(doc))
		g, err := FromOpenAPI(path, OpenAPIOptions{Name: "fuzz", IncludeWrites: true, MaxEndpoints: 1000})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "openapi: "+path) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if err := Validate(g.Files, PlanFile); err != nil {
			t.Fatalf("generated plan is invalid: %v\n%s", err, g.Files[0].Content)
		}
	})
}
