package local

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// What a fast-path connection holds while its worker is idle, measured in
// a child process of its own: MemStats are the whole process's, so the
// client must be alone there (no server, no parallel test). The parent
// serves; the child (TestConnMemProbe) measures and prints its figures.
const connMemEnv = "LOADGATE_CONNMEM_PROBE"

type connMemConfig struct {
	Plain, TLS string // target URLs
	CAFile     string
	N          int  // connections per scheme
	Full       bool // no session cache: every connection a full handshake
}

// connMemFigures are bytes of live heap (HeapAlloc) and goroutine stacks
// (StackInuse), each read after two collections (the second empties
// sync.Pool's victim cache, so pooled buffers do not count).
type connMemFigures struct {
	Roots                float64 // x509.SystemCertPool loaded into the fresh process
	PlainOnce, TLSOnce   float64 // client setup and a first connection, closed again
	PlainConn, TLSConn   float64 // per idle keep-alive connection after one request
	PlainStack, TLSStack float64 // per worker goroutine parked after its request
}

func liveMem() (heap, stack float64) {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc), float64(m.StackInuse)
}

// probeConnMem measures one scheme: the one-time cost of its client setup
// and first connection, then what each of n idle keep-alive connections
// holds after one request, each with a parked goroutine, as an open-model
// worker between requests.
func probeConnMem(cfg connMemConfig, target string) (once, perConn, perStack float64, err error) {
	p := loadPlan(target, 1, time.Second, ep("a", "/", 1))
	if strings.HasPrefix(target, "https:") {
		p.TLS.CAFile = cfg.CAFile
	}
	req, err := http.NewRequest(http.MethodGet, target+"/", nil)
	if err != nil {
		return 0, 0, 0, err
	}
	head, err := h1Head(req, true)
	if err != nil {
		return 0, 0, 0, err
	}
	do := func(c *h1conn) error {
		r, err := c.do(context.Background(), head, http.MethodGet, nil, time.Now().Add(time.Minute), DefaultMaxBodyBytes)
		if err == nil && r.status != http.StatusOK {
			err = fmt.Errorf("status %d", r.status)
		}
		return err
	}
	h0, _ := liveMem()
	s, err := newClientSetup(p, false)
	if err != nil {
		return 0, 0, 0, err
	}
	if cfg.Full && s.fast.tls != nil {
		s.fast.tls.ClientSessionCache = nil
	}
	first := newH1(s.fast)
	if err := do(first); err != nil {
		return 0, 0, 0, err
	}
	first.close()
	h1, s1 := liveMem()

	conns := make([]*h1conn, cfg.N)
	errs := make([]error, cfg.N)
	sem := make(chan struct{}, 8) // no handshake storm on a busy host
	release := make(chan struct{})
	var done, exited sync.WaitGroup
	for i := range conns {
		done.Add(1)
		exited.Add(1)
		go func() {
			defer exited.Done()
			sem <- struct{}{}
			conns[i] = newH1(s.fast)
			errs[i] = do(conns[i])
			<-sem
			done.Done()
			<-release
		}()
	}
	done.Wait()
	h2, s2 := liveMem()
	close(release)
	exited.Wait()
	for i, c := range conns {
		if errs[i] != nil && err == nil {
			err = fmt.Errorf("connection %d: %w", i, errs[i])
		}
		if c.conn == nil && err == nil {
			err = fmt.Errorf("connection %d was not kept alive", i)
		}
		c.close()
	}
	runtime.KeepAlive(s)
	n := float64(cfg.N)
	return h1 - h0, (h2 - h1) / n, (s2 - s1) / n, err
}

// TestConnMemProbe is the child side of TestConnMemory.
func TestConnMemProbe(t *testing.T) {
	raw := os.Getenv(connMemEnv)
	if raw == "" {
		t.Skip("run by TestConnMemory in a process of its own")
	}
	var cfg connMemConfig
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		t.Fatal(err)
	}
	var f connMemFigures
	r0, _ := liveMem()
	pool, err := x509.SystemCertPool()
	r1, _ := liveMem()
	runtime.KeepAlive(pool)
	if err == nil {
		f.Roots = r1 - r0
	}
	if f.PlainOnce, f.PlainConn, f.PlainStack, err = probeConnMem(cfg, cfg.Plain); err != nil {
		t.Fatal("http:", err)
	}
	if f.TLSOnce, f.TLSConn, f.TLSStack, err = probeConnMem(cfg, cfg.TLS); err != nil {
		t.Fatal("https:", err)
	}
	b, _ := json.Marshal(f)
	fmt.Printf("CONNMEM %s\n", b)
}

// runConnMemProbe runs TestConnMemProbe in a child process against an HTTP
// and an HTTPS server in this one.
func runConnMemProbe(t *testing.T, n int, full bool) connMemFigures {
	t.Helper()
	k := newTestPKI(t)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	plain := httptest.NewServer(h)
	t.Cleanup(plain.Close)
	secure := httptest.NewUnstartedServer(h)
	secure.TLS = &tls.Config{Certificates: []tls.Certificate{k.server}}
	secure.StartTLS()
	t.Cleanup(secure.Close)
	cfg, err := json.Marshal(connMemConfig{Plain: plain.URL, TLS: secure.URL, CAFile: k.caFile, N: n, Full: full})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestConnMemProbe$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), connMemEnv+"="+string(cfg))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "CONNMEM "); ok {
			var f connMemFigures
			if err := json.Unmarshal([]byte(rest), &f); err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("probe printed no figures:\n%s", out)
	return connMemFigures{}
}

// An idle fast-path connection holds no read buffer and no request bytes:
// only the requests in flight need them (h1Pool, pendingPool). With them
// kept per connection an idle HTTP connection held 5.6 KB and an HTTPS one
// 11.4 KB; the bounds leave room for what crypto/tls itself keeps (record
// and handshake buffers, AES-GCM state, about 6 KB with this certificate)
// and fail when a 4 KB buffer per connection comes back. The figures are
// logged (go test -v -run TestConnMemory); LOADGATE_CONNMEM_FULL=1 adds
// connections without session resumption.
func TestConnMemory(t *testing.T) {
	t.Parallel()
	modes := []bool{false}
	if os.Getenv("LOADGATE_CONNMEM_FULL") != "" {
		modes = append(modes, true)
	}
	for _, full := range modes {
		f := runConnMemProbe(t, 100, full)
		t.Logf("full handshakes %v: system roots %.0f B once; http: setup and first connection %.0f B once, per idle connection %.0f B heap, %.0f B stack; "+
			"https: %.0f B once, per idle connection %.0f B heap, %.0f B stack",
			full, f.Roots, f.PlainOnce, f.PlainConn, f.PlainStack, f.TLSOnce, f.TLSConn, f.TLSStack)
		if f.PlainConn > 2500 {
			t.Errorf("an idle HTTP connection holds %.0f B of heap, want ≤ 2500", f.PlainConn)
		}
		if f.TLSConn > 9000 {
			t.Errorf("an idle HTTPS connection holds %.0f B of heap, want ≤ 9000", f.TLSConn)
		}
	}
}
