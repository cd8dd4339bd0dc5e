package plan

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TLS and HTTP keys: accepted values, positioned errors, and never a key's
// content in a message.
func TestParseTLSAndHTTP(t *testing.T) {
	t.Parallel()
	dir := "../examples/plans"
	ok := minimal + `tls: {ca_file: tls/ca.pem, cert_file: tls/client.pem, key_file: tls/client-key.pem, server_name: api.test, min_version: "1.3"}
http: {version: 2, keep_alive: false}
`
	p, err := Parse([]byte(ok), "p.yaml", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if p.TLS.CAFile != "tls/ca.pem" || p.TLS.MinVersion != "1.3" || p.HTTP.Version != HTTP2 || !p.HTTP.NoKeepAlive {
		t.Errorf("parsed %+v %+v", p.TLS, p.HTTP)
	}
	c, err := p.TLSConfig()
	if err != nil || len(c.Certificates) != 1 || c.RootCAs == nil || c.ServerName != "api.test" {
		t.Errorf("TLSConfig: %v", err)
	}

	keyPEM, err := os.ReadFile(filepath.Join(dir, "tls/client-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ src, want string }{
		{`tls: {ca_file: nope.pem}`, `p.yaml:7:16: tls.ca_file: open ../examples/plans/nope.pem: no such file or directory`},
		{`tls: {ca_file: tls/client-key.pem}`, `p.yaml:7:16: tls.ca_file: tls/client-key.pem holds no PEM certificate`},
		{`tls: {cert_file: tls/client.pem}`, `p.yaml:7:6: tls.key_file: required with tls.cert_file`},
		{`tls: {cert_file: tls/client.pem, key_file: tls/ca.pem}`, `p.yaml:7:44: tls.key_file: tls: found a certificate rather than a key in the PEM for the private key`},
		{`tls: {cert_file: tls/client-key.pem, key_file: tls/client-key.pem}`, `p.yaml:7:18: tls.cert_file: tls: failed to find certificate PEM data in certificate input, but did find a private key; PEM inputs may have been switched`},
		{`tls: {min_version: "1.1"}`, `p.yaml:7:20: tls.min_version: "1.1" is not a TLS version: want 1.2 or 1.3`},
		{`tls: {insecure_skip_verify: yes}`, `p.yaml:7:29: tls.insecure_skip_verify: want true or false, got "yes"`},
		{`tls: {insecure_skip_verify: true, ca_file: tls/ca.pem}`, `p.yaml:7:29: tls.insecure_skip_verify: contradicts tls.ca_file: a CA file is only useful when certificates are verified`},
		{`tls: {server_nam: x}`, `p.yaml:7:7: tls.server_nam: unknown key (did you mean "server_name"?)`},
		{`http: {version: 3}`, `p.yaml:7:17: http.version: "3" is not an HTTP version: want 1.1 or 2`},
		{`http: {keep_alive: sometimes}`, `p.yaml:7:20: http.keep_alive: want true or false, got "sometimes"`},
		{`http: {server_timing: "db time"}`, "p.yaml:7:23: http.server_timing: \"db time\" is not a Server-Timing metric name: want auto, off or a name of letters, digits and !#$%&'*+-.^_`|~"},
		{`http: {server_timing: [db]}`, `p.yaml:7:23: http.server_timing: want a string, got a list`},
	} {
		_, err := Parse([]byte(minimal+tc.src+"\n"), "p.yaml", dir, nil)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s:\n got %v\nwant %s", tc.src, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), strings.TrimSpace(string(keyPEM[40:80]))) {
			t.Errorf("%s: the error shows the key file's content", tc.src)
		}
	}
}

// ShippableTLS inlines the certificates (only them), drops every file name,
// names the key's variable instead of the key, and the shipped section
// works once given the key, with the plan hash unchanged.
func TestShippableTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join("../examples/plans/tls", name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ca, cert, key := read("ca.pem"), read("client.pem"), read("client-key.pem")
	// One file holding certificate and key, as some tools write them.
	if err := os.WriteFile(filepath.Join(dir, "all.pem"), append(append([]byte(nil), cert...), key...), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), ca, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Parse([]byte(minimal+"tls: {ca_file: ca.pem, cert_file: all.pem, key_file: all.pem, server_name: api.test}\n"), "p.yaml", dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := p.ShippableTLS("KEY_VAR")
	if err != nil {
		t.Fatal(err)
	}
	if st.CAFile != "" || st.CertFile != "" || st.KeyFile != "" || st.KeyEnv != "KEY_VAR" || st.ServerName != "api.test" ||
		!strings.Contains(st.CAPEM, "BEGIN CERTIFICATE") || strings.Count(st.CertPEM, "BEGIN ") != 1 {
		t.Fatalf("shipped %+v", st)
	}
	keyBody := strings.Split(string(key), "\n")[1]
	if strings.Contains(st.CertPEM+st.CAPEM, keyBody) {
		t.Fatal("the shipped section holds the key")
	}
	shipped := *p
	shipped.TLS = st
	if shipped.Hash() != p.Hash() {
		t.Errorf("hash %s shipped, %s as written", shipped.Hash(), p.Hash())
	}
	// Without the key: an error naming the variable, not a config without
	// a client certificate.
	if _, err := shipped.TLSConfig(); err == nil || !strings.Contains(err.Error(), "KEY_VAR, which is not set") {
		t.Fatalf("TLSConfig without the key: %v", err)
	}
	shipped.SetTLSKey(key)
	c, err := shipped.TLSConfig()
	if err != nil || len(c.Certificates) != 1 || c.RootCAs == nil || c.ServerName != "api.test" {
		t.Fatalf("TLSConfig with the key: %v", err)
	}
	// Another key: mismatch, naming where the key came from, never its content.
	ok, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ok)
	if err != nil {
		t.Fatal(err)
	}
	other := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	shipped.SetTLSKey(other)
	if _, err := shipped.TLSConfig(); err == nil || !strings.Contains(err.Error(), "the key in KEY_VAR") || strings.Contains(err.Error(), strings.Split(string(other), "\n")[1]) {
		t.Errorf("TLSConfig with another key: %v", err)
	}
	// TLSKeyPEM gives the key blocks only, for a local worker's environment.
	kp, err := p.TLSKeyPEM()
	if err != nil || strings.Contains(string(kp), "CERTIFICATE") || !strings.Contains(string(kp), keyBody) {
		t.Fatalf("TLSKeyPEM: %v\n%s", err, kp)
	}

	// Material that would not work is refused before it is shipped.
	q := &Plan{Dir: dir, TLS: TLS{CertFile: "ca.pem", KeyFile: "all.pem"}}
	if _, err := q.ShippableTLS("KEY_VAR"); err == nil || !strings.Contains(err.Error(), "tls.key_file") {
		t.Errorf("mismatched certificate and key shipped: %v", err)
	}
	if st, err := (&Plan{TLS: TLS{InsecureSkipVerify: true}}).ShippableTLS("KEY_VAR"); err != nil || st.KeyEnv != "" || !st.InsecureSkipVerify {
		t.Errorf("no files: %+v %v", st, err)
	}
}

// http.server_timing: auto (or empty) is the default, off and names are kept;
// the choice does not change the plan hash (it reads the responses, it does
// not shape the load) and survives the JSON a distributed worker receives.
func TestParseServerTiming(t *testing.T) {
	t.Parallel()
	base, err := Parse([]byte(minimal), "p.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	for src, want := range map[string]string{
		`http: {server_timing: auto}`: ServerTimingAuto, `http: {server_timing: ""}`: ServerTimingAuto,
		`http: {server_timing: "off"}`: ServerTimingOff, `http: {server_timing: db.query}`: "db.query",
	} {
		p, err := Parse([]byte(minimal+src+"\n"), "p.yaml", ".", nil)
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		if p.HTTP.ServerTiming != want {
			t.Errorf("%s: server_timing %q, want %q", src, p.HTTP.ServerTiming, want)
		}
		if p.Hash() != base.Hash() {
			t.Errorf("%s: the plan hash changed", src)
		}
		b, err := json.Marshal(p.HTTP)
		var back HTTP
		if err != nil || json.Unmarshal(b, &back) != nil || back != p.HTTP {
			t.Errorf("%s: HTTP section does not round-trip through JSON: %s", src, b)
		}
	}
}
