package results

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

func TestMergerEqualsReferenceMerge(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	mk := func(seed int64) *File {
		f := &File{Schema: Schema, Plan: PlanRef{Name: "p", Hash: "h"}, Validity: Validity{Valid: true, Sent: seed},
			Run: Run{Started: t0.Add(time.Duration(seed) * time.Millisecond), Ended: t0.Add(10 * time.Second)}}
		for _, name := range []string{"a", "b"} {
			e := Endpoint{Name: name, Histogram: NewHistogram(), Status: map[string]int64{"200": 0}}
			for w := range 3 {
				win := Window{Start: t0.Add(time.Duration(w) * time.Second), Histogram: NewWindowHistogram()}
				if seed == 2 {
					win.Histogram = NewHistogram()
				}
				if seed != 1 { // a worker whose target sent no Server-Timing merges with ones whose did
					win.ServerHistogram = NewWindowHistogram()
					if e.ServerHistogram == nil {
						e.ServerHistogram = NewHistogram()
					}
				}
				for i := range 50 {
					us := (seed*7919 + int64(i)*104729 + int64(w)) % 90000
					e.Histogram.RecordMicros(us)
					win.Histogram.RecordMicros(us)
					if win.ServerHistogram != nil && i%3 != 0 {
						win.ServerHistogram.RecordMicros(us / 3)
						e.ServerHistogram.RecordMicros(us / 3)
					}
					win.Requests++
					e.Requests++
				}
				e.Windows = append(e.Windows, win)
			}
			e.Status["200"] = e.Requests
			f.Endpoints = append(f.Endpoints, e)
		}
		return f
	}
	files := []*File{mk(1), mk(2), mk(3)}
	want, err := referenceMerge(files...)
	if err != nil {
		t.Fatal(err)
	}
	var m Merger
	for _, f := range files {
		if err := m.Add(f); err != nil {
			t.Fatal(err)
		}
	}
	got := m.File()
	var a, b bytes.Buffer
	if err := Encode(&a, want); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&b, got); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatalf("Merger differs from the reference merge:\n%s\n%s", a.String(), b.String())
	}
	if n := got.Endpoints[0].ServerHistogram.Count(); n != 2*3*33 {
		t.Fatalf("merged server samples = %d, want %d", n, 2*3*33)
	}
	if w := got.Endpoints[0].Windows[0]; w.ServerP50 == 0 || w.ServerP50 >= w.P50 {
		t.Fatalf("window server p50 %v (latency p50 %v): not summarized", w.ServerP50, w.P50)
	}
	var bad Merger
	_ = bad.Add(files[0])
	other := mk(4)
	other.Plan.Hash = "x"
	if err := bad.Add(other); err == nil {
		t.Fatal("different plan hash merged")
	}
}

func TestMergerAddJSONEqualsAdd(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var viaFiles, viaJSON Merger
	for seed := int64(1); seed <= 4; seed++ {
		f := &File{Schema: Schema, Plan: PlanRef{Name: "p", Hash: "h"}, Validity: Validity{Valid: true},
			Run: Run{Started: t0, Ended: t0.Add(3 * time.Second)}, Workers: []Worker{{ID: "w", Requests: 1}}}
		e := Endpoint{Name: "a", Histogram: NewHistogram(), ServiceHistogram: NewHistogram(), ServerHistogram: NewHistogram()}
		for w := range 3 {
			win := Window{Start: t0.Add(time.Duration(w+int(seed)%2) * time.Second), Histogram: NewWindowHistogram(),
				ServerHistogram: NewWindowHistogram()}
			if seed == 3 {
				win.Histogram = NewHistogram() // mixed precisions merge like Merge does
			}
			for i := range 300 {
				// Values across the whole range, including clamped ones.
				us := (seed*7919 + int64(i)*104729*int64(i)) % (MaxTrackable + 5000)
				e.Histogram.RecordMicros(us)
				e.ServiceHistogram.RecordMicros(us / 2)
				e.ServerHistogram.RecordMicros(us / 4)
				win.ServerHistogram.RecordMicros(us / 4)
				win.Histogram.RecordMicros(us)
				win.Requests++
				e.Requests++
			}
			e.Windows = append(e.Windows, win)
		}
		f.Endpoints = []Endpoint{e}
		var buf bytes.Buffer
		if err := Encode(&buf, f); err != nil {
			t.Fatal(err)
		}
		dec, err := DecodeBytes(buf.Bytes(), "w.json")
		if err != nil {
			t.Fatal(err)
		}
		if err := viaFiles.Add(dec); err != nil {
			t.Fatal(err)
		}
		head, err := viaJSON.AddJSON(buf.Bytes(), "w.json")
		if err != nil {
			t.Fatal(err)
		}
		if head.Total.Requests != 900 || len(head.Workers) != 1 {
			t.Fatalf("header %+v", head.Total)
		}
	}
	var a, b bytes.Buffer
	if err := Encode(&a, viaFiles.File()); err != nil {
		t.Fatal(err)
	}
	if err := Encode(&b, viaJSON.File()); err != nil {
		t.Fatal(err)
	}
	if a.String() != b.String() {
		t.Fatalf("AddJSON differs from Add:\n%s\n%s", a.String(), b.String())
	}
	var bad Merger
	if _, err := bad.AddJSON([]byte(`{"schema":"x"}`), "x.json"); err == nil {
		t.Fatal("wrong schema accepted")
	}
	if _, err := bad.AddJSON([]byte(`{"schema":"loadgate/results/v1","endpoints":[{"name":"a","requests":1,"histogram":"!!"}]}`), "x.json"); err == nil {
		t.Fatal("corrupt histogram accepted")
	}
}

func FuzzMergerAddJSON(f *testing.F) {
	f.Add([]byte(`{"schema":"loadgate/results/v1","endpoints":[{"name":"a","requests":1}]}`))
	h := NewHistogram()
	h.RecordMicros(1234)
	s, _ := h.Encode()
	f.Add([]byte(`{"schema":"loadgate/results/v1","endpoints":[{"name":"a","requests":1,"histogram":"` + s + `"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var m Merger
		if _, err := m.AddJSON(data, "f.json"); err != nil {
			return
		}
		_ = m.File()
	})
}

// referenceMerge is the straightforward merge, histogram by histogram and
// endpoint by endpoint, that Merger (counts accumulated as raw arrays) must
// reproduce byte for byte.
func referenceMerge(files ...*File) (*File, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("merge: no results")
	}
	out := &File{
		Schema:  Schema,
		Plan:    files[0].Plan,
		Profile: files[0].Profile,
		Run:     files[0].Run,
	}
	out.Run.Runner = "merge"
	out.Run.Workers = 0
	out.Validity = Validity{Valid: true}
	byName := map[string]*Endpoint{}
	var order []string
	for i, f := range files {
		if f.Plan.Hash != out.Plan.Hash {
			return nil, fmt.Errorf("merge: result %d is from plan %s (%s), others from %s", i, f.Plan.Name, f.Plan.Hash, out.Plan.Hash)
		}
		if f.Run.Started.Before(out.Run.Started) {
			out.Run.Started = f.Run.Started
		}
		if f.Run.Ended.After(out.Run.Ended) {
			out.Run.Ended = f.Run.Ended
		}
		out.Run.Partial = out.Run.Partial || f.Run.Partial
		w := f.Run.Workers
		if w == 0 {
			w = 1
		}
		out.Run.Workers += w
		out.Validity.Merge(&f.Validity, "")
		for _, e := range f.Endpoints {
			dst, ok := byName[e.Name]
			if !ok {
				dst = &Endpoint{Name: e.Name, Method: e.Method, URL: e.URL, Precision: e.Precision}
				byName[e.Name] = dst
				order = append(order, e.Name)
			}
			if err := mergeEndpoint(dst, &e); err != nil {
				return nil, fmt.Errorf("merge: endpoint %s: %w", e.Name, err)
			}
		}
	}
	elapsed := out.Run.Ended.Sub(out.Run.Started) - out.Profile.Warmup.D()
	if elapsed <= 0 {
		elapsed = out.Run.Ended.Sub(out.Run.Started)
	}
	for _, n := range order {
		out.Endpoints = append(out.Endpoints, *byName[n])
	}
	out.Finalize(elapsed)
	return out, nil
}

// Validity.Merge is the one validity merge (distributed, Merge, paired
// slots): nothing a side knows about its run is dropped.
func TestValidityMergeKeepsEverything(t *testing.T) {
	t.Parallel()
	v := Validity{Valid: true, Scheduled: 10, Sent: 10, LagP99Ms: 1}
	v.Merge(&Validity{Valid: false, Reasons: []string{"behind"}, Scheduled: 5, Sent: 4, Dropped: 1, LagP99Ms: 7,
		GeneratorCPU: 0.5, Degraded: true, MissingWorkers: []string{"local/2"}}, "pair 3")
	if v.Valid || v.Scheduled != 15 || v.Sent != 14 || v.Dropped != 1 || v.LagP99Ms != 7 || v.GeneratorCPU != 0.5 {
		t.Errorf("counts or validity: %+v", v)
	}
	if !v.Degraded || len(v.MissingWorkers) != 1 || len(v.Reasons) != 1 || v.Reasons[0] != "pair 3: behind" {
		t.Errorf("degradation, missing workers or reasons dropped: %+v", v)
	}
	e := Endpoint{Requests: 1, Status: map[string]int64{"200": 1}}
	e.AddCounts(&Endpoint{Requests: 2, Errors: 1, Bytes: 3, BytesSent: 4, Precision: PrecisionAggregate,
		Status: map[string]int64{"200": 1, "500": 1}, ErrorKinds: map[string]int64{"status": 1}})
	if e.Requests != 3 || e.Errors != 1 || e.Bytes != 3 || e.BytesSent != 4 || e.Precision != PrecisionAggregate ||
		e.Status["200"] != 2 || e.Status["500"] != 1 || e.ErrorKinds["status"] != 1 {
		t.Errorf("AddCounts: %+v", e)
	}
}
