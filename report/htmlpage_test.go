package report

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"testing"
	"time"

	"github.com/loadgate/loadgate/results"
)

// referencePage renders p with the html/template the page writer replaced,
// whose SVG fields are the template's trusted HTML type.
func referencePage(t *testing.T, p htmlPage) string {
	t.Helper()
	type fig struct {
		Caption string
		SVG     htmltemplate.HTML
	}
	conv := func(fs []htmlFigure) []fig {
		var out []fig
		for _, f := range fs {
			out = append(out, fig{f.Caption, htmltemplate.HTML(f.SVG)})
		}
		return out
	}
	type ep struct {
		htmlEndpoint
		Figures []fig
	}
	var eps []ep
	for _, e := range p.Endpoints {
		eps = append(eps, ep{e, conv(e.Figures)})
	}
	data := struct {
		htmlPage
		Profile   []fig
		Endpoints []ep
	}{p, conv(p.Profile), eps}
	var b bytes.Buffer
	if err := referenceTemplate.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// fullPage fills every field and branch of the page with s.
func fullPage(s string, on bool) htmlPage {
	fig := []htmlFigure{{Caption: s, SVG: "<svg><text>1 &lt; 2</text></svg>"}}
	p := htmlPage{
		Title: s, HasVerdict: on, Word: s, Icon: "▲", Class: "bad", Counts: s, Mode: s, OverallNotes: s, NothingChecked: s,
		Rows: []htmlRow{
			{First: s, Second: s, FirstID: "ep-1", FirstClass: "bad", Metric: s, Base: s, Head: s, Change: s, Check: s, CheckIcon: "▲", CheckClass: "bad", Notes: s, RowClass: "first"},
			{Metric: s},
		},
		Notes: []string{s, s}, Profile: fig, ProfileFacts: []kv{{s, s}}, ProfileCaveats: []string{s},
		Endpoints: []htmlEndpoint{
			{ID: "ep-1", Name: s, Word: s, Icon: "?", Class: "warn", Requests: 12, Errors: 3, Status: s, ErrorKinds: s, Latency: s, Figures: fig, Precision: "aggregate", Method: s, URL: s, ThroughputRPS: s, Bytes: s},
			{ID: "ep-2", Name: s},
		},
		Workers:  []results.Worker{{ID: s, Region: s, Started: time.Date(2026, 12, 2, 3, 4, 5, 0, time.UTC), Requests: 7, Errors: 1, RateShare: 0.5, Missing: true, Reason: s}, {ID: s, RateShare: 0.5}},
		Regions:  []htmlRegion{{Region: s, Workers: 2, Missing: 1, Requests: 7, Errors: 1, RateShare: 0.5}, {Region: s, Workers: 1}},
		Runs:     []htmlRun{{Role: s, Items: []kv{{s, s}}}},
		Validity: []kv{{s, s}}, Invalid: on, Reasons: []string{s, s}, Generator: s,
	}
	if !on {
		p.OverallNotes, p.NothingChecked, p.Notes, p.Profile, p.ProfileFacts, p.ProfileCaveats, p.Workers, p.Regions, p.Validity = "", "", nil, nil, nil, nil, nil, nil, nil
	}
	return p
}

// The page writer writes byte for byte what the html/template it replaced
// wrote, every branch taken and not, with text that needs escaping.
func TestPageWriterMatchesTemplate(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"plain", `<script>alert("x'&+")</script> \x00 ~ ü`, "p95 +12.5 % [+3.1, +20.2] p=0.01 · 5 ms"} {
		for _, on := range []bool{true, false} {
			p := fullPage(s, on)
			var b bytes.Buffer
			p.write(&b)
			if got, want := b.String(), referencePage(t, p); got != want {
				i := 0
				for i < len(got) && i < len(want) && got[i] == want[i] {
					i++
				}
				t.Errorf("%q on=%v: differs at byte %d:\n got …%s\nwant …%s", s, on, i, excerpt(got, i), excerpt(want, i))
			}
		}
	}
}

func FuzzPageWriter(f *testing.F) {
	f.Add("a<b>&\"'+")
	f.Fuzz(func(t *testing.T, s string) {
		p := fullPage(s, true)
		var b bytes.Buffer
		p.write(&b)
		if got, want := b.String(), referencePage(t, p); got != want {
			t.Fatalf("page for %q differs from the template's", s)
		}
	})
}

func excerpt(s string, i int) string { return s[max(0, i-40):min(len(s), i+40)] }

var referenceTemplate = htmltemplate.Must(htmltemplate.New("page").Funcs(htmltemplate.FuncMap{
	"pct": func(f float64) string { return fmt.Sprintf("%.0f%%", f*100) },
	"ts": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	},
}).Parse(referenceHTML))

// The page head is the writer's own (fixed text); the template starts at
// <body>.
const referenceHTML = pageHead + "{{.Title}}" + pageStyle + `<body>
<header>
<h1>loadgate report: {{.Title}}</h1>
{{if .HasVerdict}}<p><span class="banner {{.Class}}" id="verdict">{{.Icon}} {{.Word}}</span> <strong>{{.Counts}}</strong></p>
<p class="sub">{{.Mode}}{{if .OverallNotes}} <sup>{{.OverallNotes}}</sup>{{end}}</p>
{{if .NothingChecked}}<p class="sub" id="nothing-checked">{{.NothingChecked}}</p>{{end}}
{{else}}<p class="sub">Run without a comparison: no baseline and no verdict.</p>{{end}}
{{if .Invalid}}<p class="banner bad" role="alert">⛔ This run is invalid: {{range .Reasons}}{{.}} {{end}}</p>{{end}}
</header>
<main>
{{if .HasVerdict}}
<section aria-labelledby="h-verdict">
<h2 id="h-verdict">Verdict</h2>
<table id="verdict-table">
<thead><tr><th scope="col">Endpoint</th><th scope="col">Metric</th><th scope="col">Baseline</th><th scope="col">Current</th><th scope="col">Change [interval] p</th><th scope="col">Check</th></tr></thead>
<tbody>
{{range .Rows}}<tr{{if .RowClass}} class="{{.RowClass}}"{{end}}><td class="name">{{if .First}}<a href="#{{.FirstID}}">{{.First}}</a><br><span class="badge {{.FirstClass}}">{{.Second}}</span>{{end}}</td><td>{{.Metric}}</td><td class="num">{{.Base}}</td><td class="num">{{.Head}}</td><td class="chg">{{.Change}}</td><td>{{if .Check}}<span class="badge {{.CheckClass}}">{{if .CheckIcon}}{{.CheckIcon}} {{end}}{{.Check}}</span>{{end}}{{if .Notes}} <sup>{{.Notes}}</sup>{{end}}</td></tr>
{{end}}</tbody>
</table>
<p class="facts">“~” means no significant change at the stated confidence; intervals bound the relative change (percentage points for error rate).</p>
{{if .Notes}}<h3>Notes</h3>
<ol class="notes">{{range .Notes}}<li>{{.}}</li>{{end}}</ol>{{end}}
</section>
{{end}}
{{if or .Profile .ProfileFacts .ProfileCaveats}}
<section aria-labelledby="h-profile">
<h2 id="h-profile">Profile</h2>
{{if .ProfileFacts}}<dl class="kv">{{range .ProfileFacts}}<dt>{{.K}}</dt><dd>{{.V}}</dd>{{end}}</dl>{{end}}
{{range .ProfileCaveats}}<p class="caveat warn">⚠ {{.}}</p>{{end}}
<div class="figs">{{range .Profile}}<figure class="chart">{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
</section>
{{end}}
<section aria-labelledby="h-endpoints">
<h2 id="h-endpoints">Endpoints</h2>
{{range .Endpoints}}
<article id="{{.ID}}">
<h3>{{.Name}} {{if .Word}}<span class="badge {{.Class}}">{{.Icon}} {{.Word}}</span>{{end}}</h3>
<p class="facts">{{if .Method}}{{.Method}} {{.URL}} · {{end}}{{.Requests}} requests, {{.Errors}} errors{{if .ThroughputRPS}} · {{.ThroughputRPS}}{{end}}{{if .Bytes}} · {{.Bytes}} received{{end}}{{if .Status}} · status {{.Status}}{{end}}{{if .ErrorKinds}} · errors {{.ErrorKinds}}{{end}}{{if eq .Precision "aggregate"}} · imported summary only (no histogram){{end}}<br>{{.Latency}}</p>
<div class="figs">{{range .Figures}}<figure class="chart">{{.SVG}}<figcaption>{{.Caption}}</figcaption></figure>{{end}}</div>
</article>
{{end}}
</section>
{{if .Workers}}
<section aria-labelledby="h-workers">
<h2 id="h-workers">Workers</h2>
<table id="workers">
<thead><tr><th scope="col">Worker</th><th scope="col">Region</th><th scope="col">Started</th><th scope="col">Requests</th><th scope="col">Errors</th><th scope="col">Rate share</th><th scope="col">Status</th></tr></thead>
<tbody>{{range .Workers}}<tr><td>{{.ID}}</td><td>{{.Region}}</td><td>{{ts .Started}}</td><td class="num">{{.Requests}}</td><td class="num">{{.Errors}}</td><td class="num">{{pct .RateShare}}</td><td>{{if .Missing}}<span class="badge bad">⛔ missing</span> {{.Reason}}{{else}}ok{{end}}</td></tr>{{end}}</tbody>
</table>
{{if .Regions}}<table id="regions">
<thead><tr><th scope="col">Region</th><th scope="col">Workers</th><th scope="col">Missing</th><th scope="col">Requests</th><th scope="col">Errors</th><th scope="col">Rate share</th></tr></thead>
<tbody>{{range .Regions}}<tr><td>{{.Region}}</td><td class="num">{{.Workers}}</td><td class="num">{{if .Missing}}<span class="badge bad">⛔ {{.Missing}}</span>{{else}}0{{end}}</td><td class="num">{{.Requests}}</td><td class="num">{{.Errors}}</td><td class="num">{{pct .RateShare}}</td></tr>{{end}}</tbody>
</table>{{end}}
</section>
{{end}}
<section aria-labelledby="h-runs">
<h2 id="h-runs">Runs and provenance</h2>
{{if .Validity}}<h3>Validity of the current run</h3>
<dl class="kv">{{range .Validity}}<dt>{{.K}}</dt><dd>{{.V}}</dd>{{end}}</dl>{{end}}
<div class="runs">{{range .Runs}}<div class="card"><h3>{{.Role}}</h3><dl class="kv">{{range .Items}}<dt>{{.K}}</dt><dd>{{.V}}</dd>{{end}}</dl></div>{{end}}</div>
</section>
</main>
<footer>Generated by {{.Generator}}. Self-contained: no scripts, no external resources.</footer>
</body>
</html>
`
