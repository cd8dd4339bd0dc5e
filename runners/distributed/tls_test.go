package distributed

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners/runnertest"
)

// mtlsPlan is a plan against srv whose tls section names k's files relative
// to the plan's directory, as a user writes it.
func mtlsPlan(t *testing.T, k *runnertest.PKI, target, tlsSection string) *plan.Plan {
	t.Helper()
	if tlsSection == "" {
		tlsSection = "{ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}"
	}
	src := "name: mtls\ntarget: " + target + `
targets: {allow: [127.0.0.1]}
tls: ` + tlsSection + `
endpoints:
  - {name: a, request: GET /a}
profile: {type: load, rate: 10/s, duration: 1s}
`
	p, err := plan.Parse([]byte(src), filepath.Join(k.Dir, "plan.yaml"), k.Dir, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func keyEnv(k *runnertest.PKI) func(string) string {
	return func(name string) string {
		if name == TLSKeyEnv {
			return string(k.ClientKey)
		}
		return ""
	}
}

// assertNoKey fails when b holds any line of k's private key.
func assertNoKey(t *testing.T, what string, b []byte, k *runnertest.PKI) {
	t.Helper()
	for _, l := range k.KeyLines() {
		if bytes.Contains(b, l) {
			t.Fatalf("%s holds the client private key", what)
		}
	}
}

func TestTLSMaterialTravelsInThePlanTheKeyDoesNot(t *testing.T) {
	t.Parallel()
	k := runnertest.NewPKI(t)
	srv := k.NewMTLSServer(t)
	root := t.TempDir()
	l := &goLauncher{store: &DirStore{Root: root}, requests: 50, getenv: keyEnv(k), probe: true}
	p := mtlsPlan(t, k, srv.URL, "")
	f, err := New(fastOptions(t, l, 2)).Run(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Validity.Valid || f.Run.Workers != 2 {
		t.Fatalf("validity %+v workers %+v", f.Validity, f.Workers)
	}
	if n := srv.Verified.Load(); n != 2 {
		t.Fatalf("the mTLS target verified %d client certificates, want 2 (one probe per worker)", n)
	}
	stored, err := l.store.Get(context.Background(), planKey("run-1"))
	if err != nil {
		t.Fatal(err)
	}
	for name, pemBytes := range map[string][]byte{"CA": k.CAPEM, "client certificate": k.ClientPEM} {
		for _, line := range bytes.Split(bytes.TrimSpace(pemBytes), []byte("\n")) {
			if !bytes.Contains(stored, line) {
				t.Fatalf("stored plan lacks the %s (%q):\n%s", name, line, stored)
			}
		}
	}
	assertNoKey(t, "the stored plan", stored, k)
	if bytes.Contains(stored, []byte("client-key.pem")) || bytes.Contains(stored, []byte(`"ca_file"`)) {
		t.Errorf("stored plan names the coordinator's files:\n%s", stored)
	}
	walk, _ := filesHolding(t, root, string(k.KeyLines()[0]))
	if len(walk) > 0 {
		t.Errorf("the exchange holds the key in %v", walk)
	}
	if f.Plan.Hash != p.Hash() {
		t.Errorf("merged plan hash %s, plan's %s", f.Plan.Hash, p.Hash())
	}
}

func TestTLSWorkerWithoutKeyRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	k := runnertest.NewPKI(t)
	srv := k.NewMTLSServer(t)
	l := &goLauncher{store: &DirStore{Root: t.TempDir()}, requests: 50, probe: true, getenv: func(string) string { return "" }}
	o := fastOptions(t, l, 2)
	o.StartTimeout = 5 * time.Second
	_, err := New(o).Run(context.Background(), mtlsPlan(t, k, srv.URL, ""))
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), TLSKeyEnv+" not set") || !strings.Contains(err.Error(), "tls.key_file") {
		t.Fatalf("err %v, want a ConfigError naming %s", err, TLSKeyEnv)
	}
	if n := srv.Conns.Load(); n != 0 {
		t.Fatalf("the target got %d connections", n)
	}
}

func TestTLSWorkerWithAnotherKeyRefusesBeforeSending(t *testing.T) {
	t.Parallel()
	k := runnertest.NewPKI(t)
	other := runnertest.NewPKI(t)
	srv := k.NewMTLSServer(t)
	l := &goLauncher{store: &DirStore{Root: t.TempDir()}, requests: 50, probe: true, getenv: keyEnv(other)}
	o := fastOptions(t, l, 2)
	o.StartTimeout = 5 * time.Second
	_, err := New(o).Run(context.Background(), mtlsPlan(t, k, srv.URL, ""))
	var ce *ConfigError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), TLSKeyEnv) || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("err %v, want a ConfigError: the key in %s does not match the certificate", err, TLSKeyEnv)
	}
	assertNoKey(t, "the error", []byte(err.Error()), other)
	if n := srv.Conns.Load(); n != 0 {
		t.Fatalf("the target got %d connections", n)
	}
}

// A cert_file that also holds the key (one combined PEM file for cert_file
// and key_file) ships only its certificates.
func TestTLSCombinedCertAndKeyFileShipsOnlyTheCertificate(t *testing.T) {
	t.Parallel()
	k := runnertest.NewPKI(t)
	combined := append(append([]byte(nil), k.ClientPEM...), k.ClientKey...)
	if err := os.WriteFile(filepath.Join(k.Dir, "client-all.pem"), combined, 0o600); err != nil {
		t.Fatal(err)
	}
	p := mtlsPlan(t, k, "https://127.0.0.1:9", "{ca_file: ca.pem, cert_file: client-all.pem, key_file: client-all.pem}")
	b, _, err := encodePlan(p)
	if err != nil {
		t.Fatal(err)
	}
	assertNoKey(t, "the stored plan", b, k)
	q, err := decodePlan(b, keyEnv(k))
	if err != nil {
		t.Fatal(err)
	}
	c, err := q.TLSConfig()
	if err != nil || len(c.Certificates) != 1 || c.RootCAs == nil {
		t.Fatalf("decoded TLS config %v: %+v", err, c)
	}
	if q.Hash() != p.Hash() {
		t.Errorf("hash %s after the round trip, %s before", q.Hash(), p.Hash())
	}
}

// The coordinator checks the material before any worker is launched.
func TestTLSBadMaterialRefusedBeforeLaunch(t *testing.T) {
	t.Parallel()
	k := runnertest.NewPKI(t)
	other := runnertest.NewPKI(t)
	notPEM := filepath.Join(k.Dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		tls  plan.TLS
		want string
	}{
		"ca not PEM":    {plan.TLS{CAFile: "not.pem"}, "tls.ca_file"},
		"cert not PEM":  {plan.TLS{CertFile: "not.pem", KeyFile: "client-key.pem"}, "tls.cert_file"},
		"key mismatch":  {plan.TLS{CertFile: "client.pem", KeyFile: filepath.Join(other.Dir, "client-key.pem")}, "tls.key_file"},
		"ca missing":    {plan.TLS{CAFile: "gone.pem"}, "tls.ca_file"},
		"key without a": {plan.TLS{KeyFile: "client-key.pem"}, "tls.cert_file"},
	} {
		p := testPlan()
		p.Target, p.Dir, p.TLS = "https://127.0.0.1:9", k.Dir, c.tls
		l := &goLauncher{store: &DirStore{Root: t.TempDir()}, requests: 1}
		_, err := New(fastOptions(t, l, 1)).Run(context.Background(), p)
		var ce *ConfigError
		if !errors.As(err, &ce) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want a ConfigError about %s", name, err, c.want)
		}
		if l.states != nil {
			t.Errorf("%s: workers were launched", name)
		}
	}
}
