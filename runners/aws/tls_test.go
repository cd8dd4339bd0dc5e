package aws

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/internal/ecsemu"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners/distributed"
	"github.com/loadgate/loadgate/runners/runnertest"
)

const tlsKeySSMArn = "arn:aws:ssm:eu-west-1:123456789012:parameter/loadgate/LOADGATE_TLS_KEY"

// mtlsPlan names k's files relative to the plan's directory; the tasks have
// none of them.
func mtlsPlan(t *testing.T, k *runnertest.PKI, target string) *plan.Plan {
	t.Helper()
	src := "name: aws-mtls\ntarget: " + target + `
targets: {allow: [127.0.0.1]}
tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}
endpoints:
  - {name: a, request: GET /a}
profile: {type: load, rate: 100/s, duration: 1s}
`
	p, err := plan.Parse([]byte(src), filepath.Join(k.Dir, "plan.yaml"), k.Dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// The tasks verify the server with the CA inlined in the stored plan and
// present the inlined client certificate with the key ECS put in their
// environment from the task definition's secret (an SSM parameter): no
// object in S3 and no RunTask request holds the key.
func TestECSTLSKeyFromTaskDefinitionSecret(t *testing.T) {
	t.Parallel()
	k := runnertest.NewPKI(t)
	srv := k.NewMTLSServer(t)
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond,
		TaskDefinitionSecrets: map[string][]ecsemu.Secret{"loadgate-worker": {{Name: distributed.TLSKeyEnv, ValueFrom: tlsKeySSMArn}}},
		SecretValues:          map[string]string{tlsKeySSMArn: string(k.ClientKey)}})
	f.plan, f.probe = mtlsPlan(t, k, srv.URL), true
	res, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 3, "us-east-1": 1}, distributed.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Validity.Valid || res.Run.Workers != 4 {
		t.Fatalf("validity %+v workers %+v", res.Validity, res.Workers)
	}
	if v := srv.Verified.Load(); v != 4 {
		t.Fatalf("the server verified %d client certificates, want 4 (one probe per task)", v)
	}
	for _, l := range k.KeyLines() {
		if holding, n := f.objectsHolding(t, string(l)); len(holding) > 0 || n < 4*3 {
			t.Fatalf("%d objects in S3; holding the key: %v", n, holding)
		}
		for _, raw := range f.emu.RunTaskRequests() {
			if bytes.Contains(raw, l) {
				t.Fatalf("RunTask request holds the key: %s", raw)
			}
		}
	}
	if holding, _ := f.objectsHolding(t, strings.Split(string(k.CAPEM), "\n")[1]); len(holding) != 1 || !strings.HasSuffix(holding[0], "/plan.json") {
		t.Errorf("objects holding the CA: %v, want the stored plan", holding)
	}
	var merged bytes.Buffer
	if err := results.Encode(&merged, res); err != nil {
		t.Fatal(err)
	}
	for _, l := range k.KeyLines() {
		if bytes.Contains(merged.Bytes(), l) {
			t.Fatal("merged results hold the key")
		}
	}
}

// A task definition without the key secret: every task refuses before it
// reports ready, nothing reaches the target, and the run is a configuration
// error naming the variable.
func TestECSWorkerWithoutTLSKeyRefuses(t *testing.T) {
	t.Parallel()
	k := runnertest.NewPKI(t)
	srv := k.NewMTLSServer(t)
	f := newFixture(t, ecsemu.Options{ProvisionDelay: 50 * time.Millisecond})
	f.plan, f.probe = mtlsPlan(t, k, srv.URL), true
	_, _, err := f.run(t, context.Background(), map[string]int{"eu-west-1": 2}, distributed.Options{StartTimeout: 10 * time.Second})
	var ce *distributed.ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), distributed.TLSKeyEnv+" not set") || !strings.Contains(err.Error(), "task definition") {
		t.Fatalf("err %v, want a ConfigError naming %s", err, distributed.TLSKeyEnv)
	}
	if n := srv.Conns.Load(); n != 0 {
		t.Fatalf("the target got %d connections", n)
	}
}
