package scaffold

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// A small reader of the parts of an OpenAPI 3.0/3.1 document that
// scaffolding uses: servers, paths, parameters, operation ids, tags,
// summaries and request bodies, with local $refs resolved. It replaces a
// full OpenAPI library whose JSON Schema compiler cost every loadgate start
// 12-18 ms of package init.

// Bounds of the reader.
const (
	// maxRefHops bounds a chain of $refs ($ref to a $ref to …).
	maxRefHops = 32
	// maxSchemaNesting bounds inline schema nesting (a schema's items'
	// properties' …); refs are memoized, so cycles through them end anyway.
	maxSchemaNesting = 1000
	// maxValueNodes bounds the nodes of one example turned into a value
	// (YAML aliases can make a small file expand without end).
	maxValueNodes = 2 * MaxGeneratedBody
)

// apiDoc is what scaffolding reads of a document.
type apiDoc struct {
	version string
	title   string // info.title and info.version
	server  *string
	paths   map[string]*pathItem
}

type pathItem struct {
	params []*parameter
	ops    map[string]*apiOperation // by upper-case method
}

type apiOperation struct {
	id, summary string
	tags        []string
	params      []*parameter
	body        *requestBodyDef
}

type parameter struct {
	name, in string
	required bool
	// example is the parameter's example; firstExample the value of its
	// alphabetically first named example (either may be nil).
	example, firstExample *yaml.Node
	schema                *schema
}

type requestBodyDef struct {
	required bool
	content  map[string]*mediaType // a nil entry is a null media type
}

type mediaType struct {
	example  *yaml.Node
	examples []namedNode // sorted by name; node nil for an example without a value
	schema   *schema
}

type namedNode struct {
	name string
	node *yaml.Node
}

// schema keeps examples, defaults and enums as nodes: they become values
// only when a body is built from them.
type schema struct {
	example, def        *yaml.Node
	enum                []*yaml.Node
	allOf, oneOf, anyOf []*schema
	types               []string
	properties          map[string]*schema
	required            []string
	minItems            int64
	items               *schema
}

// docReader resolves refs against one document and says where an error is.
type docReader struct {
	file    string
	root    *yaml.Node
	schemas map[*yaml.Node]*schema // memo: each schema node is read once, so ref cycles end
	nesting int
}

// readOpenAPI parses data (JSON or YAML) as an OpenAPI 3 document; file
// names it in errors.
func readOpenAPI(file string, data []byte) (*apiDoc, error) {
	var root *yaml.Node
	if t := bytes.TrimSpace(data); len(t) > 0 && t[0] == '{' && json.Valid(t) {
		// JSON through encoding/json: YAML parsers reject some valid JSON
		// (tab indentation, \ud83d\ude00 surrogate pairs).
		var err error
		if root, err = jsonNode(data); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	} else {
		var doc yaml.Node
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		if len(doc.Content) > 0 {
			root = doc.Content[0]
		}
	}
	r := &docReader{file: file, root: root, schemas: map[*yaml.Node]*schema{}}
	if root == nil || resolveAlias(root).Kind != yaml.MappingNode {
		return nil, fmt.Errorf("%s: not an OpenAPI document (want a mapping with openapi, info and paths)", file)
	}
	root = resolveAlias(root)
	d := &apiDoc{}
	if v := lookup(root, "openapi"); v != nil {
		d.version = v.Value
	}
	if !strings.HasPrefix(d.version, "3.") {
		if v := lookup(root, "swagger"); v != nil {
			return nil, fmt.Errorf("%s: Swagger %s document: want OpenAPI 3 (convert it first, e.g. with swagger2openapi)", file, v.Value)
		}
		return nil, fmt.Errorf("%s: version %q: want an OpenAPI 3 document", file, d.version)
	}
	if err := r.checkRefs(root, ""); err != nil {
		return nil, err
	}
	if info := r.mapping(lookup(root, "info")); info != nil {
		d.title = strings.TrimSpace(r.str(lookup(info, "title")) + " " + r.str(lookup(info, "version")))
	}
	if servers := r.seq(lookup(root, "servers")); len(servers) > 0 {
		if s := resolveAlias(servers[0]); s.Kind == yaml.MappingNode {
			u := r.str(lookup(s, "url"))
			d.server = &u
		}
	}
	paths, err := r.derefMapping(lookup(root, "paths"), "paths")
	if err != nil {
		return nil, err
	}
	d.paths = map[string]*pathItem{}
	for _, kv := range pairs(paths) {
		if strings.HasPrefix(kv.name, "x-") {
			continue
		}
		item, err := r.pathItem(kv.node, "paths."+kv.name)
		if err != nil {
			return nil, err
		}
		if item != nil {
			d.paths[kv.name] = item
		}
	}
	return d, nil
}

// errorf says where in the file (line and field) something is wrong.
func (r *docReader) errorf(n *yaml.Node, at, format string, args ...any) error {
	line := ""
	if n != nil && n.Line > 0 {
		line = ":" + strconv.Itoa(n.Line)
	}
	return fmt.Errorf("%s%s: %s: %s", r.file, line, at, fmt.Sprintf(format, args...))
}

// deref follows aliases and a chain of local $refs to the node they name.
func (r *docReader) deref(n *yaml.Node, at string) (*yaml.Node, error) {
	for hops := 0; n != nil; hops++ {
		n = resolveAlias(n)
		ref := lookup(n, "$ref")
		if ref == nil {
			return n, nil
		}
		if hops == maxRefHops {
			return nil, r.errorf(ref, at, "$ref %s: more than %d refs in a chain (a cycle?)", ref.Value, maxRefHops)
		}
		target, err := r.pointer(ref)
		if err != nil {
			return nil, r.errorf(ref, at, "%v", err)
		}
		n = target
	}
	return nil, nil
}

// pointer finds the node a local $ref ("#/components/schemas/Pet") names.
func (r *docReader) pointer(ref *yaml.Node) (*yaml.Node, error) {
	s := ref.Value
	if ref.Kind != yaml.ScalarNode || !strings.HasPrefix(s, "#") {
		return nil, fmt.Errorf("$ref %q: only refs within the document (#/...) are followed, never files or URLs", s)
	}
	n := r.root
	if s == "#" {
		return n, nil
	}
	if !strings.HasPrefix(s, "#/") {
		return nil, fmt.Errorf("$ref %s: want a JSON pointer (#/components/...)", s)
	}
	for _, tok := range strings.Split(s[2:], "/") {
		if u, err := url.PathUnescape(tok); err == nil {
			tok = u
		}
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		n = resolveAlias(n)
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			next = lookup(n, tok)
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return nil, fmt.Errorf("$ref %s not found", s)
		}
		n = next
	}
	return n, nil
}

// checkRefs rejects any $ref in the document that is not local or names
// nothing, as the OpenAPI library it replaces did, although scaffolding
// reads only part of the document. Literal values (examples, defaults,
// enums, extensions) are not searched: a "$ref" there is data.
func (r *docReader) checkRefs(n *yaml.Node, at string) error {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i].Value, n.Content[i+1]
			switch {
			case k == "$ref":
				if _, err := r.pointer(v); err != nil {
					return r.errorf(v, strings.TrimPrefix(at, "."), "%v", err)
				}
			case k == "example" || k == "default" || k == "enum" || k == "const" || strings.HasPrefix(k, "x-"),
				k == "value" && strings.Contains(at, ".examples."),
				k == "examples" && v.Kind == yaml.SequenceNode:
			default:
				if err := r.checkRefs(v, at+"."+k); err != nil {
					return err
				}
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if err := r.checkRefs(c, fmt.Sprintf("%s[%d]", at, i)); err != nil {
				return err
			}
		}
	}
	return nil // aliases are checked where their anchor is
}

func (r *docReader) derefMapping(n *yaml.Node, at string) (*yaml.Node, error) {
	n, err := r.deref(n, at)
	if err != nil || n == nil || isNull(n) {
		return nil, err
	}
	if n.Kind != yaml.MappingNode {
		return nil, r.errorf(n, at, "want a mapping")
	}
	return n, nil
}

func (r *docReader) derefSeq(n *yaml.Node, at string) ([]*yaml.Node, error) {
	n, err := r.deref(n, at)
	if err != nil || n == nil || isNull(n) {
		return nil, err
	}
	if n.Kind != yaml.SequenceNode {
		return nil, r.errorf(n, at, "want a list")
	}
	return n.Content, nil
}

var methods = []string{"get", "head", "post", "put", "patch", "delete", "options", "trace"}

func (r *docReader) pathItem(n *yaml.Node, at string) (*pathItem, error) {
	n, err := r.derefMapping(n, at)
	if err != nil || n == nil {
		return nil, err
	}
	item := &pathItem{ops: map[string]*apiOperation{}}
	if item.params, err = r.parameters(lookup(n, "parameters"), at+".parameters"); err != nil {
		return nil, err
	}
	for _, m := range methods {
		on, err := r.derefMapping(lookup(n, m), at+"."+m)
		if err != nil {
			return nil, err
		}
		if on == nil {
			continue
		}
		at := at + "." + m
		op := &apiOperation{id: r.str(lookup(on, "operationId")), summary: r.str(lookup(on, "summary"))}
		for _, t := range r.seq(lookup(on, "tags")) {
			op.tags = append(op.tags, r.str(t))
		}
		if op.params, err = r.parameters(lookup(on, "parameters"), at+".parameters"); err != nil {
			return nil, err
		}
		if op.body, err = r.requestBody(lookup(on, "requestBody"), at+".requestBody"); err != nil {
			return nil, err
		}
		item.ops[strings.ToUpper(m)] = op
	}
	return item, nil
}

func (r *docReader) parameters(n *yaml.Node, at string) ([]*parameter, error) {
	list, err := r.derefSeq(n, at)
	if err != nil {
		return nil, err
	}
	var out []*parameter
	for i, pn := range list {
		at := fmt.Sprintf("%s[%d]", at, i)
		pn, err := r.derefMapping(pn, at)
		if err != nil {
			return nil, err
		}
		if pn == nil {
			continue
		}
		p := &parameter{name: r.str(lookup(pn, "name")), in: r.str(lookup(pn, "in")), example: lookup(pn, "example")}
		if p.required, err = r.boolean(lookup(pn, "required"), at+".required"); err != nil {
			return nil, err
		}
		examples, err := r.examples(lookup(pn, "examples"), at+".examples")
		if err != nil {
			return nil, err
		}
		if len(examples) > 0 {
			p.firstExample = examples[0].node
		}
		if p.schema, err = r.schema(lookup(pn, "schema"), at+".schema"); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}

// examples reads a map of Example objects: their values, by name.
func (r *docReader) examples(n *yaml.Node, at string) ([]namedNode, error) {
	m, err := r.derefMapping(n, at)
	if err != nil || m == nil {
		return nil, err
	}
	var out []namedNode
	for _, kv := range pairs(m) {
		ex, err := r.derefMapping(kv.node, at+"."+kv.name)
		if err != nil {
			return nil, err
		}
		nn := namedNode{name: kv.name}
		if ex != nil {
			nn.node = lookup(ex, "value")
		}
		out = append(out, nn)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func (r *docReader) requestBody(n *yaml.Node, at string) (*requestBodyDef, error) {
	bn, err := r.derefMapping(n, at)
	if err != nil || bn == nil {
		return nil, err
	}
	rb := &requestBodyDef{content: map[string]*mediaType{}}
	if rb.required, err = r.boolean(lookup(bn, "required"), at+".required"); err != nil {
		return nil, err
	}
	content, err := r.derefMapping(lookup(bn, "content"), at+".content")
	if err != nil {
		return nil, err
	}
	for _, kv := range pairs(content) {
		at := at + ".content." + kv.name
		mn, err := r.derefMapping(kv.node, at)
		if err != nil {
			return nil, err
		}
		if mn == nil {
			rb.content[kv.name] = nil
			continue
		}
		mt := &mediaType{example: lookup(mn, "example")}
		if mt.examples, err = r.examples(lookup(mn, "examples"), at+".examples"); err != nil {
			return nil, err
		}
		if mt.schema, err = r.schema(lookup(mn, "schema"), at+".schema"); err != nil {
			return nil, err
		}
		rb.content[kv.name] = mt
	}
	return rb, nil
}

// schema reads a schema and the schemas it holds. A boolean schema (3.1)
// reads as an empty one.
func (r *docReader) schema(n *yaml.Node, at string) (*schema, error) {
	n, err := r.deref(n, at)
	if err != nil || n == nil || isNull(n) {
		return nil, err
	}
	if s, ok := r.schemas[n]; ok {
		return s, nil
	}
	s := &schema{}
	r.schemas[n] = s
	if n.Kind != yaml.MappingNode {
		if n.ShortTag() == "!!bool" {
			return s, nil
		}
		return nil, r.errorf(n, at, "want a schema (a mapping)")
	}
	if r.nesting++; r.nesting > maxSchemaNesting {
		return nil, r.errorf(n, at, "schemas nested deeper than %d", maxSchemaNesting)
	}
	defer func() { r.nesting-- }()

	s.example, s.def = lookup(n, "example"), lookup(n, "default")
	s.enum = r.seq(lookup(n, "enum"))
	for _, l := range []struct {
		key string
		to  *[]*schema
	}{{"allOf", &s.allOf}, {"oneOf", &s.oneOf}, {"anyOf", &s.anyOf}} {
		list, err := r.derefSeq(lookup(n, l.key), at+"."+l.key)
		if err != nil {
			return nil, err
		}
		for i, c := range list {
			cs, err := r.schema(c, fmt.Sprintf("%s.%s[%d]", at, l.key, i))
			if err != nil {
				return nil, err
			}
			*l.to = append(*l.to, cs)
		}
	}
	if t := lookup(n, "type"); t != nil {
		if t.Kind == yaml.SequenceNode { // 3.1: type: [string, "null"]
			for _, c := range t.Content {
				s.types = append(s.types, r.str(c))
			}
		} else if v := r.str(t); v != "" {
			s.types = []string{v}
		}
	}
	if props, err := r.derefMapping(lookup(n, "properties"), at+".properties"); err != nil {
		return nil, err
	} else if props != nil {
		s.properties = map[string]*schema{}
		for _, kv := range pairs(props) {
			if s.properties[kv.name], err = r.schema(kv.node, at+".properties."+kv.name); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range r.seq(lookup(n, "required")) {
		s.required = append(s.required, r.str(c))
	}
	if mi := lookup(n, "minItems"); mi != nil {
		if s.minItems, err = strconv.ParseInt(mi.Value, 10, 64); err != nil || s.minItems < 0 {
			return nil, r.errorf(mi, at+".minItems", "want a whole number >= 0, not %q", mi.Value)
		}
	}
	if s.items, err = r.schema(lookup(n, "items"), at+".items"); err != nil {
		return nil, err
	}
	return s, nil
}

// singleType is the schema's one type; a 3.1 nullable type ([T, "null"])
// counts as T.
func (s *schema) singleType() string {
	t := slices.DeleteFunc(slices.Clone(s.types), func(t string) bool { return t == "null" })
	if len(t) == 1 {
		return t[0]
	}
	if len(s.types) == 1 {
		return s.types[0]
	}
	return ""
}

func (r *docReader) mapping(n *yaml.Node) *yaml.Node {
	if n = resolveAlias(n); n != nil && n.Kind == yaml.MappingNode {
		return n
	}
	return nil
}

func (r *docReader) seq(n *yaml.Node) []*yaml.Node {
	if n = resolveAlias(n); n != nil && n.Kind == yaml.SequenceNode {
		return n.Content
	}
	return nil
}

// str is a scalar's text ("" for anything else, null included).
func (r *docReader) str(n *yaml.Node) string {
	if n = resolveAlias(n); n != nil && n.Kind == yaml.ScalarNode && !isNull(n) {
		return n.Value
	}
	return ""
}

func (r *docReader) boolean(n *yaml.Node, at string) (bool, error) {
	if n = resolveAlias(n); n == nil || isNull(n) {
		return false, nil
	}
	var b bool
	if n.Kind != yaml.ScalarNode || n.Decode(&b) != nil {
		return false, r.errorf(n, at, "want true or false, not %q", n.Value)
	}
	return b, nil
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// resolveAlias follows YAML aliases (*name) to their anchored node.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxRefHops; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// lookup is a mapping's value for key (the last one if the key repeats, as
// in JSON); nil if absent or n is not a mapping.
func lookup(n *yaml.Node, key string) *yaml.Node {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var v *yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			v = n.Content[i+1]
		}
	}
	return v
}

// pairs are a mapping's entries, a repeated key once with its last value.
func pairs(n *yaml.Node) []namedNode {
	n = resolveAlias(n)
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	var out []namedNode
	at := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i].Value
		if j, ok := at[k]; ok {
			out[j].node = n.Content[i+1]
			continue
		}
		at[k] = len(out)
		out = append(out, namedNode{k, n.Content[i+1]})
	}
	return out
}

var errValueTooLarge = errors.New("value too large")

// value turns a literal (example, default, enum value) into what
// encoding/json would have decoded, with integers kept exact. A null or
// absent node is nil.
func value(n *yaml.Node) (any, error) {
	budget := maxValueNodes
	return valueOf(n, &budget)
}

func valueOf(n *yaml.Node, budget *int) (any, error) {
	if n = resolveAlias(n); n == nil {
		return nil, nil
	}
	if *budget--; *budget < 0 {
		return nil, errValueTooLarge
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := map[string]any{}
		for _, kv := range pairs(n) {
			v, err := valueOf(kv.node, budget)
			if err != nil {
				return nil, err
			}
			m[kv.name] = v
		}
		return m, nil
	case yaml.SequenceNode:
		l := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := valueOf(c, budget)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
		}
		return l, nil
	}
	return scalarValue(n), nil
}

// scalarValue is a scalar's value: nil, bool, int, uint64, float64 or
// string (timestamps and anything unparsable stay as written).
func scalarValue(n *yaml.Node) any {
	if n = resolveAlias(n); n == nil || n.Kind != yaml.ScalarNode {
		return nil
	}
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool", "!!int", "!!float":
		var v any
		if n.Decode(&v) == nil {
			return v
		}
	}
	return n.Value
}

// jsonNode reads a JSON document into a node tree, with line numbers for
// errors.
func jsonNode(data []byte) (*yaml.Node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	line, counted := 1, 0
	lineAt := func() int { // the line of the token just read (offsets only grow)
		off := min(max(int(dec.InputOffset())-1, counted), len(data))
		line += bytes.Count(data[counted:off], []byte("\n"))
		counted = off
		return line
	}
	var read func(depth int) (*yaml.Node, error)
	read = func(depth int) (*yaml.Node, error) {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if depth > 10000 {
			return nil, fmt.Errorf("line %d: nested deeper than 10000", lineAt())
		}
		n := &yaml.Node{Kind: yaml.ScalarNode, Line: lineAt()}
		switch t := tok.(type) {
		case json.Delim:
			end := json.Delim('}')
			n.Kind, n.Tag = yaml.MappingNode, "!!map"
			if t == '[' {
				end, n.Kind, n.Tag = ']', yaml.SequenceNode, "!!seq"
			}
			for dec.More() {
				if n.Kind == yaml.MappingNode {
					k, err := dec.Token()
					if err != nil {
						return nil, err
					}
					n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: k.(string), Line: lineAt()})
				}
				c, err := read(depth + 1)
				if err != nil {
					return nil, err
				}
				n.Content = append(n.Content, c)
			}
			if tok, err := dec.Token(); err != nil || tok != end {
				return nil, fmt.Errorf("line %d: unterminated %v", lineAt(), t)
			}
		case string:
			n.Tag, n.Value = "!!str", t
		case json.Number:
			n.Tag, n.Value = "!!int", t.String()
			if strings.ContainsAny(n.Value, ".eE") {
				n.Tag = "!!float"
			}
		case bool:
			n.Tag, n.Value = "!!bool", strconv.FormatBool(t)
		case nil:
			n.Tag, n.Value = "!!null", "null"
		}
		return n, nil
	}
	root, err := read(0)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = fmt.Errorf("line %d: data after the document", lineAt())
		}
	}
	return root, err
}
