package loadgate_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the architecture honest (docs/ARCHITECTURE.md):
// results and plan import no other loadgate package, gate imports only
// results, report only gate and results, runners only plan and results (and
// runners itself); the application layer (internal/pipeline) sits below the
// action and the MCP server and above the library; the GitHub client imports
// no loadgate package; nothing imports cmd; each external SDK lives in
// exactly one package; and the MCP SDK is for tests only (internal/mcpserver
// speaks the protocol itself, the tests check it with the SDK's client).
func TestDependencyDirection(t *testing.T) {
	t.Parallel()
	const mod = "github.com/loadgate/loadgate"
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}|{{join .Imports " "}}`, "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	library := []string{"plan", "results", "runners", "gate", "baselines", "report"}
	allowed := map[string][]string{
		"results":             {},
		"plan":                {},
		"gate":                {"results"},
		"baselines":           {"results"},
		"report":              {"gate", "results"},
		"runners":             {"plan", "results", "runners"},
		"internal/target":     {"results"},
		"internal/ghclient":   {},
		"internal/actionsenv": {},
		"internal/golden":     {},
		"internal/provenance": {"results"},
		"internal/pipeline":   append([]string{"internal/provenance", "internal/version"}, library...),
		"internal/mcpserver":  append([]string{"internal/pipeline", "internal/provenance", "internal/version"}, library...),
		"internal/action":     append([]string{"internal/pipeline", "internal/ghclient", "internal/actionsenv"}, library...),
		// init's plan writer: it checks what it generates with the parser.
		"internal/scaffold": {"plan"},
	}
	sdkOwners := map[string]string{
		// bench/cmd/sdkfloor links the AWS SDK alone to time its start-up
		// (bench/startup.sh); it is not part of the binary.
		"github.com/aws/aws-sdk-go-v2":          "runners/aws",
		"github.com/google/go-github":           "internal/ghclient",
		"github.com/sethvargo/go-githubactions": "internal/actionsenv",
	}
	testOnly := []string{"github.com/modelcontextprotocol/go-sdk", "github.com/google/jsonschema-go"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, "|")
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		for _, imp := range strings.Fields(imports) {
			// Executing a template reaches reflect's MethodByName, and the
			// linker then keeps every exported method of every linked type:
			// the binary grew from 20 to 31 MB. (cobra's templates stay
			// unreachable as long as nothing calls Set*Template.)
			if imp == "text/template" || imp == "html/template" {
				t.Errorf("%s imports %s: write the output with code (see report/htmlpage.go)", rel, imp)
			}
			if hasPrefixAny(imp, testOnly) {
				t.Errorf("%s imports %s, a test-only dependency", rel, imp)
			}
			for sdk, owner := range sdkOwners {
				if strings.HasPrefix(imp, sdk) && rel != owner && !strings.HasPrefix(rel, owner+"/") && rel != "bench/cmd/sdkfloor" {
					t.Errorf("%s imports %s; only %s may", rel, imp, owner)
				}
			}
			if !strings.HasPrefix(imp, mod+"/") {
				continue
			}
			dep := strings.TrimPrefix(imp, mod+"/")
			if strings.HasPrefix(dep, "cmd/") {
				t.Errorf("%s imports %s: nothing imports cmd", rel, dep)
			}
			for prefix, ok := range allowed {
				if rel != prefix && !strings.HasPrefix(rel, prefix+"/") {
					continue
				}
				if !hasPrefixAny(dep, ok) && !strings.HasPrefix(dep, prefix+"/") && dep != prefix {
					t.Errorf("%s imports %s; %s may import only %v", rel, dep, prefix, ok)
				}
			}
		}
	}
}

func hasPrefixAny(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if s == p || strings.HasPrefix(s, p+"/") {
			return true
		}
	}
	return false
}

// TestShippedBinaryDeps keeps test-only libraries out of the binary: each
// costs start-up time and size on every command (kin-openapi's JSON Schema
// compiler alone cost 12-18 ms of package init; the MCP SDK and jsonschema-go
// 2.3-2.7 MiB of resident memory). internal/fakegithub, the schema tests and
// the MCP tests may use them.
func TestShippedBinaryDeps(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "./cmd/loadgate").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/getkin/kin-openapi", "github.com/santhosh-tekuri/jsonschema", "go.yaml.in/yaml/v4", "gopkg.in/yaml.v3", "gonum.org/v1", "github.com/modelcontextprotocol/go-sdk", "github.com/google/jsonschema-go"} {
			if dep == banned || strings.HasPrefix(dep, banned+"/") {
				t.Errorf("cmd/loadgate links %s", dep)
			}
		}
	}
}
