package plan

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// FuzzDecodeData: the data source decoders never panic, and what they accept
// is rectangular with valid column names.
func FuzzDecodeData(f *testing.F) {
	for _, s := range []struct{ format, in string }{
		{FormatCSV, "id,name\n1,a\n2,\"b, c\"\n"}, {FormatCSV, "a\n\"unterminated\n"},
		{FormatJSON, `[{"a": 1, "b": {"c": [1, null]}}, {"a": "x", "b": null}]`}, {FormatJSON, `[1]`},
		{FormatNDJSON, "{\"a\":1}\n\n{\"a\":\"\\u00fc\"}\n"}, {FormatNDJSON, "{\"a\":1}\n{}"},
	} {
		f.Add(s.format, []byte(s.in))
	}
	f.Fuzz(func(t *testing.T, format string, data []byte) {
		cols, rows, err := DecodeData(format, data)
		if err != nil {
			return
		}
		if len(cols) == 0 || len(rows) == 0 {
			t.Fatalf("accepted %d columns, %d rows", len(cols), len(rows))
		}
		if err := checkColumns(cols); err != nil {
			t.Fatalf("accepted bad columns: %v", err)
		}
		for i, r := range rows {
			if len(r) != len(cols) {
				t.Fatalf("row %d has %d values for %d columns", i, len(r), len(cols))
			}
		}
	})
}

// FuzzParseTemplate: the template parser never panics; literals rebuild the
// text of a template without expressions.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"/p/{{ data.a.b }}?x={{uuid}}", `{{ "{{" }}`, "{{ randint(1, 9) }}{{seq}}", "{{", "}}{{ vars.t }}", "{{ randint(-9223372036854775808, 9223372036854775807) }}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTemplate(s)
		if err != nil {
			var te *TemplateError
			if !errors.As(err, &te) || te.Offset < 0 || te.Offset > len(s) {
				t.Fatalf("error %v is not a positioned *TemplateError", err)
			}
			return
		}
		if !HasTemplate(s) {
			if len(tp.Parts) > 1 || len(tp.Parts) == 1 && tp.Parts[0].Lit != s {
				t.Fatalf("plain text %q parsed as %+v", s, tp.Parts)
			}
		}
		for _, p := range tp.Parts {
			if p.Kind == TmplRandInt && p.Lo > p.Hi {
				t.Fatalf("randint bounds %d > %d accepted", p.Lo, p.Hi)
			}
		}
	})
}

// FuzzExtractJSON: extraction never panics and never quotes the document in
// an error.
func FuzzExtractJSON(f *testing.F) {
	f.Add([]byte(`{"data":{"items":[{"token":"SECRETX"}]}}`), "/data/items/0/token")
	f.Add([]byte(`{"a":[1,2]}`), "a[1]")
	f.Add([]byte(`SECRETX`), "$.a")
	f.Add([]byte(`{"a~b/c":"SECRETX"}`), "/a~0b~1c")
	f.Fuzz(func(t *testing.T, doc []byte, path string) {
		_, err := ExtractJSON(doc, path)
		if err != nil && strings.Contains(string(doc), "SECRETX") && !strings.Contains(path, "SECRETX") && strings.Contains(err.Error(), "SECRETX") {
			t.Fatalf("error quotes the document: %v", err)
		}
	})
}
