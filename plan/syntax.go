package plan

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Sanity bounds. They are far beyond any sensible test and exist so that
// schedule arithmetic cannot overflow and a typo cannot plan a billion steps.
const (
	// MaxRateValue is the highest rate accepted anywhere (arrivals per second).
	MaxRateValue = 10_000_000
	// MaxDurationValue bounds every duration in a plan; 31 days keeps sums of
	// many stages far from time.Duration's 292-year limit.
	MaxDurationValue = 31 * 24 * time.Hour
	// MaxSteps bounds the number of schedule stages a profile may expand to.
	MaxSteps = 1000
	// MaxPayloadBytes bounds one volume payload size (1 GiB).
	MaxPayloadBytes = 1 << 30
	// MaxVUs bounds the closed model's virtual users.
	MaxVUs = 1_000_000
)

// Tolerance kinds.
const (
	TolRelative = "relative" // "+10%": fraction of the baseline value
	TolPP       = "pp"       // "+0.5pp": percentage points (error rate)
	TolAbsolute = "absolute" // "+5ms": a duration added to the baseline
)

// ParseRate parses an arrival rate: "200/s", "12000/m", "5/h" or a plain
// number (per second). It returns requests per second; it does not check the
// sign (callers decide whether 0 is allowed).
func ParseRate(s string) (float64, error) {
	s = strings.TrimSpace(s)
	num, unit, hasUnit := strings.Cut(s, "/")
	num, unit = strings.TrimSpace(num), strings.TrimSpace(unit)
	per := 1.0
	if hasUnit {
		switch unit {
		case "s", "sec":
			per = 1
		case "m", "min":
			per = 60
		case "h":
			per = 3600
		default:
			return 0, fmt.Errorf("want a rate like 200/s, 12000/m or 5/h, got %q (unit must be s, m or h)", s)
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("want a rate like 200/s, 12000/m or 5/h, got %q", s)
	}
	return v / per, nil
}

// FormatRate formats requests per second compactly ("200/s", "0.5/s").
func FormatRate(r float64) string {
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}

// parseDuration parses a Go duration ("10s", "1m30s").
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("want a duration like 10s, 500ms or 1m30s, got %q", s)
	}
	return d, nil
}

// parsePercent parses "1%" or "0.5%" into a fraction (0.01, 0.005).
func parsePercent(s string) (float64, error) {
	t := strings.TrimSpace(s)
	num, ok := strings.CutSuffix(t, "%")
	v, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if !ok || err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("want a percentage like 1%% or 0.5%%, got %q", s)
	}
	if v < 0 || v > 100 {
		return 0, fmt.Errorf("must be between 0%% and 100%%, got %q", s)
	}
	return v / 100, nil
}

// sizeUnit is the multiplier of a lower-case size unit.
func sizeUnit(unit string) (float64, bool) {
	switch unit {
	case "", "b":
		return 1, true
	case "kb":
		return 1e3, true
	case "mb":
		return 1e6, true
	case "gb":
		return 1e9, true
	case "kib":
		return 1 << 10, true
	case "mib":
		return 1 << 20, true
	case "gib":
		return 1 << 30, true
	}
	return 0, false
}

// ParseSize parses a byte size: a plain number of bytes, or a number with a
// unit B, KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
// Units are case-insensitive.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	num, unit := t[:i], strings.ToLower(strings.TrimSpace(t[i:]))
	mult, ok := sizeUnit(unit)
	v, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("want a size like 512, 64KB or 1MiB, got %q", s)
	}
	b := v * mult
	if b > math.MaxInt64/2 {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return int64(math.Round(b)), nil
}

// ParseTolerance parses a tolerance for metric (p50, p90, p95, p99, max,
// throughput, error_rate): "+10%" (relative), "+0.5pp" (percentage points,
// error_rate only) or "+5ms" (absolute, latency metrics only). The sign says
// which direction is a regression: + for latencies and error rate, - for
// throughput. Without a sign the metric's bad direction is assumed; the
// opposite sign is an error. Values are stored signed.
func ParseTolerance(metric, s string) (*Tolerance, error) {
	raw := strings.TrimSpace(s)
	want := 1.0
	if metric == "throughput" {
		want = -1
	}
	body, sign := raw, want
	switch {
	case strings.HasPrefix(raw, "+"):
		body, sign = raw[1:], 1
	case strings.HasPrefix(raw, "-"):
		body, sign = raw[1:], -1
	}
	if sign != want {
		if want > 0 {
			return nil, fmt.Errorf("tolerance %q must be positive: an increase of %s is the regression", raw, metric)
		}
		return nil, fmt.Errorf("tolerance %q must be negative: a drop of throughput is the regression", raw)
	}
	t := &Tolerance{Raw: raw}
	latency := metric != "throughput" && metric != "error_rate"
	switch {
	case strings.HasSuffix(body, "pp"):
		v, err := strconv.ParseFloat(strings.TrimSuffix(body, "pp"), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("want a tolerance like +0.5pp, got %q", raw)
		}
		if metric != "error_rate" {
			return nil, fmt.Errorf("tolerance %q: percentage points (pp) apply to error_rate only", raw)
		}
		t.Kind, t.PP = TolPP, sign*v
	case strings.HasSuffix(body, "%"):
		v, err := strconv.ParseFloat(strings.TrimSuffix(body, "%"), 64)
		if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, fmt.Errorf("want a tolerance like +10%%, got %q", raw)
		}
		if sign < 0 && v > 100 {
			return nil, fmt.Errorf("tolerance %q: a drop cannot exceed 100%%", raw)
		}
		t.Kind, t.Relative = TolRelative, sign*v/100
	default:
		d, err := time.ParseDuration(body)
		if err != nil || d < 0 {
			return nil, fmt.Errorf("want a tolerance like +10%%, +0.5pp or +5ms, got %q", raw)
		}
		if !latency {
			return nil, fmt.Errorf("tolerance %q: an absolute duration applies to latency metrics only; use a percentage", raw)
		}
		t.Kind, t.Abs = TolAbsolute, time.Duration(sign)*d
	}
	return t, nil
}

// knownMethods are the methods a request line may use (RFC 9110 section 9
// plus PATCH, RFC 5789).
var knownMethods = []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "CONNECT"}

// parseRequest splits "GET /path?q=1" into method and path. The method is
// case-insensitive and returned upper-case.
func parseRequest(s string) (method, path string, err error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return "", "", fmt.Errorf(`want "METHOD /path", e.g. "GET /products?page=1", got %q`, s)
	}
	method = strings.ToUpper(f[0])
	ok := false
	for _, m := range knownMethods {
		if m == method {
			ok = true
		}
	}
	if !ok {
		return "", "", fmt.Errorf("unknown HTTP method %q%s", f[0], suggest(method, knownMethods))
	}
	path = f[1]
	if !strings.HasPrefix(path, "/") {
		return "", "", fmt.Errorf("path %q must start with / (it is appended to target)", path)
	}
	if _, err := url.ParseRequestURI(path); err != nil {
		return "", "", fmt.Errorf("bad path %q: %v", path, unwrapURLError(err))
	}
	return method, path, nil
}

// checkTargetURL reports whether s is a usable base URL: http or https with a
// host, and no query or fragment (endpoint paths are appended to it).
func checkTargetURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("bad URL %q: %v", s, unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("URL %q must start with http:// or https://", s)
	}
	if u.Host == "" || u.Hostname() == "" {
		return fmt.Errorf("URL %q has no host", s)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("URL %q must not have a query or fragment (put them in each endpoint's request)", s)
	}
	if u.User != nil {
		return fmt.Errorf("URL %q must not carry credentials; use an Authorization header from ${ENV}", s)
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// validHeaderName reports whether name is an RFC 9110 token.
func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// validHeaderValue rejects control characters (CR/LF would split headers).
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}
