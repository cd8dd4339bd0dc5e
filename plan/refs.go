package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
)

// MarshalRefs encodes the plan as JSON without its secret values, for handing
// it to another process (a distributed worker) through storage that outlives
// the run. Every string of the JSON, keys included, is written in the plan's
// own ${VAR} syntax: each occurrence of a secret becomes a reference ${NAME} to
// the environment variable it came from (SecretEnv), and every other $ is
// doubled. UnmarshalRefs, given an environment with the same values, returns
// the same plan. needs lists the variables the references name, sorted.
//
// A secret whose variable is unknown (set in Secrets by hand, not by Parse)
// is an error: it could be written only as its value.
func (p *Plan) MarshalRefs() (data []byte, needs []string, err error) {
	unknown := 0
	for _, s := range p.Secrets {
		if s != "" && p.SecretEnv[s] == "" {
			unknown++
		}
	}
	if unknown > 0 {
		return nil, nil, fmt.Errorf("plan has %d secret(s) whose environment variable is unknown; refusing to store their values", unknown)
	}
	// One pass, longest secret first (strings.Replacer tries its pairs in
	// argument order at each position), so a secret containing another is
	// replaced whole and no replacement is rescanned.
	secrets := append([]string(nil), p.Secrets...)
	sort.SliceStable(secrets, func(i, j int) bool { return len(secrets[i]) > len(secrets[j]) })
	var pairs []string
	used := map[string]bool{}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		name := p.SecretEnv[s]
		pairs = append(pairs, s, "${"+name+"}")
		used[name] = true
	}
	pairs = append(pairs, "$", "$$")
	r := strings.NewReplacer(pairs...)
	raw, err := json.Marshal(p)
	if err != nil {
		return nil, nil, err
	}
	v, err := decodeJSON(raw)
	if err != nil {
		return nil, nil, err
	}
	v, err = mapStrings(v, func(s string) (string, error) { return r.Replace(s), nil })
	if err != nil {
		return nil, nil, err
	}
	if data, err = json.Marshal(v); err != nil {
		return nil, nil, err
	}
	for n := range used {
		needs = append(needs, n)
	}
	sort.Strings(needs)
	return data, needs, nil
}

// MissingEnvError is UnmarshalRefs' error when the environment lacks (or has
// empty) variables that the plan's references name.
type MissingEnvError struct {
	Names []string
}

func (e *MissingEnvError) Error() string {
	s := "s"
	if len(e.Names) == 1 {
		s = ""
	}
	return fmt.Sprintf("environment variable%s %s not set", s, strings.Join(e.Names, ", "))
}

// UnmarshalRefs decodes a plan written by MarshalRefs, resolving its ${NAME}
// references with getenv. The values substituted are the plan's Secrets (and
// SecretEnv), so they are redacted as in the original. A variable that getenv
// does not have, or has empty, is a *MissingEnvError naming every such
// variable: a reference is never left as its literal text.
func UnmarshalRefs(data []byte, getenv func(string) string) (*Plan, error) {
	v, err := decodeJSON(data)
	if err != nil {
		return nil, err
	}
	missing := map[string]bool{}
	secrets := map[string]bool{}
	secretEnv := map[string]string{}
	lookup := func(name string) string {
		val := ""
		if getenv != nil {
			val = getenv(name)
		}
		if val == "" {
			missing[name] = true
			return "-" // keeps expanding to find every missing name; the result is discarded
		}
		return val
	}
	v, err = mapStrings(v, func(s string) (string, error) {
		out, vars, err := expandVars(s, lookup)
		if err != nil {
			return "", err
		}
		for _, e := range vars {
			secrets[e.Value] = true
			if prev, ok := secretEnv[e.Value]; !ok || e.Name < prev {
				secretEnv[e.Value] = e.Name
			}
		}
		return out, nil
	})
	if len(missing) > 0 {
		e := &MissingEnvError{}
		for n := range missing {
			e.Names = append(e.Names, n)
		}
		sort.Strings(e.Names)
		return nil, e
	}
	if err != nil {
		return nil, fmt.Errorf("plan references: %w", err)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var p Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	p.runtime = &runtimeSecrets{}
	p.Secrets = sortSecrets(secrets)
	if len(secretEnv) > 0 {
		p.SecretEnv = secretEnv
	}
	return &p, nil
}

// decodeJSON decodes one JSON value keeping numbers as written, so a
// re-encoded plan has exactly the same rates and durations.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("plan: %w", err)
	}
	if dec.More() {
		return nil, errors.New("plan: trailing data after the JSON value")
	}
	return v, nil
}

// mapStrings applies f to every string of a decoded JSON value, object keys
// included.
func mapStrings(v any, f func(string) (string, error)) (any, error) {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			y, err := mapStrings(x[i], f)
			if err != nil {
				return nil, err
			}
			x[i] = y
		}
		return x, nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, val := range x {
			nk, err := f(k)
			if err != nil {
				return nil, err
			}
			nv, err := mapStrings(val, f)
			if err != nil {
				return nil, err
			}
			out[nk] = nv
		}
		return out, nil
	}
	return v, nil
}
