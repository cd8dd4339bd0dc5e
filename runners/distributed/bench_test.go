package distributed

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/loadgate/loadgate/results"
)

// benchFiles returns n results files of the same plan: distinct synthetic
// ones (2 endpoints × 10 one-second windows, 2,000 samples each) repeated.
func benchFiles(b *testing.B, n int) ([]*results.File, [][]byte) {
	b.Helper()
	const distinct = 20
	p := testPlan()
	p.Profile.Duration = 10 * time.Second
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var files []*results.File
	var raw [][]byte
	for i := range distinct {
		s := &Synthetic{Share: Share{StartAt: start, Index: i, Label: "w"}, Requests: 2000, MaxWindows: 10}
		f, err := s.Run(context.Background(), p)
		if err != nil {
			b.Fatal(err)
		}
		var buf bytes.Buffer
		if err := results.Encode(&buf, f); err != nil {
			b.Fatal(err)
		}
		files, raw = append(files, f), append(raw, buf.Bytes())
	}
	outF := make([]*results.File, n)
	outR := make([][]byte, n)
	for i := range n {
		outF[i], outR[i] = files[i%distinct], raw[i%distinct]
	}
	return outF, outR
}

// BenchmarkMerge1000Results merges 1,000 decoded worker results (the
// coordinator's merge step; target < 1 s).
func BenchmarkMerge1000Results(b *testing.B) {
	files, _ := benchFiles(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var m results.Merger
		for _, f := range files {
			if err := m.Add(f); err != nil {
				b.Fatal(err)
			}
		}
		if out := m.File(); out.Total.Requests != 1000*2*2000 {
			b.Fatalf("requests %d", out.Total.Requests)
		}
	}
}

// BenchmarkDecodeMerge1000Results merges 1,000 encoded worker results the way
// the coordinator does with the files it downloads (Merger.AddJSON: counts
// added straight from the encoded histograms; target < 1 s).
func BenchmarkDecodeMerge1000Results(b *testing.B) {
	_, raw := benchFiles(b, 1000)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var m results.Merger
		for _, r := range raw {
			if _, err := m.AddJSON(r, "w.json"); err != nil {
				b.Fatal(err)
			}
		}
		if out := m.File(); out.Total.Requests != 1000*2*2000 {
			b.Fatalf("requests %d", out.Total.Requests)
		}
	}
}
