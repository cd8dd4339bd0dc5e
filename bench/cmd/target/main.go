// Command target serves internal/target on loopback for the benchmarks:
// /fast, /delay?ms=N, /stall, /stats, … It prints its address on stdout.
// With -tls-dir it serves HTTPS (HTTP/1.1 and HTTP/2) with a certificate
// for 127.0.0.1 from a CA it generates, and writes ca.pem, cert.pem and
// key.pem there (nginx's HTTPS server uses the same pair).
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"fmt"
	"log"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/loadgate/loadgate/internal/target"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:0", "listen address (loopback only)")
	period := flag.Duration("stall-period", target.DefaultStallPeriod, "/stall period")
	stall := flag.Duration("stall-for", target.DefaultStallFor, "/stall stall length")
	addrFile := flag.String("addr-file", "", "also write the address to this file")
	freePort := flag.Bool("free-port", false, "print a free loopback port and exit (for other servers)")
	tlsDir := flag.String("tls-dir", "", "serve HTTPS; write the generated ca.pem, cert.pem and key.pem here")
	noServerTiming := flag.Bool("no-server-timing", false, "send no Server-Timing header (a target that does not report its own time)")
	flag.Parse()
	if *freePort {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			log.Fatal(err)
		}
		fmt.Println(ln.Addr().(*net.TCPAddr).Port)
		_ = ln.Close()
		return
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	a := ln.Addr().String()
	fmt.Println(a)
	if *addrFile != "" {
		if err := os.WriteFile(*addrFile, []byte(a), 0o644); err != nil {
			log.Fatal(err)
		}
	}
	srv := &http.Server{Handler: target.New(target.Options{StallPeriod: *period, StallFor: *stall, NoServerTiming: *noServerTiming}), ReadHeaderTimeout: 10 * time.Second}
	if *tlsDir != "" {
		cert, err := writePKI(*tlsDir)
		if err != nil {
			log.Fatal(err)
		}
		srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"h2", "http/1.1"}}
		ln = tls.NewListener(ln, srv.TLSConfig)
	}
	go func() {
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGINT, syscall.SIGTERM)
		<-c
		_ = srv.Close()
	}()
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

// writePKI generates a CA and an ECDSA P-256 server certificate for
// 127.0.0.1 and localhost, and writes them as PEM files into dir.
func writePKI(dir string) (tls.Certificate, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "loadgate bench CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return tls.Certificate{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
	for name, b := range map[string][]byte{
		"ca.pem":   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		"cert.pem": certPEM, "key.pem": keyPEM,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return tls.Certificate{}, err
		}
	}
	return tls.X509KeyPair(certPEM, keyPEM)
}
