package plan

import (
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
