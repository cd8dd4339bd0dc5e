package pipeline

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/runnertest"
)

// Local workers get the plan's client key in their environment, and only
// that key: a LOADGATE_TLS_KEY left in the coordinator's own environment
// is not passed on.
func TestWorkerEnvCarriesThePlansTLSKey(t *testing.T) {
	t.Setenv(distributed.TLSKeyEnv, "stale key")
	k := runnertest.NewPKI(t)
	p, err := plan.Parse([]byte(`name: mtls
target: https://127.0.0.1:9
tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}
endpoints:
  - {name: a, request: GET /}
profile: {type: load, rate: 1/s, duration: 1s}
`), filepath.Join(k.Dir, "plan.yaml"), k.Dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	env, err := workerEnv(Env{Getenv: func(string) string { return "" }}, p)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, distributed.TLSKeyEnv+"="); ok {
			keys = append(keys, v)
		}
	}
	if len(keys) != 1 || keys[0] != string(k.ClientKey) {
		t.Fatalf("workers get %d %s values; want exactly the plan's key", len(keys), distributed.TLSKeyEnv)
	}
	// A plan without a client certificate passes no key at all.
	p.TLS = plan.TLS{CAFile: "ca.pem"}
	if env, err = workerEnv(Env{Getenv: func(string) string { return "" }}, p); err != nil {
		t.Fatal(err)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, distributed.TLSKeyEnv+"=") {
			t.Fatalf("a plan without a client certificate passes %s", distributed.TLSKeyEnv)
		}
	}
}
