package plan

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestAllowedHost(t *testing.T) {
	t.Parallel()
	tg := Targets{Allow: []string{"127.0.0.1", "10.0.0.0/8", "::1", "api.example.com", "*.staging.example.com", "LocalHost"}}
	tests := map[string]bool{
		"127.0.0.1":              true,
		"127.0.0.1:8080":         true,
		"127.0.0.2":              false,
		"10.1.2.3:443":           true,
		"[::1]:80":               true,
		"::1":                    true,
		"::ffff:10.0.0.1":        true,
		"api.example.com":        true,
		"API.example.com.":       true,
		"evil.api.example.com":   false,
		"a.staging.example.com":  true,
		"staging.example.com":    false,
		"xstaging.example.com":   false,
		"localhost:9":            true,
		"example.com":            false,
		"":                       false,
		"169.254.169.254":        false,
		"api.example.com.evil.x": false,
	}
	for host, want := range tests {
		if got := tg.AllowedHost(host); got != want {
			t.Errorf("AllowedHost(%q) = %v, want %v", host, got, want)
		}
	}
	if !(Targets{}).AllowedHost("anything.example") {
		t.Error("empty allow list must allow everything")
	}
}

func TestCheckTargets(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(minimal+"targets: {allow: [localhost, 10.0.0.0/8]}\n"), "p.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	err = p.CheckTargets()
	if !errors.Is(err, ErrTargetNotAllowed) || !strings.Contains(err.Error(), "host 127.0.0.1 of target http://127.0.0.1:8080 is not in targets.allow [localhost, 10.0.0.0/8]") {
		t.Errorf("CheckTargets = %v", err)
	}
	p.Targets.Allow = append(p.Targets.Allow, "127.0.0.0/8")
	if err := p.CheckTargets(); err != nil {
		t.Errorf("CheckTargets = %v", err)
	}
	if !p.AllowedHost("127.0.0.9") || p.AllowedHost("example.com") {
		t.Error("Plan.AllowedHost disagrees with the allow list")
	}
}

func TestCheckLimits(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(minimal+"limits: {max_rate: 20/s, max_duration: 10s, max_workers: 2}\n"), "p.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.CheckLimits(); err != nil {
		t.Fatalf("plan within limits: %v", err)
	}
	// An override (e.g. from MCP) past the ceilings.
	p.Profile.Rate, p.Profile.Duration, p.Profile.Warmup = 50, 9*time.Second, 2*time.Second
	err = p.CheckLimits()
	if !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("CheckLimits = %v", err)
	}
	want := "limit exceeded: peak rate 50/s exceeds limits.max_rate 20/s\nlimit exceeded: total duration 11s exceeds limits.max_duration 10s"
	if err.Error() != want {
		t.Errorf("CheckLimits =\n%v\nwant\n%v", err, want)
	}
	if err := p.CheckWorkers(3); !errors.Is(err, ErrLimitExceeded) || err.Error() != "limit exceeded: 3 workers exceed limits.max_workers 2" {
		t.Errorf("CheckWorkers(3) = %v", err)
	}
	if err := p.CheckWorkers(2); err != nil {
		t.Errorf("CheckWorkers(2) = %v", err)
	}
}
