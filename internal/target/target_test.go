package target

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func get(t *testing.T, url string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read %s: %v", url, err)
	}
	return resp, b
}

func TestRoutes(t *testing.T) {
	t.Parallel()
	h := New(Options{})
	srv := httptest.NewServer(h)
	defer srv.Close()

	if resp, b := get(t, srv.URL+"/fast"); resp.StatusCode != 200 || string(b) != "ok\n" {
		t.Errorf("/fast = %d %q", resp.StatusCode, b)
	}
	if resp, _ := get(t, srv.URL+"/status?code=503"); resp.StatusCode != 503 {
		t.Errorf("/status?code=503 = %d", resp.StatusCode)
	}
	if resp, b := get(t, srv.URL+"/bytes?n=100000"); resp.StatusCode != 200 || len(b) != 100000 {
		t.Errorf("/bytes?n=100000 = %d, %d bytes", resp.StatusCode, len(b))
	}
	get(t, srv.URL+"/delay?ms=20")
	if got := h.Recorder().Histogram("/delay"); got.Count() != 1 || got.Min() < 20000 {
		t.Errorf("/delay?ms=20 recorded %d values, min %d µs; want 1 value ≥ 20000 µs", got.Count(), got.Min())
	}
	get(t, srv.URL+"/lognormal?median_ms=1&sigma=0.1")

	_, b := get(t, srv.URL+"/stats")
	var stats []RouteStats
	if err := json.Unmarshal(b, &stats); err != nil {
		t.Fatalf("/stats: %v", err)
	}
	routes := map[string]int64{}
	for _, s := range stats {
		routes[s.Route] = s.Requests
	}
	for _, r := range []string{"/fast", "/status", "/bytes", "/delay", "/lognormal"} {
		if routes[r] != 1 {
			t.Errorf("/stats %s = %d requests, want 1 (all: %v)", r, routes[r], routes)
		}
	}
	get(t, srv.URL+"/stats/reset")
	if n := len(h.Recorder().Stats()); n != 0 {
		t.Errorf("after /stats/reset: %d routes", n)
	}
}

func TestReset(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(New(Options{}))
	defer srv.Close()
	_, err := http.Get(srv.URL + "/reset")
	if err == nil {
		t.Fatal("/reset: no error")
	}
	if !errors.Is(err, syscall.ECONNRESET) && !strings.Contains(err.Error(), "EOF") {
		t.Errorf("/reset: error %v, want connection reset", err)
	}
}

func TestStallRemaining(t *testing.T) {
	t.Parallel()
	epoch := time.Unix(1000, 0)
	h := New(Options{Epoch: epoch, StallPeriod: 2 * time.Second, StallFor: 500 * time.Millisecond})
	for _, tc := range []struct {
		at   time.Duration
		want time.Duration
	}{
		{0, 500 * time.Millisecond},
		{100 * time.Millisecond, 400 * time.Millisecond},
		{499 * time.Millisecond, time.Millisecond},
		{500 * time.Millisecond, 0},
		{1999 * time.Millisecond, 0},
		{2100 * time.Millisecond, 400 * time.Millisecond},
		{-1900 * time.Millisecond, 400 * time.Millisecond},
	} {
		if got := h.StallRemaining(epoch.Add(tc.at)); got != tc.want {
			t.Errorf("StallRemaining(epoch%+v) = %v, want %v", tc.at, got, tc.want)
		}
	}
}

func TestStallWaits(t *testing.T) {
	t.Parallel()
	// Start inside a stall: the request must wait for its end.
	h := New(Options{StallPeriod: time.Hour, StallFor: 100 * time.Millisecond})
	srv := httptest.NewServer(h)
	defer srv.Close()
	get(t, srv.URL+"/stall")
	if got := h.Recorder().Histogram("/stall").Max(); got < 50000 {
		t.Errorf("/stall during a stall took %d µs, want ≥ 50 ms", got)
	}
}

func TestDemoRegress(t *testing.T) {
	t.Parallel()
	d := NewDemo()
	srv := httptest.NewServer(d)
	defer srv.Close()
	if err := d.Regress("/nope", 2); err == nil {
		t.Error("Regress(/nope): no error")
	}
	if err := d.Regress("/orders", 0); err == nil {
		t.Error("Regress(factor 0): no error")
	}
	if err := d.Regress("/products/{id}", 3); err != nil {
		t.Fatal(err)
	}
	const n = 5
	for range n {
		get(t, srv.URL+"/products")
		get(t, srv.URL+"/products/42")
		resp, err := http.Post(srv.URL+"/orders", "application/json", strings.NewReader(`{"sku":"A1"}`))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("POST /orders = %d", resp.StatusCode)
		}
	}
	for _, rt := range DemoRoutes {
		h := d.Recorder().Histogram(rt.Path)
		if h.Count() != n {
			t.Errorf("%s: %d requests recorded, want %d", rt.Path, h.Count(), n)
		}
	}
	// /products/{id} is regressed ×3 (~6 ms): its minimum must exceed its base
	// of 2 ms by far (jitter is ±10 % per σ; sleeps only overshoot).
	if got := d.Recorder().Histogram("/products/{id}").Min(); got < 4000 {
		t.Errorf("regressed /products/{id} min = %d µs, want ≥ 4000", got)
	}
	// The others are not regressed: /products (5 ms) stays under 15 ms at p50.
	if got := d.Recorder().Histogram("/products").Quantile(0.5); got > 15000 {
		t.Errorf("/products p50 = %d µs, want < 15000 (not regressed)", got)
	}
}

func TestLogNormal(t *testing.T) {
	t.Parallel()
	if LogNormal(0, 1) != 0 {
		t.Error("median 0 must give 0")
	}
	if got := LogNormal(10, 0); got != 10*time.Millisecond {
		t.Errorf("sigma 0 = %v, want 10ms", got)
	}
}

// PreciseSleep keeps a few-millisecond sleep within a fraction of a
// millisecond (time.Sleep in an idle process oversleeps by up to 1 ms).
func TestPreciseSleep(t *testing.T) {
	var over []time.Duration
	for range 20 {
		t0 := time.Now()
		PreciseSleep(3300 * time.Microsecond)
		over = append(over, time.Since(t0)-3300*time.Microsecond)
	}
	slices.Sort(over)
	if over[0] < 0 {
		t.Fatalf("woke early by %v", -over[0])
	}
	// The median, so a loaded CI host's stragglers do not fail the test.
	if med := over[len(over)/2]; runtime.GOOS == "linux" && med > 500*time.Microsecond {
		t.Errorf("median oversleep %v, want < 0.5 ms", med)
	}
}

func TestDemoLogin(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(NewDemo())
	defer srv.Close()
	resp, err := http.Post(srv.URL+DemoLoginPath, "application/json", strings.NewReader(`{"user":"ann"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Token string }
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Token == "" || resp.Header.Get("X-Session") == "" {
		t.Fatalf("login: %v %+v %v", err, body, resp.Header)
	}
	resp.Body.Close()
	order := func(auth string) int {
		req, _ := http.NewRequest("POST", srv.URL+"/orders", strings.NewReader("{}"))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if c := order("Bearer " + body.Token); c != http.StatusCreated {
		t.Errorf("issued token: %d", c)
	}
	if c := order("Bearer forged"); c != http.StatusUnauthorized {
		t.Errorf("unknown token: %d", c)
	}
	if c := order(""); c != http.StatusCreated {
		t.Errorf("no header: %d", c)
	}
}
