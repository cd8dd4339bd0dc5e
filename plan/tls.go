package plan

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// TLS configures connections to https targets. File paths resolve against
// the plan's directory. The private key is read when a run starts and never
// kept in the plan, so no encoding of a plan can carry it.
type TLS struct {
	// CAFile is a PEM bundle of CAs trusted in addition to the system's.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// CertFile and KeyFile are the client certificate and key (mTLS).
	CertFile string `yaml:"cert_file,omitempty" json:"cert_file,omitempty"`
	KeyFile  string `yaml:"key_file,omitempty" json:"key_file,omitempty"`
	// InsecureSkipVerify accepts any server certificate; every report says so.
	InsecureSkipVerify bool `yaml:"insecure_skip_verify,omitempty" json:"insecure_skip_verify,omitempty"`
	// ServerName overrides the name sent in SNI and checked in the certificate.
	ServerName string `yaml:"server_name,omitempty" json:"server_name,omitempty"`
	// MinVersion is "1.2" or "1.3" ("" = Go's default, TLS 1.2).
	MinVersion string `yaml:"min_version,omitempty" json:"min_version,omitempty"`

	// CAPEM and CertPEM are the CA bundle and the client certificate chain
	// themselves (CERTIFICATE blocks only), inlined by ShippableTLS for a
	// distributed worker, which has none of the plan's files. They replace
	// CAFile and CertFile. Not plan keys.
	CAPEM   string `yaml:"-" json:"ca_pem,omitempty"`
	CertPEM string `yaml:"-" json:"cert_pem,omitempty"`
	// KeyEnv replaces KeyFile in a shipped plan: the name of the
	// environment variable the client key (PEM) comes from on the worker,
	// which hands it to the plan with SetTLSKey. Not a plan key.
	KeyEnv string `yaml:"-" json:"key_env,omitempty"`
}

// HTTP selects the protocol and connection handling.
type HTTP struct {
	// Version is "1.1" (default) or "2" (negotiated by ALPN over TLS,
	// prior knowledge over plain http).
	Version string `yaml:"version,omitempty" json:"version,omitempty"`
	// NoKeepAlive opens a new connection for every request (plan key
	// `keep_alive: false`); by default each worker or VU keeps its own.
	NoKeepAlive bool `yaml:"-" json:"no_keep_alive,omitempty"`
	// ServerTiming picks the Server-Timing metric recorded as the target's
	// own time per response: ServerTimingAuto (a metric named "total", else
	// the first with a duration), a metric name, or ServerTimingOff.
	ServerTiming string `yaml:"server_timing,omitempty" json:"server_timing,omitempty"`
}

// http.server_timing values besides a metric name. The plan key also takes
// "auto", stored as ServerTimingAuto.
const (
	ServerTimingAuto = ""
	ServerTimingOff  = "off"
)

// HTTP versions http.version accepts.
const (
	HTTP11 = "1.1"
	HTTP2  = "2"
)

// tlsVersion maps a tls.min_version value to its crypto/tls constant.
func tlsVersion(s string) (uint16, bool) {
	switch s {
	case "1.2":
		return tls.VersionTLS12, true
	case "1.3":
		return tls.VersionTLS13, true
	}
	return 0, false
}

// IsZero reports whether t sets nothing.
func (t TLS) IsZero() bool { return t == TLS{} }

// TLSConfig builds the client TLS configuration the plan asks for, reading
// its files (relative to p.Dir). Errors name the key and the file, never the
// files' contents.
func (p *Plan) TLSConfig() (*tls.Config, error) {
	t := p.TLS
	c := &tls.Config{
		InsecureSkipVerify: t.InsecureSkipVerify, //nolint:gosec // the plan asked for it; every report warns
		ServerName:         t.ServerName,
		MinVersion:         tls.VersionTLS12,
	}
	if v, ok := tlsVersion(t.MinVersion); ok {
		c.MinVersion = v
	} else if t.MinVersion != "" {
		return nil, fmt.Errorf("tls.min_version: %q is not one of 1.2, 1.3", t.MinVersion)
	}
	var errs []error
	if t.CAFile != "" || t.CAPEM != "" {
		pem, err := p.caPEM()
		if err != nil {
			errs = append(errs, err)
		} else {
			pool, err := x509.SystemCertPool()
			if err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			pool.AppendCertsFromPEM(pem) // caPEM checked that one parses
			c.RootCAs = pool
		}
	}
	hasCert, hasKey := t.CertFile != "" || t.CertPEM != "", t.KeyFile != "" || t.KeyEnv != ""
	switch {
	case hasCert && hasKey:
		// The files as they are (not only their certificate or key
		// blocks): crypto/tls says when the two were switched.
		certPEM, err1 := []byte(t.CertPEM), error(nil)
		if t.CertPEM == "" {
			if certPEM, err1 = os.ReadFile(p.resolvePath(t.CertFile)); err1 != nil {
				errs = append(errs, &TLSFileError{Key: "cert_file", Err: err1})
			}
		}
		keyPEM, err2 := p.rawKey()
		if err2 != nil {
			errs = append(errs, err2)
		}
		if err1 == nil && err2 == nil {
			cert, err := tls.X509KeyPair(certPEM, keyPEM)
			clear(keyPEM)
			if err != nil {
				// crypto/tls's messages name the problem, never the PEM
				// content; one about the key is the key file's.
				key := "cert_file"
				if msg := err.Error(); strings.Contains(msg, "key") && !strings.Contains(msg, "certificate input") {
					key = "key_file"
					if t.KeyEnv != "" {
						err = fmt.Errorf("the key in %s: %w", t.KeyEnv, err)
					}
				}
				errs = append(errs, &TLSFileError{Key: key, Err: err})
			} else {
				c.Certificates = []tls.Certificate{cert}
			}
		}
	case hasCert:
		errs = append(errs, &TLSFileError{Key: "key_file", Err: errors.New("required with tls.cert_file")})
	case hasKey:
		errs = append(errs, &TLSFileError{Key: "cert_file", Err: errors.New("required with tls.key_file")})
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}

// SetTLSKey gives a shipped plan (TLS.KeyEnv set) its client key, read by
// the caller from that environment variable. The key stays out of every
// encoding of the plan.
func (p *Plan) SetTLSKey(pem []byte) { p.tlsKey = pem }

// TLSKeyPEM returns the client key's PEM blocks: from SetTLSKey, else from
// tls.key_file (only its key: key_file may be one file holding certificate
// and key). Callers should clear the result when done with it.
func (p *Plan) TLSKeyPEM() ([]byte, error) {
	b, err := p.rawKey()
	if err != nil {
		return nil, err
	}
	defer clear(b)
	var out []byte
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type == "PRIVATE KEY" || strings.HasSuffix(blk.Type, " PRIVATE KEY") {
			out = append(out, pem.EncodeToMemory(blk)...)
		}
		clear(blk.Bytes)
	}
	if len(out) == 0 {
		return nil, &TLSFileError{Key: "key_file", Err: errors.New("holds no PEM private key")}
	}
	return out, nil
}

// rawKey is the client key's source as it is: SetTLSKey's, or the file's.
func (p *Plan) rawKey() ([]byte, error) {
	t := p.TLS
	switch {
	case t.KeyEnv != "" && len(p.tlsKey) == 0:
		return nil, &TLSFileError{Key: "key_file", Err: fmt.Errorf("the client key comes from the environment variable %s, which is not set", t.KeyEnv)}
	case t.KeyEnv != "":
		return append([]byte(nil), p.tlsKey...), nil
	case t.KeyFile == "":
		return nil, &TLSFileError{Key: "key_file", Err: errors.New("not set")}
	}
	b, err := os.ReadFile(p.resolvePath(t.KeyFile))
	if err != nil {
		return nil, &TLSFileError{Key: "key_file", Err: err}
	}
	return b, nil
}

// ShippableTLS is the tls section as a plan handed to a distributed worker
// carries it: the CA bundle and the client certificate inlined (their
// CERTIFICATE blocks only, so a file that also holds the key ships without
// it), no file names, and the client key replaced by keyEnv, the variable
// the worker reads it from. It first checks the whole configuration as a
// run would use it (every file readable, every PEM block a certificate,
// certificate and key matching), so a problem stops the run before any
// worker starts.
func (p *Plan) ShippableTLS(keyEnv string) (TLS, error) {
	t := p.TLS
	if t.IsZero() {
		return t, nil
	}
	if _, err := p.TLSConfig(); err != nil {
		return TLS{}, err
	}
	var errs []error
	if t.CAFile != "" || t.CAPEM != "" {
		b, err := p.caPEM()
		errs = append(errs, err)
		t.CAPEM, t.CAFile = string(b), ""
	}
	if t.CertFile != "" || t.CertPEM != "" {
		b, err := p.certPEM()
		errs = append(errs, err)
		t.CertPEM, t.CertFile = string(b), ""
		t.KeyFile, t.KeyEnv = "", keyEnv
	}
	if err := errors.Join(errs...); err != nil {
		return TLS{}, err
	}
	return t, nil
}

func (p *Plan) caPEM() ([]byte, error) {
	return p.certificates("ca_file", p.TLS.CAFile, p.TLS.CAPEM)
}

func (p *Plan) certPEM() ([]byte, error) {
	return p.certificates("cert_file", p.TLS.CertFile, p.TLS.CertPEM)
}

// certificates returns the CERTIFICATE blocks of inline (when set) or of
// file, re-encoded without anything else. Like x509's AppendCertsFromPEM,
// which the run uses, it needs one that parses and keeps the others (a
// long CA bundle may hold a certificate Go rejects).
func (p *Plan) certificates(key, file, inline string) ([]byte, error) {
	b := []byte(inline)
	name := "the inlined " + key
	if inline == "" {
		var err error
		if b, err = os.ReadFile(p.resolvePath(file)); err != nil {
			return nil, &TLSFileError{Key: key, Err: err}
		}
		name = file
	}
	var out []byte
	var parsed int
	var firstErr error
	for rest := b; ; {
		var blk *pem.Block
		if blk, rest = pem.Decode(rest); blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" || len(blk.Headers) != 0 {
			clear(blk.Bytes) // possibly the key of a combined file
			continue
		}
		if _, err := x509.ParseCertificate(blk.Bytes); err != nil {
			firstErr = cmp.Or(firstErr, err)
		} else {
			parsed++
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: blk.Type, Bytes: blk.Bytes})...)
	}
	switch {
	case parsed == 0 && firstErr != nil:
		return nil, &TLSFileError{Key: key, Err: fmt.Errorf("%s: no certificate parses: %w", name, firstErr)}
	case parsed == 0:
		return nil, &TLSFileError{Key: key, Err: fmt.Errorf("%s holds no PEM certificate", name)}
	}
	return out, nil
}

// TLSFileError is a problem with one of the plan's TLS files.
type TLSFileError struct {
	Key string // ca_file, cert_file or key_file
	Err error
}

func (e *TLSFileError) Error() string { return "tls." + e.Key + ": " + e.Err.Error() }
func (e *TLSFileError) Unwrap() error { return e.Err }

func (p *Plan) resolvePath(name string) string {
	if filepath.IsAbs(name) || p.Dir == "" {
		return name
	}
	return filepath.Join(p.Dir, name)
}

func (p *parser) tls(n *yaml.Node) TLS {
	var t TLS
	m := p.mapping(n, "tls", "tls")
	if m == nil {
		return t
	}
	t.CAFile = p.text(m.get("ca_file"), "tls.ca_file", false)
	t.CertFile = p.text(m.get("cert_file"), "tls.cert_file", false)
	t.KeyFile = p.text(m.get("key_file"), "tls.key_file", false)
	t.InsecureSkipVerify = p.boolean(m.get("insecure_skip_verify"), "tls.insecure_skip_verify")
	t.ServerName = p.text(m.get("server_name"), "tls.server_name", false)
	if v := m.get("min_version"); v != nil {
		s := p.text(v, "tls.min_version", false)
		if _, ok := tlsVersion(s); s != "" && !ok {
			p.errorf(v, "tls.min_version", "%q is not a TLS version: want 1.2 or 1.3", s)
		} else {
			t.MinVersion = s
		}
	}
	if t.InsecureSkipVerify && t.CAFile != "" {
		p.errorf(m.get("insecure_skip_verify"), "tls.insecure_skip_verify", "contradicts tls.ca_file: a CA file is only useful when certificates are verified")
	}
	// Check the files now, so `loadgate validate` catches a wrong path or a
	// key that does not match its certificate before any load starts.
	probe := &Plan{Dir: p.dir, TLS: t}
	if _, err := probe.TLSConfig(); err != nil {
		for _, e := range unjoin(err) {
			var fe *TLSFileError
			if !errors.As(e, &fe) {
				continue
			}
			node := m.get(fe.Key)
			if node == nil {
				node = m.node
			}
			p.errorf(node, "tls."+fe.Key, "%v", fe.Err)
		}
	}
	return t
}

func (p *parser) httpSection(n *yaml.Node) HTTP {
	var h HTTP
	m := p.mapping(n, "http", "http")
	if m == nil {
		return h
	}
	if v := m.get("version"); v != nil {
		s, _ := p.scalar(v, "http.version", "a string", false)
		switch s {
		case "1.1", "1":
			h.Version = HTTP11
		case "2", "2.0":
			h.Version = HTTP2
		default:
			p.errorf(v, "http.version", "%q is not an HTTP version: want 1.1 or 2", s)
		}
	}
	if v := m.get("keep_alive"); v != nil {
		h.NoKeepAlive = !p.boolean(v, "http.keep_alive")
	}
	if v := m.get("server_timing"); v != nil {
		switch s, ok := p.scalar(v, "http.server_timing", "a string", false); {
		case !ok:
		case s == "auto" || s == "":
			h.ServerTiming = ServerTimingAuto
		case isToken(s):
			h.ServerTiming = s
		default:
			p.errorf(v, "http.server_timing", "%q is not a Server-Timing metric name: want auto, off or a name of letters, digits and !#$%%&'*+-.^_`|~", s)
		}
	}
	return h
}

// boolean reads true/false (yes/no and on/off are YAML 1.1 and rejected, as
// yaml.v3 treats them as strings).
func (p *parser) boolean(n *yaml.Node, path string) bool {
	s, ok := p.scalar(n, path, "true or false", false)
	if !ok {
		return false
	}
	b, err := strconv.ParseBool(s)
	if err != nil || (s != "true" && s != "false") {
		p.errorf(n, path, "want true or false, got %q", s)
		return false
	}
	return b
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// isToken reports whether s is an HTTP token (RFC 9110), the syntax of a
// Server-Timing metric name.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
