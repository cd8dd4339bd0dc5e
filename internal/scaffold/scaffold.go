// Package scaffold writes the files `loadgate init` creates: a commented
// starter plan (or one generated from an OpenAPI document), a baselines/
// README and a GitHub workflow. Plans are built as a yaml.Node tree and
// encoded, so every value is quoted by the YAML encoder, and text that came
// from elsewhere (an OpenAPI document) is escaped for the plan's own syntax
// (${VAR}, {{ }}) so it reads back exactly as written.
package scaffold

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/loadgate/loadgate/plan"
)

// SchemaURL is where editors fetch the plan's JSON Schema (plan/schema.json in
// the loadgate repository) for the `# yaml-language-server: $schema=` line.
const SchemaURL = "https://raw.githubusercontent.com/loadgate/loadgate/main/plan/schema.json"

// Starter profile: what a new plan runs, and what generated plans size their
// endpoint count against.
const (
	DefaultRate     = 50.0 // requests per second
	DefaultDuration = 30   // seconds measured
	DefaultWarmup   = 5    // seconds
)

// File is one file init writes, relative to its directory.
type File struct {
	Path    string
	Content []byte
}

// ExistsError is WriteFiles' refusal to overwrite files without force.
type ExistsError struct{ Paths []string }

func (e *ExistsError) Error() string {
	verb := "exist"
	if len(e.Paths) == 1 {
		verb = "exists"
	}
	return fmt.Sprintf("%s already %s; use --force to overwrite", strings.Join(e.Paths, ", "), verb)
}

// WriteFiles writes files under dir. Without force it checks every file
// first, so a refusal (*ExistsError) writes nothing.
func WriteFiles(dir string, files []File, force bool) error {
	if !force {
		var exist []string
		for _, f := range files {
			if _, err := os.Stat(filepath.Join(dir, f.Path)); err == nil {
				exist = append(exist, filepath.Join(dir, f.Path))
			} else if !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		if len(exist) > 0 {
			return &ExistsError{Paths: exist}
		}
	}
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, f.Content, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// Validate parses the plan among files (with the data files it reads) the
// way `loadgate validate` would, in a scratch directory: init never writes a
// plan loadgate itself would reject.
func Validate(files []File, planPath string) error {
	dir, err := os.MkdirTemp("", "loadgate-init-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := WriteFiles(dir, files, true); err != nil {
		return err
	}
	_, err = plan.Load(filepath.Join(dir, planPath), func(string) string { return "" })
	return err
}

// PlanName turns a directory name into a plan name (letters, digits, - _ .).
func PlanName(s string) string {
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

// ---- node building ----

// Escape makes s read back unchanged through the plan's expansions: every
// $ doubled (${VAR}) and every {{ written as the template literal {{ "{{" }}.
func Escape(s string) string {
	s = strings.ReplaceAll(s, "$", "$$")
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}

// str is a string scalar written as is (plan syntax such as ${VAR} stays live).
func str(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

// text is a string scalar from elsewhere, escaped (see Escape).
func text(s string) *yaml.Node { return str(Escape(s)) }

// name is a plan or endpoint name: ${VAR} expands in it, templates do not.
func name(s string) *yaml.Node { return str(strings.ReplaceAll(s, "$", "$$")) }

// num is a plain scalar the plan reads as a number or duration (50/s, 30s, 3).
func num(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }

// field is one key of a mapping with its comments.
type field struct {
	key  string
	val  *yaml.Node
	head string // comment lines above the key ("\n" first: a blank line before)
	line string // comment at the end of the key's line
}

func mapping(fields ...field) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		k := str(f.key)
		k.HeadComment = f.head
		if f.line != "" {
			if f.val.Kind == yaml.ScalarNode || f.val.Style == yaml.FlowStyle {
				f.val.LineComment = f.line
			} else {
				k.LineComment = f.line
			}
		}
		m.Content = append(m.Content, k, f.val)
	}
	return m
}

func flow(n *yaml.Node) *yaml.Node {
	n.Style = yaml.FlowStyle
	return n
}

func list(items ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.SequenceNode, Content: items}
}

// encode renders a document with a head comment.
func encode(head string, root *yaml.Node, foot string) ([]byte, error) {
	doc := &yaml.Node{Kind: yaml.DocumentNode, HeadComment: head, FootComment: foot, Content: []*yaml.Node{root}}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if !bytes.HasSuffix(b.Bytes(), []byte("\n")) {
		b.WriteByte('\n')
	}
	return b.Bytes(), nil
}

// comment turns lines into a YAML comment block.
func comment(lines ...string) string {
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		if l == "" {
			b.WriteString("#")
		} else {
			b.WriteString("# " + strings.NewReplacer("\r", " ", "\n", " ").Replace(l))
		}
	}
	return b.String()
}

// oneLine keeps a document string on one comment line.
func oneLine(s string) string {
	return strings.Join(strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' || r == '\t' || r == ' ' }), " ")
}

// ---- the starter plan ----

func planHead(name string) string {
	return "# yaml-language-server: $schema=" + SchemaURL + "\n" + comment(
		"(editors fetch the plan's JSON Schema from there; for an offline copy pinned",
		"to your loadgate version: loadgate schema -o plan.schema.json, and point the",
		"line above at it)",
		"",
		"loadgate plan. Reference: https://github.com/loadgate/loadgate/blob/main/docs/plan.md",
		"Check it:   loadgate validate loadgate.yaml",
		"Run it:     loadgate run loadgate.yaml -o results.json",
		"Gate on it: loadgate gate loadgate.yaml --baseline baselines/"+name+".json")
}

// planSections are the keys every generated plan shares, around endpoints.
func planTop(planName string) []field {
	return []field{
		{key: "name", val: name(planName), head: comment("The name is the key of results and baselines.")},
		{key: "target", val: str("${TARGET_URL:-http://127.0.0.1:8080}"), head: "\n" + comment(
			"Base URL; endpoint paths are appended. ${VAR:-default} reads the environment,",
			"and a value that came from the environment is a secret: shown as *** in",
			"every output.")},
		{key: "targets", val: mapping(field{key: "allow", val: flow(list(str("127.0.0.1"), str("::1"), str("localhost")))}), head: "\n" + comment(
			"Safety rail: hosts load may be sent to (distributed and MCP-started runs",
			"refuse others; local runs warn).")},
		{key: "limits", val: mapping(field{key: "max_rate", val: num("500/s")}, field{key: "max_duration", val: num("10m")}),
			head: "\n" + comment("Safety rail: ceilings checked before anything starts.")},
		{key: "defaults", val: mapping(
			field{key: "timeout", val: num("2s")},
			field{key: "headers", val: authHint(mapping(field{key: "Accept", val: str("application/json")}))},
		), head: "\n"},
	}
}

func planBottom(rate float64) []field {
	return []field{
		{key: "profile", val: mapping(
			field{key: "type", val: str("load")},
			field{key: "rate", val: num(plan.FormatRate(rate))},
			field{key: "duration", val: num(fmt.Sprintf("%ds", DefaultDuration))},
			field{key: "warmup", val: num(fmt.Sprintf("%ds", DefaultWarmup))},
		), head: "\n" + comment(
			"The load shape: open model (arrivals do not wait for responses, so latency",
			fmt.Sprintf("includes queueing). %s requests/s for %d s after %d s of warm-up, which is", strings.TrimSuffix(plan.FormatRate(rate), "/s"), DefaultDuration, DefaultWarmup),
			"measured but excluded from the verdict. Other types: stress, spike,",
			"endurance, scalability, volume, stages; vus: N selects the closed model.")},
		{key: "gate", val: mapping(
			field{key: "p95", val: num("+10%"), line: "# relative to the baseline"},
			field{key: "p99", val: num("+20%")},
			field{key: "throughput", val: num("-5%"), line: "# a drop is the regression"},
			field{key: "error_rate", val: num("+0.5pp"), line: "# percentage points"},
			field{key: "slo", val: mapping(field{key: "p95", val: num("500ms")}, field{key: "error_rate", val: num("1%")}),
				line: "# absolute limits, no baseline needed"},
		), head: "\n" + comment(
			"A regression needs both: the change exceeds the tolerance and is",
			"statistically significant against the baseline's runs.")},
	}
}

// authHint adds the commented-out Authorization header under headers.
func authHint(headers *yaml.Node) *yaml.Node {
	headers.Content[len(headers.Content)-1].FootComment = comment(`Authorization: "Bearer ${API_TOKEN}"   # set API_TOKEN in CI (a secret)`)
	return headers
}

// Starter is the commented starter plan.
func Starter(name string) ([]byte, error) {
	home := mapping(
		field{key: "name", val: str("home")},
		field{key: "request", val: str("GET /")},
		field{key: "weight", val: num("3")},
	)
	home.Content[len(home.Content)-1].FootComment = comment("expect: {status: [200]}          # default: any 2xx or 3xx")
	fields := planTop(name)
	fields = append(fields, field{key: "endpoints", val: list(home), head: "\n" + comment(
		"One entry per request kind; weight is its share of the load (default 1).",
		"Another, with values from a data file (docs/plan.md):",
		"",
		"  - name: create-order",
		"    request: POST /orders",
		"    headers: {Content-Type: application/json}",
		`    body: '{"sku":"{{ data.skus.sku }}","qty":1}'   # or body_file: bodies/order.json`,
		"    weight: 1")})
	fields = append(fields, planBottom(DefaultRate)...)
	return encode(planHead(name), mapping(fields...), "")
}

// BaselinesReadme is baselines/README.md.
func BaselinesReadme(name string) []byte {
	return fmt.Appendf(nil, `# Baselines

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

// Workflow is the GitHub Actions workflow. GitHub reads workflows only from
// the repository root's .github/workflows; when init writes into a
// subdirectory, the action's working-directory points back at it so the file
// works once moved to the root.
func Workflow(name, dir string) []byte {
	wd := ""
	if d := filepath.ToSlash(filepath.Clean(dir)); d != "." && !filepath.IsAbs(dir) {
		wd = "\n          working-directory: " + quoted(d)
	}
	return fmt.Appendf(nil, `# loadgate: fail pull requests that make the service measurably slower.
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

// quoted is s as one YAML double-quoted scalar, by the encoder.
func quoted(s string) string {
	n := str(s)
	n.Style = yaml.DoubleQuotedStyle
	b, err := yaml.Marshal(n)
	if err != nil {
		return `""`
	}
	return strings.TrimSuffix(string(b), "\n")
}
