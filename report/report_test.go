package report

import (
	"bytes"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"html"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/loadgate/loadgate/gate"
	goldenfile "github.com/loadgate/loadgate/internal/golden"
)

var _ = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with testdata/golden/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	goldenfile.Check(t, filepath.Join("testdata", "golden", name), got)
}

func render(t *testing.T, format string, in Input, opt Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteOptions(format, &buf, in, opt); err != nil {
		t.Fatalf("%s: %v", format, err)
	}
	return buf.Bytes()
}

func TestGoldenTextMarkdownJSON(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	golden(t, "verdict.txt", render(t, "text", in, Options{}))
	golden(t, "verdict-color.txt", render(t, "text", in, Options{Color: true}))
	golden(t, "verdict.md", render(t, "markdown", in, Options{}))
	golden(t, "verdict.json", render(t, "json", in, Options{}))
}

func TestFormatsAllWork(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	for _, f := range Formats() {
		if out := render(t, f, in, Options{}); len(out) == 0 {
			t.Errorf("%s: empty output", f)
		}
	}
	if err := Write("pdf", &bytes.Buffer{}, in); !errors.Is(err, ErrUnknownFormat) {
		t.Errorf("Write(pdf) = %v, want ErrUnknownFormat", err)
	}
}

func TestNoVerdict(t *testing.T) {
	t.Parallel()
	for _, f := range []string{"text", "markdown"} {
		if err := Write(f, &bytes.Buffer{}, Input{}); !errors.Is(err, ErrNoVerdict) {
			t.Errorf("%s without verdict = %v, want ErrNoVerdict", f, err)
		}
	}
}

// failWriter fails after n bytes.
type failWriter struct{ n int }

var errDiskFull = errors.New("disk full")

func (f *failWriter) Write(p []byte) (int, error) {
	if len(p) <= f.n {
		f.n -= len(p)
		return len(p), nil
	}
	n := f.n
	f.n = 0
	return n, errDiskFull
}

// A renderer must never report success after a failed write (vegeta's
// counter-example), wherever the failure happens.
func TestWriteErrorsPropagate(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	for _, f := range Formats() {
		for _, at := range []int{0, 10, 300} {
			err := Write(f, &failWriter{n: at}, in)
			if !errors.Is(err, errDiskFull) {
				t.Errorf("%s failing at byte %d: err = %v, want disk full", f, at, err)
			}
		}
	}
}

func TestTextMarksRegressionsWithoutColour(t *testing.T) {
	t.Parallel()
	out := string(render(t, "text", fixtureInput(), Options{}))
	if strings.Contains(out, "\x1b[") {
		t.Error("colour codes without Options.Color")
	}
	for _, want := range []string{"REGRESSED", "+12.6% [+8.1, +16.9] p=0.002", "~ [-2.1, +3.4] p=0.410", "verdict: FAIL", "exit 1", "[1] baseline tool version"} {
		if !strings.Contains(out, want) {
			t.Errorf("text report lacks %q", want)
		}
	}
	col := string(render(t, "text", fixtureInput(), Options{Color: true}))
	if !strings.Contains(col, ansiRed+"REGRESSED") {
		t.Error("colour report does not colour the regression")
	}
}

func TestTextStripsControlCharacters(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	in.Verdict.Endpoints[0].Name = "evil\x1b[2J\tname\n"
	out := string(render(t, "text", in, Options{}))
	if strings.Contains(out, "\x1b") {
		t.Error("escape sequence from an endpoint name reached the terminal")
	}
}

func TestMarkdownEscapesUserStrings(t *testing.T) {
	t.Parallel()
	out := string(render(t, "markdown", fixtureInput(), Options{}))
	for _, bad := range []string{"<admin>", "@octocat", " #1 ", " `x`", "[a](b)", "get-user |"} {
		if strings.Contains(out, bad) {
			t.Errorf("markdown contains unescaped %q", bad)
		}
	}
	// Every table line keeps exactly seven unescaped pipes (six cells), so no
	// name split a cell.
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "| ") && cellPipes(l) != 7 {
			t.Errorf("table row with %d pipes: %s", cellPipes(l), l)
		}
	}
}

// cellPipes counts the pipes that split a GFM table row (not "\|").
func cellPipes(l string) int { return strings.Count(l, "|") - strings.Count(l, "\\|") }

// Only what Markdown would interpret is escaped: raw text stays readable.
func TestMdEscape(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"plain-name_1":                 "plain-name_1",
		"error_rate (p95): \"x\" it's": "error_rate (p95): \"x\" it's",
		"GET /u/{id}?q=a+b":            "GET /u/{id}?q=a+b",
		"a|b":                          "a\\|b",
		"<x> <3 a<b":                   "&lt;x> <3 a&lt;b",
		"@me #3 a@b.c #x":              "@&#8203;me #&#8203;3 a@&#8203;b.c #x",
		"l1\nl2":                       "l1 l2",
		"*bold* _em_ ~~s~~ $x$":        "\\*bold\\* \\_em_ \\~\\~s\\~~ \\$x\\$",
		"5 * 3 ~ 2 $ 1":                "5 \\* 3 ~ 2 $ 1",
		"[a](b) ![i](j) [r][s] [ok]":   "[a\\](b) ![i\\](j) [r\\][s] [ok]",
		"&amp; & x":                    "&amp;amp; & x",
		"`code`":                       "\\`code\\`",
		"C:\\dir\\*":                   "C:\\dir\\\\\\*",
		"\x01ref\x02":                  "ref",
		"@\x7f0 #\n1":                  "@&#8203;0 # 1",
	}
	for in, want := range cases {
		if got := mdEscape(in); got != want {
			t.Errorf("mdEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestMarkdownOrderAndCollapse(t *testing.T) {
	t.Parallel()
	out := string(render(t, "markdown", fixtureInput(), Options{}))
	reg := strings.Index(out, "create-order")
	imp := strings.Index(out, "**search**")
	det := strings.Index(out, "<details>")
	calm := strings.Index(out, "**list-products**")
	if reg < 0 || imp < 0 || det < 0 || calm < 0 {
		t.Fatalf("missing sections:\n%s", out)
	}
	if !(reg < imp && imp < det && det < calm) {
		t.Errorf("want regressions, then improvements, then <details> with unchanged endpoints; got offsets %d %d %d %d", reg, imp, det, calm)
	}
	if !strings.Contains(out, "```mermaid\nxychart-beta") {
		t.Error("no mermaid chart")
	}
}

func TestMarkdownLimited(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	full := render(t, "markdown", in, Options{})
	for _, max := range []int{len(full), len(full) - 1, 2500, 1500, 900, 400, 100} {
		var buf bytes.Buffer
		if err := MarkdownLimited(&buf, in, max); err != nil {
			t.Fatal(err)
		}
		if buf.Len() > max {
			t.Errorf("max %d: got %d bytes", max, buf.Len())
		}
		if max < len(full) && max >= 400 && !strings.Contains(buf.String(), "Report shortened") {
			t.Errorf("max %d: no truncation note", max)
		}
		if max == len(full) && !bytes.Equal(buf.Bytes(), full) {
			t.Errorf("max = full length changed the report")
		}
		if strings.Count(buf.String(), "<details>") != strings.Count(buf.String(), "</details>") {
			t.Errorf("max %d: unbalanced <details>", max)
		}
		if strings.Count(buf.String(), "```")%2 != 0 {
			t.Errorf("max %d: unclosed code fence", max)
		}
	}
	var buf bytes.Buffer
	_ = MarkdownLimited(&buf, in, 1500)
	golden(t, "verdict-limited.md", buf.Bytes())
}

func TestJSONRoundTrip(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	out := render(t, "json", in, Options{})
	d, err := DecodeVerdict(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	want := NewVerdictDoc(in)
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if d.ExitCode != gate.ExitFail || d.Decision != gate.Regressed || len(d.Regressions) != 1 || d.Regressions[0] != "create-order" {
		t.Errorf("exit %d decision %s regressions %v", d.ExitCode, d.Decision, d.Regressions)
	}
	var again bytes.Buffer
	if err := JSON(&again, Input{Verdict: d.Verdict, Head: in.Head, Base: in.Base}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Bytes(), out) {
		t.Error("re-encoding the decoded verdict changed the document")
	}
}

func TestDecodeVerdictRejects(t *testing.T) {
	t.Parallel()
	for name, doc := range map[string]string{
		"other schema": `{"schema":"loadgate/results/v1"}`,
		"no schema":    `{"verdict":{}}`,
		"future":       `{"schema":"loadgate/verdict/v2"}`,
	} {
		if _, err := DecodeVerdict(strings.NewReader(doc)); !errors.Is(err, ErrVerdictSchema) {
			t.Errorf("%s: err = %v, want ErrVerdictSchema", name, err)
		}
	}
	for _, doc := range []string{``, `{`, `{"schema":"loadgate/verdict/v1","exit_code":"x"}`} {
		if _, err := DecodeVerdict(strings.NewReader(doc)); err == nil {
			t.Errorf("%q: no error", doc)
		}
	}
}

func FuzzDecodeVerdict(f *testing.F) {
	var buf bytes.Buffer
	_ = JSON(&buf, fixtureInput())
	f.Add(buf.Bytes())
	buf.Reset()
	_ = JSON(&buf, serverTimeInput())
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema":"loadgate/verdict/v1","verdict":{"endpoints":[{"checks":[{"metric":"p95","kind":"baseline","source":"server"},{"metric":"p95","kind":"baseline","source":"server"},{"source":"x"}]}]}}`))
	f.Add([]byte(`{"schema":"loadgate/verdict/v1","verdict":{"endpoints":[{}]}}`))
	f.Add([]byte(`{"schema":"loadgate/verdict/v1","regressions":null}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := DecodeVerdict(bytes.NewReader(data))
		if err != nil {
			return
		}
		// Whatever decodes must render without panicking.
		var out bytes.Buffer
		if d.Verdict != nil {
			if err := Text(&out, Input{Verdict: d.Verdict}, Options{}); err != nil {
				t.Fatalf("text of a decoded verdict: %v", err)
			}
			if err := Markdown(&out, Input{Verdict: d.Verdict}); err != nil {
				t.Fatalf("markdown of a decoded verdict: %v", err)
			}
		}
	})
}

func TestIncompatibleVerdict(t *testing.T) {
	t.Parallel()
	v := &gate.Verdict{Plan: "p", Decision: gate.Incompatible, Mode: "baseline", Incompatible: []string{"plan hash sha256:1 ≠ sha256:2"}}
	in := Input{Verdict: v}
	for _, f := range []string{"text", "markdown", "junit", "json"} {
		out := html.UnescapeString(string(render(t, f, in, Options{})))
		if !strings.Contains(strings.ToLower(out), "incompatible") || !strings.Contains(out, "sha256:1") {
			t.Errorf("%s does not explain the incompatible baseline:\n%s", f, out)
		}
	}
	if doc := BuildJUnit(in); doc.Errors != 1 {
		t.Errorf("junit errors = %d, want 1 for the incompatible baseline", doc.Errors)
	}
}

func BenchmarkRender(b *testing.B) {
	in := fixtureInput()
	for _, f := range Formats() {
		b.Run(f, func(b *testing.B) {
			var n int
			for b.Loop() {
				var buf bytes.Buffer
				if err := Write(f, &buf, in); err != nil {
					b.Fatal(err)
				}
				n = buf.Len()
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

// reMarkup finds what would render as markup: a tag, comment or autolink, a
// code span, a mention, an issue reference, a link or image.
var reMarkup = regexp.MustCompile("<[A-Za-z/!?]|`|@[A-Za-z0-9]|#[0-9]|\\][(\\[]")

// FuzzReportNames renders a verdict whose endpoint name and warning are
// arbitrary: Markdown rows keep their six cells, no markup character escapes,
// the text report carries no control character, and the JUnit XML parses.
func FuzzReportNames(f *testing.F) {
	for _, s := range []string{trickyName, "a|b", "<script>alert(1)</script>", "@team #12 :smile: http://x", "\x1b[31mred", "line\nbreak", "]]>", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v := &gate.Verdict{Plan: name, Decision: gate.Regressed, Mode: "baseline", BaseRuns: 3, Confidence: 0.95, Warnings: []string{name},
			Endpoints: []gate.EndpointVerdict{{Name: name, Decision: gate.Regressed, Warnings: []string{name},
				Base: &gate.Figures{P95: 1}, Head: &gate.Figures{P95: 2},
				Checks: []gate.Check{{Metric: gate.P95, Kind: "baseline", Unit: "ms", Base: 1, Head: 2, Delta: 1, PValue: 0.01, Significant: true, Decision: gate.Regressed, Warnings: []string{name}}}}}}
		in := Input{Verdict: v}
		var md, txt, xmlOut bytes.Buffer
		if err := Markdown(&md, in); err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(md.String(), "\n") {
			if strings.HasPrefix(l, "| ") && cellPipes(l) != 7 {
				t.Fatalf("row split by the name: %q", l)
			}
		}
		body := md.String()
		body = strings.NewReplacer("<br>", "", "<sup>", "", "</sup>", "", "<details>", "", "</details>", "", "<summary>", "", "</summary>", "", "```", "", "\\\\", " ", "\\`", " ", "\\]", " ", "&#8203;", "\u200b").Replace(body)
		if m := reMarkup.FindString(body); m != "" {
			t.Fatalf("unescaped markup %q in markdown:\n%s", m, md.String())
		}
		if err := Text(&txt, in, Options{}); err != nil {
			t.Fatal(err)
		}
		if strings.ContainsFunc(txt.String(), func(r rune) bool { return r < 0x20 && r != '\n' }) {
			t.Fatalf("control character in text report: %q", txt.String())
		}
		if err := JUnit(&xmlOut, in); err != nil {
			t.Fatal(err)
		}
		var doc JUnitSuites
		if err := xml.Unmarshal(xmlOut.Bytes(), &doc); err != nil {
			t.Fatalf("junit does not parse: %v", err)
		}
	})
}

// A verdict can be read back from an artifact an untrusted run wrote (the
// GitHub Action's workflow_run pattern): every string field of it, not only
// names, must render inert in Markdown.
func TestMarkdownEscapesEveryVerdictField(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	v := in.Verdict
	v.Decision = "<img src=x>"
	v.Mode = "<b>m</b>"
	ep := &v.Endpoints[0]
	ep.Decision = "<i>d</i>"
	ep.Checks = append(ep.Checks, gate.Check{Metric: "![m](https://evil.example/m.png)", Kind: "slo",
		Unit: "[u](https://evil.example/u)", Head: 1, Tolerance: "![t](https://evil.example/t.png)",
		Decision: "<u>c</u>", PValue: -1},
		gate.Check{Metric: gate.P90, Kind: "baseline", Unit: "ms", Base: 1, Head: 1, PValue: -1,
			Tolerance: "![t](https://evil.example/t.png) <s>x</s>", Decision: gate.Pass})
	out := render(t, "markdown", in, Options{})
	// An escaped "\]" closes no link or image.
	inert := strings.ReplaceAll(string(out), "\\]", " ")
	for _, bad := range []string{"<img", "<IMG", "<b>", "<i>", "<I>", "<u>", "<s>", "]("} {
		if strings.Contains(inert, bad) {
			t.Errorf("markdown contains %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(string(out), "(tol. ") {
		t.Errorf("the baseline check's tolerance is missing:\n%s", out)
	}
	// An unknown decision must not be headed like a pass.
	if strings.HasPrefix(string(out), "### ✅") {
		t.Errorf("unknown decision headed as a pass: %s", strings.SplitN(string(out), "\n", 2)[0])
	}
}

func TestMarkdownWithOptions(t *testing.T) {
	t.Parallel()
	in := fixtureInput()
	const run = "https://github.com/acme/shop/actions/runs/1234"
	opt := MarkdownOptions{Note: "GitHub refused to comment <b>@team</b>", RunURL: run, ChartLimit: 2}
	var buf bytes.Buffer
	if err := MarkdownWith(&buf, in, opt); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	head, rest, _ := strings.Cut(out, "\n\n")
	if !strings.HasPrefix(head, "### ❌ loadgate: checkout-api — FAIL") {
		t.Errorf("headline %q", head)
	}
	if !strings.Contains(rest, "> [!NOTE]\n> GitHub refused to comment &lt;b>@&#8203;team&lt;/b>\n\n| Endpoint") {
		t.Errorf("note not escaped under the headline:\n%s", out)
	}
	if !strings.HasSuffix(out, "\n[Workflow run and artifacts]("+run+")\n") {
		t.Errorf("run link not last:\n%s", out)
	}
	if xs := regexp.MustCompile(`x-axis \[(.*)\]`).FindStringSubmatch(out); len(xs) != 2 || strings.Count(xs[1], `"`) != 2*2 {
		t.Errorf("chart of %d endpoints, want 2: %q", len(xs), xs)
	}
	// Without options it is exactly Markdown.
	plain := render(t, "markdown", in, Options{})
	buf.Reset()
	if err := MarkdownWith(&buf, in, MarkdownOptions{}); err != nil || !bytes.Equal(buf.Bytes(), plain) {
		t.Errorf("MarkdownWith with no options differs from Markdown (%v)", err)
	}

	// Shortened, the note saying what was left out is followed by the link
	// to where the full report is.
	buf.Reset()
	opt.MaxChars = 1500
	if err := MarkdownWith(&buf, in, opt); err != nil {
		t.Fatal(err)
	}
	out = buf.String()
	if len(out) > opt.MaxChars || !strings.Contains(out, "Report shortened") || !strings.Contains(out, "left out: chart, unchanged endpoints, notes, ") || !strings.HasSuffix(out, " table rows. The full report is in the job summary or the report artifact.\n\n[Workflow run and artifacts]("+run+")\n") {
		t.Errorf("shortened report (%d bytes):\n%s", len(out), out)
	}
}

func TestMarkdownRunLink(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://github.com/a/b/actions/runs/1":   "[Workflow run and artifacts](https://github.com/a/b/actions/runs/1)\n",
		"https://ghes.example/a/b/runs/1?x=(y) z": "[Workflow run and artifacts](https://ghes.example/a/b/runs/1?x=%28y%29%20z)\n",
		"javascript:alert(1)) <x>":                "",
		"/relative/path":                          "",
		"":                                        "",
	} {
		if got := mdRunLink(in); got != want {
			t.Errorf("mdRunLink(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestShortChange(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		c    gate.Check
		want string
	}{
		{gate.Check{Metric: gate.P95, Kind: "baseline", Unit: "ms", Delta: 0.26}, "+26.0%"},
		{gate.Check{Metric: gate.Throughput, Kind: "baseline", Unit: "rps", Delta: -0.0001}, "+0.0%"},
		{gate.Check{Metric: gate.ErrorRate, Kind: "baseline", Unit: "%", Delta: 0.2}, "+0.20pp"},
		{gate.Check{Metric: gate.P95, Kind: "slo", Unit: "ms", Head: 151.2, Tolerance: "≤ 300 ms"}, "151 ms (limit ≤ 300 ms)"},
		{gate.Check{Metric: gate.Throughput, Kind: "slo", Unit: "rps", Head: 42, Tolerance: "50/s"}, "42.0/s (limit ≥ 50/s)"},
	} {
		if got := ShortChange(tt.c); got != tt.want {
			t.Errorf("ShortChange(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

// Thousands of changed endpoints shortened to a comment's size: fast (rows are
// cut by binary search, not one at a time) and no more rows cut than needed.
func TestMarkdownLimitedManyRows(t *testing.T) {
	t.Parallel()
	v := &gate.Verdict{Plan: "big", Decision: gate.Regressed, Mode: "baseline", BaseRuns: 3, Confidence: 0.95}
	for i := range 3000 {
		v.Endpoints = append(v.Endpoints, gate.EndpointVerdict{Name: fmt.Sprintf("endpoint-%04d", i), Decision: gate.Regressed,
			Base: &gate.Figures{P50: 1, P95: 2, P99: 3}, Head: &gate.Figures{P50: 2, P95: 4, P99: 6},
			Checks: []gate.Check{{Metric: gate.P95, Kind: "baseline", Unit: "ms", Base: 2, Head: 4, Delta: 1, PValue: 0.001, Significant: true, Decision: gate.Regressed}}})
	}
	const max = 65536
	var buf bytes.Buffer
	if err := MarkdownLimited(&buf, Input{Verdict: v}, max); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	m := regexp.MustCompile(`left out: chart, (\d+) table rows\.`).FindStringSubmatch(out)
	if len(out) > max || m == nil {
		t.Fatalf("%d bytes, note %q", len(out), m)
	}
	cut, _ := strconv.Atoi(m[1])
	d := buildMarkdown(Input{Verdict: v}, MarkdownOptions{})
	dropped := map[int]bool{}
	for i, s := range d.sections {
		if s.drop > 0 {
			dropped[i] = true
		}
	}
	if fewer := d.joinNote(dropped, cut-1, []string{"chart"}, max); len(fewer) <= max {
		t.Errorf("cut %d rows, %d would have fitted", cut, cut-1)
	}
}

// A first run has no baseline (SLO-only verdict): the chart shows the current
// run's p95 alone rather than nothing, or bars of zero labelled "baseline".
func TestMarkdownChartWithoutBaseline(t *testing.T) {
	t.Parallel()
	v := &gate.Verdict{Plan: "p", Decision: gate.Pass, Mode: "slo-only", Endpoints: []gate.EndpointVerdict{
		{Name: "a", Decision: gate.Pass, Head: &gate.Figures{P50: 1, P95: 2, P99: 3}},
		{Name: "b", Decision: gate.Pass},
	}}
	out := string(render(t, "markdown", Input{Verdict: v}, Options{}))
	want := "```mermaid\nxychart-beta\n    title \"p95 (ms) of the current run, no baseline\"\n    x-axis [\"a\"]\n    y-axis \"ms\"\n    bar [2]\n```\n"
	if !strings.Contains(out, want) {
		t.Errorf("chart without baseline:\n%s", out)
	}
	// One endpoint with a baseline makes it a comparison of those that have
	// one, relative to the baseline so that endpoints of any size share an axis.
	v.Endpoints = append(v.Endpoints, gate.EndpointVerdict{Name: "c", Decision: gate.Pass, Base: &gate.Figures{P50: 1, P95: 4}, Head: &gate.Figures{P50: 2, P95: 2}})
	out = string(render(t, "markdown", Input{Verdict: v}, Options{}))
	if !strings.Contains(out, "x-axis [\"c\"]\n    y-axis \"% of baseline p95\" 40 --> 110\n    bar [50]\n    line [100]\n") {
		t.Errorf("comparison chart:\n%s", out)
	}
}

// Chart labels differ even when names share a long prefix, and the chart
// reads endpoints of 1 ms and of 180 ms on one axis.
func TestMermaidLabelsDiffer(t *testing.T) {
	t.Parallel()
	v := &gate.Verdict{Plan: "p", Decision: gate.Regressed, Mode: "baseline"}
	for i := range 18 {
		v.Endpoints = append(v.Endpoints, gate.EndpointVerdict{Name: fmt.Sprintf("GET /api/v1/organisations/{org}/projects/%02d", i), Decision: gate.Regressed,
			Base: &gate.Figures{P50: 1, P95: 1 + 10*float64(i), P99: 180}, Head: &gate.Figures{P50: 1, P95: 1.2 + 10*float64(i), P99: 200}})
	}
	v.Endpoints = append(v.Endpoints, gate.EndpointVerdict{Name: "GET /api/v1/organisations/{org}/projects/00", Decision: gate.Pass,
		Base: &gate.Figures{P95: 1}, Head: &gate.Figures{P95: 1}})
	var buf bytes.Buffer
	if err := MarkdownWith(&buf, Input{Verdict: v}, MarkdownOptions{ChartLimit: 100}); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`x-axis \[(.*)\]`).FindStringSubmatch(buf.String())
	if m == nil {
		t.Fatalf("no chart:\n%s", buf.String())
	}
	labels := strings.Split(m[1], ", ")
	seen := map[string]bool{}
	for _, l := range labels {
		if seen[l] {
			t.Errorf("label %s appears twice in %s", l, m[1])
		}
		seen[l] = true
		if n := len([]rune(strings.Trim(l, `"`))); n > mermaidLabelMax+5 {
			t.Errorf("label %s is %d runes", l, n)
		}
	}
	if len(labels) != 19 {
		t.Errorf("%d labels, want 19", len(labels))
	}
	if !strings.Contains(buf.String(), "bar [120, 101.8") {
		t.Errorf("bars are not relative to the baseline:\n%s", buf.String())
	}
}
