package report

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

// HTML writes one self-contained page: inline CSS, inline SVG charts, no
// script and no external resource, so it opens from a CI artifact on an
// air-gapped machine. It shows the verdict table with intervals and footnoted
// warnings, per-endpoint charts (percentile distribution base vs current on a
// "nines" axis, latency and throughput over time with warm-up shaded), the
// profile's own charts (stress/scalability curves with the knee, spike
// recovery, endurance drift, volume payload curve), the per-worker breakdown
// of distributed runs and the run metadata and provenance. Input.Verdict may
// be nil (a run without a comparison); Input.Head is then required.
func HTML(w io.Writer, in Input) error {
	if in.Verdict == nil && in.Head == nil {
		return fmt.Errorf("html: %w", ErrNoVerdict)
	}
	page, err := buildPage(in)
	if err != nil {
		return fmt.Errorf("html report: %w", err)
	}
	var buf bytes.Buffer
	page.write(&buf)
	ew := &errWriter{w: w}
	_, _ = ew.Write(buf.Bytes())
	return ew.result("html")
}

type htmlFigure struct {
	Caption string
	SVG     safeHTML
}

type htmlRow struct {
	First, Second    string // endpoint name / decision word on the first two rows
	FirstID          string
	FirstClass       string
	Metric           string
	Base, Head       string
	Change           string
	Check, CheckIcon string
	CheckClass       string
	Notes            string
	RowClass         string
}

type htmlEndpoint struct {
	ID, Name             string
	Word, Icon, Class    string
	Requests, Errors     int64
	Status, ErrorKinds   string
	Latency              string
	Figures              []htmlFigure
	Precision, Method    string
	URL                  string
	ThroughputRPS, Bytes string
}

type kv struct{ K, V string }

// htmlRegion aggregates the workers of one region of a distributed run.
type htmlRegion struct {
	Region           string
	Workers, Missing int
	Requests, Errors int64
	RateShare        float64
}

// regionsOf groups workers by region; nil unless the run spans two or more.
func regionsOf(ws []results.Worker) []htmlRegion {
	idx := map[string]int{}
	var out []htmlRegion
	for _, w := range ws {
		i, ok := idx[w.Region]
		if !ok {
			i = len(out)
			idx[w.Region] = i
			out = append(out, htmlRegion{Region: w.Region})
		}
		r := &out[i]
		r.Workers++
		if w.Missing {
			r.Missing++
		}
		r.Requests += w.Requests
		r.Errors += w.Errors
		r.RateShare += w.RateShare
	}
	if len(out) < 2 {
		return nil
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Region < out[j].Region })
	return out
}

type htmlRun struct {
	Role  string
	Items []kv
}

type htmlPage struct {
	Title        string
	HasVerdict   bool
	Word, Icon   string
	Class        string
	Counts, Mode string
	OverallNotes string
	// NothingChecked explains a verdict without a single check.
	NothingChecked string
	Rows           []htmlRow
	Notes          []string
	Profile        []htmlFigure
	ProfileFacts   []kv
	// ProfileCaveats qualify the profile's figures ("too short for a drift").
	ProfileCaveats []string
	Endpoints      []htmlEndpoint
	Workers        []results.Worker
	Regions        []htmlRegion
	Runs           []htmlRun
	Validity       []kv
	Invalid        bool
	Reasons        []string
	Generator      string
}

// htmlBadge gives every decision an icon and a word (never colour alone) and
// a CSS class for its colour.
func htmlBadge(d gate.Decision) (icon, word, class string) {
	switch d {
	case gate.Regressed:
		return "▲", "regressed", "bad"
	case gate.Invalid:
		return "⛔", "invalid", "bad"
	case gate.Incompatible:
		return "⛔", "incompatible", "bad"
	case gate.Inconclusive:
		return "?", "inconclusive", "warn"
	case gate.Missing:
		return "–", "missing", "warn"
	case gate.New:
		return "+", "new", "info"
	case gate.Improved:
		return "▼", "improved", "good"
	case gate.Pass:
		return "✓", "pass", "ok"
	}
	return "", string(d), ""
}

func buildPage(in Input) (*htmlPage, error) {
	pg := &htmlPage{Title: in.title(), Generator: "loadgate"}
	if in.Head != nil && in.Head.Run.Env.ToolVersion != "" {
		pg.Generator = "loadgate " + in.Head.Run.Env.ToolVersion
	}
	var order []string
	ids := map[string]string{}
	if v := in.Verdict; v != nil {
		pg.HasVerdict = true
		pg.Icon, _, pg.Class = htmlBadge(v.Decision)
		pg.Word = overallWord(v.Decision)
		if v.Decision == gate.Pass || v.Decision == gate.Improved {
			pg.Icon = "✓"
		}
		if nothingChecked(v) {
			pg.Icon, pg.Word, pg.Class = "○", wordNothingChecked, "info"
			pg.NothingChecked = nothingCheckedText
		}
		pg.Counts, pg.Mode = counts(v), modeLine(v)
		t := buildTable(v)
		pg.OverallNotes = noteRefs(t.Overall)
		pg.Notes = t.Notes
		for i, e := range t.Endpoints {
			id := "ep-" + strconv.Itoa(i+1)
			ids[e.Name] = id
			order = append(order, e.Name)
			icon, word, class := htmlBadge(e.Decision)
			if e.Unchecked {
				icon, word, class = "○", "not checked", "info"
			}
			rows := e.Rows
			if len(rows) == 0 {
				rows = []row{{Metric: "—"}}
			}
			for j, r := range rows {
				hr := htmlRow{Metric: r.Metric, Base: r.Base, Head: r.Head, Change: r.Change, Notes: noteRefs(r.Notes)}
				if j == 0 {
					hr.First, hr.FirstID, hr.RowClass = e.Name, id, "first"
					hr.Second = icon + " " + word + spaced(noteRefs(e.Notes))
					hr.FirstClass = class
				}
				if r.Decision != "" {
					ci, cw, cc := htmlBadge(r.Decision)
					if r.Decision == gate.Pass {
						ci, cw = "", "ok"
					}
					hr.CheckIcon, hr.Check, hr.CheckClass = ci, withTolerance(cw, r), cc
				}
				pg.Rows = append(pg.Rows, hr)
			}
		}
	}
	head := in.Head
	if head != nil {
		for _, e := range head.Endpoints {
			if _, ok := ids[e.Name]; !ok {
				ids[e.Name] = "ep-" + strconv.Itoa(len(ids)+1)
				order = append(order, e.Name)
			}
		}
	}
	for _, name := range order {
		ep, err := buildEndpoint(in, name, ids[name])
		if err != nil {
			return nil, err
		}
		pg.Endpoints = append(pg.Endpoints, ep)
	}
	if head != nil {
		profileCharts(pg, head)
		pg.Workers = head.Workers
		pg.Regions = regionsOf(head.Workers)
		pg.Runs = append(pg.Runs, runFacts("current run", head))
		pg.Validity, pg.Invalid, pg.Reasons = validityFacts(head.Run.Runner, head.Validity)
	}
	for i, b := range in.Base {
		if b != nil {
			pg.Runs = append(pg.Runs, runFacts(fmt.Sprintf("baseline run %d of %d", i+1, len(in.Base)), b))
		}
	}
	return pg, nil
}

func buildEndpoint(in Input, name, id string) (htmlEndpoint, error) {
	ep := htmlEndpoint{ID: id, Name: name}
	var ev *gate.EndpointVerdict
	if in.Verdict != nil {
		ev = findEndpoint(in.Verdict, name)
	}
	if ev != nil {
		ep.Icon, ep.Word, ep.Class = htmlBadge(ev.Decision)
		if ev.Decision == gate.Pass && len(ev.Checks) == 0 {
			ep.Icon, ep.Word, ep.Class = "○", "not checked", "info"
		}
	}
	var head *results.Endpoint
	if in.Head != nil {
		head = in.Head.Endpoint(name)
	}
	base := results.NewHistogram()
	for _, b := range in.Base {
		if b == nil {
			continue
		}
		if e := b.Endpoint(name); e != nil && e.Histogram != nil {
			if err := base.Merge(e.Histogram); err != nil {
				return ep, err
			}
		}
	}
	var hh *results.Histogram
	if head != nil {
		hh = head.Histogram
		ep.Requests, ep.Errors = head.Requests, head.Errors
		ep.Status, ep.ErrorKinds = joinCounts(head.Status), joinCounts(head.ErrorKinds)
		ep.Method, ep.URL, ep.Precision = head.Method, head.URL, head.Precision
		ep.ThroughputRPS = formatValue(head.ThroughputRPS, "rps")
		ep.Bytes = formatBytes(head.Bytes)
		l := head.Latency
		ep.Latency = fmt.Sprintf("p50 %s · p90 %s · p95 %s · p99 %s · p99.9 %s · max %s",
			formatMs(l.P50), formatMs(l.P90), formatMs(l.P95), formatMs(l.P99), formatMs(l.P999), formatMs(l.Max))
	}
	if svg := percentileChart(base, hh); svg != "" {
		caption := "Latency by percentile (log-scaled “nines” axis): baseline dashed blue, current solid orange"
		if base.Count() == 0 {
			caption = "Latency by percentile (log-scaled “nines” axis): current run only (no baseline)"
		}
		ep.Figures = append(ep.Figures, htmlFigure{Caption: caption, SVG: svg})
	}
	if head != nil && len(head.Windows) > 0 {
		t0 := in.Head.Run.Started
		if t0.IsZero() {
			t0 = head.Windows[0].Start
		}
		if svg := latencyOverTime(head.Windows, t0); svg != "" {
			ep.Figures = append(ep.Figures, htmlFigure{Caption: "Latency over time: p50, p95, p99 per window; warm-up shaded (excluded from the verdict)", SVG: svg})
		}
		svg := throughputOverTime(head.Windows, t0)
		ep.Figures = append(ep.Figures, htmlFigure{Caption: "Throughput and errors over time (offered rate dotted)", SVG: svg})
	}
	return ep, nil
}

// profileCharts adds the Profile block's figures, caveats and charts.
func profileCharts(pg *htmlPage, f *results.File) {
	if s := summarizeProfile(f); s != nil && f.Profile.Type != "load" {
		pg.ProfileFacts = s.Facts
		pg.ProfileCaveats = s.Caveats
	}
	d := f.Derived
	ws := runWindows(f)
	add := func(caption string, svg safeHTML) {
		if svg != "" {
			pg.Profile = append(pg.Profile, htmlFigure{Caption: caption, SVG: svg})
		}
	}
	t, l := curveCharts(d)
	add("Achieved vs offered rate; the knee (highest sustainable rate) and the first breaking rate marked", t)
	add("p95 latency vs offered rate; knee and breaking rate marked", l)
	switch f.Profile.Type {
	case "spike":
		add("p95 over the run: spike shaded, pre-spike level dotted, recovery marked", spikeChart(f, ws))
	case "endurance":
		add("p95 per window over the run with its least-squares drift line", enduranceChart(f, ws))
	}
	lat, bps := payloadCharts(d)
	add("Latency vs request payload size", lat)
	add("Bytes moved per second (request payloads sent plus responses received) vs payload size", bps)
}

func runFacts(role string, f *results.File) htmlRun {
	r := htmlRun{Role: role}
	add := func(k, v string) {
		if v != "" {
			r.Items = append(r.Items, kv{k, v})
		}
	}
	add("plan", f.Plan.Name)
	add("plan hash", f.Plan.Hash)
	add("plan file", f.Plan.File)
	add("run id", f.Run.ID)
	if !f.Run.Started.IsZero() {
		add("started", f.Run.Started.UTC().Format(time.RFC3339))
		add("duration", f.Run.Ended.Sub(f.Run.Started).Round(time.Millisecond).String())
	}
	add("runner", f.Run.Runner)
	add("runner class", f.Run.RunnerClass)
	if f.Run.Workers > 1 {
		add("workers", strconv.Itoa(f.Run.Workers))
	}
	add("target", f.Run.Target)
	add("label", f.Run.Label)
	if f.Run.Partial {
		add("partial", "yes — the run was interrupted")
	}
	pr := f.Profile
	prof := pr.Type
	if pr.Model != "" {
		prof += ", " + pr.Model + " model"
	}
	if pr.Rate > 0 {
		prof += ", " + formatValue(pr.Rate, "rps")
	}
	if pr.VUs > 0 {
		prof += fmt.Sprintf(", %d VUs", pr.VUs)
	}
	if pr.Duration > 0 {
		prof += ", " + pr.Duration.String()
	}
	if pr.Warmup > 0 {
		prof += " (warm-up " + pr.Warmup.String() + ")"
	}
	add("profile", prof)
	e := f.Run.Env
	add("git sha", e.GitSHA)
	add("ref", e.Ref)
	add("host", e.Host)
	if e.OS != "" {
		add("platform", e.OS+"/"+e.Arch)
	}
	if e.CPUs > 0 {
		add("CPUs", strconv.Itoa(e.CPUs))
	}
	add("Go", e.GoVersion)
	add("loadgate", e.ToolVersion)
	if s := f.Run.StartedBy; s != nil {
		v := s.Via
		if s.Repository != "" {
			v += " · " + s.Repository
		}
		if s.RunID != "" {
			v += " · run " + s.RunID
		}
		if s.Actor != "" {
			v += " · by " + s.Actor
		}
		add("started by", v)
	}
	add("requests", fmt.Sprintf("%d (%d errors)", f.Total.Requests, f.Total.Errors))
	return r
}

// validityFacts lists what the run's own generator measured of its schedule.
// A peer tool's results (imported, or run by the exec runner) carry no
// schedule lag, late count or generator CPU: those read "not measured", not 0.
func validityFacts(runner string, v results.Validity) ([]kv, bool, []string) {
	dropped, lag, cpu := fmt.Sprintf("%d / %d", v.Dropped, v.Late),
		fmt.Sprintf("%s / %s", formatMs(v.LagP99Ms), formatMs(v.LagMaxMs)),
		fmt.Sprintf("%.0f%%", v.GeneratorCPU*100)
	if strings.HasPrefix(runner, "import") || strings.HasPrefix(runner, "exec") {
		const none = "— (not measured: the results come from another tool)"
		dropped, lag, cpu = none, none, none
	}
	items := []kv{
		{"valid", map[bool]string{true: "yes", false: "NO — the generator did not hold the schedule"}[v.Valid]},
		{"scheduled / sent", fmt.Sprintf("%d / %d", v.Scheduled, v.Sent)},
		{"dropped / late", dropped},
		{"schedule lag p99 / max", lag},
		{"generator CPU", cpu},
	}
	if v.Degraded {
		items = append(items, kv{"degraded", fmt.Sprintf("yes — %.0f%% of the intended load ran", v.LoadShare*100)})
	}
	if len(v.MissingWorkers) > 0 {
		items = append(items, kv{"missing workers", strings.Join(v.MissingWorkers, ", ")})
	}
	if v.StartSkewMs > 0 {
		items = append(items, kv{"worker start skew", formatMs(v.StartSkewMs)})
	}
	return items, !v.Valid, v.Reasons
}

func joinCounts(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func formatBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// pageHead is the page up to the title's text and pageStyle from its end to
// <body>: fixed text, written as is.
const pageHead = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<title>`

const pageStyle = ` — loadgate report</title>
<style>
:root{--fg:#1b1b1b;--muted:#5a5a5a;--line:#d0d7de;--bad:#b3261e;--badbg:#fde7e6;--good:#0b5394;--goodbg:#e3effa;--warn:#7a5a00;--warnbg:#fff4cc;--info:#3d3d3d;--infobg:#eeeeee;--ok:#1e6b34;--okbg:#e6f4ea}
*{box-sizing:border-box}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"Liberation Sans",Arial,sans-serif;color:var(--fg);margin:0 auto;padding:1.5rem;max-width:1200px;line-height:1.4}
h1{font-size:1.5rem;margin:0 0 .25rem}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:1px solid var(--line);padding-bottom:.25rem}
h3{font-size:1.05rem;margin:1.5rem 0 .25rem;word-break:break-all}
.sub{color:var(--muted);margin:.25rem 0 1rem}
.badge{display:inline-block;border-radius:4px;padding:.1rem .45rem;font-weight:600;white-space:nowrap}
.banner{font-size:1.1rem;padding:.4rem .8rem;border-radius:6px;display:inline-block;font-weight:700}
.bad{color:var(--bad);background:var(--badbg)}
.good{color:var(--good);background:var(--goodbg)}
.warn{color:var(--warn);background:var(--warnbg)}
.info{color:var(--info);background:var(--infobg)}
.ok{color:var(--ok);background:var(--okbg)}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{padding:.25rem .6rem;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
th{border-bottom:2px solid var(--line);white-space:nowrap}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.chg{font-variant-numeric:tabular-nums;white-space:nowrap}
tr.first td{border-top:1px solid var(--line)}
td.name{max-width:22rem;word-break:break-all}
td.name a{color:inherit;font-weight:600}
sup{color:var(--muted)}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:1rem}
figure{margin:0;border:1px solid var(--line);border-radius:6px;padding:.5rem;background:#fff}
figure svg{width:100%;height:auto;display:block}
figcaption{font-size:.85rem;color:var(--muted);margin-top:.25rem}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:.15rem 1rem;margin:.5rem 0;font-size:.9rem}
dl.kv dt{color:var(--muted)}
dl.kv dd{margin:0;word-break:break-all}
.runs{display:grid;grid-template-columns:repeat(auto-fit,minmax(340px,1fr));gap:1rem}
.card{border:1px solid var(--line);border-radius:6px;padding:.5rem .8rem}
.facts{font-size:.85rem;color:var(--muted)}
ol.notes{font-size:.9rem}
p.caveat{padding:.3rem .6rem;border-radius:4px;margin:.25rem 0;font-size:.9rem}
footer{margin-top:2rem;color:var(--muted);font-size:.8rem}
@media print{.figs{grid-template-columns:1fr}}
</style>
</head>
`
