package results

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Decoding refuses counts that disagree, naming file and field.
func TestDecodeChecksCountsAgree(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		edit func(f *File)
		want string
	}{
		{"errors vs windows", func(f *File) {
			f.Endpoints[0].Errors = f.Endpoints[0].Requests
			f.Total.Errors = f.Total.Requests
		}, "endpoints[0] (list).errors: "},
		{"requests vs histogram", func(f *File) {
			f.Endpoints[0].Requests = 999999
			f.Endpoints[0].Windows = nil
		}, "endpoints[0] (list).histogram: "},
		{"total vs endpoints", func(f *File) { f.Total.Requests++ }, "total: requests"},
		{"window histogram", func(f *File) { f.Endpoints[0].Windows[0].Requests += 5; f.Endpoints[0].Requests += 5 }, "windows[0].histogram"},
	} {
		f := sampleFile(1, 30, "a")
		var good bytes.Buffer
		if err := Encode(&good, f); err != nil {
			t.Fatal(err)
		}
		if _, err := DecodeBytes(good.Bytes(), "good.json"); err != nil {
			t.Fatalf("consistent file refused: %v", err)
		}
		c.edit(f)
		var buf bytes.Buffer
		if err := Encode(&buf, f); err != nil {
			t.Fatal(err)
		}
		_, err := DecodeBytes(buf.Bytes(), "bad.json")
		if err == nil || !strings.HasPrefix(err.Error(), "bad.json: ") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want bad.json: …%s", c.name, err, c.want)
		}
	}
}

// Unmeasured figures are null in JSON and NaN in memory, both ways.
func TestUnmeasuredRoundTrip(t *testing.T) {
	t.Parallel()
	f := sampleFile(1, 30, "a")
	f.Endpoints[0].Latency.P95 = Unmeasured
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), `"p95": null`) {
		t.Fatal("unmeasured p95 not written as null")
	}
	g, err := DecodeBytes(buf.Bytes(), "x.json")
	if err != nil {
		t.Fatal(err)
	}
	if Measured(g.Endpoints[0].Latency.P95) || !Measured(g.Endpoints[0].Latency.P50) {
		t.Errorf("decoded latency %+v: want p95 unmeasured, p50 measured", g.Endpoints[0].Latency)
	}
}

// A file over the limit is refused from its size, before it is read. Not
// parallel: the limit is the process's.
func TestSizeLimit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.json")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, MaxFileBytes()+1); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err := ReadFile(path)
	var tl *TooLargeError
	if !errors.As(err, &tl) || !strings.Contains(err.Error(), "--max-file-size") || !strings.Contains(err.Error(), path) {
		t.Fatalf("err = %v, want a TooLargeError naming the file and the flag", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing took %v: the file was read", d)
	}
	SetMaxFileBytes(1 << 10)
	defer SetMaxFileBytes(0)
	if _, err := Decode(strings.NewReader(strings.Repeat(" ", 1<<10+1)), "stream"); !errors.As(err, &tl) || !strings.Contains(err.Error(), "1 KiB") {
		t.Errorf("stream over the limit: %v", err)
	}
}
