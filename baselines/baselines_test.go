package baselines

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/golden"
	"github.com/loadgate/loadgate/results"
)

var _ = flag.Bool("update", false, "rewrite golden files under testdata/")

// run builds a small deterministic results file with two 1 s windows.
func run(id, hash string, scale int64) *results.File {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &results.File{
		Schema:   results.Schema,
		Plan:     results.PlanRef{Name: "api", Hash: hash},
		Run:      results.Run{ID: id, Started: t0, Ended: t0.Add(2 * time.Second), Runner: "local", RunnerClass: "local/2cpu", Workers: 1, Env: results.Env{CPUs: 2, ToolVersion: "v0.1.0"}},
		Profile:  results.Profile{Type: "load", Model: "open", Rate: 10, Duration: results.Duration(2 * time.Second)},
		Validity: results.Validity{Valid: true, Scheduled: 20, Sent: 20},
	}
	e := results.Endpoint{Name: "list", Method: "GET", Precision: results.PrecisionExact, Histogram: results.NewHistogram()}
	for w := range 2 {
		win := results.Window{Start: t0.Add(time.Duration(w) * time.Second), Width: results.Duration(time.Second), Histogram: results.NewHistogram()}
		for i := range int64(10) {
			win.Histogram.RecordMicros(scale * (1000 + 100*i))
			win.Requests++
		}
		_ = e.Histogram.Merge(win.Histogram)
		e.Requests += win.Requests
		e.Windows = append(e.Windows, win)
	}
	f.Endpoints = []results.Endpoint{e}
	f.Finalize(2 * time.Second)
	return f
}

func encode(t *testing.T, f *File) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	f := New(run("r1", "h1", 1), 3)
	if _, err := f.Add(run("r2", "h1", 2), 0); err != nil {
		t.Fatal(err)
	}
	data := encode(t, f)
	g, err := Decode(data, "b.json")
	if err != nil {
		t.Fatal(err)
	}
	if again := encode(t, g); !bytes.Equal(data, again) {
		t.Fatalf("re-encoding differs:\n%s\nvs\n%s", data, again)
	}
	if len(g.Runs) != 2 || g.Keep != 3 || g.Runs[1].Endpoints[0].Windows[1].Histogram.Count() != 10 {
		t.Fatalf("decoded %+v", g)
	}
	if got, want := g.Runs[1].Endpoints[0].Latency.P95, f.Runs[1].Endpoints[0].Latency.P95; got != want {
		t.Errorf("p95 %g after round trip, want %g", got, want)
	}
}

func TestGolden(t *testing.T) {
	t.Parallel()
	f := New(run("r1", "h1", 1), 5)
	got := encode(t, f)
	path := filepath.Join("testdata", "small.golden.json")
	golden.Check(t, path, got)
	if _, err := Load(path); err != nil {
		t.Errorf("golden file does not load: %v", err)
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := encode(t, New(run("r1", "h1", 1), 5))
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name, file string
		want       string
	}{
		{"missing", filepath.Join(dir, "nope.json"), "nope.json"},
		{"truncated", write("trunc.json", good[:len(good)/2]), "truncated"},
		{"corrupt", write("corrupt.json", []byte("{\"schema\": \"loadgate/baseline/v1\",\n  \"runs\": [ oops ]}")), "corrupt.json:2:"},
		{"future", write("future.json", []byte(`{"schema":"loadgate/baseline/v9","runs":[]}`)), "newer loadgate"},
		{"foreign", write("foreign.json", []byte(`{"name":"x"}`)), "not a loadgate baseline"},
		{"empty runs", write("empty.json", []byte(`{"schema":"loadgate/baseline/v1","plan":{"name":"a","hash":"h"},"keep":5,"runs":[]}`)), "holds no runs"},
		{"unknown field", write("unknown.json", []byte(`{"schema":"loadgate/baseline/v1","kept":5,"runs":[]}`)), "unknown field"},
		{"bad run", write("badrun.json", []byte(`{"schema":"loadgate/baseline/v1","plan":{"hash":"h"},"runs":[{"schema":"loadgate/results/v7"}]}`)), "runs[0]"},
		{"corrupt histogram", write("hist.json", bytes.Replace(good, []byte(`"histogram": "`), []byte(`"histogram": "!!`), 1)), "hist.json"},
	}
	for _, c := range cases {
		_, err := Load(c.file)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), filepath.Base(c.file)) {
			t.Errorf("%s: err = %v, want it to name the file and say %q", c.name, err, c.want)
		}
	}
	var se *SchemaError
	if _, err := Load(filepath.Join(dir, "future.json")); !errors.As(err, &se) {
		t.Errorf("future schema: %T, want *SchemaError", err)
	}
}

func TestResultsFileAsBaseline(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "results.json")
	if err := results.WriteFile(p, run("r1", "h1", 1)); err != nil {
		t.Fatal(err)
	}
	b, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.Runs) != 1 || b.Plan.Hash != "h1" || len(b.Notes) != 1 || !strings.Contains(b.Notes[0], "baseline of 1 run") {
		t.Errorf("results file as baseline: %+v", b)
	}
}

func TestAppendTrimsAndRestarts(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "b.json")
	for i := range 4 {
		if err := Append(p, run("r"+strconv.Itoa(i), "h1", 1), 3); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range b.Runs {
		ids = append(ids, r.Run.ID)
	}
	if !reflect.DeepEqual(ids, []string{"r1", "r2", "r3"}) || b.Keep != 3 {
		t.Fatalf("kept %v (keep %d), want the last 3", ids, b.Keep)
	}
	notes, err := Update(p, run("new", "h2", 1), 0)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ = Load(p); len(b.Runs) != 1 || b.Plan.Hash != "h2" || len(notes) == 0 || !strings.Contains(notes[0], "dropped 3") {
		t.Errorf("plan change: runs %d hash %s notes %q", len(b.Runs), b.Plan.Hash, notes)
	}
	bad := run("bad", "h2", 1)
	bad.Validity = results.Validity{Valid: false, Reasons: []string{"dropped 5 %"}}
	if err := Append(p, bad, 0); err == nil || !strings.Contains(err.Error(), "invalid") {
		t.Errorf("invalid run appended: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Dir(p)); len(entries) != 1 {
		t.Errorf("temp files left behind: %v", entries)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	b := New(run("r1", "h1", 1), 5)
	if w, err := Check(b, run("r2", "h1", 1), Strict); err != nil || len(w) != 0 {
		t.Fatalf("same provenance: %v %v", w, err)
	}
	head := run("r2", "h2", 1)
	head.Run.RunnerClass = "aws/1vcpu-2gb/x4/eu-west-1"
	head.Run.Env.ToolVersion = "v0.2.0"
	head.Profile.Rate = 20
	w, err := Check(b, head, Warn)
	if err != nil || len(w) != 4 {
		t.Fatalf("warn mode: %q %v, want 4 warnings", w, err)
	}
	var pe *ProvenanceError
	if _, err := Check(b, head, Strict); !errors.As(err, &pe) || len(pe.Mismatches) != 4 {
		t.Fatalf("strict mode: %v", err)
	}
}

func FuzzDecode(f *testing.F) {
	good, err := os.ReadFile(filepath.Join("testdata", "small.golden.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/3])
	f.Add([]byte(`{"schema":"loadgate/baseline/v1","plan":{"hash":"h"},"keep":5,"runs":[{"schema":"loadgate/results/v1","plan":{"hash":"h"},"endpoints":[{"name":"a","requests":1}]}]}`))
	f.Add([]byte(`{"schema":"loadgate/results/v1","endpoints":[]}`))
	f.Add([]byte(`{"schema":"loadgate/baseline/v2"}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Decode(data, "fuzz.json")
		if err != nil {
			if !strings.Contains(err.Error(), "fuzz.json") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		// Whatever decodes must encode and decode again.
		var buf bytes.Buffer
		if err := Encode(&buf, b); err != nil {
			t.Fatalf("decoded baseline does not encode: %v", err)
		}
		if _, err := Decode(buf.Bytes(), "again.json"); err != nil {
			t.Fatalf("re-decode: %v\n%s", err, buf.Bytes())
		}
	})
}
