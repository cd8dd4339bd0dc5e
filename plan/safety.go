package plan

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// ErrTargetNotAllowed is wrapped by CheckTargets when the target's host is
// not in targets.allow.
var ErrTargetNotAllowed = errors.New("target not allowed")

// ErrLimitExceeded is wrapped by CheckLimits and CheckWorkers.
var ErrLimitExceeded = errors.New("limit exceeded")

// checkAllowEntry validates one targets.allow entry: a host name, a
// "*.domain" wildcard, an IP address or a CIDR.
func checkAllowEntry(s string) error {
	if strings.Contains(s, "://") {
		return fmt.Errorf("%q: list a host, IP or CIDR, not a URL", s)
	}
	if strings.Contains(s, "/") {
		if _, err := netip.ParsePrefix(s); err != nil {
			return fmt.Errorf("%q: bad CIDR", s)
		}
		return nil
	}
	if _, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return nil
	}
	host := strings.TrimPrefix(s, "*.")
	if strings.Contains(host, ":") {
		return fmt.Errorf("%q: list the host without a port", s)
	}
	if !validHostname(host) {
		return fmt.Errorf("%q: not a host name, IP or CIDR", s)
	}
	return nil
}

func validHostname(h string) bool {
	h = strings.TrimSuffix(h, ".")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// AllowedHost reports whether host (optionally with ":port", IPv6 in
// brackets) is allowed by the list. An empty list allows everything. Names
// match case-insensitively, exactly or by a "*.domain" wildcard (which
// matches subdomains, not the domain itself); IPs match IP and CIDR entries.
// No DNS lookups happen: a name only matches name entries.
func (t Targets) AllowedHost(host string) bool {
	if len(t.Allow) == 0 {
		return true
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	addr, addrErr := netip.ParseAddr(host)
	for _, e := range t.Allow {
		e = strings.ToLower(strings.TrimSuffix(e, "."))
		switch {
		case addrErr == nil && strings.Contains(e, "/"):
			if pfx, err := netip.ParsePrefix(e); err == nil && pfx.Contains(addr.Unmap()) {
				return true
			}
		case addrErr == nil:
			if a, err := netip.ParseAddr(strings.Trim(e, "[]")); err == nil && a.Unmap() == addr.Unmap() {
				return true
			}
		case strings.HasPrefix(e, "*."):
			if strings.HasSuffix(host, e[1:]) && len(host) > len(e)-1 {
				return true
			}
		case e == host:
			return true
		}
	}
	return false
}

// AllowedHost is p.Targets.AllowedHost; runners use it to refuse redirects
// to hosts outside targets.allow.
func (p *Plan) AllowedHost(host string) bool { return p.Targets.AllowedHost(host) }

// CheckTargets reports (wrapping ErrTargetNotAllowed) when the target's host
// is not in targets.allow. An empty allow list allows everything; callers
// that must refuse unlisted targets (distributed and MCP-started runs) check
// len(p.Targets.Allow) themselves.
func (p *Plan) CheckTargets() error {
	if p.Target == "" {
		return nil
	}
	u, err := url.Parse(p.Target)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	if !p.Targets.AllowedHost(u.Host) {
		return fmt.Errorf("%w: host %s of target %s is not in targets.allow [%s]", ErrTargetNotAllowed,
			p.Redact(u.Hostname()), p.Redact(p.Target), strings.Join(p.Targets.Allow, ", "))
	}
	return nil
}

// CheckLimits reports every way the schedule exceeds limits (peak arrival
// rate vs max_rate, total duration with warm-up vs max_duration), joined,
// each wrapping ErrLimitExceeded. Call it after changing the profile
// (overrides); Parse already checks the plan as written. The closed model's
// rate is unknown before the run, so max_rate does not bound it.
func (p *Plan) CheckLimits() error {
	var errs []error
	if p.Limits.MaxRate > 0 {
		if peak := p.PeakRate(); peak > p.Limits.MaxRate {
			errs = append(errs, fmt.Errorf("%w: peak rate %s exceeds limits.max_rate %s", ErrLimitExceeded, FormatRate(peak), FormatRate(p.Limits.MaxRate)))
		}
	}
	if p.Limits.MaxDuration > 0 {
		if d := p.TotalDuration(); d > p.Limits.MaxDuration {
			errs = append(errs, fmt.Errorf("%w: total duration %v exceeds limits.max_duration %v", ErrLimitExceeded, d, p.Limits.MaxDuration))
		}
	}
	return errors.Join(errs...)
}

// CheckWorkers reports (wrapping ErrLimitExceeded) when n workers exceed
// limits.max_workers.
func (p *Plan) CheckWorkers(n int) error {
	if p.Limits.MaxWorkers > 0 && n > p.Limits.MaxWorkers {
		return fmt.Errorf("%w: %d workers exceed limits.max_workers %d", ErrLimitExceeded, n, p.Limits.MaxWorkers)
	}
	return nil
}
