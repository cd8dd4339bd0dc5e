package results

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"runtime"
	"testing"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// TestEncodeInteropsWithHdrHistogramGo checks our encoder against the
// reference decoder and the reference encoder: same histogram after decoding,
// both ways, for full- and window-precision histograms, empty ones and extremes.
func TestEncodeInteropsWithHdrHistogramGo(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 5))
	cases := map[string]*Histogram{
		"empty":  NewHistogram(),
		"window": NewWindowHistogram(),
		"full":   NewHistogram(),
	}
	for i := 0; i < 20000; i++ {
		v := int64(rng.ExpFloat64() * 5000)
		cases["full"].RecordMicros(v)
		cases["window"].RecordMicros(v)
	}
	cases["full"].RecordMicrosN(MaxTrackable, 3)
	cases["full"].RecordMicrosN(1, 1<<40) // a count needing the 9-byte form
	for name, h := range cases {
		ours, err := h.Encode()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		ref, err := hdr.Decode([]byte(ours))
		if err != nil {
			t.Fatalf("%s: reference decoder rejects our encoding: %v", name, err)
		}
		if !ref.Equals(h.h) {
			t.Errorf("%s: reference decoder reads a different histogram", name)
		}
		theirs, err := h.h.Encode(hdr.V2CompressedEncodingCookieBase)
		if err != nil {
			t.Fatal(err)
		}
		if ours != string(theirs) {
			t.Errorf("%s: encoding differs from hdrhistogram-go's byte for byte", name)
		}
		back, err := DecodeHistogram(string(theirs))
		if err != nil || !back.h.Equals(h.h) {
			t.Errorf("%s: reference encoding does not round-trip through DecodeHistogram: %v", name, err)
		}
	}
}

func TestZigZagLEB128(t *testing.T) {
	t.Parallel()
	var buf [9]byte
	for _, c := range []struct {
		v    int64
		want int
	}{{0, 1}, {-1, 1}, {63, 1}, {64, 2}, {-5, 1}, {1 << 20, 4}, {1 << 54, 8}, {1 << 55, 9}, {1 << 62, 9}, {-(1 << 62), 9}} {
		if n := putZigZagLEB128(buf[:], c.v); n != c.want {
			t.Errorf("%d: %d bytes, want %d", c.v, n, c.want)
		}
	}
}

func BenchmarkEncodeWindowHistogram(b *testing.B) {
	h := NewWindowHistogram()
	for i := int64(0); i < 2000; i++ {
		h.RecordMicros(1000 + i*7)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMarshalJSONIsQuotedEncoding: MarshalJSON builds the JSON string itself
// instead of through encoding/json; it must equal that.
func TestMarshalJSONIsQuotedEncoding(t *testing.T) {
	t.Parallel()
	h := NewHistogram()
	for i := int64(1); i <= 5000; i++ {
		h.RecordMicros(i * 13)
	}
	s, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := json.Marshal(s)
	got, err := h.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("MarshalJSON = %.40q…, want %.40q…", got, want)
	}
	var back Histogram
	if err := json.Unmarshal(got, &back); err != nil || back.Count() != h.Count() {
		t.Fatalf("round trip: %v, %d values, want %d", err, back.Count(), h.Count())
	}
}

// TestHeldEncoderSurvivesGC: while a file is written the one encoder is
// kept across garbage collections (a sync.Pool would drop it, and writing
// runs several), and it goes back to the pool after.
func TestHeldEncoderSurvivesGC(t *testing.T) {
	// Not parallel: other tests' encodings would take the held encoder.
	release := holdEncoder()
	e := getEncoder()
	putEncoder(e)
	runtime.GC()
	runtime.GC()
	if got := getEncoder(); got != e {
		t.Error("the held encoder was not kept across garbage collections")
	} else {
		putEncoder(got)
	}
	release()
	encoders.mu.Lock()
	kept := encoders.kept
	encoders.mu.Unlock()
	if kept != nil {
		t.Error("an encoder is still held after release")
	}
}
