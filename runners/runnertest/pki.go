package runnertest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

// PKI is a private CA with a server certificate for 127.0.0.1 and a client
// certificate, its files written to Dir as ca.pem, client.pem and
// client-key.pem (the names a plan's tls section refers to, relative to Dir).
type PKI struct {
	Dir                  string
	CAPEM                []byte
	ClientPEM, ClientKey []byte // certificate and private key (PEM)
	Pool                 *x509.CertPool
	Server               tls.Certificate
}

// NewPKI creates a PKI valid for an hour around now.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loadgate test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(serial int64, usage x509.ExtKeyUsage, name string) (certPEM, keyPEM []byte) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, KeyUsage: x509.KeyUsageDigitalSignature,
		}
		if usage == x509.ExtKeyUsageServerAuth {
			tmpl.DNSNames = []string{"lg.test"}
			tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
	}
	k := &PKI{Dir: t.TempDir(), Pool: x509.NewCertPool()}
	k.Pool.AddCert(ca)
	k.CAPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	sc, sk := issue(2, x509.ExtKeyUsageServerAuth, "lg.test")
	if k.Server, err = tls.X509KeyPair(sc, sk); err != nil {
		t.Fatal(err)
	}
	k.ClientPEM, k.ClientKey = issue(3, x509.ExtKeyUsageClientAuth, "loadgate client")
	for name, b := range map[string][]byte{"ca.pem": k.CAPEM, "client.pem": k.ClientPEM, "client-key.pem": k.ClientKey} {
		if err := os.WriteFile(filepath.Join(k.Dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return k
}

// KeyLines are the base64 lines of the client key's PEM body: a store or a
// log holding any of them holds (part of) the key, however it was escaped.
func (k *PKI) KeyLines() [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(k.ClientKey, []byte("\n")) {
		if len(l) > 0 && !bytes.HasPrefix(l, []byte("-----")) {
			out = append(out, l)
		}
	}
	return out
}

// MTLSServer is an HTTPS server with k's server certificate that requires and
// verifies a client certificate issued by k's CA. Verified counts the
// requests that arrived with one, Conns every connection accepted (a
// handshake that failed included).
type MTLSServer struct {
	*httptest.Server
	Verified, Conns atomic.Int64
}

// NewMTLSServer starts an MTLSServer answering 200 "ok".
func (k *PKI) NewMTLSServer(t testing.TB) *MTLSServer {
	t.Helper()
	s := &MTLSServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.VerifiedChains) > 0 {
			s.Verified.Add(1)
		}
		_, _ = w.Write([]byte("ok\n"))
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.Conns.Add(1)
		}
	}
	s.Config.ErrorLog = log.New(io.Discard, "", 0) // refused handshakes are what some tests expect
	s.TLS = &tls.Config{Certificates: []tls.Certificate{k.Server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: k.Pool}
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}
