package importers

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/results"
)

// Cross-checks: loadgate's imported figures against each tool's own summary
// of the same run. HdrHistogram keeps 3 significant digits, so an exact
// quantile may differ from the histogram's by 0.1 % (plus 1 µs of rounding).

const hdrRel = 0.001

func withinHDR(got, want float64) bool {
	return math.Abs(got-want) <= want*hdrRel+0.001
}

// orderStat returns the sample at HdrHistogram's rank for quantile q
// (round(q·n), at least 1) and its neighbours, the range within which an
// interpolating estimator (t-digest, linear) or another rank rule lands.
func orderStat(sorted []float64, q float64) (exact, lo, hi float64) {
	n := len(sorted)
	r := int(math.Round(q*float64(n))) - 1
	r = max(0, min(n-1, r))
	return sorted[r], sorted[max(0, r-1)], sorted[min(n-1, r+1)]
}

type vegetaLine struct {
	Code    int     `json:"code"`
	Latency float64 `json:"latency"`
	BytesIn int64   `json:"bytes_in"`
}

func TestCrossCheckVegeta(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"vegeta-12.13.0", "vegeta-12.13.0/regen"} {
		t.Run(dir, func(t *testing.T) {
			t.Parallel()
			f, err := Import(context.Background(), FormatVegetaGob, []string{peer(dir, "results.bin")}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			var rep vegetaReport
			data, err := os.ReadFile(peer(dir, "report.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &rep); err != nil {
				t.Fatal(err)
			}
			// Raw latencies from vegeta's own JSON encoding of the same results.
			var lat []float64
			var bytesIn int64
			fh, err := os.Open(peer(dir, "results.jsonl"))
			if err != nil {
				t.Fatal(err)
			}
			defer fh.Close()
			sc := bufio.NewScanner(fh)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var l vegetaLine
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatal(err)
				}
				lat = append(lat, l.Latency/1e6)
				bytesIn += l.BytesIn
			}
			sort.Float64s(lat)

			tot := f.Total
			if tot.Requests != int64(*rep.Requests) {
				t.Fatalf("requests: loadgate %d, vegeta report %d", tot.Requests, *rep.Requests)
			}
			// The shared fixture's results.jsonl holds only the first 20 results.
			raw := int64(len(lat)) == tot.Requests
			if got := 1 - tot.ErrorRate; math.Abs(got-rep.Success) > 1e-9 {
				t.Errorf("success: loadgate %v, vegeta %v", got, rep.Success)
			}
			for code, n := range rep.StatusCodes {
				if tot.Status[code] != n {
					t.Errorf("status %s: loadgate %d, vegeta %d", code, tot.Status[code], n)
				}
			}
			if tot.Bytes != rep.BytesIn.Total || (raw && bytesIn != tot.Bytes) {
				t.Errorf("bytes in: loadgate %d, vegeta %d, raw %d", tot.Bytes, rep.BytesIn.Total, bytesIn)
			}
			ms := func(ns int64) float64 { return float64(ns) / 1e6 }
			if !withinHDR(tot.Latency.Max, ms(rep.Latencies.Max)) || !withinHDR(tot.Latency.Min, ms(rep.Latencies.Min)) {
				t.Errorf("min/max: loadgate %v/%v, vegeta %v/%v", tot.Latency.Min, tot.Latency.Max, ms(rep.Latencies.Min), ms(rep.Latencies.Max))
			}
			if !withinHDR(tot.Latency.Mean, ms(rep.Latencies.Mean)) {
				t.Errorf("mean: loadgate %v, vegeta %v", tot.Latency.Mean, ms(rep.Latencies.Mean))
			}
			for _, q := range []struct {
				q     float64
				ours  float64
				their int64
			}{{0.5, tot.Latency.P50, rep.Latencies.P50}, {0.9, tot.Latency.P90, rep.Latencies.P90},
				{0.95, tot.Latency.P95, rep.Latencies.P95}, {0.99, tot.Latency.P99, rep.Latencies.P99}} {
				if !raw {
					if !withinHDR(q.ours, ms(q.their)) && math.Abs(q.ours-ms(q.their)) > 0.05*ms(q.their) {
						t.Errorf("p%v: loadgate %v, vegeta %v", q.q*100, q.ours, ms(q.their))
					}
					continue
				}
				exact, lo, hi := orderStat(lat, q.q)
				if !withinHDR(q.ours, exact) {
					t.Errorf("p%v: loadgate %v, exact %v", q.q*100, q.ours, exact)
				}
				// Vegeta estimates quantiles with a t-digest, which interpolates
				// between neighbouring samples.
				if th := ms(q.their); th < lo*(1-hdrRel) || th > hi*(1+hdrRel) {
					t.Errorf("p%v: vegeta %v outside the samples around the rank [%v, %v]", q.q*100, th, lo, hi)
				}
				t.Logf("p%-4v loadgate %8.3f  exact %8.3f  vegeta %8.3f ms", q.q*100, q.ours, exact, ms(q.their))
			}
		})
	}
}

var summariserRE = regexp.MustCompile(`summary =\s+(\d+) in .*Avg:\s+(\d+) Min:\s+(\d+) Max:\s+(\d+) Err:\s+(\d+)`)

// TestCrossCheckJMeter compares with JMeter's summariser line (logged by the
// same run) and with JMeter's Aggregate Report rules computed from the JTL.
func TestCrossCheckJMeter(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ format, file, summary string }{
		{FormatJMeterCSV, "jmeter-2.13/regen/results-noheader.jtl", "jmeter-2.13/regen/results-noheader.summary.txt"},
		{FormatJMeterCSV, "jmeter-2.13/regen/results-header.jtl", "jmeter-2.13/regen/results-header.summary.txt"},
		{FormatJMeterXML, "jmeter-2.13/regen/results.xml", "jmeter-2.13/regen/results-xml.summary.txt"},
	} {
		t.Run(c.file, func(t *testing.T) {
			t.Parallel()
			f, err := Import(context.Background(), c.format, []string{peer(c.file)}, Options{})
			if err != nil {
				t.Fatal(err)
			}
			line, err := os.ReadFile(peer(c.summary))
			if err != nil {
				t.Fatal(err)
			}
			m := summariserRE.FindStringSubmatch(string(line))
			if m == nil {
				t.Fatalf("no summariser figures in %q", line)
			}
			n := func(i int) int64 { v, _ := strconv.ParseInt(m[i], 10, 64); return v }
			tot := f.Total
			if tot.Requests != n(1) || tot.Errors != n(5) {
				t.Errorf("requests/errors: loadgate %d/%d, JMeter %d/%d", tot.Requests, tot.Errors, n(1), n(5))
			}
			if !withinHDR(tot.Latency.Min, float64(n(3))) || !withinHDR(tot.Latency.Max, float64(n(4))) {
				t.Errorf("min/max: loadgate %v/%v, JMeter %d/%d", tot.Latency.Min, tot.Latency.Max, n(3), n(4))
			}
			// The summariser prints the mean truncated to whole ms.
			if m := tot.Latency.Mean; m < float64(n(2))*(1-hdrRel) || m >= float64(n(2)+1)*(1+hdrRel) {
				t.Errorf("mean: loadgate %v, JMeter %d", tot.Latency.Mean, n(2))
			}
			if c.format == FormatJMeterCSV {
				checkJMeterAggregate(t, f, peer(c.file))
			}
		})
	}
}

// checkJMeterAggregate recomputes JMeter's Aggregate Report per label from the
// JTL (StatCalculator: percentile = the value at index floor(n·p) of the sorted
// samples) and compares.
func checkJMeterAggregate(t *testing.T, f *results.File, path string) {
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if recs[0][0] == "timeStamp" {
		recs = recs[1:]
	}
	byLabel := map[string][]float64{}
	for _, r := range recs { // elapsed is column 1, label column 2 in both column sets
		v, _ := strconv.ParseFloat(r[1], 64)
		byLabel[r[2]] = append(byLabel[r[2]], v)
	}
	for label, vals := range byLabel {
		sort.Float64s(vals)
		e := f.Endpoint(label)
		if e == nil || e.Requests != int64(len(vals)) {
			t.Fatalf("%s: endpoint %+v, want %d requests", label, e, len(vals))
		}
		for _, q := range []struct {
			p    float64
			ours float64
		}{{0.5, e.Latency.P50}, {0.9, e.Latency.P90}, {0.95, e.Latency.P95}, {0.99, e.Latency.P99}} {
			jm := vals[min(len(vals)-1, int(float64(len(vals))*q.p))]
			exact, lo, hi := orderStat(vals, q.p)
			if !withinHDR(q.ours, exact) || jm < lo || jm > hi {
				t.Errorf("%s p%v: loadgate %v, nearest rank %v, JMeter %v", label, q.p*100, q.ours, exact, jm)
			}
		}
	}
}

// TestCrossCheckLocust: Locust keeps no samples, so loadgate must carry its
// percentiles unchanged, and the history's final cumulative counts must agree.
func TestCrossCheckLocust(t *testing.T) {
	t.Parallel()
	dir := "locust-2.12.1/regen"
	f, err := Import(context.Background(), FormatLocustStats, []string{peer(dir, "run_stats.csv"), peer(dir, "run_stats_history.csv")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	fh, err := os.Open(peer(dir, "run_stats.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	recs, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	num := func(r []string, c string) float64 { v, _ := strconv.ParseFloat(r[col[c]], 64); return v }
	for _, r := range recs[1:] {
		var e *results.Endpoint
		if r[col["Name"]] == "Aggregated" {
			e = &f.Total
		} else {
			e = f.Endpoint(locustName(r[col["Type"]], r[col["Name"]]))
		}
		if e == nil {
			t.Fatalf("no endpoint for %v", r[:2])
		}
		if e.Requests != int64(num(r, "Request Count")) || e.Errors != int64(num(r, "Failure Count")) {
			t.Errorf("%s: counts %d/%d, Locust %v/%v", e.Name, e.Requests, e.Errors, num(r, "Request Count"), num(r, "Failure Count"))
		}
		for c, got := range map[string]float64{"50%": e.Latency.P50, "90%": e.Latency.P90, "95%": e.Latency.P95, "99%": e.Latency.P99} {
			if got != num(r, c) {
				t.Errorf("%s %s: loadgate %v, Locust %v", e.Name, c, got, num(r, c))
			}
		}
		if e != &f.Total {
			var inWindows int64
			for _, w := range e.Windows {
				inWindows += w.Requests
			}
			// _stats.csv is written after the last history row, so it may count a few more.
			if inWindows > e.Requests || inWindows == 0 {
				t.Errorf("%s: windows hold %d requests, stats %d", e.Name, inWindows, e.Requests)
			}
		}
	}
}

// TestCrossCheckK6: the summary export and the JSON output of one run agree.
func TestCrossCheckK6(t *testing.T) {
	t.Parallel()
	full, err := Import(context.Background(), FormatK6JSON, []string{peer("k6-synthetic/out.json")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Import(context.Background(), FormatK6Summary, []string{peer("k6-synthetic/summary-export.json")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, b := full.Total, sum.Total
	if a.Requests != b.Requests || a.Errors != b.Errors {
		t.Errorf("counts: json %d/%d, summary %d/%d", a.Requests, a.Errors, b.Requests, b.Errors)
	}
	for name, p := range map[string][2]float64{"min": {a.Latency.Min, b.Latency.Min}, "max": {a.Latency.Max, b.Latency.Max}, "mean": {a.Latency.Mean, b.Latency.Mean}} {
		if !withinHDR(p[0], p[1]) {
			t.Errorf("%s: json %v, summary %v", name, p[0], p[1])
		}
	}
	if !strings.HasPrefix(full.Run.Runner, "import:k6") {
		t.Errorf("runner %s", full.Run.Runner)
	}
}
