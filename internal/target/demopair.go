package target

import (
	"fmt"
	"net"
	"net/http"
	"time"
)

// DemoPair is two demo shops on loopback — the base build and the head build
// of the same service — so that `loadgate demo` can measure them paired, the
// way a pull request's base and head are measured on a shared runner. Each
// has its own server and its own client with warm connections, so neither
// side's connections or handlers serve the other side.
type DemoPair struct {
	Base, Head       *Demo
	BaseURL, HeadURL string
	clients          map[string]*http.Client
	stops            []func()
}

// ServeDemoPair starts both shops on free loopback ports.
func ServeDemoPair() (*DemoPair, error) {
	p := &DemoPair{Base: NewDemo(), Head: NewDemo(), clients: map[string]*http.Client{}}
	for _, s := range []struct {
		side string
		h    http.Handler
		url  *string
	}{{"base", p.Base, &p.BaseURL}, {"head", p.Head, &p.HeadURL}} {
		url, stop, err := ServeLoopback(s.h)
		if err != nil {
			p.Close()
			return nil, err
		}
		*s.url = url
		p.stops = append(p.stops, stop)
		tr := &http.Transport{MaxIdleConns: 256, MaxIdleConnsPerHost: 256, IdleConnTimeout: time.Minute}
		p.clients[s.side] = &http.Client{Transport: tr}
		p.stops = append(p.stops, tr.CloseIdleConnections)
	}
	return p, nil
}

// Client returns the client of side "base" or "head" (nil for another name).
func (p *DemoPair) Client(side string) *http.Client { return p.clients[side] }

// Close stops both servers and drops the clients' connections.
func (p *DemoPair) Close() {
	for _, stop := range p.stops {
		stop()
	}
	p.stops = nil
}

// ServeLoopback serves h on 127.0.0.1 on a free port.
func ServeLoopback(h http.Handler) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo target: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), func() { _ = srv.Close() }, nil
}
