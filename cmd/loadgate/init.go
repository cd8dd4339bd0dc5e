package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/plan"
)

// planSchemaURL is where editors fetch the plan's JSON Schema (plan/schema.json
// in the loadgate repository) for the `# yaml-language-server: $schema=` line.
const planSchemaURL = "https://raw.githubusercontent.com/loadgate/loadgate/main/plan/schema.json"

// Bounds for plans generated from an OpenAPI document.
const (
	// maxOpenAPIBytes bounds the document read (GitHub's full REST description,
	// among the largest public ones, is 13 MB).
	maxOpenAPIBytes = 64 << 20
	// maxGeneratedBody bounds an example request body copied into the plan;
	// larger examples are left out with a note (use body_file instead).
	maxGeneratedBody = 16 << 10
	// schemaDepth bounds the walk that builds a body from a schema without
	// an example (recursive schemas would not end).
	schemaDepth = 6
)

func newInitCmd(a *app) *cobra.Command {
	var (
		dir, name, fromOpenAPI string
		force                  bool
	)
	cmd := &cobra.Command{
		Use:   "init [--dir DIR] [--from-openapi api.yaml] [--force]",
		Short: "Write a starter plan, a baselines/ directory and a GitHub workflow",
		Long: `Write a commented starter plan (loadgate.yaml, with the editor schema line), a
baselines/ directory with a README, and .github/workflows/loadgate.yml that runs
the gate on pull requests (GitHub reads workflows from the repository root: run
init there, or move the file). Existing files are left alone unless --force.

--from-openapi creates one endpoint per operation of an OpenAPI 3 document
(JSON or YAML; no external references are fetched): path parameters are filled
from the document's examples, defaults or enums (else 1), required query and
header parameters likewise, and request bodies from the document's examples
(or, for JSON without an example, a minimal body built from the schema). The
target stays on loopback: point TARGET_URL at a test deployment you own.`,
		Example: `  loadgate init
  loadgate init --dir services/checkout --name checkout-api
  loadgate init --from-openapi openapi.yaml --force`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return withCode(exitUsage, err)
				}
				name = planName(filepath.Base(abs))
			}
			var planText string
			if fromOpenAPI != "" {
				g, err := planFromOpenAPI(fromOpenAPI, name)
				if err != nil {
					return withCode(exitUsage, err)
				}
				for _, w := range g.warnings {
					fmt.Fprintf(a.stderr, "loadgate: %s: %s\n", fromOpenAPI, w)
				}
				planText = g.text
			} else {
				planText = starterPlan(name)
			}
			// Never write a plan loadgate itself would reject.
			if _, err := plan.Parse([]byte(planText), "loadgate.yaml", dir, func(string) string { return "" }); err != nil {
				return withCode(exitInfra, fmt.Errorf("internal error: generated plan does not validate: %w", err))
			}
			files := []initFile{
				{"loadgate.yaml", planText},
				{filepath.Join("baselines", "README.md"), baselinesReadme(name)},
				{filepath.Join(".github", "workflows", "loadgate.yml"), workflow(name, dir)},
			}
			if err := writeInitFiles(dir, files, force); err != nil {
				return err
			}
			for _, f := range files {
				fmt.Fprintf(a.stdout, "wrote %s\n", filepath.Join(dir, f.path))
			}
			fmt.Fprintf(a.stdout, `
next steps:
  loadgate validate %[1]s
  TARGET_URL=http://127.0.0.1:8080 loadgate baseline update %[1]s --baseline %[2]s
  git add %[1]s %[3]s %[4]s
`, filepath.Join(dir, "loadgate.yaml"), filepath.Join(dir, "baselines", name+".json"), filepath.Join(dir, "baselines"),
				filepath.Join(dir, ".github", "workflows", "loadgate.yml"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write into")
	cmd.Flags().StringVar(&name, "name", "", "plan name (default: the directory's name)")
	cmd.Flags().StringVar(&fromOpenAPI, "from-openapi", "", "create one endpoint per operation of this OpenAPI 3 document")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}

type initFile struct{ path, content string }

// writeInitFiles checks every file first, so a refusal writes nothing.
func writeInitFiles(dir string, files []initFile, force bool) error {
	if !force {
		var exist []string
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f.path)); err == nil {
				exist = append(exist, filepath.Join(dir, f.path))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return withCode(exitUsage, err)
			}
		}
		if len(exist) > 0 {
			return withCode(exitUsage, fmt.Errorf("%s already exist%s; use --force to overwrite", strings.Join(exist, ", "), map[bool]string{true: "s", false: ""}[len(exist) == 1]))
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return withCode(exitUsage, err)
		}
		if err := os.WriteFile(p, []byte(f.content), 0o644); err != nil {
			return withCode(exitUsage, err)
		}
	}
	return nil
}

// planName turns a directory name into a plan name (letters, digits, - _ .).
func planName(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			return r
		}
		return '-'
	}, s)
	s = strings.Trim(s, "-.")
	if s == "" {
		return "my-service"
	}
	return truncateRunes(s, 64)
}

func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) > n {
		return string(r[:n])
	}
	return s
}

// yq quotes s as a YAML double-quoted scalar (JSON strings are valid YAML)
// with every '$' doubled, so loadgate's ${VAR} expansion leaves it as written.
func yq(s string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(strings.ReplaceAll(s, "$", "$$"))
	return strings.TrimSuffix(b.String(), "\n")
}

const planHeader = `# yaml-language-server: $schema=` + planSchemaURL + `
# (editors fetch the plan's JSON Schema from there; for an offline copy pinned
# to your loadgate version: loadgate schema -o plan.schema.json, and point the
# line above at it)
#
# loadgate plan. Reference: https://github.com/loadgate/loadgate/blob/main/docs/plan.md
# Check it:   loadgate validate loadgate.yaml
# Run it:     loadgate run loadgate.yaml -o results.json
# Gate on it: loadgate gate loadgate.yaml --baseline baselines/%[1]s.json

# The name is the key of results and baselines.
name: %[2]s

# Base URL; endpoint paths are appended. ${VAR:-default} reads the environment,
# and a value that came from the environment is a secret: shown as *** in
# every output.
target: ${TARGET_URL:-http://127.0.0.1:8080}

# Safety rail: hosts load may be sent to (distributed and MCP-started runs
# refuse others; local runs warn).
targets:
  allow: [127.0.0.1, "::1", localhost]

# Safety rail: ceilings checked before anything starts.
limits:
  max_rate: 500/s
  max_duration: 10m

defaults:
  timeout: 2s
  headers:
    Accept: application/json
    # Authorization: "Bearer ${API_TOKEN}"   # set API_TOKEN in CI (a secret)
`

const planFooter = `
# The load shape: open model (arrivals do not wait for responses, so latency
# includes queueing). 50 requests/s for 30 s after 5 s of warm-up, which is
# measured but excluded from the verdict. Other types: stress, spike,
# endurance, scalability, volume, stages; vus: N selects the closed model.
profile:
  type: load
  rate: 50/s
  duration: 30s
  warmup: 5s

# A regression needs both: the change exceeds the tolerance and is
# statistically significant against the baseline's runs.
gate:
  p95: +10%            # relative to the baseline
  p99: +20%
  throughput: -5%      # a drop is the regression
  error_rate: +0.5pp   # percentage points
  slo:                 # absolute limits, no baseline needed
    p95: 500ms
    error_rate: 1%
`

// ysq quotes s as a YAML single-quoted scalar, which keeps JSON bodies
// readable (only a single quote is escaped, by doubling it); strings with line breaks or control
// characters fall back to yq.
func ysq(s string) string {
	if strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
		return yq(s)
	}
	return "'" + strings.ReplaceAll(strings.ReplaceAll(s, "$", "$$"), "'", "''") + "'"
}

func starterPlan(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, planHeader, name, yq(name))
	b.WriteString(`
# One entry per request kind; weight is its share of the load (default 1).
endpoints:
  - name: home
    request: GET /
    weight: 3
    # expect: {status: [200]}          # default: any 2xx or 3xx

  # - name: create-order
  #   request: POST /orders
  #   headers: {Content-Type: application/json}
  #   body: '{"sku":"A1","qty":1}'     # or body_file: bodies/order.json
  #   weight: 1
`)
	b.WriteString(planFooter)
	return b.String()
}

func baselinesReadme(name string) string {
	return fmt.Sprintf(`# Baselines

loadgate compares each run with the baseline file of its plan, here
%[1]s.json. A baseline keeps the last few runs (default 5) with their
provenance (plan hash, profile, runner class, tool version, git sha), so the
comparison knows how much results vary from run to run.

Create or refresh it from a known-good build, then commit it:

    loadgate baseline update loadgate.yaml --baseline baselines/%[1]s.json

Run that a few times (or let the workflow record runs on the default branch)
so the baseline holds at least 3 runs. When the plan's endpoints or profile
change, the plan hash changes and old baselines are reported as incompatible:
record new runs.

On shared CI runners, paired mode (base and head builds measured interleaved
in the same job) needs no committed baseline; see the loadgate README.
`, name)
}

// workflow is the GitHub Actions workflow. GitHub reads workflows only from
// the repository root's .github/workflows; when init writes into a
// subdirectory, the action's working-directory points back at it so the file
// works once moved to the root.
func workflow(name, dir string) string {
	wd := ""
	if d := filepath.ToSlash(filepath.Clean(dir)); d != "." && !filepath.IsAbs(dir) {
		wd = "\n          working-directory: " + yq(d)
	}
	return fmt.Sprintf(`# loadgate: fail pull requests that make the service measurably slower.
# Docs: https://github.com/loadgate/loadgate
name: loadgate

on:
  pull_request:
  push:
    branches: [main]

permissions:
  contents: read
  pull-requests: write   # sticky PR comment with the verdict
  checks: write          # check run with per-endpoint annotations

jobs:
  loadgate:
    runs-on: ubuntu-latest
    timeout-minutes: 20
    steps:
      - uses: actions/checkout@v4

      # Start the service under test on this runner and wait until it answers.
      # Replace the first command with your build (docker compose up -d, a
      # binary started in the background, …).
      - name: Start the service
        run: |
          echo "edit .github/workflows/loadgate.yml: start the service on 127.0.0.1:8080" >&2
          exit 1
      - name: Wait for the service
        run: curl --retry 30 --retry-connrefused --retry-delay 1 -fsS -o /dev/null http://127.0.0.1:8080/

      - uses: loadgate/loadgate@v1
        env:
          TARGET_URL: http://127.0.0.1:8080
        with:
          plan: loadgate.yaml
          baseline: baselines/%[1]s.json
          reports: html,junit
          # Record runs of the default branch into the baseline (then commit
          # it, or set open-pr: true with contents: write permission).
          update-baseline: "true"%[2]s

      - uses: actions/upload-artifact@v4
        if: always()
        with:
          name: loadgate-results
          path: loadgate-results/
`, name, wd)
}

// ---- OpenAPI ----

type generated struct {
	text     string
	warnings []string
}

// planFromOpenAPI reads an OpenAPI 3 document and writes a plan with one
// endpoint per operation, in path then method order.
func planFromOpenAPI(path, name string) (*generated, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("openapi: %w", err)
	}
	if st.Size() > maxOpenAPIBytes {
		return nil, fmt.Errorf("openapi: %s is %d bytes, more than the %d this command reads", path, st.Size(), maxOpenAPIBytes)
	}
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false // never fetch anything while generating a plan
	doc, err := loader.LoadFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("openapi: %s: %w", path, err)
	}
	g := &generated{}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		return nil, fmt.Errorf("openapi: %s: version %q: want an OpenAPI 3 document", path, doc.OpenAPI)
	}
	if doc.Paths == nil || doc.Paths.Len() == 0 {
		return nil, fmt.Errorf("openapi: %s: no paths", path)
	}

	var b strings.Builder
	fmt.Fprintf(&b, planHeader, name, yq(name))
	title := ""
	if doc.Info != nil {
		title = strings.TrimSpace(doc.Info.Title + " " + doc.Info.Version)
	}
	fmt.Fprintf(&b, "\n# Generated by `loadgate init --from-openapi` from %s", filepath.Base(path))
	if title != "" {
		fmt.Fprintf(&b, " (%s)", oneLine(title))
	}
	b.WriteString(".\n")
	if len(doc.Servers) > 0 && doc.Servers[0] != nil {
		fmt.Fprintf(&b, "# The document's server is %s: point TARGET_URL at a test deployment you\n# own, never at a production service you do not.\n", oneLine(doc.Servers[0].URL))
	}
	b.WriteString("# Operations that write (POST, PUT, PATCH, DELETE) change data on the target.\nendpoints:\n")

	names := map[string]int{}
	paths := doc.Paths.Map()
	keys := make([]string, 0, len(paths))
	for k := range paths {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	n := 0
	for _, p := range keys {
		item := paths[p]
		if item == nil {
			continue
		}
		ops := item.Operations()
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"} {
			op := ops[method]
			if op == nil {
				continue
			}
			ep, warns := endpointFromOperation(p, method, item, op)
			for _, w := range warns {
				g.warnings = append(g.warnings, fmt.Sprintf("%s %s: %s", method, p, w))
			}
			ep.name = uniqueName(ep.name, names)
			writeEndpoint(&b, ep, method, p, op)
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("openapi: %s: no operations", path)
	}
	b.WriteString(planFooter)
	g.text = b.String()
	return g, nil
}

type genEndpoint struct {
	name, request string
	headers       map[string]string
	body          string
	bodyNote      string
}

func endpointFromOperation(path, method string, item *openapi3.PathItem, op *openapi3.Operation) (genEndpoint, []string) {
	var warns []string
	ep := genEndpoint{headers: map[string]string{}}
	ep.name = op.OperationID
	if ep.name == "" {
		ep.name = strings.ToLower(method) + " " + path
	}
	ep.name = truncateRunes(strings.Join(strings.Fields(ep.name), " "), plan.MaxNameLen-4)

	// Operation parameters override path-item ones with the same name and location.
	params := map[string]*openapi3.Parameter{}
	var order []string
	for _, list := range []openapi3.Parameters{item.Parameters, op.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil {
				continue
			}
			k := ref.Value.In + ":" + ref.Value.Name
			if _, seen := params[k]; !seen {
				order = append(order, k)
			}
			params[k] = ref.Value
		}
	}
	reqPath := path
	q := url.Values{}
	for _, k := range order {
		prm := params[k]
		switch prm.In {
		case openapi3.ParameterInPath:
			v := paramValue(prm)
			reqPath = strings.ReplaceAll(reqPath, "{"+prm.Name+"}", url.PathEscape(v))
		case openapi3.ParameterInQuery:
			if prm.Required {
				q.Set(prm.Name, paramValue(prm))
			}
		case openapi3.ParameterInHeader:
			if prm.Required && !strings.EqualFold(prm.Name, "content-type") {
				ep.headers[prm.Name] = paramValue(prm)
			}
		}
	}
	if strings.ContainsAny(reqPath, "{}") {
		warns = append(warns, "a path parameter has no declaration; filled with 1")
		for strings.Contains(reqPath, "{") {
			i := strings.Index(reqPath, "{")
			j := strings.Index(reqPath[i:], "}")
			if j < 0 {
				break
			}
			reqPath = reqPath[:i] + "1" + reqPath[i+j+1:]
		}
	}
	// The request line is "METHOD /path": no spaces may remain in it.
	reqPath = strings.ReplaceAll(reqPath, " ", "%20")
	if len(q) > 0 {
		reqPath += "?" + q.Encode()
	}
	ep.request = method + " " + reqPath

	if op.RequestBody != nil && op.RequestBody.Value != nil {
		body, ctype, note, err := requestBody(op.RequestBody.Value)
		switch {
		case err != nil:
			warns = append(warns, err.Error())
		case body != "":
			ep.body, ep.bodyNote = body, note
			ep.headers["Content-Type"] = ctype
		}
	}
	return ep, warns
}

// paramValue picks a parameter's value: its example, then its schema's
// example, default or first enum value, else "1".
func paramValue(p *openapi3.Parameter) string {
	cands := []any{p.Example}
	if len(p.Examples) > 0 {
		keys := sortedKeys(p.Examples)
		if ex := p.Examples[keys[0]]; ex != nil && ex.Value != nil {
			cands = append(cands, ex.Value.Value)
		}
	}
	if p.Schema != nil && p.Schema.Value != nil {
		s := p.Schema.Value
		cands = append(cands, s.Example, s.Default)
		if len(s.Enum) > 0 {
			cands = append(cands, s.Enum[0])
		}
	}
	for _, c := range cands {
		if s, ok := scalarString(c); ok && s != "" {
			return s
		}
	}
	return "1"
}

func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", false
	case string:
		return x, true
	case bool, float64, float32, int, int64, int32, uint64, json.Number:
		return fmt.Sprint(x), true
	}
	return "", false
}

// requestBody returns an example body, its content type and a note saying
// where it came from.
func requestBody(rb *openapi3.RequestBody) (body, ctype, note string, err error) {
	if len(rb.Content) == 0 {
		return "", "", "", nil
	}
	ctypes := sortedKeys(rb.Content)
	ctype = ctypes[0]
	for _, c := range ctypes {
		if c == "application/json" || strings.HasSuffix(c, "+json") {
			ctype = c
			break
		}
	}
	mt := rb.Content[ctype]
	if mt == nil {
		return "", "", "", nil
	}
	isJSON := strings.Contains(ctype, "json")
	var val any
	found := false
	switch {
	case mt.Example != nil:
		val, found, note = mt.Example, true, "example from the document"
	case len(mt.Examples) > 0:
		for _, k := range sortedKeys(mt.Examples) {
			if ex := mt.Examples[k]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
				val, found, note = ex.Value.Value, true, fmt.Sprintf("example %q from the document", k)
				break
			}
		}
	}
	if !found && mt.Schema != nil && mt.Schema.Value != nil {
		if mt.Schema.Value.Example != nil {
			val, found, note = mt.Schema.Value.Example, true, "schema example from the document"
		} else if isJSON && rb.Required {
			val, found, note = fromSchema(mt.Schema.Value, 0), true, "no example in the document: a minimal body built from the schema"
		}
	}
	if !found {
		if rb.Required {
			return "", "", "", fmt.Errorf("request body (%s) has no example: add one with body: or body_file:", ctype)
		}
		return "", "", "", nil
	}
	if s, ok := val.(string); ok && !isJSON {
		body = s
	} else {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(val); err != nil {
			return "", "", "", fmt.Errorf("request body example: %w", err)
		}
		body = strings.TrimSuffix(buf.String(), "\n")
	}
	if len(body) > maxGeneratedBody {
		return "", "", "", fmt.Errorf("request body example is %d bytes (more than %d): left out; use body_file:", len(body), maxGeneratedBody)
	}
	return body, ctype, note, nil
}

// fromSchema builds a minimal value: required properties only, each from its
// example, default or first enum value, else a zero value of its type.
func fromSchema(s *openapi3.Schema, depth int) any {
	if s == nil || depth > schemaDepth {
		return nil
	}
	for _, v := range []any{s.Example, s.Default} {
		if v != nil {
			return v
		}
	}
	if len(s.Enum) > 0 {
		return s.Enum[0]
	}
	if len(s.AllOf) > 0 {
		merged := map[string]any{}
		for _, r := range s.AllOf {
			if r != nil {
				if m, ok := fromSchema(r.Value, depth+1).(map[string]any); ok {
					for k, v := range m {
						merged[k] = v
					}
				}
			}
		}
		return merged
	}
	for _, alts := range []openapi3.SchemaRefs{s.OneOf, s.AnyOf} {
		if len(alts) > 0 && alts[0] != nil {
			return fromSchema(alts[0].Value, depth+1)
		}
	}
	t := s.Type
	switch {
	case t.Is("object") || (t.IsEmpty() && len(s.Properties) > 0):
		m := map[string]any{}
		for _, k := range s.Required {
			if p := s.Properties[k]; p != nil {
				m[k] = fromSchema(p.Value, depth+1)
			} else {
				m[k] = ""
			}
		}
		return m
	case t.Is("array"):
		if s.MinItems > 0 && s.Items != nil {
			return []any{fromSchema(s.Items.Value, depth+1)}
		}
		return []any{}
	case t.Is("string"):
		return "string"
	case t.Is("integer"), t.Is("number"):
		return 1
	case t.Is("boolean"):
		return false
	}
	return nil
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func uniqueName(n string, seen map[string]int) string {
	seen[n]++
	if c := seen[n]; c > 1 {
		n2 := fmt.Sprintf("%s-%d", n, c)
		for seen[n2] > 0 {
			c++
			n2 = fmt.Sprintf("%s-%d", n, c)
		}
		seen[n2]++
		return n2
	}
	return n
}

func writeEndpoint(b *strings.Builder, ep genEndpoint, method, path string, op *openapi3.Operation) {
	summary := oneLine(op.Summary)
	if summary != "" {
		fmt.Fprintf(b, "  # %s %s — %s\n", method, oneLine(path), truncateRunes(summary, 100))
	} else {
		fmt.Fprintf(b, "  # %s %s\n", method, oneLine(path))
	}
	fmt.Fprintf(b, "  - name: %s\n    request: %s\n", yq(ep.name), yq(ep.request))
	if len(ep.headers) > 0 {
		b.WriteString("    headers:\n")
		for _, k := range sortedKeys(ep.headers) {
			fmt.Fprintf(b, "      %s: %s\n", yq(k), yq(ep.headers[k]))
		}
	}
	if ep.body != "" {
		fmt.Fprintf(b, "    body: %s   # %s\n", ysq(ep.body), ep.bodyNote)
	}
	b.WriteString("\n")
}

// oneLine keeps a document string on one comment line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' || r == ' ' }), " ")
}
