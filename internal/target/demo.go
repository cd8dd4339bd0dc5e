package target

import (
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DemoRoute is one endpoint of the demo service.
type DemoRoute struct {
	// Pattern is the http.ServeMux pattern, e.g. "GET /products/{id}".
	Pattern string
	// Path is the pattern's path, the key Regress takes ("/products/{id}").
	Path string
	// Base is the typical (median) service time.
	Base time.Duration
}

// DemoRoutes are the demo service's endpoints: three clearly different
// latencies so a regression of one is visible and attributable.
var DemoRoutes = []DemoRoute{
	{Pattern: "GET /products", Path: "/products", Base: 5 * time.Millisecond},
	{Pattern: "GET /products/{id}", Path: "/products/{id}", Base: 2 * time.Millisecond},
	{Pattern: "POST /orders", Path: "/orders", Base: 12 * time.Millisecond},
}

// DemoJitter is the relative spread of demo service times: each request
// sleeps Base × exp(σ·N(0,1)) with σ = DemoJitter, so the median stays Base.
const DemoJitter = 0.1

// Demo is a small fake web shop with endpoints of different latencies and a
// knob that makes one of them slower (see Regress). It records the latency it
// measures itself per route path.
type Demo struct {
	mux     *http.ServeMux
	factors map[string]*atomic.Uint64 // path → float64 bits of the slowdown factor
	rec     *Recorder
	tokens  sync.Map // bearer tokens POST /login issued
}

// NewDemo returns the demo handler with no regression.
func NewDemo() *Demo {
	d := &Demo{mux: http.NewServeMux(), factors: map[string]*atomic.Uint64{}, rec: NewRecorder()}
	for _, rt := range DemoRoutes {
		f := new(atomic.Uint64)
		f.Store(math.Float64bits(1))
		d.factors[rt.Path] = f
		d.mux.HandleFunc(rt.Pattern, d.serve(rt, f))
	}
	d.mux.Handle("/stats", d.rec.StatsHandler())
	d.mux.HandleFunc("POST /login", d.login)
	return d
}

// DemoLoginPath issues a bearer token ({"token": "..."}, and the X-Session
// header) for any user; POST /orders then refuses an Authorization header
// with a token it did not issue (401), so a plan whose setup failed cannot
// pass for authenticated. Requests without the header are served as before.
const DemoLoginPath = "/login"

func (d *Demo) login(w http.ResponseWriter, r *http.Request) {
	drain(r)
	var b [12]byte
	for i := range b {
		b[i] = byte(rand.Uint32())
	}
	tok := "demo-" + hex.EncodeToString(b[:])
	d.tokens.Store(tok, true)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Session", "s-"+tok[5:13])
	_, _ = fmt.Fprintf(w, "{\"token\":%q,\"expires_in\":3600}\n", tok)
}

// authorized reports whether r carries no Authorization header, or a bearer
// token login issued.
func (d *Demo) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	if h == "" {
		return true
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		return false
	}
	_, known := d.tokens.Load(tok)
	return known
}

// Regress makes the endpoint whose path is endpointPath (e.g. "/orders")
// factor times slower (1.3 = 30 % slower); factor 1 undoes it. It returns an
// error for an unknown path or a factor ≤ 0.
func (d *Demo) Regress(endpointPath string, factor float64) error {
	f, ok := d.factors[endpointPath]
	if !ok {
		return fmt.Errorf("demo target: no endpoint %q", endpointPath)
	}
	if !(factor > 0) || math.IsInf(factor, 0) {
		return fmt.Errorf("demo target: slowdown factor must be > 0, got %v", factor)
	}
	f.Store(math.Float64bits(factor))
	return nil
}

// Factor returns the slowdown factor of the endpoint at endpointPath (1 when
// not regressed, 0 for an unknown path).
func (d *Demo) Factor(endpointPath string) float64 {
	f, ok := d.factors[endpointPath]
	if !ok {
		return 0
	}
	return math.Float64frombits(f.Load())
}

// Recorder returns the latencies the demo measured, keyed by route path.
func (d *Demo) Recorder() *Recorder { return d.rec }

// ServeHTTP implements http.Handler.
func (d *Demo) ServeHTTP(w http.ResponseWriter, r *http.Request) { d.mux.ServeHTTP(w, r) }

func (d *Demo) serve(rt DemoRoute, factor *atomic.Uint64) http.HandlerFunc {
	body := []byte(fmt.Sprintf("{\"route\":%q}\n", rt.Path))
	return func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		drain(r)
		f := math.Float64frombits(factor.Load())
		ms := float64(rt.Base) / float64(time.Millisecond) * f
		sleep(time.Duration(ms * math.Exp(DemoJitter*rand.NormFloat64()) * float64(time.Millisecond)))
		w.Header().Set("Content-Type", "application/json")
		SetServerTiming(w, start)
		if r.Method == http.MethodPost && !d.authorized(r) {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = w.Write([]byte("{\"error\":\"unknown token\"}\n"))
			return
		}
		if r.Method == http.MethodPost {
			w.WriteHeader(http.StatusCreated)
		}
		_, _ = w.Write(body)
		d.rec.Record(rt.Path, time.Since(start))
	}
}
