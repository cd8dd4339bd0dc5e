package results

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// sampleFile builds a deterministic results file with n requests per endpoint.
func sampleFile(seed uint64, n int, worker string) *File {
	rng := rand.New(rand.NewPCG(seed, 7))
	f := &File{
		Schema:  Schema,
		Plan:    PlanRef{Name: "checkout", Hash: "abc123"},
		Run:     Run{ID: "run-" + worker, Started: t0, Ended: t0.Add(3 * time.Second), Runner: "local", Workers: 1},
		Profile: Profile{Type: "load", Model: "open", Rate: 100, Duration: Duration(3 * time.Second)},
	}
	f.Validity = Validity{Valid: true, Scheduled: int64(2 * n), Sent: int64(2 * n)}
	for _, name := range []string{"list", "create"} {
		e := Endpoint{Name: name, Method: "GET", Histogram: NewHistogram(), ServiceHistogram: NewHistogram(), Status: map[string]int64{}}
		for w := 0; w < 3; w++ {
			win := Window{Start: t0.Add(time.Duration(w) * time.Second), Width: Duration(time.Second), Histogram: NewHistogram(), OfferedRPS: 50}
			for i := 0; i < n/3; i++ {
				us := int64(1000 + rng.ExpFloat64()*4000)
				e.Histogram.RecordMicros(us)
				e.ServiceHistogram.RecordMicros(us / 2)
				win.Histogram.RecordMicros(us)
				win.Requests++
				e.Requests++
				if i%50 == 0 {
					e.Errors++
					win.Errors++
					e.Status["500"]++
				} else {
					e.Status["200"]++
				}
			}
			e.Windows = append(e.Windows, win)
		}
		f.Endpoints = append(f.Endpoints, e)
	}
	f.Finalize(3 * time.Second)
	return f
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	f := sampleFile(1, 3000, "a")
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	g, err := Decode(&buf, "mem.json")
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range f.Endpoints {
		d := g.Endpoints[i]
		if d.Requests != e.Requests || d.Errors != e.Errors || d.Latency != e.Latency {
			t.Errorf("%s: round trip changed figures: %+v vs %+v", e.Name, d.Latency, e.Latency)
		}
		if !d.Histogram.h.Equals(e.Histogram.h) {
			t.Errorf("%s: histogram changed in round trip", e.Name)
		}
		if len(d.Windows) != 3 || d.Windows[1].Histogram.Count() != e.Windows[1].Histogram.Count() {
			t.Errorf("%s: windows changed in round trip", e.Name)
		}
	}
	var again bytes.Buffer
	if err := Encode(&again, g); err != nil {
		t.Fatal(err)
	}
	var first bytes.Buffer
	_ = Encode(&first, f)
	if first.String() != again.String() {
		t.Error("encode(decode(x)) != x")
	}
}

func TestMergeIsExact(t *testing.T) {
	t.Parallel()
	a, b, c := sampleFile(1, 900, "a"), sampleFile(2, 1500, "b"), sampleFile(3, 600, "c")
	m, err := Merge(a, b, c)
	if err != nil {
		t.Fatal(err)
	}
	if m.Run.Workers != 3 {
		t.Errorf("workers = %d, want 3", m.Run.Workers)
	}
	for i, e := range m.Endpoints {
		all := NewHistogram()
		var req, errs int64
		for _, f := range []*File{a, b, c} {
			_ = all.Merge(f.Endpoints[i].Histogram)
			req += f.Endpoints[i].Requests
			errs += f.Endpoints[i].Errors
		}
		if e.Requests != req || e.Errors != errs {
			t.Errorf("%s: counts %d/%d, want %d/%d", e.Name, e.Requests, e.Errors, req, errs)
		}
		if got, want := e.Latency, all.Summary(); got != want {
			t.Errorf("%s: merged summary %+v, want %+v", e.Name, got, want)
		}
		if len(e.Windows) != 3 {
			t.Fatalf("%s: %d windows, want 3 aligned by time", e.Name, len(e.Windows))
		}
		var wsum int64
		for _, w := range e.Windows {
			wsum += w.Requests
			if w.OfferedRPS != 150 {
				t.Errorf("window offered %v, want 150 (3 workers × 50)", w.OfferedRPS)
			}
		}
		if wsum != req {
			t.Errorf("%s: window requests %d, want %d", e.Name, wsum, req)
		}
	}
	if m.Total.Requests != a.Total.Requests+b.Total.Requests+c.Total.Requests {
		t.Errorf("total requests %d wrong", m.Total.Requests)
	}
	// Inputs untouched.
	if a.Endpoints[0].Requests != 900/3*3 {
		t.Errorf("merge modified its input: %d", a.Endpoints[0].Requests)
	}
}

func TestMergeRejectsDifferentPlans(t *testing.T) {
	t.Parallel()
	a, b := sampleFile(1, 30, "a"), sampleFile(2, 30, "b")
	b.Plan.Hash = "other"
	if _, err := Merge(a, b); err == nil {
		t.Fatal("merge of different plans succeeded")
	}
}

func TestSizeIndependentOfRequestCount(t *testing.T) {
	t.Parallel()
	// A histogram's encoding is bounded by its bucket count, not its sample
	// count: once the latency range is covered, 8× the requests adds only the
	// few bytes of larger counters.
	size := func(n int) int {
		rng := rand.New(rand.NewPCG(3, 3))
		h := NewHistogram()
		for i := 0; i < n; i++ {
			h.RecordMicros(1000 + rng.Int64N(19000))
		}
		s, err := h.Encode()
		if err != nil {
			t.Fatal(err)
		}
		return len(s)
	}
	small, large := size(500_000), size(4_000_000)
	if float64(large) > 1.4*float64(small) || large > 64<<10 {
		t.Errorf("histogram grew from %d to %d bytes with 8× the requests", small, large)
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	var good bytes.Buffer
	_ = Encode(&good, sampleFile(1, 30, "a"))
	cases := []struct {
		name, doc, want string
	}{
		{"empty", "", "results.json:1:1: truncated file"},
		{"not json", "hello", "results.json:1:1: invalid character 'h'"},
		{"truncated", good.String()[:200], "results.json:"},
		{"future schema", `{"schema":"loadgate/results/v9","endpoints":[]}`, `unsupported schema "loadgate/results/v9"`},
		{"no schema", `{"endpoints":[]}`, "not a loadgate results file"},
		{"wrong type", `{"schema":"loadgate/results/v1","endpoints":[{"name":"a","requests":"many"}]}`, "endpoints.requests: cannot use string as int64"},
		{"bad histogram", `{"schema":"loadgate/results/v1","endpoints":[{"name":"a","histogram":"bm9wZQ=="}]}`, "decode histogram"},
		{"duplicate endpoint", `{"schema":"loadgate/results/v1","endpoints":[{"name":"a"},{"name":"a"}]}`, `duplicate "a"`},
		{"errors > requests", `{"schema":"loadgate/results/v1","endpoints":[{"name":"a","requests":1,"errors":2}]}`, "inconsistent counts"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			_, err := DecodeBytes([]byte(c.doc), "results.json")
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to contain %q", err, c.want)
			}
		})
	}
	var se *SchemaError
	if _, err := DecodeBytes([]byte(`{"schema":"x"}`), "r.json"); !errors.As(err, &se) {
		t.Errorf("future schema is not a *SchemaError: %v", err)
	}
}

func TestWriteFileIsAtomic(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteFile(path, sampleFile(1, 30, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Error("temp file left behind")
	}
	if _, err := ReadFile(path); err != nil {
		t.Fatal(err)
	}
}

// A document that fails to encode halfway (written to the file as it is
// made) leaves the previous file whole and no temp file behind.
func TestWriteFileFailureKeepsPreviousFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "r.json")
	if err := WriteFile(path, sampleFile(1, 30, "a")); err != nil {
		t.Fatal(err)
	}
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	bad := sampleFile(1, 30, "a")
	bad.Endpoints[0].Windows[len(bad.Endpoints[0].Windows)-1].OfferedRPS = math.NaN() // JSON has no NaN
	if err := WriteFile(path, bad); err == nil {
		t.Fatal("a NaN was written")
	}
	if after, err := os.ReadFile(path); err != nil || !bytes.Equal(after, before) {
		t.Errorf("the previous file changed (err %v)", err)
	}
	if _, err := os.Stat(path + ".tmp"); !os.IsNotExist(err) {
		t.Error("temp file left behind")
	}
}

func TestHistogramClampsAndQuantiles(t *testing.T) {
	t.Parallel()
	h := NewHistogram()
	for i := int64(1); i <= 1000; i++ {
		h.RecordMicros(i * 1000)
	}
	if q := h.Quantile(0.99); q < 989000 || q > 991000 {
		t.Errorf("p99 = %d µs, want ≈ 990 ms", q)
	}
	h.Record(time.Hour)
	if h.Clamped != 1 || h.Max() < MaxTrackable*999/1000 {
		t.Errorf("clamp: clamped=%d max=%d", h.Clamped, h.Max())
	}
	h.RecordMicros(0)
	if h.Min() != LowestTrackable {
		t.Errorf("min = %d, want %d", h.Min(), LowestTrackable)
	}
}

func FuzzDecode(f *testing.F) {
	var good bytes.Buffer
	_ = Encode(&good, sampleFile(1, 30, "a"))
	f.Add(good.Bytes())
	f.Add([]byte(`{"schema":"loadgate/results/v1","endpoints":[{"name":"a","histogram":"HISTFAAAACl4nJNpmSzMwMDAwgABzFAaxmey/wBhgDmAMJIBAFMzA0E="}]}`))
	f.Add([]byte(`{"schema":"loadgate/results/v1"}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := DecodeBytes(data, "fuzz.json")
		if err != nil {
			return
		}
		// Whatever decodes must encode and decode again.
		var buf bytes.Buffer
		if err := Encode(&buf, r); err != nil {
			t.Fatalf("decoded file does not encode: %v", err)
		}
		if _, err := DecodeBytes(buf.Bytes(), "again.json"); err != nil {
			t.Fatalf("re-encoded file does not decode: %v", err)
		}
	})
}

// Causes merge as a set, and only a run invalid for lag alone is OnlyBehind.
func TestValidityCauses(t *testing.T) {
	var v Validity
	v.AddCauses(CauseBehind)
	v.AddCauses(CauseBehind)
	if len(v.Causes) != 1 || !v.OnlyBehind() {
		t.Errorf("causes %v, OnlyBehind %v; want [behind], true", v.Causes, v.OnlyBehind())
	}
	v.AddCauses(CauseDropped)
	if len(v.Causes) != 2 || v.OnlyBehind() {
		t.Errorf("causes %v: dropped requests are not lag alone", v.Causes)
	}
	for _, w := range []Validity{{Valid: true, Causes: []string{CauseBehind}}, {}} {
		if w.OnlyBehind() {
			t.Errorf("%+v: a valid run or unknown cause is not OnlyBehind", w)
		}
	}
}

// TestOneEndpointTotalSharesHistograms: with one endpoint, Finalize gives the
// total that endpoint's histograms instead of merged copies (a long run's
// windows are most of its results' memory); the file must read exactly as
// the merged total did, and a second endpoint must still get a merge.
func TestOneEndpointTotalSharesHistograms(t *testing.T) {
	t.Parallel()
	f := sampleFile(4, 1200, "a")
	f.Endpoints = f.Endpoints[:1]
	f.Finalize(3 * time.Second)
	e := &f.Endpoints[0]
	if f.Total.Histogram != e.Histogram || f.Total.Windows[2].Histogram != e.Windows[2].Histogram {
		t.Fatal("one endpoint: the total's histograms are copies")
	}
	f.Total.Status["200"]++ // the count maps must not be shared
	if e.Status["200"] == f.Total.Status["200"] {
		t.Fatal("one endpoint: the total shares its status counts with the endpoint")
	}
	f.Total.Status["200"]--

	var merged Endpoint
	merged.Name = "total"
	if err := mergeEndpoint(&merged, e); err != nil {
		t.Fatal(err)
	}
	merged.Precision = e.Precision
	merged.Finalize(3 * time.Second)
	var got, want bytes.Buffer
	if err := Encode(&got, &File{Schema: Schema, Endpoints: f.Endpoints, Total: f.Total}); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&want, &File{Schema: Schema, Endpoints: f.Endpoints, Total: merged}); err != nil {
		t.Fatal(err)
	}
	if got.String() != want.String() {
		t.Error("one endpoint: the shared total encodes differently from the merged one")
	}

	two := sampleFile(4, 1200, "a")
	if two.Total.Histogram == two.Endpoints[0].Histogram || two.Total.Histogram.Count() != two.Endpoints[0].Histogram.Count()+two.Endpoints[1].Histogram.Count() {
		t.Error("two endpoints: the total is not a merge of both")
	}
}
