package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners/runnertest"
)

// mtlsDistPlan names the PKI's files relative to the plan's directory, as a
// user writes them. Workers run in this package's directory, where these
// names resolve to nothing: they must get the material with the plan.
func mtlsDistPlan(url string) string {
	return `name: mtls
target: ` + url + `
targets: {allow: [127.0.0.1]}
tls: {ca_file: ca.pem, cert_file: client.pem, key_file: client-key.pem}
endpoints:
  - {name: a, request: GET /a}
profile: {type: load, rate: 40/s, duration: 2s}
`
}

// storeHolding lists the files under root holding any of lines.
func storeHolding(t *testing.T, root string, lines [][]byte) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, l := range lines {
			if bytes.Contains(b, l) {
				out = append(out, path)
				break
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// `run --workers 2` against a server that requires client certificates from
// a private CA: the worker processes verify the server with the inlined CA,
// present the inlined certificate with the key the coordinator passed in
// their environment, and the exchange never holds the key.
func TestWorkersMTLSEndToEnd(t *testing.T) {
	t.Parallel()
	serializeHeavy(t)
	bin := workerBinary(t)
	k := runnertest.NewPKI(t)
	srv := k.NewMTLSServer(t)
	store := filepath.Join(t.TempDir(), "store")
	planPath := writeFile(t, k.Dir, "plan.yaml", mtlsDistPlan(srv.URL))
	out := filepath.Join(t.TempDir(), "results.json")
	code, stdout, stderr := cli(t, context.Background(), nil, "run", planPath, "--workers", "2", "--worker-binary", bin,
		"--store-dir", store, "-o", out, "-q")
	r, err := results.ReadFile(out)
	if err != nil {
		t.Fatalf("exit %d, no results: %v\n%s\n%s", code, err, stdout, stderr)
	}
	if code != 0 && !(code == exitInvalid && strings.Contains(strings.Join(r.Validity.Reasons, " "), "behind")) {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
	}
	if r.Run.Workers != 2 || r.Validity.Degraded || r.Total.Requests < 40 || r.Total.Errors != 0 {
		t.Fatalf("workers %d validity %+v requests %d errors %d\n%s", r.Run.Workers, r.Validity, r.Total.Requests, r.Total.Errors, stderr)
	}
	if v := srv.Verified.Load(); v != r.Total.Requests {
		t.Errorf("the server verified a client certificate on %d requests of %d", v, r.Total.Requests)
	}
	if held := storeHolding(t, store, k.KeyLines()); len(held) > 0 {
		t.Errorf("the exchange holds the private key in %v", held)
	}
	plans, _ := filepath.Glob(filepath.Join(store, "*", "plan.json"))
	if len(plans) != 1 {
		t.Fatalf("plan.json files: %v", plans)
	}
	stored, err := os.ReadFile(plans[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range bytes.Split(bytes.TrimSpace(append(append([]byte(nil), k.CAPEM...), k.ClientPEM...)), []byte("\n")) {
		if !bytes.Contains(stored, l) {
			t.Fatalf("the stored plan lacks %q of the CA or client certificate", l)
		}
	}
	for _, l := range k.KeyLines() {
		if strings.Contains(stdout+stderr, string(l)) {
			t.Fatal("the output holds the private key")
		}
	}

	// The same stored plan, read by a worker whose environment lacks the
	// key (an ECS task definition without the secret): refused before it
	// reports ready, exit 2, naming the variable.
	runID := filepath.Base(filepath.Dir(plans[0]))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	code, _, stderr = cli(t, ctx, nil, "worker", "--store", store, "--run-id", runID, "--index", "0", "--region", "local")
	if code != exitUsage || !strings.Contains(stderr, "LOADGATE_TLS_KEY not set") || !strings.Contains(stderr, "tls.key_file") {
		t.Fatalf("worker without the key: exit %d, want %d naming LOADGATE_TLS_KEY\n%s", code, exitUsage, stderr)
	}
}
