package plan

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

const minimal = `name: m
target: http://127.0.0.1:8080
endpoints:
  - name: a
    request: GET /a
profile: {type: load, rate: 10/s, duration: 5s}
`

func TestParseMinimalDefaults(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(minimal), "m.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	e := p.Endpoints[0]
	if e.Method != "GET" || e.Path != "/a" || e.Weight != 1 || e.Timeout != 10*time.Second || len(e.Expect.Status) != 0 {
		t.Errorf("endpoint defaults: %+v", e)
	}
	if p.Defaults.MaxBodyBytes != 10<<20 || p.Defaults.Timeout != 10*time.Second {
		t.Errorf("defaults: %+v", p.Defaults)
	}
	if p.Profile.Warmup != 0 || p.Profile.Rate != 10 || p.Profile.Duration != 5*time.Second {
		t.Errorf("profile: %+v", p.Profile)
	}
	if p.Source != "m.yaml" || p.Dir != "." {
		t.Errorf("source/dir: %q %q", p.Source, p.Dir)
	}
}

func TestParseNameDefaultsToFileName(t *testing.T) {
	t.Parallel()
	src := strings.Replace(minimal, "name: m\n", "", 1)
	p, err := Parse([]byte(src), "dir/checkout-api.yaml", "dir", nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "checkout-api" {
		t.Errorf("name = %q", p.Name)
	}
	if _, err := Parse([]byte(src), "", "", nil); err == nil || !strings.Contains(err.Error(), "name: required") {
		t.Errorf("inline plan without name: %v", err)
	}
}

// TestParseErrors checks the exact positioned message for each bad input.
func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want []string
	}{
		{"invalid YAML", "name: x\ntarget: a: b\n", nil,
			[]string{"p.yaml:2:1: invalid YAML: mapping values are not allowed in this context"}},
		{"invalid YAML unclosed flow", "name: x\n\ntarget: [http://a\n", nil,
			[]string{"p.yaml:3:1: invalid YAML: did not find expected ',' or ']'"}},
		{"invalid YAML unclosed quote", "name: x\nendpoints:\n  - name: \"a\n", nil,
			[]string{"p.yaml:3:3: invalid YAML: found unexpected end of stream"}},
		{"invalid YAML tab", "name: x\n\ttarget: y\n", nil,
			[]string{"p.yaml:2:2: invalid YAML: found a tab character that violates indentation"}},
		{"empty", "", nil, []string{"p.yaml:1:1: empty plan: want a mapping with name, target, endpoints and profile"}},
		{"not a mapping", "- a\n- b\n", nil, []string{`p.yaml:1:1: want a mapping of plan keys, got a list`}},
		{"two documents", minimal + "---\nname: y\n", nil, []string{"p.yaml:7:1: a plan file holds one YAML document; found another"}},
		{"unknown key", minimal + "gaet: {}\n", nil, []string{`p.yaml:7:1: gaet: unknown key (did you mean "gate"?)`}},
		{"unknown key far", minimal + "colour: red\n", nil, []string{`p.yaml:7:1: colour: unknown key`}},
		{"duplicate key", minimal + "name: again\n", nil, []string{`p.yaml:7:1: name: duplicate key (first at line 1)`}},
		{"missing required", "name: x\n", nil, []string{
			"p.yaml:1:1: target: required (the base URL load is sent to, e.g. http://127.0.0.1:8080)",
			"p.yaml:1:1: endpoints: required: at least one endpoint",
			"p.yaml:1:1: profile: required (e.g. {type: load, rate: 50/s, duration: 30s})"}},
		{"wrong type weight", rep(minimal, "request: GET /a", "request: GET /a\n    weight: heavy"), nil,
			[]string{`p.yaml:6:13: endpoints[0].weight: want an integer, got "heavy"`}},
		{"weight zero", rep(minimal, "request: GET /a", "request: GET /a\n    weight: 0"), nil,
			[]string{`p.yaml:6:13: endpoints[0].weight: must be > 0`}},
		{"wrong type endpoints", rep(minimal, "endpoints:\n  - name: a\n    request: GET /a\n", "endpoints: {a: 1}\n"), nil,
			[]string{`p.yaml:3:12: endpoints: want a list of endpoints, got a mapping`}},
		{"wrong type name", rep(minimal, "name: m", "name: [m]"), nil,
			[]string{`p.yaml:1:7: name: want a string, got a list`}},
		{"negative rate", rep(minimal, "rate: 10/s", "rate: -5/s"), nil,
			[]string{`p.yaml:6:29: profile.rate: must be > 0, got "-5/s"`}},
		{"bad rate unit", rep(minimal, "rate: 10/s", "rate: 10/d"), nil,
			[]string{`p.yaml:6:29: profile.rate: want a rate like 200/s, 12000/m or 5/h, got "10/d" (unit must be s, m or h)`}},
		{"zero duration", rep(minimal, "duration: 5s", "duration: 0s"), nil,
			[]string{`p.yaml:6:45: profile.duration: must be > 0, got "0s"`}},
		{"duration without unit", rep(minimal, "duration: 5s", "duration: 5"), nil,
			[]string{`p.yaml:6:45: profile.duration: want a duration like 10s, 500ms or 1m30s, got "5"`}},
		{"unknown profile", rep(minimal, "type: load", "type: laod"), nil,
			[]string{`p.yaml:6:17: profile.type: unknown profile type "laod" (did you mean "load"?); one of load, stress, spike, endurance, scalability, volume, stages`}},
		{"profile key of other type", rep(minimal, "duration: 5s", "duration: 5s, multiplier: 3"), nil,
			[]string{`p.yaml:6:49: profile.multiplier: not used by profile type load (it uses rate, vus, duration, warmup, max_in_flight, think_time)`}},
		{"rate and vus", rep(minimal, "rate: 10/s", "rate: 10/s, vus: 3"), nil,
			[]string{`p.yaml:6:35: profile.vus: rate and vus are mutually exclusive (rate: open model, arrivals per second; vus: closed model)`}},
		{"no rate", rep(minimal, "rate: 10/s, ", ""), nil,
			[]string{`p.yaml:6:10: profile.rate: required: rate (open model, e.g. 100/s) or vus (closed model)`}},
		{"bad URL", rep(minimal, "http://127.0.0.1:8080", "ftp://x"), nil,
			[]string{`p.yaml:2:9: target: URL "ftp://x" must start with http:// or https://`}},
		{"URL without host", rep(minimal, "http://127.0.0.1:8080", "http://"), nil,
			[]string{`p.yaml:2:9: target: URL "http://" has no host`}},
		{"URL with query", rep(minimal, "http://127.0.0.1:8080", "http://a/?x=1"), nil,
			[]string{`p.yaml:2:9: target: URL "http://a/?x=1" must not have a query or fragment (put them in each endpoint's request)`}},
		{"bad method", rep(minimal, "GET /a", "GTE /a"), nil,
			[]string{`p.yaml:5:14: endpoints[0].request: unknown HTTP method "GTE" (did you mean "GET"?)`}},
		{"bad request form", rep(minimal, "GET /a", "/a"), nil,
			[]string{`p.yaml:5:14: endpoints[0].request: want "METHOD /path", e.g. "GET /products?page=1", got "/a"`}},
		{"relative path", rep(minimal, "GET /a", "GET a"), nil,
			[]string{`p.yaml:5:14: endpoints[0].request: path "a" must start with / (it is appended to target)`}},
		{"duplicate endpoint", rep(minimal, "request: GET /a\n", "request: GET /a\n  - name: a\n    request: GET /b\n"), nil,
			[]string{`p.yaml:6:11: endpoints[1].name: duplicate endpoint name "a" (also endpoints[0])`}},
		{"body and body_file", rep(minimal, "request: GET /a", "request: POST /a\n    body: x\n    body_file: x.json"), nil,
			[]string{`p.yaml:7:5: endpoints[0].body_file: body and body_file are mutually exclusive`}},
		{"unreadable body_file", rep(minimal, "request: GET /a", "request: POST /a\n    body_file: nope.json"), nil,
			[]string{`p.yaml:6:16: endpoints[0].body_file: cannot read: open testdata/nope.json: no such file or directory`}},
		{"bad tolerance", minimal + "gate: {p95: 10 percent}\n", nil,
			[]string{`p.yaml:7:13: gate.p95: want a tolerance like +10%, +0.5pp or +5ms, got "10 percent"`}},
		{"throughput sign", minimal + "gate: {throughput: +5%}\n", nil,
			[]string{`p.yaml:7:20: gate.throughput: tolerance "+5%" must be negative: a drop of throughput is the regression`}},
		{"pp on latency", minimal + "gate: {p99: +1pp}\n", nil,
			[]string{`p.yaml:7:13: gate.p99: tolerance "+1pp": percentage points (pp) apply to error_rate only`}},
		{"slo percent", minimal + "gate: {slo: {error_rate: 1}}\n", nil,
			[]string{`p.yaml:7:26: gate.slo.error_rate: want a percentage like 1% or 0.5%, got "1"`}},
		{"override unknown endpoint", minimal + "gate:\n  endpoints:\n    b: {p95: +5%}\n", nil,
			[]string{`p.yaml:9:5: gate.endpoints.b: no endpoint named "b"`}},
		{"override unknown key", minimal + "gate:\n  endpoints:\n    a: {p59: +5%}\n", nil,
			[]string{`p.yaml:9:9: gate.endpoints.a.p59: unknown key (did you mean "p50"?)`}},
		{"missing env", rep(minimal, "http://127.0.0.1:8080", "${TARGET_URL}"), nil,
			[]string{`p.yaml:2:9: target: environment variable TARGET_URL is not set (use ${TARGET_URL:-default} to give a default)`}},
		{"bad env syntax", rep(minimal, "http://127.0.0.1:8080", "${TARGET_URL"), nil,
			[]string{`p.yaml:2:9: target: unterminated ${ at offset 0 (write $$ for a literal $)`}},
		{"bad header", rep(minimal, "request: GET /a", "request: GET /a\n    headers: {\"X Y\": z}"), nil,
			[]string{`p.yaml:6:15: endpoints[0].headers.X Y: invalid header name "X Y"`}},
		{"status out of range", rep(minimal, "request: GET /a", "request: GET /a\n    expect: {status: [200, 700]}"), nil,
			[]string{`p.yaml:6:28: endpoints[0].expect.status[1]: must be <= 599, got 700`}},
		{"bad allow", minimal + "targets: {allow: [\"http://x\", 10.0.0.0/33, \"a:80\"]}\n", nil, []string{
			`p.yaml:7:19: targets.allow[0]: "http://x": list a host, IP or CIDR, not a URL`,
			`p.yaml:7:31: targets.allow[1]: "10.0.0.0/33": bad CIDR`,
			`p.yaml:7:44: targets.allow[2]: "a:80": list the host without a port`}},
		{"limits exceeded", minimal + "limits: {max_rate: 5/s, max_duration: 1s}\n", nil, []string{
			`p.yaml:7:20: limits.max_rate: the profile's peak rate 10/s exceeds max_rate 5/s`,
			`p.yaml:7:39: limits.max_duration: the profile's total duration 5s exceeds max_duration 1s`}},
		{"spike too long", rep(minimal, "type: load, rate: 10/s, duration: 5s", "type: spike, rate: 10/s, duration: 60s, spike_at: 30s, spike_duration: 30s"), nil,
			[]string{`p.yaml:6:66: profile.spike_duration: the spike must end before duration so recovery can be measured (spike_at 30s + spike_duration 30s >= duration 1m0s)`}},
		{"stress start above rate", rep(minimal, "type: load, rate: 10/s, duration: 5s", "type: stress, rate: 10/s, start_rate: 20/s"), nil,
			[]string{`p.yaml:6:49: profile.start_rate: must be <= rate (10/s), got 20/s`}},
		{"stress too many steps", rep(minimal, "type: load, rate: 10/s, duration: 5s", "type: stress, rate: 10000/s, step_rate: 1/s"), nil,
			[]string{`p.yaml:6:51: profile.step_rate: more than 1000 steps from 1/s to 10000/s; raise step_rate or start_rate`}},
		{"volume without payloads", rep(minimal, "type: load, rate: 10/s, duration: 5s", "type: volume, rate: 10/s"), nil,
			[]string{`p.yaml:6:10: profile.payloads: required: a list of payload sizes, e.g. [1KB, 64KB, 1MiB]`}},
		{"volume bad size", rep(minimal, "type: load, rate: 10/s, duration: 5s", "type: volume, rate: 10/s, payloads: [1KB, 2XB]"), nil,
			[]string{`p.yaml:6:53: profile.payloads[1]: want a size like 512, 64KB or 1MiB, got "2XB"`}},
		{"stages mixed", rep(minimal, "{type: load, rate: 10/s, duration: 5s}", "\n  type: stages\n  stages:\n    - {duration: 5s, rate: 1/s}\n    - {duration: 5s, vus: 2}\n    - {duration: 5s, rate: 1/s, vus: 2}\n    - {duration: 5s}"), nil,
			[]string{
				`p.yaml:10:22: profile.stages[1].vus: stages cannot mix vus (closed model) with rate/ramp (open model)`,
				`p.yaml:11:33: profile.stages[2].vus: rate and vus are mutually exclusive: a stage has one of rate, ramp or vus`,
				`p.yaml:12:7: profile.stages[3]: needs one of rate (e.g. 100/s), ramp (e.g. 10/s -> 100/s) or vus (e.g. 10)`}},
		{"bad ramp", rep(minimal, "{type: load, rate: 10/s, duration: 5s}", "\n  type: stages\n  stages:\n    - {duration: 5s, ramp: 10/s to 20/s}"), nil,
			[]string{`p.yaml:9:28: profile.stages[0].ramp: want a ramp like 10/s -> 100/s, got "10/s to 20/s"`}},
		{"runner import format", "name: x\nrunner: {import: {from: k6json, file: out.json}}\n", nil,
			[]string{`p.yaml:2:25: runner.import.from: unknown format "k6json" (did you mean "k6-json"?); one of k6-json, k6-summary, jmeter-csv, jmeter-xml, locust-stats, locust-history, vegeta-gob, vegeta-json, vegeta-csv, vegeta-report, gatling`}},
		{"empty strings", "name: \"\"\ntarget: ${T:-}\nendpoints:\n  - {name: '', request: ''}\nprofile: {type: ''}\n", nil, []string{
			`p.yaml:1:7: name: must not be empty`,
			`p.yaml:2:9: target: must not be empty`,
			`p.yaml:4:12: endpoints[0].name: must not be empty`,
			`p.yaml:4:25: endpoints[0].request: must not be empty`,
			`p.yaml:5:17: profile.type: must not be empty`}},
		{"max_in_flight closed", rep(minimal, "rate: 10/s", "vus: 10, max_in_flight: 5"), nil,
			[]string{`p.yaml:6:32: profile.max_in_flight: applies to the open model (rate); with vus the number of users bounds concurrency`}},
		{"many problems sorted", "name: x\ntarget: nope\nendpoints:\n  - name: a\n    request: GET /a\n    weight: -1\nprofile: {type: load, rate: 0, duration: 1s}\n", nil, []string{
			`p.yaml:2:9: target: URL "nope" must start with http:// or https://`,
			`p.yaml:6:13: endpoints[0].weight: must be > 0`,
			`p.yaml:7:29: profile.rate: must be > 0, got "0"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse([]byte(tt.src), "p.yaml", "testdata", envOf(tt.env))
			var perr *Errors
			if !errors.As(err, &perr) {
				t.Fatalf("err = %v (%T), want *Errors", err, err)
			}
			var got []string
			for _, e := range perr.List {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
			if err.Error() != strings.Join(got, "\n") {
				t.Errorf("Error() = %q", err.Error())
			}
		})
	}
}

func rep(s, old, new string) string {
	if !strings.Contains(s, old) {
		panic("rep: " + old + " not in plan")
	}
	return strings.Replace(s, old, new, 1)
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"), nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
	if !strings.Contains(err.Error(), "nope.yaml") {
		t.Errorf("error does not name the file: %v", err)
	}
}

func TestLoadBodyFileRelativeToPlan(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "body.json"), []byte(`{"sku":"A1"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	src := rep(minimal, "request: GET /a", "request: post /a\n    body_file: body.json")
	path := filepath.Join(dir, "p.yaml")
	if err := os.WriteFile(path, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if e := p.Endpoints[0]; e.Body != `{"sku":"A1"}` || e.BodyFile != "body.json" || e.Method != "POST" {
		t.Errorf("endpoint = %+v", e)
	}
}

func TestHeadersAndExpectMerge(t *testing.T) {
	t.Parallel()
	src := `name: h
target: http://127.0.0.1:1/api/
defaults:
  timeout: 2s
  max_body_bytes: 1MiB
  headers: {Accept: application/json, X-Trace: "1"}
  expect: {status: 200}
endpoints:
  - name: a
    request: GET /a
    headers: {accept: text/plain}
  - name: b
    request: GET /b
    timeout: 500ms
    expect: {status: [200, 404]}
profile: {type: load, vus: 2, duration: 1s}
`
	p, err := Parse([]byte(src), "h.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Endpoints[0], p.Endpoints[1]
	if !reflect.DeepEqual(a.Headers, map[string]string{"accept": "text/plain", "X-Trace": "1"}) {
		t.Errorf("a headers = %v", a.Headers)
	}
	if a.Timeout != 2*time.Second || b.Timeout != 500*time.Millisecond {
		t.Errorf("timeouts %v %v", a.Timeout, b.Timeout)
	}
	if !reflect.DeepEqual(a.Expect.Status, []int{200}) || !reflect.DeepEqual(b.Expect.Status, []int{200, 404}) {
		t.Errorf("expect %v %v", a.Expect, b.Expect)
	}
	if p.Defaults.MaxBodyBytes != 1<<20 {
		t.Errorf("max_body_bytes = %d", p.Defaults.MaxBodyBytes)
	}
	if got := p.URL(&p.Endpoints[0]); got != "http://127.0.0.1:1/api/a" {
		t.Errorf("URL = %q", got)
	}
	if !p.Profile.Closed() || p.PeakVUs() != 2 || p.PeakRate() != 0 {
		t.Errorf("closed model: %+v", p.Profile)
	}
}

func TestMergeKeysAndAliases(t *testing.T) {
	t.Parallel()
	src := `name: anchors
target: http://127.0.0.1:1
endpoints:
  - &base {name: a, request: GET /a, weight: 3}
  - <<: *base
    name: b
profile: {type: load, rate: 1/s, duration: 1s}
`
	p, err := Parse([]byte(src), "a.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	if b := p.Endpoints[1]; b.Name != "b" || b.Path != "/a" || b.Weight != 3 {
		t.Errorf("merged endpoint = %+v", b)
	}
}

func TestAliasBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n")
	for i := 1; i < 12; i++ {
		b.WriteString("a")
		b.WriteString(string(rune('0' + i%10)))
		b.WriteString(strings.Repeat("z", i))
		b.WriteString(": &b")
		b.WriteString(strings.Repeat("z", i))
		b.WriteString(" [")
		for j := 0; j < 10; j++ {
			if j > 0 {
				b.WriteString(", ")
			}
			if i == 1 {
				b.WriteString("*a0")
			} else {
				b.WriteString("*b" + strings.Repeat("z", i-1))
			}
		}
		b.WriteString("]\n")
	}
	b.WriteString("targets: {allow: *b" + strings.Repeat("z", 11) + "}\n")
	_, err := Parse([]byte(b.String()), "bomb.yaml", ".", nil)
	if err == nil {
		t.Fatal("alias bomb parsed")
	}
}
