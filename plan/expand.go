package plan

import (
	"fmt"
	"sort"
	"strings"
	"sync"
)

// expand replaces ${VAR} and ${VAR:-default} in s with values from getenv and
// $$ with a literal $. A lone $ not followed by { or $ stays as it is. An
// empty variable counts as unset (getenv cannot tell them apart), so
// ${VAR:-default} uses the default and ${VAR} is an error. Defaults may
// themselves contain ${...}. fromEnv lists the substituted values that came
// from the environment (not from defaults); callers treat them as secrets.
func expand(s string, getenv func(string) string) (out string, fromEnv []string, err error) {
	out, vars, err := expandVars(s, getenv)
	for _, v := range vars {
		fromEnv = append(fromEnv, v.Value)
	}
	return out, fromEnv, err
}

// envVar is one substitution from the environment: the variable's name and
// the value it had.
type envVar struct{ Name, Value string }

// expandVars is expand, telling which variable each substituted value came from.
func expandVars(s string, getenv func(string) string) (out string, fromEnv []envVar, err error) {
	if !strings.Contains(s, "$") {
		return s, nil, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
			continue
		case '{':
		default:
			b.WriteByte(c)
			i++
			continue
		}
		end := matchBrace(s, i+2)
		if end < 0 {
			return "", nil, fmt.Errorf("unterminated ${ at offset %d (write $$ for a literal $)", i)
		}
		inner := s[i+2 : end]
		name, def, hasDef := strings.Cut(inner, ":-")
		if !validVarName(name) {
			return "", nil, fmt.Errorf("invalid variable name %q in ${%s}", name, inner)
		}
		v := ""
		if getenv != nil {
			v = getenv(name)
		}
		switch {
		case v != "":
			b.WriteString(v)
			fromEnv = append(fromEnv, envVar{name, v})
		case hasDef:
			dv, denv, err := expandVars(def, getenv)
			if err != nil {
				return "", nil, err
			}
			b.WriteString(dv)
			fromEnv = append(fromEnv, denv...)
		default:
			return "", nil, fmt.Errorf("environment variable %s is not set (use ${%s:-default} to give a default)", name, name)
		}
		i = end + 1
	}
	return b.String(), fromEnv, nil
}

// matchBrace returns the index of the } closing a ${ whose body starts at
// from, counting nested ${...}; -1 if there is none.
func matchBrace(s string, from int) int {
	depth := 0
	for i := from; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}':
			if depth == 0 {
				return i
			}
			depth--
		}
	}
	return -1
}

func validVarName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Redact replaces every secret (a value that came from the environment) in s
// with "***", longest secret first so a secret containing another is hidden
// whole. Use it on everything that leaves the process: logs, reports, results.
func (p *Plan) Redact(s string) string {
	if p == nil || s == "" {
		return s
	}
	for _, sec := range p.Secrets {
		if sec != "" && strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	if p.runtime != nil {
		s = p.runtime.redact(s)
	}
	return s
}

// AddRuntimeSecrets records values learnt while running (tokens a setup step
// extracted) so Redact hides them like ${VAR} secrets, in this plan and in
// every copy of it made after the first call. They are never marshalled.
// Call it before the plan is shared between goroutines; Redact is then safe
// to call concurrently with later calls.
func (p *Plan) AddRuntimeSecrets(values ...string) {
	if p.runtime == nil {
		p.runtime = &runtimeSecrets{}
	}
	p.runtime.add(values)
}

// runtimeSecrets is a concurrency-safe secret list, longest first.
type runtimeSecrets struct {
	mu   sync.RWMutex
	list []string
}

func (r *runtimeSecrets) add(values []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	set := map[string]bool{}
	for _, v := range r.list {
		set[v] = true
	}
	for _, v := range values {
		set[v] = true
	}
	r.list = sortSecrets(set)
}

func (r *runtimeSecrets) redact(s string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, sec := range r.list {
		if strings.Contains(s, sec) {
			s = strings.ReplaceAll(s, sec, "***")
		}
	}
	return s
}

// sortSecrets deduplicates secrets and orders them longest first (Redact
// relies on that order).
func sortSecrets(set map[string]bool) []string {
	out := make([]string, 0, len(set))
	for s := range set {
		if s != "" {
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) > len(out[j])
		}
		return out[i] < out[j]
	})
	return out
}
