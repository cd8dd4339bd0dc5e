package plan

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that Parse never panics, and that every problem it reports
// is positioned and named after the input.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Add([]byte("name: x\ntarget: [http://a\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: {name: x}\n"))
	f.Add([]byte("profile: {type: stages, stages: [{duration: 1s, ramp: 1/s -> 2/s}]}\n"))
	examples, _ := filepath.Glob("../examples/plans/*.yaml")
	for _, e := range examples {
		if b, err := os.ReadFile(e); err == nil {
			f.Add(b)
		}
	}
	env := envOf(map[string]string{"API_TOKEN": "t", "TARGET_URL": "http://127.0.0.1:1"})
	f.Fuzz(func(t *testing.T, data []byte) {
		// A directory that does not exist: body_file never reads real files.
		p, err := Parse(data, "f.yaml", "/nonexistent-loadgate-fuzz", env)
		if err == nil {
			if p == nil {
				t.Fatal("nil plan without error")
			}
			_ = p.Schedule()
			_ = p.Hash()
			_ = p.TotalDuration()
			return
		}
		var perr *Errors
		if !errors.As(err, &perr) || len(perr.List) == 0 {
			t.Fatalf("error %v is not *Errors", err)
		}
		for _, e := range perr.List {
			if e.File != "f.yaml" || e.Line < 1 || e.Column < 1 || e.Msg == "" {
				t.Fatalf("unpositioned error %+v", e)
			}
		}
	})
}

func BenchmarkParseCheckout(b *testing.B) {
	data, err := os.ReadFile("../examples/plans/checkout.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(data, "checkout.yaml", "../examples/plans", nil); err != nil {
			b.Fatal(err)
		}
	}
}
