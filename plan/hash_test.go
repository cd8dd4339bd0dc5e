package plan

import (
	"regexp"
	"testing"
)

// pinnedHash is the hash of TestHash's base plan.
const pinnedHash = "0a823a686f2ef07f"

func TestHash(t *testing.T) {
	t.Parallel()
	base := `name: h
target: http://127.0.0.1:8080/api
defaults: {headers: {Authorization: "Bearer ${TOKEN}"}, timeout: 1s}
endpoints:
  - {name: a, request: GET /a, weight: 2}
  - {name: b, request: POST /b, body: '{"x":1}'}
profile: {type: load, rate: 10/s, duration: 5s}
gate: {p95: +10%}
`
	hash := func(src string, env map[string]string) string {
		t.Helper()
		p, err := Parse([]byte(src), "h.yaml", ".", envOf(env))
		if err != nil {
			t.Fatalf("%v\n%s", err, src)
		}
		return p.Hash()
	}
	env := map[string]string{"TOKEN": "one"}
	h := hash(base, env)
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(h) {
		t.Fatalf("hash %q: want 16 hex digits", h)
	}
	// Pinned: a change here means baselines made by earlier versions stop
	// matching. Bump hashVersion when that is intended.
	if h != pinnedHash {
		t.Errorf("Hash = %s, pinned %s", h, pinnedHash)
	}
	if h != hash(base, env) {
		t.Error("hash is not deterministic")
	}
	same := map[string]string{
		"other host (paired mode)": rep(base, "http://127.0.0.1:8080/api", "https://staging.example.com/api"),
		"gate thresholds":          rep(base, "gate: {p95: +10%}", "gate: {p95: +50%, slo: {p99: 1s}}"),
		"timeout":                  rep(base, "timeout: 1s", "timeout: 3s"),
		"plan name":                rep(base, "name: h", "name: other"),
		"endpoint order":           rep(base, "  - {name: a, request: GET /a, weight: 2}\n  - {name: b, request: POST /b, body: '{\"x\":1}'}", "  - {name: b, request: POST /b, body: '{\"x\":1}'}\n  - {name: a, request: GET /a, weight: 2}"),
		"limits and allow":         base + "limits: {max_rate: 100/s}\ntargets: {allow: [127.0.0.1]}\n",
	}
	for name, src := range same {
		if got := hash(src, env); got != h {
			t.Errorf("%s changed the hash", name)
		}
	}
	// Where the target comes from does not matter: the workflow `init`
	// writes sets TARGET_URL, `baseline update` run by hand uses the default.
	fromEnv := rep(base, "http://127.0.0.1:8080/api", "${TARGET_URL:-http://127.0.0.1:8080/api}")
	if got := hash(fromEnv, map[string]string{"TOKEN": "one", "TARGET_URL": "http://10.1.2.3:9000/api"}); got != h {
		t.Error("a target from TARGET_URL hashed differently from the literal")
	}
	if got := hash(fromEnv, env); got != h {
		t.Error("a target from the ${TARGET_URL:-…} default hashed differently from the literal")
	}
	if got := hash(rep(base, "8080/api", "8080/api/"), env); got != h {
		t.Error("a trailing slash on the target changed the hash")
	}
	if hash(base, map[string]string{"TOKEN": "two"}) != h {
		t.Error("a different secret value changed the hash")
	}
	differ := map[string]string{
		"target path": rep(base, "8080/api", "8080/v2"),
		"method":      rep(base, "GET /a", "HEAD /a"),
		"path":        rep(base, "GET /a", "'GET /a?x=1'"),
		"weight":      rep(base, "weight: 2", "weight: 3"),
		"body":        rep(base, `{"x":1}`, `{"x":2}`),
		"header name": rep(base, "Authorization", "X-Auth"),
		"rate":        rep(base, "rate: 10/s", "rate: 11/s"),
		"duration":    rep(base, "duration: 5s", "duration: 6s"),
		"warmup":      rep(base, "duration: 5s", "duration: 5s, warmup: 1s"),
		"model":       rep(base, "rate: 10/s", "vus: 10"),
		"type":        rep(base, "type: load", "type: endurance"),
		"endpoint":    rep(base, "name: a,", "name: c,"),
	}
	seen := map[string]string{h: "base"}
	for name, src := range differ {
		got := hash(src, env)
		if prev, dup := seen[got]; dup {
			t.Errorf("%s: hash equals %s's", name, prev)
		}
		seen[got] = name
	}
}

// HTTP/2 or a connection per request is other load; the defaults, spelled
// out or not, keep the hash of a plan that never named them.
func TestHashCoversHTTPChoices(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(minimal), "p.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	base := p.Hash()
	same := *p
	same.HTTP = HTTP{Version: HTTP11}
	if same.Hash() != base {
		t.Error("http.version 1.1 (the default) changed the hash")
	}
	for _, h := range []HTTP{{Version: HTTP2}, {NoKeepAlive: true}} {
		q := *p
		q.HTTP = h
		if q.Hash() == base {
			t.Errorf("%+v: same hash as the default", h)
		}
	}
}
