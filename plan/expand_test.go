package plan

import (
	"reflect"
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	env := envOf(map[string]string{"A": "alpha", "B": "beta", "EMPTY": ""})
	tests := []struct {
		in, want string
		fromEnv  []string
		err      string
	}{
		{in: "plain", want: "plain"},
		{in: "${A}", want: "alpha", fromEnv: []string{"alpha"}},
		{in: "x-${A}-${B}-y", want: "x-alpha-beta-y", fromEnv: []string{"alpha", "beta"}},
		{in: "${C:-dflt}", want: "dflt"},
		{in: "${EMPTY:-dflt}", want: "dflt"},
		{in: "${A:-dflt}", want: "alpha", fromEnv: []string{"alpha"}},
		{in: "${C:-}", want: ""},
		{in: "${C:-${B}}", want: "beta", fromEnv: []string{"beta"}},
		{in: "${C:-${D:-deep}}", want: "deep"},
		{in: "$${A}", want: "${A}"},
		{in: "cost: $5 and $$", want: "cost: $5 and $"},
		{in: "trailing $", want: "trailing $"},
		{in: "${C}", err: "environment variable C is not set (use ${C:-default} to give a default)"},
		{in: "${EMPTY}", err: "environment variable EMPTY is not set"},
		{in: "${A", err: "unterminated ${ at offset 0"},
		{in: "${1A}", err: `invalid variable name "1A"`},
		{in: "${}", err: `invalid variable name ""`},
		{in: "${A B}", err: `invalid variable name "A B"`},
	}
	for _, tt := range tests {
		got, fromEnv, err := expand(tt.in, env)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("expand(%q) err = %v, want %q", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want || !reflect.DeepEqual(fromEnv, tt.fromEnv) {
			t.Errorf("expand(%q) = %q, %q, %v; want %q, %q", tt.in, got, fromEnv, err, tt.want, tt.fromEnv)
		}
	}
}

func TestSecretsAndRedact(t *testing.T) {
	t.Parallel()
	src := `name: s
target: ${TARGET_URL:-http://127.0.0.1:9}
defaults:
  headers: {Authorization: "Bearer ${API_TOKEN}"}
endpoints:
  - name: a
    request: GET /a?key=${KEY}
    body: '{"user":"${USER_NAME:-guest}"}'
    weight: ${WEIGHT:-2}
profile: {type: load, rate: "${RATE}", duration: 1s}
`
	env := map[string]string{"API_TOKEN": "tok-123", "KEY": "k-999", "RATE": "7/s", "TARGET_URL": "", "WEIGHT": "3"}
	p, err := Parse([]byte(src), "s.yaml", ".", envOf(env))
	if err != nil {
		t.Fatal(err)
	}
	// Only string content is secret; numbers (rate, weight) and defaults are not.
	if want := []string{"tok-123", "k-999"}; !reflect.DeepEqual(p.Secrets, want) {
		t.Errorf("Secrets = %q, want %q", p.Secrets, want)
	}
	if p.Profile.Rate != 7 || p.Endpoints[0].Weight != 3 || p.Target != "http://127.0.0.1:9" || p.Endpoints[0].Body != `{"user":"guest"}` {
		t.Errorf("expanded plan: %+v", p)
	}
	if got := p.Redact("Authorization: Bearer tok-123 /a?key=k-999"); got != "Authorization: Bearer *** /a?key=***" {
		t.Errorf("Redact = %q", got)
	}
}

func TestRedactLongestFirst(t *testing.T) {
	t.Parallel()
	p := &Plan{Secrets: sortSecrets(map[string]bool{"abc": true, "abcdef": true, "": true})}
	if got := p.Redact("x abcdef y abc"); got != "x *** y ***" {
		t.Errorf("Redact = %q", got)
	}
	if got := (*Plan)(nil).Redact("abc"); got != "abc" {
		t.Errorf("nil plan Redact = %q", got)
	}
}

func TestSecretsHiddenFromErrors(t *testing.T) {
	t.Parallel()
	src := rep(minimal, "GET /a", "GET ${P}")
	_, err := Parse([]byte(src), "p.yaml", ".", envOf(map[string]string{"P": "secretpath"}))
	if err == nil || strings.Contains(err.Error(), "secretpath") || !strings.Contains(err.Error(), `path "***" must start with /`) {
		t.Errorf("err = %v", err)
	}
}
