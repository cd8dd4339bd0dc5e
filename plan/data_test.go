package plan

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

const dataPlan = `name: d
target: http://127.0.0.1:8080
data:
  products: {file: data/products.csv}
  skus: {file: data/skus.json, mode: random}
  users: {file: data/users.ndjson, mode: unique}
setup:
  - name: login
    request: POST /login
    body: '{"user":"{{ data.users.user }}"}'
    extract:
      token: {json: /token}
      session: {header: X-Session}
defaults:
  headers: {Authorization: "Bearer {{ vars.token }}"}
endpoints:
  - name: product
    request: GET /products/{{ data.products.id }}?sku={{data.skus.sku}}
  - name: order
    request: POST /orders
    headers: {X-Request-Id: "{{ uuid }}"}
    body: '{"qty": {{ randint(1, 5) }}, "n": {{ seq }}, "user": "{{ data.users.user }}"}'
profile: {type: load, vus: 2, duration: 5s, think_time: {min: 10ms, max: 20ms}}
`

func TestParseDataSetupThink(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(dataPlan), "testdata/d.yaml", "testdata", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []DataSource{
		{Name: "products", File: "data/products.csv", Format: FormatCSV, Mode: ModeSequential,
			Columns: []string{"id", "name"}, Rows: [][]string{{"1", "apple"}, {"2", "pear, green"}, {"3", "plum"}}},
		{Name: "skus", File: "data/skus.json", Format: FormatJSON, Mode: ModeRandom,
			Columns: []string{"id", "sku"}, Rows: [][]string{{"1", "A1"}, {"2", "B2"}}},
		{Name: "users", File: "data/users.ndjson", Format: FormatNDJSON, Mode: ModeUnique,
			Columns: []string{"pw", "user"}, Rows: [][]string{{"x", "ann"}, {"y", "bob"}}},
	}
	for i := range p.Data {
		p.Data[i].Line = 0
	}
	if !reflect.DeepEqual(p.Data, want) {
		t.Errorf("data:\n got %+v\nwant %+v", p.Data, want)
	}
	if len(p.Setup) != 1 || p.Setup[0].Method != "POST" || p.Setup[0].Path != "/login" ||
		!reflect.DeepEqual(p.Setup[0].Extract, []Extract{{Var: "token", JSON: "/token"}, {Var: "session", Header: "X-Session"}}) {
		t.Errorf("setup: %+v", p.Setup)
	}
	if got := p.Endpoints[0].Path; got != "/products/{{ data.products.id }}?sku={{data.skus.sku}}" {
		t.Errorf("templated path kept as written: %q", got)
	}
	if p.Profile.ThinkTime != (ThinkTime{Min: 10 * time.Millisecond, Max: 20 * time.Millisecond}) {
		t.Errorf("think time: %+v", p.Profile.ThinkTime)
	}
	// The plan travels to workers as JSON with its rows.
	data, _, err := p.MarshalRefs()
	if err != nil {
		t.Fatal(err)
	}
	q, err := UnmarshalRefs(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(q.Data[2].Rows, want[2].Rows) || q.Profile.ThinkTime != p.Profile.ThinkTime || len(q.Setup) != 1 || q.Hash() != p.Hash() {
		t.Errorf("round trip lost data, setup or think time: %+v", q)
	}
}

func TestParseTemplateErrors(t *testing.T) {
	t.Parallel()
	base := `name: d
target: http://127.0.0.1:8080
data:
  products: {file: data/products.csv}
endpoints:
  - name: a
    request: %s
profile: {type: load, rate: 1/s, duration: 2s}
`
	cases := []struct{ request, want string }{
		{"GET /p/{{ data.prodcts.id }}", `d.yaml:7:14: endpoints[0].request: template at offset 3: unknown data source "prodcts" (did you mean "products"?)`},
		{"GET /p/{{ data.products.idd }}", `data source "products" has no column "idd" (did you mean "id"?) (columns: id, name)`},
		{"GET /p/{{ vars.token }}", `unknown variable "token" (variables come from setup[].extract, of earlier setup steps)`},
		{"GET /p/{{ uid }}", `unknown expression "uid" (did you mean "uuid"?)`},
		{"GET /p/{{ randint(5, 1) }}", `randint(5, 1): LO must be <= HI`},
		{"GET /p/{{ data.products.id", `unclosed {{`},
		{"GET /p/{{ }}", `empty {{ }}`},
	}
	for _, c := range cases {
		_, err := Parse([]byte(strings.Replace(base, "%s", c.request, 1)), "d.yaml", "testdata", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.request, err, c.want)
		}
	}
}

func TestParseDataErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ data, profile, want string }{
		{`x: {file: data/none.csv}`, "rate: 1/s, duration: 2s", "d.yaml:4:13: data.x.file: cannot read"},
		{`x: {file: data/products.txt}`, "rate: 1/s, duration: 2s", "cannot tell the format"},
		{`x: {file: data/products.csv, mode: unqiue}`, "rate: 1/s, duration: 2s", `unknown mode "unqiue" (did you mean "unique"?)`},
		{`x: {file: data/products.csv, mode: unique}`, "rate: 10/s, duration: 2s", "mode unique: the profile sends about 20 requests using this source, but it has 3 rows"},
		{`x: {file: data/products.csv, formt: csv}`, "rate: 1/s, duration: 2s", `data.x.formt: unknown key (did you mean "format"?)`},
		{`x-y: {file: data/products.csv}`, "rate: 1/s, duration: 2s", "source name must be letters"},
	}
	for _, c := range cases {
		src := "name: d\ntarget: http://127.0.0.1:8080\ndata:\n  " + c.data + "\nendpoints:\n  - {name: a, request: 'GET /{{ data.x.id }}'}\nprofile: {type: load, " + c.profile + "}\n"
		_, err := Parse([]byte(src), "d.yaml", "testdata", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.data, err, c.want)
		}
	}
}

func TestParseSetupAndThinkErrors(t *testing.T) {
	t.Parallel()
	cases := []struct{ extra, profile, want string }{
		{"setup:\n  - {request: POST /login, extract: {t: {json: /a, header: X}}}\n", "vus: 1", "setup[0].extract.t: set exactly one of json"},
		{"setup:\n  - {request: POST /login, extract: {t: {json: 'a[x]'}}}\n", "vus: 1", "want [N] with a number N"},
		{"setup:\n  - {request: POST /login, body: '{{ vars.t }}', extract: {t: {json: /a}}}\n", "vus: 1", `setup[0].body: template at offset 0: unknown variable "t"`},
		{"", "rate: 5/s, think_time: 1s", "profile.think_time: applies to the closed model"},
		{"", "vus: 1, think_time: {min: 2s, max: 1s}", "profile.think_time.min: must be <= max"},
		{"", "vus: 1, think_time: {mean: 1s, max: 2s}", "either min and max (uniform) or mean"},
	}
	for _, c := range cases {
		src := "name: d\ntarget: http://127.0.0.1:8080\n" + c.extra + "endpoints:\n  - {name: a, request: GET /a}\nprofile: {type: load, duration: 2s, " + c.profile + "}\n"
		_, err := Parse([]byte(src), "d.yaml", "testdata", nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q %q: got %v, want %q", c.extra, c.profile, err, c.want)
		}
	}
}

func TestDecodeDataFormats(t *testing.T) {
	t.Parallel()
	cases := []struct {
		format, in string
		cols       []string
		rows       [][]string
		err        string
	}{
		{format: FormatCSV, in: "a,b\n1,2\n3,4\n", cols: []string{"a", "b"}, rows: [][]string{{"1", "2"}, {"3", "4"}}},
		{format: FormatCSV, in: "a,b\n1\n", err: "wrong number of fields"},
		{format: FormatCSV, in: "a,a\n1,2\n", err: `column "a" appears twice`},
		{format: FormatCSV, in: "a b\n1\n", err: "use letters, digits"},
		{format: FormatCSV, in: "a\n", err: "no rows"},
		{format: FormatJSON, in: `[{"a": "x", "b": 1.50, "c": null, "d": {"e": [1, 2]}}]`, cols: []string{"a", "b", "c", "d"}, rows: [][]string{{"x", "1.50", "", `{"e":[1,2]}`}}},
		{format: FormatJSON, in: `[{"a": 1}, {"b": 2}]`, err: `element 2: key "b" is not in the first object`},
		{format: FormatJSON, in: `[{"a": 1}, 3]`, err: "element 2: want a JSON object"},
		{format: FormatJSON, in: `{"a": 1}`, err: "want a JSON array"},
		{format: FormatJSON, in: `[{"a": 1}] x`, err: "trailing data"},
		{format: FormatNDJSON, in: "{\"a\":1}\n{\"a\":2}\n", cols: []string{"a"}, rows: [][]string{{"1"}, {"2"}}},
		{format: FormatNDJSON, in: "{\"a\":1}\n{\"a\":2,\"b\":3}\n", err: "line 2: has 2 keys"},
		{format: FormatNDJSON, in: "\n\n", err: "no rows"},
	}
	for _, c := range cases {
		cols, rows, err := DecodeData(c.format, []byte(c.in))
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s %q: got %v, want %q", c.format, c.in, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(cols, c.cols) || !reflect.DeepEqual(rows, c.rows) {
			t.Errorf("%s %q: got %v %v %v", c.format, c.in, cols, rows, err)
		}
	}
}

func TestExtractJSON(t *testing.T) {
	t.Parallel()
	doc := []byte(`{"data": {"items": [{"id": 7, "token": "abc"}], "a/b": true}}`)
	for path, want := range map[string]string{
		"/data/items/0/token": "abc", "data.items[0].id": "7", "$.data.items[0].token": "abc", "/data/a~1b": "true",
	} {
		if got, err := ExtractJSON(doc, path); err != nil || got != want {
			t.Errorf("%s: %q %v, want %q", path, got, err, want)
		}
	}
	for path, want := range map[string]string{
		"/data/nope": `at /data: no key "nope"`, "data.items[3]": `no element "3" (the array has 1)`, "/data/items/0/id/x": "not an object or array",
	} {
		if _, err := ExtractJSON(doc, path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", path, err, want)
		}
	}
	if _, err := ExtractJSON([]byte("<html>secret</html>"), "/a"); err == nil || strings.Contains(err.Error(), "secret") {
		t.Errorf("non-JSON body: %v (must not quote the body)", err)
	}
}

func TestRuntimeSecretsRedacted(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(minimal), "m.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	cp := *p // copies made before the secret is learnt see it too
	p.AddRuntimeSecrets("tok-123")
	if got := cp.Redact("Bearer tok-123"); got != "Bearer ***" {
		t.Errorf("Redact = %q", got)
	}
	data, _, err := p.MarshalRefs()
	if err != nil || strings.Contains(string(data), "tok-123") {
		t.Errorf("runtime secret marshalled: %v", err)
	}
}

func TestTemplateParse(t *testing.T) {
	t.Parallel()
	tp, err := ParseTemplate(`a{{ "{{" }}b{{uuid}}{{ seq }}c`)
	if err != nil {
		t.Fatal(err)
	}
	want := []TemplatePart{{Kind: TmplLiteral, Lit: "a{{b"}, {Kind: TmplUUID, Offset: 12}, {Kind: TmplSeq, Offset: 20}, {Kind: TmplLiteral, Lit: "c"}}
	if !reflect.DeepEqual(tp.Parts, want) {
		t.Errorf("parts %+v", tp.Parts)
	}
}
