package local

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
)

// Conns carries a target's open connections from one run to the next: the
// slots of a paired measurement, each a run of its own against the same
// side. Without it every slot began by dialling (and, for https, by a TLS
// handshake) on each of its workers, so a slot's first requests carried
// connection set-up — and how many did depended on the side's concurrency,
// that is on its other endpoints' latency: a head build slower on one
// endpoint made an unchanged endpoint look slower too. With it, only a
// slot that needs more connections than any before it dials.
//
// One Conns serves one target (one side); a run against another address
// starts it afresh. Safe for concurrent use. Close it when the measurement
// ends.
type Conns struct {
	mu       sync.Mutex
	key      string
	idle     []pooledConn
	tr       *http.Transport // the net/http path's (HTTP/2, redirects), kept whole
	sessions tls.ClientSessionCache
	closed   bool
}

type pooledConn struct {
	conn net.Conn
	sc   *sendConn
}

// NewConns returns an empty connection store.
func NewConns() *Conns {
	return &Conns{sessions: tls.NewLRUClientSessionCache(64)}
}

// use makes key (the run's address and TLS identity) current: connections
// kept for another key are closed. It reports false once Close was called.
func (p *Conns) use(key string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return false
	}
	if key != p.key {
		p.closeIdleLocked()
		if p.tr != nil {
			p.tr.CloseIdleConnections()
			p.tr = nil
		}
		p.key = key
	}
	return true
}

// get takes an idle connection (the most recently used), if any.
func (p *Conns) get() (pooledConn, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.idle)
	if n == 0 {
		return pooledConn{}, false
	}
	c := p.idle[n-1]
	p.idle[n-1] = pooledConn{}
	p.idle = p.idle[:n-1]
	return c, true
}

// put keeps c for the next run, up to max idle connections; beyond that, or
// after Close, c is closed.
func (p *Conns) put(c pooledConn, max int) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < max {
		p.idle = append(p.idle, c)
		p.mu.Unlock()
		return
	}
	p.mu.Unlock()
	_ = c.conn.Close()
}

// transport returns the kept net/http transport, making it with mk the
// first time.
func (p *Conns) transport(mk func() *http.Transport) *http.Transport {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tr == nil {
		p.tr = mk()
	}
	return p.tr
}

// Len is the number of idle connections kept.
func (p *Conns) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.idle)
}

// Close closes every kept connection; later runs dial their own and close
// them when they end.
func (p *Conns) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.closeIdleLocked()
	if p.tr != nil {
		p.tr.CloseIdleConnections()
	}
	return nil
}

func (p *Conns) closeIdleLocked() {
	for _, c := range p.idle {
		_ = c.conn.Close()
	}
	p.idle = nil
}
