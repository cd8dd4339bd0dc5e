package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/loadgate/loadgate/internal/golden"
	"github.com/loadgate/loadgate/internal/scaffold"
	"github.com/loadgate/loadgate/plan"
)

func noEnv(string) string { return "" }

func TestInitStarter(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "checkout api")
	ctx := context.Background()
	code, stdout, stderr := cli(t, ctx, nil, "init", "--dir", dir)
	if code != 0 {
		t.Fatalf("init: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, "loadgate validate") {
		t.Errorf("no next steps:\n%s", stdout)
	}
	planPath := filepath.Join(dir, "loadgate.yaml")
	data, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(data), "# yaml-language-server: $schema="+scaffold.SchemaURL+"\n") {
		t.Errorf("plan does not start with the schema line:\n%.200s", data)
	}
	p, err := plan.Load(planPath, noEnv)
	if err != nil {
		t.Fatalf("starter plan does not validate: %v", err)
	}
	if p.Name != "checkout-api" || len(p.Endpoints) == 0 || p.Profile.Type != "load" {
		t.Errorf("plan: name %q, %d endpoints, profile %q", p.Name, len(p.Endpoints), p.Profile.Type)
	}
	golden.Check(t, filepath.Join("testdata", "init", "starter.plan.golden.yaml"), data)
	if code, _, _ := cli(t, ctx, nil, "validate", planPath); code != 0 {
		t.Errorf("loadgate validate on the starter plan: exit %d", code)
	}

	readme, err := os.ReadFile(filepath.Join(dir, "baselines", "README.md"))
	if err != nil || !strings.Contains(string(readme), "baseline update") {
		t.Errorf("baselines/README.md: %v", err)
	}

	wf, err := os.ReadFile(filepath.Join(dir, ".github", "workflows", "loadgate.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var w struct {
		On   map[string]any `yaml:"on"`
		Jobs map[string]struct {
			Steps []struct {
				Uses string            `yaml:"uses"`
				Run  string            `yaml:"run"`
				With map[string]string `yaml:"with"`
				Env  map[string]string `yaml:"env"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	if err := yaml.Unmarshal(wf, &w); err != nil {
		t.Fatalf("workflow is not YAML: %v", err)
	}
	if _, ok := w.On["pull_request"]; !ok {
		t.Error("workflow does not run on pull_request")
	}
	found := false
	for _, s := range w.Jobs["loadgate"].Steps {
		if s.Uses == "loadgate/loadgate@v1" {
			found = true
			if s.With["plan"] != "loadgate.yaml" || s.With["baseline"] != "baselines/checkout-api.json" || s.Env["TARGET_URL"] == "" {
				t.Errorf("action step: %+v", s)
			}
		}
	}
	if !found {
		t.Error("workflow does not use loadgate/loadgate@v1")
	}

	// A second init refuses and changes nothing; --force overwrites.
	if err := os.WriteFile(planPath, []byte("mine"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, ctx, nil, "init", "--dir", dir)
	if code != exitUsage || !strings.Contains(stderr, "--force") {
		t.Errorf("init over existing files: exit %d: %s", code, stderr)
	}
	if b, _ := os.ReadFile(planPath); string(b) != "mine" {
		t.Error("refused init still overwrote the plan")
	}
	if code, _, _ := cli(t, ctx, nil, "init", "--dir", dir, "--force"); code != 0 {
		t.Errorf("init --force: exit %d", code)
	}
	if b, _ := os.ReadFile(planPath); string(b) == "mine" {
		t.Error("--force did not overwrite")
	}
}

func TestInitFromOpenAPIGitHub(t *testing.T) {
	t.Parallel()
	spec := filepath.Join("testdata", "init", "api.github.com.subset.json")
	// By default: safe methods only, as many as 50/s serves with 200
	// requests each in 30 s (7), the rest listed in a comment.
	dir := t.TempDir()
	code, _, stderr := cli(t, context.Background(), nil, "init", "--dir", dir, "--name", "github-api", "--from-openapi", spec)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p, err := plan.Load(filepath.Join(dir, "loadgate.yaml"), noEnv)
	if err != nil {
		t.Fatalf("generated plan does not validate: %v", err)
	}
	if len(p.Endpoints) != 7 {
		t.Errorf("%d endpoints, want 7 (50/s x 30 s / 200 requests)", len(p.Endpoints))
	}
	for _, e := range p.Endpoints {
		if e.Method != "GET" && e.Method != "HEAD" {
			t.Errorf("%s: %s without --include-writes", e.Name, e.Method)
		}
	}
	text, _ := os.ReadFile(filepath.Join(dir, "loadgate.yaml"))
	for _, want := range []string{
		"# Left out, writes change data on the target (--include-writes adds them) (10):",
		"#   DELETE /repos/{owner}/{repo}/issues/comments/{comment_id} (issues/delete-comment)",
		"#   GET /repos/{owner}/{repo}/pulls/{pull_number} (pulls/get)",
		"# about 214 requests in the measured 30 s (7.14/s)",
	} {
		if !strings.Contains(string(text), want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if !strings.Contains(stderr, "7 of 18 operations selected") {
		t.Errorf("stderr: %s", stderr)
	}

	// With writes and room for all: every operation, writes fed from data files.
	dir = t.TempDir()
	code, _, stderr = cli(t, context.Background(), nil, "init", "--dir", dir, "--name", "github-api",
		"--from-openapi", spec, "--include-writes", "--max-endpoints", "100")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	p, err = plan.Load(filepath.Join(dir, "loadgate.yaml"), noEnv)
	if err != nil {
		t.Fatalf("generated plan does not validate: %v", err)
	}
	if len(p.Endpoints) != 18 {
		t.Errorf("%d endpoints, want one per operation (18)", len(p.Endpoints))
	}
	byName := map[string]plan.Endpoint{}
	for _, e := range p.Endpoints {
		byName[e.Name] = e
		if strings.ContainsAny(strings.ReplaceAll(strings.ReplaceAll(e.Path, "{{", ""), "}}", ""), "{}") {
			t.Errorf("%s: unfilled path parameter in %s", e.Name, e.Path)
		}
	}
	for name, want := range map[string]string{
		"issues/create-comment": "POST /repos/{{ data.issues_create_comment.owner }}/{{ data.issues_create_comment.repo }}/issues/{{ data.issues_create_comment.issue_number }}/comments",
		"git/get-ref":           "GET /repos/1/1/git/ref/heads%2Ffeature-a",
		"rate-limit/get":        "GET /rate_limit",
	} {
		e, ok := byName[name]
		if !ok {
			t.Errorf("no endpoint %q", name)
			continue
		}
		if got := e.Method + " " + e.Path; got != want {
			t.Errorf("%s: request %q, want %q", name, got, want)
		}
	}
	if e := byName["issues/create-comment"]; e.Body != "{{ data.issues_create_comment.body }}" || e.Headers["Content-Type"] != "application/json" {
		t.Errorf("create-comment body %q headers %v", e.Body, e.Headers)
	}
	var src *plan.DataSource
	for i := range p.Data {
		if p.Data[i].Name == "issues_create_comment" {
			src = &p.Data[i]
		}
	}
	if src == nil || len(src.Rows) != 1 || !slices.Contains(src.Rows[0], `{"body":"Me too"}`) {
		t.Errorf("create-comment data source: %+v", src)
	}
	if !strings.HasPrefix(p.Target, "http://127.0.0.1") {
		t.Errorf("target %q: generated plans must not point at the document's (production) server", p.Target)
	}
}

func TestInitFromOpenAPISelection(t *testing.T) {
	t.Parallel()
	spec := filepath.Join("testdata", "init", "api.github.com.subset.json")
	for _, c := range []struct {
		args  []string
		names []string
	}{
		{[]string{"--tag", "pulls"}, []string{"pulls/list", "pulls/get"}},
		{[]string{"--tag", "checks", "--include-writes"}, []string{"checks/create", "checks/get", "checks/update"}},
		{[]string{"--path-prefix", "/repos/{owner}/{repo}/git", "--include-writes"}, []string{"git/get-ref", "git/create-ref"}},
		{[]string{"--max-endpoints", "2"}, []string{"rate-limit/get", "actions/list-workflow-run-artifacts"}},
		{[]string{"--rate", "20/s"}, []string{"rate-limit/get", "actions/list-workflow-run-artifacts", "checks/get"}},
	} {
		dir := t.TempDir()
		code, _, stderr := cli(t, context.Background(), nil, append([]string{"init", "--dir", dir, "--name", "gh", "--from-openapi", spec}, c.args...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", c.args, code, stderr)
		}
		p, err := plan.Load(filepath.Join(dir, "loadgate.yaml"), noEnv)
		if err != nil {
			t.Fatalf("%v: %v", c.args, err)
		}
		var got []string
		for _, e := range p.Endpoints {
			got = append(got, e.Name)
		}
		slices.Sort(got)
		want := slices.Clone(c.names)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%v: endpoints %v, want %v", c.args, got, want)
		}
	}
	code, _, stderr := cli(t, context.Background(), nil, "init", "--dir", t.TempDir(), "--from-openapi", spec, "--tag", "nope")
	if code != exitUsage || !strings.Contains(stderr, "no operation selected of 18") {
		t.Errorf("nothing selected: exit %d: %s", code, stderr)
	}
}

func TestInitFromOpenAPISmall(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	code, _, stderr := cli(t, context.Background(), nil, "init", "--dir", dir, "--name", "shop",
		"--from-openapi", filepath.Join("testdata", "init", "small.yaml"), "--include-writes")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "loadgate.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, filepath.Join("testdata", "init", "small.plan.golden.yaml"), data)
	p, err := plan.Parse(data, "loadgate.yaml", dir, noEnv)
	if err != nil {
		t.Fatalf("generated plan does not validate: %v", err)
	}
	// Writes take their values from data files: what the first request
	// sends is the template with the first row's values.
	got := map[string]plan.Endpoint{}
	for _, e := range p.Endpoints {
		e.Path, e.Body = firstRow(t, p, e.Path), firstRow(t, p, e.Body)
		got[e.Name] = e
	}
	check := func(name, request, body string) plan.Endpoint {
		t.Helper()
		e, ok := got[name]
		if !ok {
			t.Fatalf("no endpoint %q in %v", name, p.Endpoints)
		}
		if r := e.Method + " " + e.Path; r != request {
			t.Errorf("%s: request %q, want %q", name, r, request)
		}
		if body != "*" && e.Body != body {
			t.Errorf("%s: body %q, want %q", name, e.Body, body)
		}
		return e
	}
	if e := check("listProducts", "GET /products?page=2", ""); e.Headers["X-Tenant"] != "acme" {
		t.Errorf("required header not filled: %v", e.Headers)
	}
	// Built from the schema: required properties only, enum's first value.
	e := check("createProduct", "POST /products", "*")
	var body map[string]any
	if err := json.Unmarshal([]byte(e.Body), &body); err != nil {
		t.Fatalf("createProduct body %q: %v", e.Body, err)
	}
	if diff := cmp.Diff(map[string]any{"name": "string", "price": 1.0, "tags": []any{}, "kind": "book"}, body); diff != "" {
		t.Errorf("schema-built body (-want +got):\n%s", diff)
	}
	check("get /products/{productId}", "GET /products/A%201%2F2", "")
	// The alphabetically first named example; '$' survives the plan's ${VAR} expansion.
	check("replaceProduct", "PUT /products/A%201%2F2", `{"name":"Price in $ and ${USD}","quote":"it's"}`)
	check("deleteItem", "DELETE /orders/42/items/x1", "")
	// Duplicate operation ids get a suffix; a non-JSON example is sent as is.
	if e := check("listProducts-2", "POST /upload", "plain text body"); e.Headers["Content-Type"] != "text/plain" {
		t.Errorf("upload content type: %v", e.Headers)
	}
}

func TestInitFromOpenAPIBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	swagger := writeFile(t, dir, "swagger.json", `{"swagger":"2.0","info":{"title":"x","version":"1"},"paths":{}}`)
	noPaths := writeFile(t, dir, "empty.yaml", "openapi: 3.0.0\ninfo: {title: x, version: '1'}\npaths: {}\n")
	external := writeFile(t, dir, "ext.yaml", `openapi: 3.0.0
info: {title: x, version: '1'}
paths:
  /a:
    get:
      responses:
        '200': {$ref: 'http://127.0.0.1:1/never.yaml#/r'}
`)
	broken := writeFile(t, dir, "broken.yaml", "openapi: [\n")
	for name, spec := range map[string]string{
		"missing": filepath.Join(dir, "nope.yaml"), "swagger 2": swagger, "no paths": noPaths,
		"external ref": external, "broken": broken,
	} {
		out := filepath.Join(dir, "out-"+strings.ReplaceAll(name, " ", "-"))
		code, _, stderr := cli(t, context.Background(), nil, "init", "--dir", out, "--from-openapi", spec)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want 2 (%s)", name, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(out, "loadgate.yaml")); err == nil {
			t.Errorf("%s: wrote a plan despite the error", name)
		}
	}
}

// firstRow renders s's {{ data.SOURCE.COLUMN }} references with the first
// row of each source.
func firstRow(t *testing.T, p *plan.Plan, s string) string {
	t.Helper()
	tp, err := p.CompileTemplate(s, nil)
	if err != nil || tp == nil {
		return s
	}
	var b strings.Builder
	for _, pt := range tp.Parts {
		switch pt.Kind {
		case plan.TmplLiteral:
			b.WriteString(pt.Lit)
		case plan.TmplData:
			b.WriteString(p.Data[pt.SourceIndex].Rows[0][pt.ColumnIndex])
		default:
			t.Fatalf("unexpected template expression in %q", s)
		}
	}
	return b.String()
}
