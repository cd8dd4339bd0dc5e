package importers

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/loadgate/loadgate/results"
)

// Fuzz targets, one per parser. Seeds are the committed peer fixtures (read
// from testdata/peers) plus the f.Add cases below; go test runs them as unit
// tests. The property: a parser never panics, and whatever it accepts encodes
// to a results file that loadgate reads back.

func fuzzImport(t *testing.T, format string, data []byte, skip bool) {
	// Hour-wide windows keep the number of histograms (each ~170 KB, iterated
	// in full by every summary) small, so the fuzzer gets useful exec rates.
	b := newBuilder(Options{SkipBadLines: skip, Window: time.Hour}, nil)
	got, err := importReader(context.Background(), format, "fuzz", bytes.NewReader(data), b)
	if err != nil {
		return
	}
	f := b.file(got, "fuzz")
	var buf bytes.Buffer
	if err := results.Encode(&buf, f); err != nil {
		t.Fatalf("accepted input does not encode: %v", err)
	}
	if _, err := results.DecodeBytes(buf.Bytes(), "fuzz"); err != nil {
		t.Fatalf("accepted input does not decode: %v\n%s", err, buf.Bytes())
	}
}

func seed(f *testing.F, paths ...string) {
	for _, p := range paths {
		data, err := os.ReadFile(peer(p))
		if err != nil {
			f.Fatal(err)
		}
		if len(data) > 4<<10 {
			data = data[:4<<10] // a truncated file is a good seed too
		}
		f.Add(data, false)
		f.Add(data, true)
	}
}

func FuzzK6JSON(f *testing.F) {
	seed(f, "k6-synthetic/out.json")
	f.Add([]byte(`{"type":"Point","metric":"http_req_duration","data":{"time":"2026-01-01T00:00:00Z","value":1e300,"tags":{"name":"x"}}}`), false)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatK6JSON, data, skip) })
}

func FuzzK6Summary(f *testing.F) {
	seed(f, "k6-synthetic/summary-export.json", "k6-synthetic/summary-export-submetrics.json", "k6-synthetic/handle-summary.json")
	f.Add([]byte(`{"metrics":{"http_req_duration":{"avg":1},"http_reqs":{"count":-1}}}`), false)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatK6Summary, data, skip) })
}

func FuzzJMeterCSV(f *testing.F) {
	seed(f, "jmeter-2.13/results.jtl", "jmeter-2.13/regen/results-noheader.jtl", "jmeter-5x-handmade/results.jtl")
	f.Add([]byte("timeStamp\telapsed\tlabel\n1\t2\tx\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatJMeterCSV, data, skip) })
}

func FuzzJMeterXML(f *testing.F) {
	seed(f, "jmeter-2.13/results.xml")
	f.Add([]byte(`<testResults><sample t="1" ts="1" lb="a" s="true"><httpSample t="2" ts="1" lb="b"/></sample></testResults>`), false)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatJMeterXML, data, skip) })
}

func FuzzLocust(f *testing.F) {
	seed(f, "locust-2.12.1/run_stats.csv", "locust-2.12.1/run_stats_history.csv", "locust-2.12.1/run_failures.csv")
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatLocustStats, data, skip) })
}

func FuzzVegetaGob(f *testing.F) {
	seed(f, "vegeta-12.13.0/results.bin")
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatVegetaGob, data, skip) })
}

func FuzzVegetaJSON(f *testing.F) {
	seed(f, "vegeta-12.13.0/results.jsonl")
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatVegetaJSON, data, skip) })
}

func FuzzVegetaCSV(f *testing.F) {
	seed(f, "vegeta-12.13.0/regen/results.csv")
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatVegetaCSV, data, skip) })
}

func FuzzVegetaReport(f *testing.F) {
	seed(f, "vegeta-12.13.0/report.json")
	f.Add([]byte(`{"requests":5,"success":1.5}`), false)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatVegetaReport, data, skip) })
}

func FuzzGatling(f *testing.F) {
	seed(f, "gatling-synthetic/simulation.log")
	f.Add([]byte("REQUEST\t1\tg1,g2\tname\t1\t2\tKO\tstatus.find.in(200), but actually found 503\n"), false)
	f.Fuzz(func(t *testing.T, data []byte, skip bool) { fuzzImport(t, FormatGatling, data, skip) })
}

func FuzzDetect(f *testing.F) {
	seed(f, "k6-synthetic/out.json", "jmeter-2.13/results.xml", "vegeta-12.13.0/results.bin", "gatling-synthetic/simulation.log")
	f.Fuzz(func(t *testing.T, data []byte, skip bool) {
		if format := Detect(data); format != "" {
			fuzzImport(t, format, data, skip)
		}
	})
}
