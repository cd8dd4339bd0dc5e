package plan

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Data source formats and row selection modes.
const (
	FormatCSV    = "csv"
	FormatJSON   = "json"
	FormatNDJSON = "ndjson"

	// ModeSequential takes rows in file order, starting again after the last.
	ModeSequential = "sequential"
	// ModeRandom takes a uniformly random row for each request.
	ModeRandom = "random"
	// ModeUnique gives each request its own row; a run that needs more rows
	// than the source has is refused when the plan loads (open model) or
	// made invalid when it runs out (closed model).
	ModeUnique = "unique"
)

// DataFormats and DataModes are the accepted values, in documentation order.
var (
	DataFormats = []string{FormatCSV, FormatJSON, FormatNDJSON}
	DataModes   = []string{ModeSequential, ModeRandom, ModeUnique}
)

// Data source bounds. Sources are loaded once, held in memory and handed to
// distributed workers inside the plan, so they are kept small.
const (
	// MaxDataFileBytes bounds one data file.
	MaxDataFileBytes = 8 << 20
	// MaxDataBytes bounds all data files of a plan together.
	MaxDataBytes = 32 << 20
	// MaxDataRows bounds the rows of one source.
	MaxDataRows = 1_000_000
	// MaxDataColumns bounds the columns of one source.
	MaxDataColumns = 256
)

// DataSource is a table of values loaded once when the plan is read; requests
// take rows from it by Mode. Every value is text (JSON numbers as written,
// nested values as compact JSON).
type DataSource struct {
	Name    string     `json:"name"`
	File    string     `json:"file"`
	Format  string     `json:"format"`
	Mode    string     `json:"mode"`
	Columns []string   `json:"columns"`
	Rows    [][]string `json:"rows"`
	Line    int        `json:"-"`
}

// SetupStep is one request run before the warm-up, whose response gives
// values (Extract) to the endpoints' templates.
type SetupStep struct {
	Name    string            `json:"name"`
	Method  string            `json:"method"`
	Path    string            `json:"path"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
	Timeout time.Duration     `json:"timeout,omitempty"`
	Expect  Expect            `json:"expect,omitempty"`
	Extract []Extract         `json:"extract,omitempty"`
	Line    int               `json:"-"`
}

// Extract takes one value from a setup response into variable Var: from the
// JSON body (JSON is a JSON pointer "/a/0/b" or a path "a[0].b") or from a
// response header.
type Extract struct {
	Var    string `json:"var"`
	JSON   string `json:"json,omitempty"`
	Header string `json:"header,omitempty"`
}

// ThinkTime is the pause of a closed-model VU after each response: Fixed, or
// uniform in [Min, Max], or exponential with mean Mean (capped at
// MaxThinkFactor × Mean).
type ThinkTime struct {
	Fixed time.Duration `json:"fixed,omitempty"`
	Min   time.Duration `json:"min,omitempty"`
	Max   time.Duration `json:"max,omitempty"`
	Mean  time.Duration `json:"mean,omitempty"`
}

// MaxThinkFactor caps an exponential think time at this many means, so one
// draw cannot idle a VU for most of a short run.
const MaxThinkFactor = 10

// IsZero reports whether no think time is set.
func (t ThinkTime) IsZero() bool { return t == ThinkTime{} }

// Average is the expected think time (for estimates).
func (t ThinkTime) Average() time.Duration {
	switch {
	case t.Fixed > 0:
		return t.Fixed
	case t.Max > 0:
		return (t.Min + t.Max) / 2
	}
	return t.Mean
}

// DecodeData reads a data file's content: CSV with a header line, a JSON
// array of objects, or NDJSON (one object per line). Every row must have
// every column. It returns the columns in header (or first object's key)
// order and the rows.
func DecodeData(format string, data []byte) (columns []string, rows [][]string, err error) {
	switch format {
	case FormatCSV:
		return decodeCSV(data)
	case FormatJSON:
		var arr []json.RawMessage
		dec := json.NewDecoder(bytes.NewReader(data))
		if err := dec.Decode(&arr); err != nil {
			return nil, nil, fmt.Errorf("want a JSON array of objects: %v", err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, nil, errors.New("trailing data after the JSON array")
		}
		return decodeObjects(func(yield func(int, []byte) bool) {
			for i, raw := range arr {
				if !yield(i+1, raw) {
					return
				}
			}
		}, "element")
	case FormatNDJSON:
		return decodeObjects(func(yield func(int, []byte) bool) {
			sc := bufio.NewScanner(bytes.NewReader(data))
			sc.Buffer(make([]byte, 0, 64<<10), MaxDataFileBytes)
			line := 0
			for sc.Scan() {
				line++
				if len(bytes.TrimSpace(sc.Bytes())) == 0 {
					continue
				}
				if !yield(line, sc.Bytes()) {
					return
				}
			}
		}, "line")
	}
	return nil, nil, fmt.Errorf("unknown format %q; one of %s", format, strings.Join(DataFormats, ", "))
}

func decodeCSV(data []byte) ([]string, [][]string, error) {
	r := csv.NewReader(bytes.NewReader(data))
	r.ReuseRecord = false
	header, err := r.Read()
	if err == io.EOF {
		return nil, nil, errors.New("empty CSV: want a header line and at least one row")
	}
	if err != nil {
		return nil, nil, fmt.Errorf("CSV: %v", err)
	}
	if err := checkColumns(header); err != nil {
		return nil, nil, err
	}
	var rows [][]string
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("CSV: %v", err)
		}
		if len(rows) >= MaxDataRows {
			return nil, nil, fmt.Errorf("more than %d rows", MaxDataRows)
		}
		rows = append(rows, rec)
	}
	if len(rows) == 0 {
		return nil, nil, errors.New("CSV has a header but no rows")
	}
	return header, rows, nil
}

func checkColumns(cols []string) error {
	if len(cols) > MaxDataColumns {
		return fmt.Errorf("more than %d columns", MaxDataColumns)
	}
	seen := map[string]bool{}
	for i, c := range cols {
		if !validColumn(c) {
			return fmt.Errorf("column %d: name %q: use letters, digits, _ and - (templates name columns as data.SOURCE.COLUMN)", i+1, c)
		}
		if seen[c] {
			return fmt.Errorf("column %q appears twice", c)
		}
		seen[c] = true
	}
	return nil
}

// decodeObjects turns JSON objects into rows; where names the unit of
// position in errors ("element" or "line").
func decodeObjects(each func(func(int, []byte) bool), where string) ([]string, [][]string, error) {
	var cols []string
	var index map[string]int
	var rows [][]string
	var err error
	each(func(pos int, raw []byte) bool {
		var obj map[string]json.RawMessage
		if e := json.Unmarshal(raw, &obj); e != nil || obj == nil {
			err = fmt.Errorf("%s %d: want a JSON object", where, pos)
			return false
		}
		if cols == nil {
			for k := range obj {
				cols = append(cols, k)
			}
			if len(cols) == 0 {
				err = fmt.Errorf("%s %d: an object without keys (want one key per column)", where, pos)
				return false
			}
			// Object keys have no order in Go's decoder; sorted is stable.
			sort.Strings(cols)
			if err = checkColumns(cols); err != nil {
				return false
			}
			index = map[string]int{}
			for i, c := range cols {
				index[c] = i
			}
		}
		if len(obj) != len(cols) {
			err = fmt.Errorf("%s %d: has %d keys, the first object has %d (%s)", where, pos, len(obj), len(cols), strings.Join(cols, ", "))
			return false
		}
		row := make([]string, len(cols))
		for k, v := range obj {
			i, ok := index[k]
			if !ok {
				err = fmt.Errorf("%s %d: key %q is not in the first object", where, pos, k)
				return false
			}
			row[i] = jsonText(v)
		}
		if len(rows) >= MaxDataRows {
			err = fmt.Errorf("more than %d rows", MaxDataRows)
			return false
		}
		rows = append(rows, row)
		return true
	})
	if err != nil {
		return nil, nil, err
	}
	if len(rows) == 0 {
		return nil, nil, errors.New("no rows")
	}
	return cols, rows, nil
}

// jsonText is a JSON value as template text: strings unquoted, null empty,
// anything else as written (compacted).
func jsonText(v json.RawMessage) string {
	v = bytes.TrimSpace(v)
	if len(v) > 0 && v[0] == '"' {
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	if string(v) == "null" {
		return ""
	}
	var b bytes.Buffer
	if json.Compact(&b, v) == nil {
		return b.String()
	}
	return string(v)
}

// ---- parsing ----

// data parses the plan's data: section (a mapping of source names).
func (p *parser) data(n *yaml.Node) []DataSource {
	m := p.mapping(n, "data", "")
	if m == nil {
		return nil
	}
	var out []DataSource
	total := 0
	for _, name := range m.order {
		path := "data." + name
		kn := m.keyNode(name)
		if !validVarName(name) {
			p.errorf(kn, path, "source name must be letters, digits and _ (it is written data.%s.COLUMN in templates)", name)
			continue
		}
		sm := p.mapping(m.get(name), path, "source")
		if sm == nil {
			continue
		}
		d := DataSource{Name: name, Mode: ModeSequential, Line: kn.Line}
		if v := sm.get("mode"); v != nil {
			d.Mode = p.text(v, path+".mode", false)
			if d.Mode != "" && !slices.Contains(DataModes, d.Mode) {
				p.errorf(v, path+".mode", "unknown mode %q%s; one of %s", d.Mode, suggest(d.Mode, DataModes), strings.Join(DataModes, ", "))
				continue
			}
		}
		fn := sm.get("file")
		if fn == nil {
			p.errorf(sm.node, path+".file", "required (a CSV, JSON or NDJSON file, relative to the plan)")
			continue
		}
		d.File = p.text(fn, path+".file", false)
		if d.File == "" {
			continue
		}
		d.Format = formatFromExt(d.File)
		if v := sm.get("format"); v != nil {
			d.Format = p.text(v, path+".format", false)
			if !slices.Contains(DataFormats, d.Format) {
				p.errorf(v, path+".format", "unknown format %q%s; one of %s", d.Format, suggest(d.Format, DataFormats), strings.Join(DataFormats, ", "))
				continue
			}
		} else if d.Format == "" {
			p.errorf(fn, path+".file", "cannot tell the format from %q: name it .csv, .json or .ndjson, or set format", d.File)
			continue
		}
		content, err := p.readDataFile(d.File, MaxDataBytes-total)
		if err != nil {
			p.errorf(fn, path+".file", "%v", err)
			continue
		}
		total += len(content)
		d.Columns, d.Rows, err = DecodeData(d.Format, content)
		if err != nil {
			p.errorf(fn, path+".file", "%s: %v", d.File, err)
			continue
		}
		out = append(out, d)
	}
	return out
}

func formatFromExt(file string) string {
	switch strings.ToLower(filepath.Ext(file)) {
	case ".csv":
		return FormatCSV
	case ".json":
		return FormatJSON
	case ".ndjson", ".jsonl":
		return FormatNDJSON
	}
	return ""
}

func (p *parser) readDataFile(name string, budget int) ([]byte, error) {
	path := name
	if !filepath.IsAbs(path) {
		path = filepath.Join(p.dir, path)
	}
	limit := min(MaxDataFileBytes, budget)
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	if len(b) > limit {
		if limit < MaxDataFileBytes {
			return nil, fmt.Errorf("%s: the plan's data files together exceed %d bytes", path, MaxDataBytes)
		}
		return nil, fmt.Errorf("%s is larger than %d bytes", path, MaxDataFileBytes)
	}
	return b, nil
}

// setup parses the setup: list.
func (p *parser) setup(n *yaml.Node) []SetupStep {
	var out []SetupStep
	names := map[string]bool{}
	vars := map[string]bool{}
	for i, it := range p.sequence(n, "setup", "setup requests") {
		path := fmt.Sprintf("setup[%d]", i)
		m := p.mapping(it, path, "setup")
		if m == nil {
			continue
		}
		s := SetupStep{Line: m.node.Line, Timeout: DefaultTimeout, Name: fmt.Sprintf("setup[%d]", i)}
		if v := m.get("name"); v != nil {
			s.Name = p.text(v, path+".name", false)
			p.checkName(v, path+".name", s.Name)
			if names[s.Name] {
				p.errorf(v, path+".name", "duplicate setup step name %q", s.Name)
			}
			names[s.Name] = true
		}
		if v := m.get("request"); v != nil {
			if str := p.text(v, path+".request", true); str != "" {
				method, rpath, err := parseTemplatedRequest(str)
				if err != nil {
					p.errorf(v, path+".request", "%s", p.redactMsg(err.Error()))
				}
				s.Method, s.Path = method, rpath
			}
		} else {
			p.errorf(m.node, path+".request", `required, e.g. "POST /login"`)
		}
		// Setup requests get only their own headers: defaults.headers may
		// use the very variables setup extracts.
		s.Headers = p.headers(m.get("headers"), path+".headers")
		if v := m.get("body"); v != nil {
			s.Body = p.str(v, path+".body", true)
		}
		if v := m.get("timeout"); v != nil {
			if t := p.duration(v, path+".timeout", false); t > 0 {
				s.Timeout = t
			}
		}
		if v := m.get("expect"); v != nil {
			s.Expect = p.expect(v, path+".expect")
		}
		em := p.mapping(m.get("extract"), path+".extract", "")
		if em != nil {
			for _, name := range em.order {
				xp := path + ".extract." + name
				if !validVarName(name) {
					p.errorf(em.keyNode(name), xp, "variable name must be letters, digits and _ (it is written vars.%s in templates)", name)
					continue
				}
				if vars[name] {
					p.errorf(em.keyNode(name), xp, "variable %q is extracted twice", name)
					continue
				}
				vars[name] = true
				xm := p.mapping(em.get(name), xp, "extract")
				if xm == nil {
					continue
				}
				x := Extract{Var: name}
				if v := xm.get("json"); v != nil {
					x.JSON = p.text(v, xp+".json", false)
					if x.JSON != "" {
						if _, err := ParseJSONPath(x.JSON); err != nil {
							p.errorf(v, xp+".json", "%v", err)
						}
					}
				}
				if v := xm.get("header"); v != nil {
					x.Header = p.text(v, xp+".header", false)
					if x.Header != "" && !validHeaderName(x.Header) {
						p.errorf(v, xp+".header", "invalid header name %q", x.Header)
					}
				}
				if (x.JSON == "") == (x.Header == "") {
					p.errorf(xm.node, xp, "set exactly one of json (a JSON pointer /a/b or path a.b[0]) and header")
					continue
				}
				s.Extract = append(s.Extract, x)
			}
		}
		out = append(out, s)
	}
	return out
}

// parseTemplatedRequest is parseRequest for a request line whose path may
// hold {{ }} expressions (with spaces inside): they are set aside while the
// line is checked.
func parseTemplatedRequest(s string) (method, path string, err error) {
	if !HasTemplate(s) {
		return parseRequest(s)
	}
	var exprs []string
	var b strings.Builder
	for i := 0; i < len(s); {
		open := strings.Index(s[i:], "{{")
		if open < 0 {
			b.WriteString(s[i:])
			break
		}
		b.WriteString(s[i : i+open])
		end := strings.Index(s[i+open:], "}}")
		if end < 0 {
			return "", "", &TemplateError{i + open, "unclosed {{"}
		}
		exprs = append(exprs, s[i+open:i+open+end+2])
		fmt.Fprintf(&b, "TMPL%dX", len(exprs)-1)
		i += open + end + 2
	}
	method, path, err = parseRequest(b.String())
	if err != nil {
		return "", "", err
	}
	for j := len(exprs) - 1; j >= 0; j-- {
		path = strings.Replace(path, fmt.Sprintf("TMPL%dX", j), exprs[j], 1)
	}
	return method, path, nil
}

// thinkTime parses profile.think_time: a duration, or {min, max} (uniform),
// or {mean} (exponential).
func (p *parser) thinkTime(n *yaml.Node) ThinkTime {
	var t ThinkTime
	rn := p.resolve(n)
	if rn == nil {
		return t
	}
	const path = "profile.think_time"
	if rn.Kind == yaml.ScalarNode {
		t.Fixed = p.duration(rn, path, false)
		return t
	}
	m := p.mapping(rn, path, "think_time")
	if m == nil {
		return t
	}
	if v := m.get("min"); v != nil {
		t.Min = p.duration(v, path+".min", true)
	}
	if v := m.get("max"); v != nil {
		t.Max = p.duration(v, path+".max", false)
	}
	if v := m.get("mean"); v != nil {
		t.Mean = p.duration(v, path+".mean", false)
	}
	switch {
	case m.get("mean") != nil && (m.get("min") != nil || m.get("max") != nil):
		p.errorf(m.node, path, "give either min and max (uniform) or mean (exponential), not both")
	case m.get("mean") == nil && m.get("max") == nil:
		p.errorf(m.node, path, "want a duration (fixed), {min, max} (uniform) or {mean} (exponential)")
	case t.Max > 0 && t.Min > t.Max:
		p.errorf(m.get("min"), path+".min", "must be <= max")
	}
	return t
}

// checkTemplates compiles every template of the plan, so unknown names are
// positioned errors at load rather than surprises during the run.
func (p *parser) checkTemplates(pl *Plan, endpoints, setup *yaml.Node) {
	check := func(n *yaml.Node, path, text string, vars []string) {
		if !HasTemplate(text) {
			return
		}
		if _, err := pl.CompileTemplate(text, vars); err != nil {
			p.errorf(n, path, "%s", p.redactMsg(err.Error()))
		}
	}
	var vars []string
	setupItems := p.seqNodes(setup)
	for i, s := range pl.Setup {
		var sm *mapNode
		if i < len(setupItems) {
			sm = p.quietMapping(setupItems[i])
		}
		path := fmt.Sprintf("setup[%d]", i)
		check(sm.get("request"), path+".request", s.Path, vars)
		for k, v := range s.Headers {
			check(sm.get("headers"), path+".headers."+k, v, vars)
		}
		check(sm.get("body"), path+".body", s.Body, vars)
		for _, x := range s.Extract {
			vars = append(vars, x.Var)
		}
	}
	items := p.seqNodes(endpoints)
	for i, e := range pl.Endpoints {
		var em *mapNode
		if i < len(items) {
			em = p.quietMapping(items[i])
		}
		path := fmt.Sprintf("endpoints[%d]", i)
		check(em.get("request"), path+".request", e.Path, vars)
		keys := make([]string, 0, len(e.Headers))
		for k := range e.Headers {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			hn := em.get("headers")
			if hn == nil {
				hn = em.get("request") // from defaults.headers
			}
			check(hn, path+".headers."+k, e.Headers[k], vars)
		}
		bn := em.get("body")
		if bn == nil {
			bn = em.get("body_file")
		}
		check(bn, path+".body", e.Body, vars)
	}
}

// seqNodes returns a list's items without reporting anything (the section
// parser already did).
func (p *parser) seqNodes(n *yaml.Node) []*yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.SequenceNode {
		return nil
	}
	return n.Content
}

// quietMapping indexes a mapping's fields without reporting problems.
func (p *parser) quietMapping(n *yaml.Node) *mapNode {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
		n = n.Alias
	}
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	m := &mapNode{node: n, fields: map[string]mapField{}}
	for i := 0; i+1 < len(n.Content); i += 2 {
		m.fields[n.Content[i].Value] = mapField{n.Content[i], n.Content[i+1]}
	}
	return m
}

// checkUniqueRows refuses an open-model plan whose endpoints would use more
// rows of a unique source than it has.
func (p *parser) checkUniqueRows(pl *Plan, dataNode *yaml.Node) {
	if pl.Profile.Closed() || len(pl.Endpoints) == 0 {
		return
	}
	var wsum int
	for _, e := range pl.Endpoints {
		wsum += e.Weight
	}
	total := 0.0
	for _, s := range pl.Schedule() {
		total += (s.StartRate + s.EndRate) / 2 * s.Duration.Seconds()
	}
	dm := p.quietMapping(dataNode)
	for si, d := range pl.Data {
		if d.Mode != ModeUnique {
			continue
		}
		need := 0.0
		for _, e := range pl.Endpoints {
			if endpointUses(pl, &e, si) {
				need += total * float64(e.Weight) / float64(wsum)
			}
		}
		if need > float64(len(d.Rows)) {
			p.errorf(dm.keyNode(d.Name), "data."+d.Name, "mode unique: the profile sends about %.0f requests using this source, but it has %d rows (add rows, shorten the run or use mode sequential)", need, len(d.Rows))
		}
	}
}

// endpointUses reports whether e's templates reference data source si.
func endpointUses(pl *Plan, e *Endpoint, si int) bool {
	texts := []string{e.Path, e.Body}
	for _, v := range e.Headers {
		texts = append(texts, v)
	}
	for _, s := range texts {
		t, err := pl.CompileTemplate(s, pl.SetupVars())
		if err == nil && t != nil && containsInt(t.Sources(), si) {
			return true
		}
	}
	return false
}
