package importers

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/results"
)

// TestImportOfNothingIsInvalid: a file that yields no requests is an
// invalid results file with a loud reason, never a run of 0 requests.
func TestImportOfNothingIsInvalid(t *testing.T) {
	t.Parallel()
	jtlHeader := "timeStamp,elapsed,label,responseCode,responseMessage,threadName,dataType,success,failureMessage,bytes,sentBytes,grpThreads,allThreads,URL,Latency,IdleTime,Connect\n"
	cases := []struct {
		name, format, content, want string
	}{
		{"empty.jtl", FormatJMeterCSV, "", "no requests"},
		{"header.jtl", FormatJMeterCSV, jtlHeader, "no requests"},
		{"failures.csv", FormatLocustStats, mustRead(t, peer("locust-2.12.1/run_failures.csv")), "_failures.csv alone"},
		{"empty.csv", FormatVegetaCSV, "", "no requests"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), c.name)
			if err := os.WriteFile(path, []byte(c.content), 0o644); err != nil {
				t.Fatal(err)
			}
			var logged []string
			f, err := Import(context.Background(), c.format, []string{path}, Options{Logf: func(format string, args ...any) {
				logged = append(logged, format)
			}})
			if err != nil {
				if strings.Contains(err.Error(), "empty file") {
					return // refused outright: as good as invalid
				}
				t.Fatal(err)
			}
			if f.Validity.Valid || len(f.Validity.Reasons) == 0 || !strings.Contains(f.Validity.Reasons[0], c.want) {
				t.Errorf("valid %v reasons %q; want invalid with %q", f.Validity.Valid, f.Validity.Reasons, c.want)
			}
			if len(logged) == 0 {
				t.Error("no warning logged")
			}
		})
	}
}

// TestTotalsComputedOrAbsent: a Vegeta report's total has the report's
// figures, and a Locust history's unmeasured percentiles stay unmeasured.
func TestTotalsComputedOrAbsent(t *testing.T) {
	t.Parallel()
	f, err := Import(context.Background(), FormatVegetaReport, []string{peer("vegeta-12.13.0/report.json")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Compared as JSON: unmeasured figures are NaN, never == themselves.
	got, _ := json.Marshal(f.Total.Latency)
	want, _ := json.Marshal(f.Endpoints[0].Latency)
	if f.Total.Latency.P95 <= 0 || string(got) != string(want) {
		t.Errorf("vegeta report total latency %+v, want the report's %+v", f.Total.Latency, f.Endpoints[0].Latency)
	}
	f, err = Import(context.Background(), FormatLocustHistory, []string{peer("locust-2.12.1/run_stats_history.csv")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(f.Endpoints, f.Total) {
		if results.Measured(e.Latency.P95) || !results.Measured(e.Latency.P50) {
			t.Errorf("%s: p50 %v p95 %v; want p95 unmeasured, p50 measured", e.Name, e.Latency.P50, e.Latency.P95)
		}
	}
	if math.IsNaN(f.Total.Latency.Max) {
		t.Error("the history's max is measured")
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSummaryPercentilesAbsentAreUnmeasured: a k6 summary holds only the
// trend stats summaryTrendStats asked for (by default no p(99), no p(99.9))
// and a Vegeta report has no 99.9th: those figures must be null, not 0,
// else a gate would compare a p99 of 0 ms with a measured one.
func TestSummaryPercentilesAbsentAreUnmeasured(t *testing.T) {
	t.Parallel()
	f, err := Import(context.Background(), FormatK6Summary, []string{peer("k6-synthetic/summary-export.json")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(f.Endpoints, f.Total) {
		l := e.Latency
		if results.Measured(l.P99) || results.Measured(l.P999) {
			t.Errorf("k6 summary %s: p99 %v p99.9 %v; want both unmeasured (not in the summary)", e.Name, l.P99, l.P999)
		}
		if !results.Measured(l.P95) || l.P95 <= 0 || !results.Measured(l.Max) {
			t.Errorf("k6 summary %s: p95 %v max %v; want the summary's figures", e.Name, l.P95, l.Max)
		}
	}
	f, err = Import(context.Background(), FormatVegetaReport, []string{peer("vegeta-12.13.0/report.json")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range append(f.Endpoints, f.Total) {
		if results.Measured(e.Latency.P999) || !results.Measured(e.Latency.P99) {
			t.Errorf("vegeta report %s: p99 %v p99.9 %v; want p99 measured, p99.9 unmeasured", e.Name, e.Latency.P99, e.Latency.P999)
		}
	}
}

// A k6 submetric tagged with an empty name has no endpoint to belong to:
// the import says which metric, instead of writing results that the
// results reader then refuses ("endpoints[0].name: empty").
func TestK6SummaryEmptyNameTag(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "summary.json")
	doc := `{"metrics":{"http_req_duration":{"avg":1,"med":1,"p(90)":2,"p(95)":2,"max":3},"http_req_duration{name:}":{"avg":1}}}`
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Import(context.Background(), FormatK6Summary, []string{path}, Options{})
	if err == nil || !strings.Contains(err.Error(), "summary.json") || !strings.Contains(err.Error(), "http_req_duration{name:}") {
		t.Fatalf("err = %v, want the file and the metric named", err)
	}
}
