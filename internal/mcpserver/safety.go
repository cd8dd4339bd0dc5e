package mcpserver

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/loadgate/loadgate/plan"
)

// Overrides are what a client may change in a plan for one run: it may only
// shorten or slow a run, never aim it elsewhere.
type Overrides struct {
	Duration time.Duration
	Rate     float64 // peak arrival rate, requests/s
}

// SafetyError is a run refused before anything started.
type SafetyError struct{ Reasons []string }

func (e *SafetyError) Error() string {
	return "run refused before start: " + strings.Join(e.Reasons, "; ")
}

// admit applies ov to p and checks every rail an MCP-started run must pass,
// collecting all problems: a non-empty targets.allow that lists the target,
// the plan's limits, the server's duration cap, no exec runner, and body files
// inside the working directory. Nothing is sent unless it returns nil.
func (s *Server) admit(p *plan.Plan, ov Overrides) error {
	var reasons []string
	add := func(err error) {
		if err != nil {
			reasons = append(reasons, err.Error())
		}
	}
	if len(p.Targets.Allow) == 0 {
		reasons = append(reasons, "targets.allow is empty: MCP-started runs only go to hosts the plan lists (add e.g. `targets: {allow: [127.0.0.1]}`)")
	} else {
		add(p.CheckTargets())
	}
	reasons = append(reasons, s.withinServerAllow(p)...)
	if p.Runner.Exec != "" || p.Runner.Import != nil {
		// An exec plan runs an arbitrary command line; an assistant that can
		// write plan files must not be able to run commands through loadgate.
		reasons = append(reasons, "runner.exec/import plans cannot be started over MCP; run them with the CLI")
	}
	for i, ep := range p.Endpoints {
		if ep.BodyFile == "" {
			continue
		}
		if _, _, err := s.root.Resolve(resolveAgainst(p.Dir, ep.BodyFile)); err != nil {
			reasons = append(reasons, fmt.Sprintf("endpoints[%d].body_file: %v", i, err))
		}
	}
	add(applyOverrides(p, ov, s.opts.MaxDuration))
	add(p.CheckLimits())
	if total := p.TotalDuration(); total > s.opts.MaxDuration {
		reasons = append(reasons, fmt.Sprintf("total duration %s exceeds the MCP server's cap %s (lower profile.duration, pass a shorter duration, or start the server with a higher --max-duration)", total, s.opts.MaxDuration))
	}
	reasons = append(reasons, s.withinCeilings(p)...)
	if len(reasons) > 0 {
		return &SafetyError{Reasons: reasons}
	}
	return nil
}

// resolveAgainst is how a plan's relative body_file is found: against the
// plan's directory.
func resolveAgainst(dir, p string) string {
	if dir == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// applyOverrides shortens or slows p. The duration applies to steady profiles
// (load, endurance) and must stay within cap and limits.max_duration. The rate
// rescales every rate of the schedule so its peak becomes ov.Rate, which must
// not exceed limits.max_rate — or, when the plan sets no max_rate, the plan's
// own peak: a client may lower the load a plan's author chose, never raise it.
func applyOverrides(p *plan.Plan, ov Overrides, cap time.Duration) error {
	var errs []error
	if ov.Duration < 0 || ov.Rate < 0 {
		return errors.New("overrides must be positive")
	}
	if d := ov.Duration; d > 0 {
		switch {
		case d > cap:
			errs = append(errs, fmt.Errorf("duration %s exceeds the MCP server's cap %s", d, cap))
		case p.Limits.MaxDuration > 0 && d > p.Limits.MaxDuration:
			errs = append(errs, fmt.Errorf("duration %s exceeds limits.max_duration %s", d, p.Limits.MaxDuration))
		case p.Profile.Type != plan.ProfileLoad && p.Profile.Type != plan.ProfileEndurance:
			errs = append(errs, fmt.Errorf("a duration override applies to load and endurance profiles; a %s profile's length follows from its steps (edit the plan)", p.Profile.Type))
		case p.Profile.Warmup >= d:
			errs = append(errs, fmt.Errorf("duration %s is not longer than the warm-up %s", d, p.Profile.Warmup))
		default:
			p.Profile.Duration = d
		}
	}
	if r := ov.Rate; r > 0 {
		peak := p.PeakRate()
		ceiling, what := p.Limits.MaxRate, "limits.max_rate"
		if ceiling <= 0 {
			ceiling, what = peak, "the plan's own peak rate (set limits.max_rate to allow more)"
		}
		switch {
		case p.Profile.Closed() || peak <= 0:
			errs = append(errs, errors.New("a rate override applies to open-model (rate) profiles, not to vus"))
		case r > ceiling:
			errs = append(errs, fmt.Errorf("rate %g/s exceeds %s %g/s", r, what, ceiling))
		default:
			scaleRates(p, r/peak)
		}
	}
	return errors.Join(errs...)
}

// scaleRates multiplies every arrival rate of p's profile by k.
func scaleRates(p *plan.Plan, k float64) {
	pr := &p.Profile
	pr.Rate *= k
	pr.StartRate *= k
	pr.StepRate *= k
	for i := range pr.Stages {
		pr.Stages[i].StartRate *= k
		pr.Stages[i].EndRate *= k
	}
}

// withinServerAllow checks p against the operator's --allow-target list: the
// target's host must be allowed by it, and every targets.allow entry covered
// (a host or IP the list allows, or an entry the list contains verbatim, for
// wildcards and CIDRs), because the plan's list also governs redirects.
func (s *Server) withinServerAllow(p *plan.Plan) []string {
	if len(s.opts.AllowTargets) == 0 {
		return nil
	}
	server := plan.Targets{Allow: s.opts.AllowTargets}
	list := strings.Join(s.opts.AllowTargets, ", ")
	var reasons []string
	if u, err := url.Parse(p.Target); err == nil && !server.AllowedHost(u.Host) {
		reasons = append(reasons, fmt.Sprintf("target host %s is not in the server's --allow-target list [%s]", p.Redact(u.Hostname()), list))
	}
	for _, e := range p.Targets.Allow {
		if !covered(server, e) {
			reasons = append(reasons, fmt.Sprintf("targets.allow entry %q is wider than the server's --allow-target list [%s]", e, list))
		}
	}
	return reasons
}

// covered reports whether allow-list entry e permits nothing server does not.
func covered(server plan.Targets, e string) bool {
	for _, a := range server.Allow {
		if strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(e, ".")) {
			return true
		}
	}
	if strings.Contains(e, "/") || strings.HasPrefix(e, "*.") {
		return false // a range is covered only verbatim (conservative)
	}
	return server.AllowedHost(e)
}

// checkAllowList validates the operator's --allow-target entries.
func checkAllowList(list []string) error {
	var errs []error
	for _, e := range list {
		switch {
		case strings.TrimSpace(e) == "":
			errs = append(errs, errors.New("--allow-target: empty entry"))
		case strings.Contains(e, "://"):
			errs = append(errs, fmt.Errorf("--allow-target %q: list a host, IP or CIDR, not a URL", e))
		case strings.Contains(e, "/"):
			if _, err := netip.ParsePrefix(e); err != nil {
				errs = append(errs, fmt.Errorf("--allow-target %q: bad CIDR", e))
			}
		}
	}
	return errors.Join(errs...)
}

// withinCeilings checks p against the operator's ceilings (--max-rate,
// --max-concurrency) and bounds an open-model run's in-flight requests by
// --max-concurrency: the plan's limits are the assistant's to write, these
// are not.
func (s *Server) withinCeilings(p *plan.Plan) []string {
	var reasons []string
	if peak := p.PeakRate(); peak > s.opts.MaxRate {
		reasons = append(reasons, fmt.Sprintf("peak rate %g/s exceeds the MCP server's cap %g/s (pass a lower rate, or start the server with a higher --max-rate)", peak, s.opts.MaxRate))
	}
	if vus := p.PeakVUs(); vus > s.opts.MaxConcurrency {
		reasons = append(reasons, fmt.Sprintf("%d virtual users exceed the MCP server's cap of %d concurrent requests (start the server with a higher --max-concurrency)", vus, s.opts.MaxConcurrency))
	}
	if !p.Profile.Closed() && (p.Profile.MaxInFlight <= 0 || p.Profile.MaxInFlight > s.opts.MaxConcurrency) {
		// Requests beyond the bound are dropped and counted, so a run that
		// needed more concurrency is invalid, never silently lighter.
		p.Profile.MaxInFlight = s.opts.MaxConcurrency
	}
	return reasons
}

// wallClock is the real time a run of p may take before it is stopped.
func (s *Server) wallClock(p *plan.Plan) time.Duration {
	if s.opts.MaxWallClock > 0 {
		return s.opts.MaxWallClock
	}
	return p.TotalDuration() + DefaultWallClockGrace
}
