package importers

import (
	"fmt"
	"strings"
)

// Renamer groups dynamic URLs under one endpoint name. Each pattern is a path
// such as "/users/{id}/orders/{order}": a {name} segment matches exactly one
// non-empty path segment, every other segment must match literally, and the
// segment counts must be equal. Patterns are tried in order; the first match
// wins. A name is matched on its path part: "/users/7", "GET /users/7" and
// "GET /users/7?x=1" all become "…/users/{id}" with their method prefix kept
// and the query dropped. Names without a path (JMeter labels such as
// "login") are left alone.
type Renamer struct {
	pats [][]string
	raw  []string
}

// NewRenamer compiles patterns; an empty list renames nothing.
func NewRenamer(patterns []string) (*Renamer, error) {
	r := &Renamer{}
	for _, p := range patterns {
		p = strings.TrimSpace(p)
		if !strings.HasPrefix(p, "/") {
			return nil, fmt.Errorf("rename pattern %q: must start with /", p)
		}
		segs := strings.Split(p[1:], "/")
		for _, s := range segs {
			if strings.Contains(s, "{") || strings.Contains(s, "}") {
				if !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") || len(s) < 3 || strings.Count(s, "{") != 1 {
					return nil, fmt.Errorf("rename pattern %q: segment %q: a placeholder is a whole segment like {id}", p, s)
				}
			}
		}
		r.pats = append(r.pats, segs)
		r.raw = append(r.raw, p)
	}
	return r, nil
}

// Apply returns name with its path replaced by the first matching pattern, or
// name unchanged.
func (r *Renamer) Apply(name string) string {
	if r == nil || len(r.pats) == 0 {
		return name
	}
	i := strings.IndexByte(name, '/')
	if i < 0 {
		return name
	}
	prefix, path := name[:i], name[i:]
	if j := strings.IndexAny(path, "?#"); j >= 0 {
		path = path[:j]
	}
	segs := strings.Split(path[1:], "/")
	for k, p := range r.pats {
		if match(p, segs) {
			return prefix + r.raw[k]
		}
	}
	return name
}

func match(pat, segs []string) bool {
	if len(pat) != len(segs) {
		return false
	}
	for i, p := range pat {
		if strings.HasPrefix(p, "{") {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if p != segs[i] {
			return false
		}
	}
	return true
}
