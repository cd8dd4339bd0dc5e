package plan

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults applied when the plan does not say.
const (
	DefaultWeight       = 1
	DefaultTimeout      = 10 * time.Second
	DefaultMaxBodyBytes = 10 << 20 // 10 MiB
	// DefaultStepDuration is the length of each stress, scalability and volume step.
	DefaultStepDuration = 10 * time.Second
	// DefaultStepFraction: stress/scalability step by rate/10 unless step_rate is set.
	DefaultStepFraction = 0.1
	// DefaultBreakErrorRate is the stress profile's "broken" error rate (5 %).
	DefaultBreakErrorRate = 0.05
	// DefaultMultiplier is the spike profile's rate multiplier.
	DefaultMultiplier = 10
)

// Input bounds.
const (
	// MaxPlanFileBytes bounds the plan file Load reads.
	MaxPlanFileBytes = 4 << 20
	// MaxBodyFileBytes bounds a body_file (it is held in memory and sent
	// repeatedly).
	MaxBodyFileBytes = 64 << 20
	// MaxNameLen bounds plan and endpoint names (they are keys in results and
	// table cells in reports).
	MaxNameLen = 128
	// maxNodes bounds the YAML nodes the parser visits, so alias bombs
	// ("billion laughs") fail fast instead of exhausting memory.
	maxNodes = 200_000
)

// Load reads and parses the plan file at path. Relative body_file paths
// resolve against the file's directory. getenv supplies ${VAR} values (pass
// os.Getenv from main, a map lookup in tests).
func Load(path string, getenv func(string) string) (*Plan, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxPlanFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read plan %s: %w", path, err)
	}
	if len(data) > MaxPlanFileBytes {
		return nil, &Errors{List: []*Error{{File: path, Msg: fmt.Sprintf("plan file is larger than %d bytes", MaxPlanFileBytes)}}}
	}
	return Parse(data, path, filepath.Dir(path), getenv)
}

// Parse parses, expands and validates a plan. name labels positions in
// errors (usually the file path) and supplies the default plan name; dir is
// where relative body_file paths resolve. Every problem found is returned
// together as *Errors, each positioned file:line:col with its field path.
func Parse(data []byte, name, dir string, getenv func(string) string) (pl *Plan, err error) {
	p := &parser{file: name, dir: dir, getenv: getenv, secrets: map[string]bool{}, secretEnv: map[string]string{}}
	defer func() {
		// yaml.v3 has had panics on malformed input; a plan parser must
		// never take the process down.
		if r := recover(); r != nil {
			pl, err = nil, &Errors{List: []*Error{{File: name, Line: 1, Column: 1, Msg: fmt.Sprintf("cannot parse YAML: %v", r)}}}
		}
	}()
	pl = p.parse(data)
	if len(p.errs) > 0 {
		sortErrors(p.errs)
		return nil, &Errors{List: p.errs}
	}
	return pl, nil
}

type parser struct {
	file, dir string
	getenv    func(string) string
	errs      []*Error
	secrets   map[string]bool
	secretEnv map[string]string // secret value → variable name
	nodes     int
	tooDeep   bool
}

func (p *parser) errorf(n *yaml.Node, path, format string, args ...any) {
	e := &Error{File: p.file, Path: path, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	if e.Line == 0 {
		e.Line, e.Column = 1, 1
	}
	p.errs = append(p.errs, e)
}

// yamlLine splits yaml.v3's "yaml: line N: message" as the regular
// expression `^yaml: line (\d+): (.*)$` would (the message on one line),
// without compiling one at every start-up.
func yamlLine(msg string) (line, rest string, ok bool) {
	s, ok := strings.CutPrefix(msg, "yaml: line ")
	if !ok {
		return "", "", false
	}
	i := 0
	for i < len(s) && '0' <= s[i] && s[i] <= '9' {
		i++
	}
	if i == 0 || !strings.HasPrefix(s[i:], ": ") || strings.Contains(s[i+2:], "\n") {
		return "", "", false
	}
	return s[:i], s[i+2:], true
}

var yamlParserErrors = []string{"did not find expected", "found duplicate %", "found incompatible YAML", "found undefined tag handle"}

// yamlError turns a yaml.v3 syntax error into a positioned Error. yaml.v3
// reports only the line (for an unclosed construct, the line where it
// starts); the column is that line's first non-blank character.
func (p *parser) yamlError(data []byte, err error) {
	msg := err.Error()
	line := 1
	if n, rest, ok := yamlLine(msg); ok {
		line, _ = strconv.Atoi(n)
		msg = rest
		// yaml.v3 adds 1 to the (0-based) mark line only for scanner
		// errors; parser errors (these messages, from parserc.go) carry
		// the 0-based line of the construct being parsed.
		for _, pre := range yamlParserErrors {
			if strings.HasPrefix(msg, pre) {
				line++
				break
			}
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	col := 1
	lines := bytes.Split(data, []byte("\n"))
	if line >= 1 && line <= len(lines) {
		l := lines[line-1]
		col = len(l) - len(bytes.TrimLeft(l, " \t")) + 1
	}
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Column: col, Msg: "invalid YAML: " + msg})
}

func (p *parser) parse(data []byte) *Plan {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.errorf(nil, "", "empty plan: want a mapping with name, target, endpoints and profile")
		} else {
			p.yamlError(data, err)
		}
		return nil
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		p.errorf(&extra, "", "a plan file holds one YAML document; found another")
	} else if !errors.Is(err, io.EOF) {
		p.yamlError(data, err)
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = root.Content[0]
	}
	pl := &Plan{Source: p.file, Dir: p.dir, runtime: &runtimeSecrets{}}
	m := p.mapping(root, "", "plan")
	if m == nil {
		return nil
	}
	pl.Name = p.text(m.get("name"), "name", false)
	if pl.Name == "" && m.get("name") == nil {
		base := filepath.Base(p.file)
		pl.Name = strings.TrimSuffix(base, filepath.Ext(base))
		if p.file == "" || pl.Name == "" || pl.Name == "." {
			p.errorf(m.node, "name", "required")
		}
	} else if pl.Name != "" {
		p.checkName(m.get("name"), "name", pl.Name)
	}
	pl.Runner = p.runner(m.get("runner"))
	usesLocal := m.get("runner") == nil

	if n := m.get("target"); n != nil {
		pl.Target = p.text(n, "target", true)
		if pl.Target != "" {
			if err := checkTargetURL(pl.Target); err != nil {
				p.errorf(n, "target", "%s", p.redactMsg(err.Error()))
			}
		}
	} else if usesLocal {
		p.errorf(m.node, "target", "required (the base URL load is sent to, e.g. http://127.0.0.1:8080)")
	}
	pl.Targets = p.targets(m.get("targets"))
	pl.Defaults = p.defaults(m.get("defaults"))
	pl.TLS = p.tls(m.get("tls"))
	pl.HTTP = p.httpSection(m.get("http"))
	pl.Data = p.data(m.get("data"))
	pl.Setup = p.setup(m.get("setup"))
	pl.Endpoints = p.endpoints(m.get("endpoints"), pl.Defaults, usesLocal, m.node)
	if n := m.get("profile"); n != nil {
		pl.Profile = p.profile(n)
	} else if usesLocal {
		p.errorf(m.node, "profile", "required (e.g. {type: load, rate: 50/s, duration: 30s})")
	}
	pl.Gate = p.gate(m.get("gate"), pl.Endpoints)
	pl.Limits = p.limits(m.get("limits"))
	pl.Secrets = sortSecrets(p.secrets)
	if len(p.secretEnv) > 0 {
		pl.SecretEnv = p.secretEnv
	}
	if len(p.errs) == 0 {
		p.checkTemplates(pl, m.get("endpoints"), m.get("setup"))
		p.checkUniqueRows(pl, m.get("data"))
	}
	if len(p.errs) == 0 {
		// Limits are checked here too so `loadgate validate` catches a plan
		// that exceeds its own ceilings; callers that change the plan
		// (overrides) call CheckLimits again.
		p.checkOwnLimits(pl, m.get("limits"))
	}
	return pl
}

// redactMsg hides secret values collected so far from an error message.
func (p *parser) redactMsg(s string) string {
	tmp := &Plan{Secrets: sortSecrets(p.secrets)}
	return tmp.Redact(s)
}

// ---- generic node access ----

type mapField struct{ key, val *yaml.Node }

type mapNode struct {
	node   *yaml.Node
	fields map[string]mapField
	order  []string
}

func (m *mapNode) get(key string) *yaml.Node {
	if m == nil {
		return nil
	}
	return m.fields[key].val
}

func (m *mapNode) keyNode(key string) *yaml.Node {
	if m == nil {
		return nil
	}
	return m.fields[key].key
}

// resolve follows aliases and counts visited nodes against maxNodes.
func (p *parser) resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			return nil
		}
		n = n.Alias
	}
	p.nodes++
	if p.nodes > maxNodes {
		if !p.tooDeep {
			p.tooDeep = true
			p.errorf(n, "", "document too large or too deeply aliased (more than %d nodes)", maxNodes)
		}
		return nil
	}
	return n
}

func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if n.Tag == "!!null" {
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "something else"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// mapping checks that n is a mapping, collects its fields (following <<
// merge keys) and reports unknown and duplicate keys. section names the key
// set in sectionKeys; "" accepts any key (headers, gate.endpoints).
func (p *parser) mapping(n *yaml.Node, path, section string) *mapNode {
	n = p.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		what := "a mapping"
		if section != "" {
			what = "a mapping of " + section + " keys"
		}
		p.errorf(n, path, "want %s, got %s", what, kindName(n))
		return nil
	}
	m := &mapNode{node: n, fields: map[string]mapField{}}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := p.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			return m
		}
		if k.Kind != yaml.ScalarNode {
			p.errorf(k, path, "keys must be strings, got %s", kindName(k))
			continue
		}
		if k.Tag == "!!merge" || k.Value == "<<" && k.Style == 0 {
			merges = append(merges, v)
			continue
		}
		kp := join(path, k.Value)
		if prev, dup := m.fields[k.Value]; dup {
			p.errorf(k, kp, "duplicate key (first at line %d)", prev.key.Line)
			continue
		}
		if keys, _ := keysOf(sectionKeys, section); section != "" && !slices.Contains(keys, k.Value) {
			p.errorf(k, kp, "unknown key%s", suggest(k.Value, keys))
			continue
		}
		if isNull(p.resolve(v)) {
			// "key:" with no value counts as absent.
			continue
		}
		m.fields[k.Value] = mapField{k, v}
		m.order = append(m.order, k.Value)
	}
	// Merge keys: explicit keys win over merged ones.
	for _, mv := range merges {
		mv = p.resolve(mv)
		if mv == nil {
			continue
		}
		var srcs []*yaml.Node
		switch mv.Kind {
		case yaml.MappingNode:
			srcs = []*yaml.Node{mv}
		case yaml.SequenceNode:
			srcs = mv.Content
		default:
			p.errorf(mv, path, "<< merge wants a mapping or a list of mappings")
			continue
		}
		for _, src := range srcs {
			sm := p.mapping(src, path, section)
			if sm == nil {
				continue
			}
			for _, k := range sm.order {
				if _, ok := m.fields[k]; !ok {
					m.fields[k] = sm.fields[k]
					m.order = append(m.order, k)
				}
			}
		}
	}
	return m
}

// sequence checks that n is a list and returns its items.
func (p *parser) sequence(n *yaml.Node, path, what string) []*yaml.Node {
	n = p.resolve(n)
	if n == nil {
		return nil
	}
	if n.Kind != yaml.SequenceNode {
		p.errorf(n, path, "want a list of %s, got %s", what, kindName(n))
		return nil
	}
	return n.Content
}

// str returns the expanded string value of a scalar. secret records values
// that came from the environment so Redact hides them. Returns "" after
// reporting a problem.
func (p *parser) str(n *yaml.Node, path string, secret bool) string {
	s, _ := p.scalar(n, path, "a string", secret)
	return s
}

// text is str for values that must not be empty.
func (p *parser) text(n *yaml.Node, path string, secret bool) string {
	s, ok := p.scalar(n, path, "a string", secret)
	if ok && s == "" {
		p.errorf(n, path, "must not be empty")
	}
	return s
}

func (p *parser) scalar(n *yaml.Node, path, what string, secret bool) (string, bool) {
	if n == nil {
		return "", false
	}
	n = p.resolve(n)
	if n == nil {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.Tag == "!!null" {
		p.errorf(n, path, "want %s, got %s", what, kindName(n))
		return "", false
	}
	v, env, err := expandVars(n.Value, p.getenv)
	if err != nil {
		p.errorf(n, path, "%v", err)
		return "", false
	}
	if secret {
		for _, e := range env {
			p.secrets[e.Value] = true
			// One value from two variables: the first name in order is
			// kept, so the choice does not depend on the plan's key order.
			if prev, ok := p.secretEnv[e.Value]; !ok || e.Name < prev {
				p.secretEnv[e.Value] = e.Name
			}
		}
	}
	return v, true
}

func (p *parser) duration(n *yaml.Node, path string, allowZero bool) time.Duration {
	s, ok := p.scalar(n, path, "a duration like 10s", false)
	if !ok {
		return 0
	}
	d, err := parseDuration(s)
	switch {
	case err != nil:
		p.errorf(n, path, "%v", err)
	case d < 0 || d == 0 && !allowZero:
		p.errorf(n, path, "must be > 0, got %q", s)
	case d > MaxDurationValue:
		p.errorf(n, path, "must be at most %v, got %q", MaxDurationValue, s)
	default:
		return d
	}
	return 0
}

func (p *parser) rate(n *yaml.Node, path string, allowZero bool) float64 {
	s, ok := p.scalar(n, path, "a rate like 200/s", false)
	if !ok {
		return 0
	}
	return p.checkRate(n, path, s, allowZero)
}

func (p *parser) checkRate(n *yaml.Node, path, s string, allowZero bool) float64 {
	r, err := ParseRate(s)
	switch {
	case err != nil:
		p.errorf(n, path, "%v", err)
	case r < 0 || r == 0 && !allowZero:
		if allowZero {
			p.errorf(n, path, "must be >= 0, got %q", s)
		} else {
			p.errorf(n, path, "must be > 0, got %q", s)
		}
	case r > MaxRateValue:
		p.errorf(n, path, "must be at most %s, got %q", FormatRate(MaxRateValue), s)
	default:
		return r
	}
	return 0
}

func (p *parser) integer(n *yaml.Node, path string, lo, hi int) int {
	s, ok := p.scalar(n, path, "an integer", false)
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(strings.TrimSpace(s))
	switch {
	case err != nil:
		p.errorf(n, path, "want an integer, got %q", s)
	case v < lo:
		p.errorf(n, path, "must be >= %d, got %d", lo, v)
	case v > hi:
		p.errorf(n, path, "must be <= %d, got %d", hi, v)
	default:
		return v
	}
	return 0
}

func (p *parser) number(n *yaml.Node, path string) (float64, bool) {
	s, ok := p.scalar(n, path, "a number", false)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		p.errorf(n, path, "want a number, got %q", s)
		return 0, false
	}
	return v, true
}

func (p *parser) percent(n *yaml.Node, path string) float64 {
	s, ok := p.scalar(n, path, "a percentage like 1%", false)
	if !ok {
		return 0
	}
	v, err := parsePercent(s)
	if err != nil {
		p.errorf(n, path, "%v", err)
	}
	return v
}

func (p *parser) size(n *yaml.Node, path string, hi int64) int64 {
	s, ok := p.scalar(n, path, "a size like 64KB", false)
	if !ok {
		return 0
	}
	v, err := ParseSize(s)
	switch {
	case err != nil:
		p.errorf(n, path, "%v", err)
	case v <= 0:
		p.errorf(n, path, "must be > 0, got %q", s)
	case hi > 0 && v > hi:
		p.errorf(n, path, "must be at most %d bytes, got %q", hi, s)
	default:
		return v
	}
	return 0
}

func (p *parser) checkName(n *yaml.Node, path, name string) {
	switch {
	case strings.TrimSpace(name) != name:
		p.errorf(n, path, "must not start or end with spaces")
	case len(name) > MaxNameLen:
		p.errorf(n, path, "longer than %d characters", MaxNameLen)
	case strings.ContainsFunc(name, func(r rune) bool { return r < ' ' || r == 0x7f }):
		p.errorf(n, path, "must not contain control characters")
	}
}

// ---- sections ----

func (p *parser) targets(n *yaml.Node) Targets {
	var t Targets
	m := p.mapping(n, "targets", "targets")
	if m == nil {
		return t
	}
	for i, it := range p.sequence(m.get("allow"), "targets.allow", "hosts, IPs or CIDRs") {
		path := fmt.Sprintf("targets.allow[%d]", i)
		s := p.text(it, path, false)
		if s == "" {
			continue
		}
		if err := checkAllowEntry(s); err != nil {
			p.errorf(it, path, "%v", err)
			continue
		}
		t.Allow = append(t.Allow, s)
	}
	return t
}

func (p *parser) limits(n *yaml.Node) Limits {
	var l Limits
	m := p.mapping(n, "limits", "limits")
	if m == nil {
		return l
	}
	if v := m.get("max_rate"); v != nil {
		l.MaxRate = p.rate(v, "limits.max_rate", false)
	}
	if v := m.get("max_duration"); v != nil {
		l.MaxDuration = p.duration(v, "limits.max_duration", false)
	}
	if v := m.get("max_workers"); v != nil {
		l.MaxWorkers = p.integer(v, "limits.max_workers", 1, 1_000_000)
	}
	return l
}

func (p *parser) checkOwnLimits(pl *Plan, n *yaml.Node) {
	m := p.mapping(n, "limits", "limits")
	if m == nil {
		return
	}
	if pl.Limits.MaxRate > 0 {
		if peak := pl.PeakRate(); peak > pl.Limits.MaxRate {
			p.errorf(m.get("max_rate"), "limits.max_rate", "the profile's peak rate %s exceeds max_rate %s", FormatRate(peak), FormatRate(pl.Limits.MaxRate))
		}
	}
	if pl.Limits.MaxDuration > 0 {
		if total := pl.TotalDuration(); total > pl.Limits.MaxDuration {
			p.errorf(m.get("max_duration"), "limits.max_duration", "the profile's total duration %v exceeds max_duration %v", total, pl.Limits.MaxDuration)
		}
	}
}

func (p *parser) defaults(n *yaml.Node) Defaults {
	d := Defaults{Timeout: DefaultTimeout, MaxBodyBytes: DefaultMaxBodyBytes}
	m := p.mapping(n, "defaults", "defaults")
	if m == nil {
		return d
	}
	if v := m.get("timeout"); v != nil {
		if t := p.duration(v, "defaults.timeout", false); t > 0 {
			d.Timeout = t
		}
	}
	d.Headers = p.headers(m.get("headers"), "defaults.headers")
	if v := m.get("max_body_bytes"); v != nil {
		if b := p.size(v, "defaults.max_body_bytes", 0); b > 0 {
			d.MaxBodyBytes = b
		}
	}
	d.Expect = p.expect(m.get("expect"), "defaults.expect")
	return d
}

func (p *parser) headers(n *yaml.Node, path string) map[string]string {
	m := p.mapping(n, path, "")
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m.order))
	seen := map[string]string{}
	for _, k := range m.order {
		kp := join(path, k)
		kn := m.keyNode(k)
		if !validHeaderName(k) {
			p.errorf(kn, kp, "invalid header name %q", k)
			continue
		}
		canon := http.CanonicalHeaderKey(k)
		if prev, dup := seen[canon]; dup {
			p.errorf(kn, kp, "duplicate header (same as %q; header names are case-insensitive)", prev)
			continue
		}
		seen[canon] = k
		v, ok := p.scalar(m.get(k), kp, "a string", true)
		if !ok {
			continue
		}
		if !validHeaderValue(v) {
			p.errorf(m.get(k), kp, "header value must not contain control characters (CR, LF)")
			continue
		}
		out[k] = v
	}
	return out
}

func (p *parser) expect(n *yaml.Node, path string) Expect {
	var e Expect
	m := p.mapping(n, path, "expect")
	if m == nil {
		return e
	}
	sn := p.resolve(m.get("status"))
	if sn == nil {
		return e
	}
	items := []*yaml.Node{sn}
	if sn.Kind == yaml.SequenceNode {
		items = sn.Content
		if len(items) == 0 {
			p.errorf(sn, join(path, "status"), "must list at least one status code")
		}
	}
	for i, it := range items {
		ip := join(path, "status")
		if sn.Kind == yaml.SequenceNode {
			ip = fmt.Sprintf("%s.status[%d]", path, i)
		}
		if c := p.integer(it, ip, 100, 599); c != 0 {
			e.Status = append(e.Status, c)
		}
	}
	return e
}

func (p *parser) endpoints(n *yaml.Node, d Defaults, required bool, root *yaml.Node) []Endpoint {
	if n == nil {
		if required {
			p.errorf(root, "endpoints", "required: at least one endpoint")
		}
		return nil
	}
	items := p.sequence(n, "endpoints", "endpoints")
	if items == nil {
		if rn := p.resolve(n); rn != nil && rn.Kind == yaml.SequenceNode && required {
			p.errorf(rn, "endpoints", "required: at least one endpoint")
		}
		return nil
	}
	var out []Endpoint
	names := map[string]int{}
	for i, it := range items {
		path := fmt.Sprintf("endpoints[%d]", i)
		m := p.mapping(it, path, "endpoint")
		if m == nil {
			continue
		}
		e := Endpoint{Line: m.node.Line, Weight: DefaultWeight, Timeout: d.Timeout, Expect: d.Expect}
		if v := m.get("name"); v != nil {
			e.Name = p.text(v, path+".name", false)
			if e.Name != "" {
				p.checkName(v, path+".name", e.Name)
				if prev, dup := names[e.Name]; dup {
					p.errorf(v, path+".name", "duplicate endpoint name %q (also endpoints[%d])", e.Name, prev)
				}
				names[e.Name] = i
			}
		} else {
			p.errorf(m.node, path+".name", "required")
		}
		if v := m.get("request"); v != nil {
			if s := p.text(v, path+".request", true); s != "" {
				method, rpath, err := parseTemplatedRequest(s)
				if err != nil {
					p.errorf(v, path+".request", "%s", p.redactMsg(err.Error()))
				}
				e.Method, e.Path = method, rpath
			}
		} else {
			p.errorf(m.node, path+".request", `required, e.g. "GET /products?page=1"`)
		}
		own := p.headers(m.get("headers"), path+".headers")
		e.Headers = mergeHeaders(d.Headers, own)
		if v := m.get("body"); v != nil {
			e.Body = p.str(v, path+".body", true)
		}
		if v := m.get("body_file"); v != nil {
			if m.get("body") != nil {
				p.errorf(m.keyNode("body_file"), path+".body_file", "body and body_file are mutually exclusive")
			} else if f := p.text(v, path+".body_file", false); f != "" {
				e.BodyFile = f
				body, err := p.readBodyFile(f)
				if err != nil {
					p.errorf(v, path+".body_file", "%v", err)
				}
				e.Body = body
			}
		}
		if v := m.get("weight"); v != nil {
			s, ok := p.scalar(v, path+".weight", "an integer", false)
			if ok {
				w, err := strconv.Atoi(strings.TrimSpace(s))
				switch {
				case err != nil:
					p.errorf(v, path+".weight", "want an integer, got %q", s)
				case w <= 0:
					p.errorf(v, path+".weight", "must be > 0")
				case w > 1_000_000:
					p.errorf(v, path+".weight", "must be <= 1000000")
				default:
					e.Weight = w
				}
			}
		}
		if v := m.get("timeout"); v != nil {
			if t := p.duration(v, path+".timeout", false); t > 0 {
				e.Timeout = t
			}
		}
		if v := m.get("expect"); v != nil {
			if x := p.expect(v, path+".expect"); len(x.Status) > 0 {
				e.Expect = x
			}
		}
		out = append(out, e)
	}
	if len(items) == 0 && required {
		p.errorf(p.resolve(n), "endpoints", "required: at least one endpoint")
	}
	return out
}

// mergeHeaders returns defaults overridden by own; names compare
// case-insensitively and own's spelling wins.
func mergeHeaders(defaults, own map[string]string) map[string]string {
	if len(defaults) == 0 && len(own) == 0 {
		return nil
	}
	out := make(map[string]string, len(defaults)+len(own))
	ownCanon := map[string]bool{}
	for k := range own {
		ownCanon[http.CanonicalHeaderKey(k)] = true
	}
	for k, v := range defaults {
		if !ownCanon[http.CanonicalHeaderKey(k)] {
			out[k] = v
		}
	}
	for k, v := range own {
		out[k] = v
	}
	return out
}

func (p *parser) readBodyFile(name string) (string, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("cannot read: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxBodyFileBytes+1))
	if err != nil {
		return "", fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(b) > MaxBodyFileBytes {
		return "", fmt.Errorf("%s is larger than %d bytes", path, MaxBodyFileBytes)
	}
	return string(b), nil
}

func (p *parser) gate(n *yaml.Node, eps []Endpoint) Gate {
	var g Gate
	m := p.mapping(n, "gate", "gate")
	if m == nil {
		return g
	}
	g.Thresholds = p.thresholds(m, "gate")
	g.SLO = p.slo(m.get("slo"), "gate.slo")
	em := p.mapping(m.get("endpoints"), "gate.endpoints", "")
	if em == nil {
		return g
	}
	var names []string
	for _, e := range eps {
		names = append(names, e.Name)
	}
	g.Endpoints = map[string]Override{}
	for _, name := range em.order {
		path := "gate.endpoints." + name
		if len(eps) > 0 && !slices.Contains(names, name) {
			p.errorf(em.keyNode(name), path, "no endpoint named %q%s", name, suggest(name, names))
		}
		om := p.mapping(em.get(name), path, "override")
		if om == nil {
			continue
		}
		g.Endpoints[name] = Override{Thresholds: p.thresholds(om, path), SLO: p.slo(om.get("slo"), path+".slo")}
	}
	return g
}

func (p *parser) thresholds(m *mapNode, path string) Thresholds {
	var t Thresholds
	dst := map[string]**Tolerance{
		"p50": &t.P50, "p90": &t.P90, "p95": &t.P95, "p99": &t.P99, "max": &t.Max,
		"throughput": &t.Throughput, "error_rate": &t.ErrorRate,
	}
	for _, metric := range thresholdMetrics {
		v := m.get(metric)
		if v == nil {
			continue
		}
		mp := join(path, metric)
		s, ok := p.scalar(v, mp, "a tolerance like +10%", false)
		if !ok {
			continue
		}
		tol, err := ParseTolerance(metric, s)
		if err != nil {
			p.errorf(v, mp, "%v", err)
			continue
		}
		*dst[metric] = tol
	}
	return t
}

func (p *parser) slo(n *yaml.Node, path string) SLO {
	var s SLO
	m := p.mapping(n, path, "slo")
	if m == nil {
		return s
	}
	for metric, dst := range map[string]*time.Duration{"p50": &s.P50, "p90": &s.P90, "p95": &s.P95, "p99": &s.P99, "max": &s.Max} {
		if v := m.get(metric); v != nil {
			*dst = p.duration(v, join(path, metric), false)
		}
	}
	if v := m.get("error_rate"); v != nil {
		s.ErrorRate = p.percent(v, join(path, "error_rate"))
	}
	if v := m.get("throughput"); v != nil {
		s.Throughput = p.rate(v, join(path, "throughput"), false)
	}
	return s
}

func (p *parser) runner(n *yaml.Node) RunnerSpec {
	var r RunnerSpec
	m := p.mapping(n, "runner", "runner")
	if m == nil {
		return r
	}
	if v := m.get("exec"); v != nil {
		r.Exec = p.text(v, "runner.exec", true)
	}
	if v := m.get("timeout"); v != nil {
		r.Timeout = p.duration(v, "runner.timeout", false)
	}
	im := p.mapping(m.get("import"), "runner.import", "import")
	if im != nil {
		spec := &ImportSpec{}
		if v := im.get("from"); v != nil {
			spec.From = p.text(v, "runner.import.from", false)
			if spec.From != "" && !slices.Contains(ImportFormats, spec.From) {
				p.errorf(v, "runner.import.from", "unknown format %q%s; one of %s", spec.From, suggest(spec.From, ImportFormats), strings.Join(ImportFormats, ", "))
			}
		} else {
			p.errorf(im.node, "runner.import.from", "required (one of %s)", strings.Join(ImportFormats, ", "))
		}
		if v := im.get("file"); v != nil {
			spec.File = p.text(v, "runner.import.file", false)
		}
		if v := im.get("files"); v != nil {
			if im.get("file") != nil {
				p.errorf(im.keyNode("files"), "runner.import.files", "file and files are mutually exclusive")
			}
			for i, it := range p.sequence(v, "runner.import.files", "paths") {
				if s := p.text(it, fmt.Sprintf("runner.import.files[%d]", i), false); s != "" {
					spec.Files = append(spec.Files, s)
				}
			}
		}
		for i, it := range p.sequence(im.get("rename"), "runner.import.rename", "URL patterns") {
			if s := p.text(it, fmt.Sprintf("runner.import.rename[%d]", i), false); s != "" {
				spec.Rename = append(spec.Rename, s)
			}
		}
		r.Import = spec
	}
	if r.Exec == "" && r.Import == nil {
		p.errorf(m.node, "runner", "set exec (a command to run) and/or import (results to read)")
	}
	return r
}
