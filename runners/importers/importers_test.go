package importers

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	goldenfile "github.com/loadgate/loadgate/internal/golden"
	"github.com/loadgate/loadgate/results"
)

var _ = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// peers is where the real tool outputs live (see testdata/peers/PROVENANCE.md).
const peers = "../../testdata/peers"

func peer(p ...string) string { return filepath.Join(append([]string{peers}, p...)...) }

type goldenCase struct {
	name   string
	format string
	files  []string
	opts   Options
}

func goldenCases() []goldenCase {
	ren := Options{Rename: []string{"/users/{id}"}}
	return []goldenCase{
		{"k6-json", FormatK6JSON, []string{peer("k6-synthetic/out.json")}, ren},
		{"k6-summary", FormatK6Summary, []string{peer("k6-synthetic/summary-export.json")}, Options{}},
		{"k6-summary-submetrics", FormatK6Summary, []string{peer("k6-synthetic/summary-export-submetrics.json")}, Options{}},
		{"k6-handle-summary", FormatK6Summary, []string{peer("k6-synthetic/handle-summary.json")}, Options{}},
		{"jmeter-csv", FormatJMeterCSV, []string{peer("jmeter-2.13/results.jtl")}, Options{}},
		{"jmeter-csv-default-fields", FormatJMeterCSV, []string{peer("jmeter-2.13/results-default-fields.jtl")}, Options{}},
		{"jmeter-csv-noheader", FormatJMeterCSV, []string{peer("jmeter-2.13/regen/results-noheader.jtl")}, Options{}},
		{"jmeter-csv-5x", FormatJMeterCSV, []string{peer("jmeter-5x-handmade/results.jtl")}, Options{}},
		{"jmeter-xml", FormatJMeterXML, []string{peer("jmeter-2.13/results.xml")}, Options{}},
		{"locust-stats", FormatLocustStats, []string{peer("locust-2.12.1/run_stats.csv"), peer("locust-2.12.1/run_failures.csv")}, Options{}},
		{"locust-history", FormatLocustHistory, []string{peer("locust-2.12.1/regen/run_stats_history.csv")}, ren},
		{"locust-full", FormatLocustStats, []string{peer("locust-2.12.1/regen/run_stats.csv"), peer("locust-2.12.1/regen/run_stats_history.csv"), peer("locust-2.12.1/regen/run_failures.csv")}, ren},
		{"vegeta-gob", FormatVegetaGob, []string{peer("vegeta-12.13.0/results.bin")}, Options{}},
		{"vegeta-json", FormatVegetaJSON, []string{peer("vegeta-12.13.0/regen/results.jsonl")}, ren},
		{"vegeta-csv", FormatVegetaCSV, []string{peer("vegeta-12.13.0/regen/results.csv")}, ren},
		{"vegeta-report", FormatVegetaReport, []string{peer("vegeta-12.13.0/report.json")}, Options{}},
		{"gatling", FormatGatling, []string{peer("gatling-synthetic/simulation.log")}, Options{}},
	}
}

// imported memoises the golden cases' imports: several tests read them, and
// under -race an import with many windows costs seconds. Callers must not
// modify the returned file.
var imported sync.Map // name → *importResult

type importResult struct {
	once sync.Once
	f    *results.File
	err  error
}

func importCase(c goldenCase) (*results.File, error) {
	v, _ := imported.LoadOrStore(c.name, &importResult{})
	r := v.(*importResult)
	r.once.Do(func() { r.f, r.err = Import(context.Background(), c.format, c.files, c.opts) })
	return r.f, r.err
}

func TestGolden(t *testing.T) {
	t.Parallel()
	for _, c := range goldenCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f, err := importCase(c)
			if err != nil {
				t.Fatal(err)
			}
			if f.Run.Runner != "import:"+c.format {
				t.Errorf("runner = %q, want import:%s", f.Run.Runner, c.format)
			}
			if !f.Validity.Valid {
				t.Errorf("import is not valid: %v", f.Validity.Reasons)
			}
			var buf bytes.Buffer
			if err := results.Encode(&buf, f); err != nil {
				t.Fatal(err)
			}
			// Round trip through the results codec: what we write, loadgate reads.
			back, err := results.DecodeBytes(buf.Bytes(), c.name)
			if err != nil {
				t.Fatalf("results do not decode: %v", err)
			}
			if back.Total.Requests != f.Total.Requests {
				t.Errorf("round trip: total requests %d, want %d", back.Total.Requests, f.Total.Requests)
			}
			golden(t, filepath.Join("testdata", "golden", c.name+".json"), buf.Bytes())
		})
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	goldenfile.Check(t, path, got)
}

func gzipBytes(t *testing.T, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestPrecision(t *testing.T) {
	t.Parallel()
	exact := map[string]bool{
		FormatK6JSON: true, FormatJMeterCSV: true, FormatJMeterXML: true, FormatVegetaGob: true,
		FormatVegetaJSON: true, FormatVegetaCSV: true, FormatGatling: true,
	}
	for _, c := range goldenCases() {
		f, err := importCase(c)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		want := results.PrecisionAggregate
		if exact[c.format] {
			want = results.PrecisionExact
		}
		for _, e := range f.Endpoints {
			if e.Precision != want {
				t.Errorf("%s: endpoint %s precision %q, want %q", c.name, e.Name, e.Precision, want)
			}
			if want == results.PrecisionExact && (e.Histogram == nil || e.Histogram.Count() != e.Requests) {
				t.Errorf("%s: endpoint %s: histogram does not hold every request", c.name, e.Name)
			}
			if want == results.PrecisionExact && len(e.Windows) == 0 {
				t.Errorf("%s: endpoint %s has no windows", c.name, e.Name)
			}
		}
		if f.Total.Precision != want {
			t.Errorf("%s: total precision %q, want %q", c.name, f.Total.Precision, want)
		}
	}
}

func TestAutoDetect(t *testing.T) {
	t.Parallel()
	for _, c := range goldenCases() {
		data, err := os.ReadFile(c.files[0])
		if err != nil {
			t.Fatal(err)
		}
		got := Detect(data[:min(len(data), detectBytes)])
		want := c.format
		if strings.HasPrefix(c.files[0], peer("locust-2.12.1")) && strings.HasSuffix(c.files[0], "_stats_history.csv") {
			want = FormatLocustHistory
		} else if strings.HasSuffix(c.files[0], "_stats.csv") {
			want = FormatLocustStats
		}
		if got != want {
			t.Errorf("Detect(%s) = %q, want %q", c.files[0], got, want)
		}
	}
	for _, amb := range []string{"1,2,3\n", "a\tb\n", "{}\n", "<html>\n", "Timestamp,Value\n"} {
		if got := Detect([]byte(amb)); got != "" {
			t.Errorf("Detect(%q) = %q, want \"\" (unknown)", amb, got)
		}
	}
}

func TestAutoImportGzip(t *testing.T) {
	t.Parallel()
	// k6 writes gzip when the output name ends in .gz; every format accepts it.
	data, err := os.ReadFile(peer("vegeta-12.13.0/regen/results.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	gz := filepath.Join(t.TempDir(), "results.jsonl.gz")
	if err := os.WriteFile(gz, gzipBytes(t, data), 0o644); err != nil {
		t.Fatal(err)
	}
	a, err := Import(context.Background(), FormatAuto, []string{gz}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Import(context.Background(), FormatVegetaJSON, []string{peer("vegeta-12.13.0/regen/results.jsonl")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a.Run.Runner != "import:vegeta-json" || a.Total.Requests != b.Total.Requests || a.Total.Latency != b.Total.Latency {
		t.Errorf("gzip import differs: %s %d %+v vs %d %+v", a.Run.Runner, a.Total.Requests, a.Total.Latency, b.Total.Requests, b.Total.Latency)
	}
}

func TestUnknownFormat(t *testing.T) {
	t.Parallel()
	_, err := Import(context.Background(), "wrk", []string{"x"}, Options{})
	var fe *FormatError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "k6-json") {
		t.Errorf("err = %v, want a FormatError listing the formats", err)
	}
}

func TestRunMetadata(t *testing.T) {
	t.Parallel()
	f, err := Import(context.Background(), FormatVegetaGob, []string{peer("vegeta-12.13.0/results.bin")}, Options{PlanName: "api"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Plan.Name != "api" || f.Plan.Hash == "" || f.Run.Workers != 1 || f.Run.Started.IsZero() || !f.Run.Ended.After(f.Run.Started) {
		t.Errorf("metadata: plan %+v run %+v", f.Plan, f.Run)
	}
	if f.Validity.Sent != f.Total.Requests || !f.Validity.Valid {
		t.Errorf("validity %+v", f.Validity)
	}
	if f.Profile.Model != "open" {
		t.Errorf("vegeta is an open-model tool, profile.model = %q", f.Profile.Model)
	}
	if got := f.Endpoint("GET /err"); got == nil || got.ErrorKinds["status"] != got.Requests || got.Status["500"] != got.Requests {
		t.Errorf("GET /err: %+v", got)
	}
}

func TestContextCancel(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(t.TempDir(), "big.jtl")
	var buf bytes.Buffer
	buf.WriteString("timeStamp,elapsed,label,responseCode,success\n")
	for i := 0; i < 3*checkEvery; i++ {
		buf.WriteString("1795652827384,27,GET fast,200,true\n")
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Import(ctx, FormatJMeterCSV, []string{path}, Options{}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestWindowsAbsoluteAndWidth(t *testing.T) {
	t.Parallel()
	f, err := Import(context.Background(), FormatJMeterCSV, []string{peer("jmeter-2.13/results.jtl")}, Options{Window: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range f.Endpoints {
		var n int64
		for i, w := range e.Windows {
			if w.Width.D() != 500*time.Millisecond || w.Start.UnixNano()%int64(500*time.Millisecond) != 0 {
				t.Errorf("%s window %d: start %v width %v", e.Name, i, w.Start, w.Width)
			}
			if i > 0 && !e.Windows[i-1].Start.Before(w.Start) {
				t.Errorf("%s: windows out of order", e.Name)
			}
			n += w.Requests
		}
		if n != e.Requests {
			t.Errorf("%s: windows hold %d requests, endpoint %d", e.Name, n, e.Requests)
		}
	}
}

// TestLocustHistoryAggregatedOnly: without --csv-full-history the history has
// only "Aggregated" rows; they become one endpoint with windows.
func TestLocustHistoryAggregatedOnly(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(peer("locust-2.12.1/run_stats_history.csv"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	keep := []string{lines[0]}
	for _, l := range lines[1:] {
		if strings.Contains(l, ",,Aggregated,") {
			keep = append(keep, l)
		}
	}
	path := filepath.Join(t.TempDir(), "run_stats_history.csv")
	if err := os.WriteFile(path, []byte(strings.Join(keep, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Import(context.Background(), FormatLocustHistory, []string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Endpoints) != 1 || f.Endpoints[0].Name != LocustAllEndpoint {
		t.Fatalf("endpoints %+v", f.Endpoints)
	}
	e := f.Endpoints[0]
	var reqs int64
	for _, w := range e.Windows {
		reqs += w.Requests
	}
	if e.Requests != 449 || e.Errors != 84 || reqs != 449 || f.Total.Requests != 449 {
		t.Errorf("requests %d errors %d windows %d total %d", e.Requests, e.Errors, reqs, f.Total.Requests)
	}
}

// TestK6DroppedIterations: k6 says when its arrival-rate executor could not
// start iterations; such a run is invalid, as loadgate's own would be.
func TestK6DroppedIterations(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(peer("k6-synthetic/out.json"))
	if err != nil {
		t.Fatal(err)
	}
	data = append(data, []byte(`{"type":"Metric","data":{"name":"dropped_iterations","type":"counter","contains":"default","thresholds":[],"submetrics":null},"metric":"dropped_iterations"}
{"metric":"dropped_iterations","type":"Point","data":{"time":"2026-11-26T01:27:00.5+00:00","value":3,"tags":{"scenario":"default"}}}
{"metric":"dropped_iterations","type":"Point","data":{"time":"2026-11-26T01:27:00.9+00:00","value":2,"tags":{"scenario":"default"}}}
`)...)
	path := filepath.Join(t.TempDir(), "out.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := Import(context.Background(), FormatK6JSON, []string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Validity.Valid || f.Validity.Dropped != 5 || !strings.Contains(strings.Join(f.Validity.Reasons, ";"), "k6 dropped 5 iterations") {
		t.Errorf("validity %+v", f.Validity)
	}
}
