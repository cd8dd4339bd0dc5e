package plan

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

const refsPlan = `name: refs
target: http://127.0.0.1:9/${BASE}
targets: {allow: [127.0.0.1]}
defaults:
  headers: {Authorization: "Bearer ${TOKEN}"}
endpoints:
  - name: a
    request: GET /a?key=${KEY}&k2=${KEY2:-${TOKEN}}
    body: 'price $5, literal $${TOKEN}, pass=${PASS}, short=${SHORT}'
    weight: ${WEIGHT:-2}
  - name: b
    request: POST /b
    headers: {X-Api-Key: "${KEY}"}
profile: {type: load, rate: 33.3333/s, duration: 2s}
`

func TestMarshalRefsKeepsSecretsOut(t *testing.T) {
	t.Parallel()
	env := map[string]string{"BASE": "v1", "TOKEN": "tok-abcdef-123", "KEY": "k$99", "PASS": "p@ss}word", "SHORT": "tok-abc", "WEIGHT": "3"}
	p, err := Parse([]byte(refsPlan), "refs.yaml", ".", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if p.SecretEnv["tok-abcdef-123"] != "TOKEN" || p.SecretEnv["k$99"] != "KEY" || len(p.SecretEnv) != 5 {
		t.Fatalf("SecretEnv %q", p.SecretEnv)
	}
	b, needs, err := p.MarshalRefs()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Secrets {
		if strings.Contains(string(b), s) {
			t.Errorf("stored plan holds secret %q:\n%s", s, b)
		}
	}
	// Weight is a number, not a secret: it needs no variable.
	if want := []string{"BASE", "KEY", "PASS", "SHORT", "TOKEN"}; !reflect.DeepEqual(needs, want) {
		t.Errorf("needs %q, want %q", needs, want)
	}
	t.Logf("%s", b)

	q, err := UnmarshalRefs(b, envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	if q.Hash() != p.Hash() || !reflect.DeepEqual(q.Endpoints, stripLines(p.Endpoints)) || q.Target != p.Target ||
		!reflect.DeepEqual(q.Secrets, p.Secrets) || !reflect.DeepEqual(q.SecretEnv, p.SecretEnv) || q.Profile.Rate != p.Profile.Rate {
		t.Fatalf("round trip\n got %+v\nwant %+v", q, p)
	}
	if got := q.Endpoints[0].Body; got != "price $5, literal ${TOKEN}, pass=p@ss}word, short=tok-abc" {
		t.Errorf("body %q", got)
	}

	// A rotated token on the worker: its value is used, the hash stays.
	env2 := map[string]string{}
	for k, v := range env {
		env2[k] = v
	}
	env2["TOKEN"] = "rotated"
	r, err := UnmarshalRefs(b, envOf(env2))
	if err != nil {
		t.Fatal(err)
	}
	if r.Defaults.Headers["Authorization"] != "Bearer rotated" || r.Hash() != p.Hash() || r.Redact("Bearer rotated") != "Bearer ***" {
		t.Errorf("rotated: %q hash %s vs %s", r.Defaults.Headers, r.Hash(), p.Hash())
	}
}

func stripLines(eps []Endpoint) []Endpoint {
	out := append([]Endpoint(nil), eps...)
	for i := range out {
		out[i].Line = 0
	}
	return out
}

func TestUnmarshalRefsNamesEveryMissingVariable(t *testing.T) {
	t.Parallel()
	env := map[string]string{"BASE": "v1", "TOKEN": "tok", "KEY": "key", "PASS": "pw", "SHORT": "s"}
	p, err := Parse([]byte(refsPlan), "refs.yaml", ".", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := p.MarshalRefs()
	if err != nil {
		t.Fatal(err)
	}
	for _, getenv := range []func(string) string{nil, envOf(map[string]string{"BASE": "v1", "KEY": "key", "SHORT": "s", "TOKEN": ""})} {
		_, err = UnmarshalRefs(b, getenv)
		var me *MissingEnvError
		if !errors.As(err, &me) {
			t.Fatalf("err %v, want *MissingEnvError", err)
		}
		if getenv != nil && (!reflect.DeepEqual(me.Names, []string{"PASS", "TOKEN"}) || err.Error() != "environment variables PASS, TOKEN not set") {
			t.Errorf("err %v names %q", err, me.Names)
		}
	}
}

func TestMarshalRefsRefusesSecretsOfUnknownOrigin(t *testing.T) {
	t.Parallel()
	p := &Plan{Name: "x", Target: "http://h", Secrets: []string{"tok"},
		Defaults: Defaults{Headers: map[string]string{"Authorization": "tok"}}}
	if b, _, err := p.MarshalRefs(); err == nil || strings.Contains(err.Error(), "tok") {
		t.Fatalf("stored %s, err %v", b, err)
	}
}

func TestUnmarshalRefsRejectsBadSyntax(t *testing.T) {
	t.Parallel()
	if _, err := UnmarshalRefs([]byte(`{"name":"${unterminated"}`), envOf(nil)); err == nil {
		t.Fatal("accepted")
	}
	if _, err := UnmarshalRefs([]byte(`{"name":"x"} {}`), envOf(nil)); err == nil {
		t.Fatal("trailing data accepted")
	}
}
