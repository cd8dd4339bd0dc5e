package plan

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// hashVersion changes when what Hash covers changes, so old baselines are
// flagged rather than silently matched.
const hashVersion = 1

// Hash identifies the load a plan produces, so a baseline made from a
// different load is flagged rather than compared. It is the first 16 hex
// digits of a SHA-256 over canonical JSON of:
//
//   - the target's path without a trailing slash (not its scheme, host or
//     port: base and head targets in paired mode share a hash; nor where the
//     target came from: a literal, ${TARGET_URL} or --target hash alike);
//   - per endpoint, sorted by name: name, method, path, weight, the SHA-256
//     of the body, and the sorted, canonicalized header names (not values);
//   - the profile type and model (open or closed) and the expanded schedule
//     (every stage's duration, rates, VUs, payload size, warm-up flag);
//   - when set: the think time, and per data source its name, mode and the
//     SHA-256 of its rows (a plan without them hashes as before).
//   - http.version and http.keep_alive when not the defaults (HTTP/2 or a
//     connection per request measures other latencies).
//
// Gate thresholds, SLOs, limits, targets.allow, timeouts, http.server_timing
// (which reads responses, not shapes the load) and the plan's name are not
// covered. Values from the environment (secrets) are replaced by
// "***" before hashing, so rotating a token does not change the hash.
func (p *Plan) Hash() string {
	type ep struct {
		Name    string   `json:"name"`
		Method  string   `json:"method"`
		Path    string   `json:"path"`
		Weight  int      `json:"weight"`
		Body    string   `json:"body_sha256"`
		Headers []string `json:"headers"`
	}
	type stage struct {
		Duration int64   `json:"duration_ns"`
		Start    float64 `json:"start_rate"`
		End      float64 `json:"end_rate"`
		VUs      int     `json:"vus"`
		Payload  int64   `json:"payload_bytes"`
		Warmup   bool    `json:"warmup"`
	}
	in := struct {
		V          int        `json:"v"`
		TargetPath string     `json:"target_path"`
		Endpoints  []ep       `json:"endpoints"`
		Type       string     `json:"type"`
		Closed     bool       `json:"closed"`
		Schedule   []stage    `json:"schedule"`
		Think      *ThinkTime `json:"think_time,omitempty"`
		Data       []string   `json:"data,omitempty"`
		HTTP       *HTTP      `json:"http,omitempty"` // nil for the defaults, so older hashes stay valid
	}{V: hashVersion, Type: p.Profile.Type, Closed: p.Profile.Closed()}
	if !p.Profile.ThinkTime.IsZero() {
		in.Think = &p.Profile.ThinkTime
	}
	for _, d := range p.Data {
		rows, _ := json.Marshal(struct {
			C []string   `json:"c"`
			R [][]string `json:"r"`
		}{d.Columns, d.Rows})
		sum := sha256.Sum256(rows)
		in.Data = append(in.Data, d.Name+"/"+d.Mode+"/"+hex.EncodeToString(sum[:]))
	}
	// The path comes from the real target, then is redacted: redacting the
	// whole URL first would hash "***" for a target from TARGET_URL and the
	// real path for the same target given literally or by --target.
	if u, err := url.Parse(p.Target); err == nil {
		in.TargetPath = strings.TrimRight(p.Redact(u.EscapedPath()), "/")
	}
	if h := p.HTTP; h.Version == HTTP2 || h.NoKeepAlive {
		in.HTTP = &h
	}
	for _, e := range p.Endpoints {
		sum := sha256.Sum256([]byte(p.Redact(e.Body)))
		x := ep{Name: e.Name, Method: e.Method, Path: p.Redact(e.Path), Weight: e.Weight, Body: hex.EncodeToString(sum[:]), Headers: []string{}}
		for k := range e.Headers {
			x.Headers = append(x.Headers, http.CanonicalHeaderKey(k))
		}
		sort.Strings(x.Headers)
		in.Endpoints = append(in.Endpoints, x)
	}
	sort.Slice(in.Endpoints, func(i, j int) bool { return in.Endpoints[i].Name < in.Endpoints[j].Name })
	for _, s := range p.Schedule() {
		in.Schedule = append(in.Schedule, stage{int64(s.Duration), s.StartRate, s.EndRate, s.VUs, s.PayloadBytes, s.Warmup})
	}
	b, _ := json.Marshal(in)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// URL is the full URL of endpoint e: the target with e.Path appended (a
// trailing slash on the target is not doubled).
func (p *Plan) URL(e *Endpoint) string {
	t := p.Target
	for len(t) > 0 && t[len(t)-1] == '/' {
		t = t[:len(t)-1]
	}
	return t + e.Path
}
