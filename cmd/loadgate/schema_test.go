package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/loadgate/loadgate/internal/scaffold"
	"github.com/loadgate/loadgate/plan"
)

func TestSchemaCommand(t *testing.T) {
	t.Parallel()
	code, stdout, stderr := cli(t, context.Background(), nil, "schema")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !bytes.Equal([]byte(stdout), plan.JSONSchema()) {
		t.Error("loadgate schema differs from plan.JSONSchema()")
	}
	if !json.Valid([]byte(stdout)) {
		t.Error("schema is not JSON")
	}
	out := filepath.Join(t.TempDir(), "plan.schema.json")
	if code, _, _ := cli(t, context.Background(), nil, "schema", "-o", out); code != 0 {
		t.Fatalf("schema -o: exit %d", code)
	}
	if b, err := os.ReadFile(out); err != nil || !bytes.Equal(b, plan.JSONSchema()) {
		t.Errorf("schema -o wrote %d bytes, %v", len(b), err)
	}
}

// validateAgainstSchema checks a plan file against the plan's JSON Schema, as
// an editor with the yaml-language-server line would.
func validateAgainstSchema(t *testing.T, planYAML []byte) {
	t.Helper()
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(plan.JSONSchema()))
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
	var v any
	if err := yaml.Unmarshal(planYAML, &v); err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Errorf("plan does not validate against the JSON Schema: %v", err)
	}
}

func TestInitPlansMatchSchema(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"starter.plan.golden.yaml", "small.plan.golden.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", "init", f))
		if err != nil {
			t.Fatal(err)
		}
		validateAgainstSchema(t, data)
	}
	for _, writes := range []bool{false, true} {
		g, err := scaffold.FromOpenAPI(filepath.Join("testdata", "init", "api.github.com.subset.json"),
			scaffold.OpenAPIOptions{Name: "github-api", IncludeWrites: writes, MaxEndpoints: 100})
		if err != nil {
			t.Fatal(err)
		}
		validateAgainstSchema(t, g.Files[0].Content)
	}
}
