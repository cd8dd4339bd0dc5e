package mcpserver

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/gate"
)

// schema is the JSON Schema subset the tools' input and output types need.
// It is inferred from Go types by the rules github.com/google/jsonschema-go
// applied when the MCP SDK served loadgate (schema_test.go compares the two),
// so clients see the same schemas while the binary carries neither the SDK nor
// a general schema library.
type schema struct {
	types       []string // one entry marshals as a string
	description string
	props       []property // in field order
	required    []string
	// additionalProperties: closed forbids unknown properties (structs);
	// extra is the value schema of a map.
	closed           bool
	extra            *schema
	items            *schema
	minimum, maximum *float64
	minItems         *int
	maxItems         *int
}

type property struct {
	name   string
	schema *schema
}

// knownSchema is the schema of a standard-library type whose JSON form is
// not its Go kind (jsonschema-go's defaults for the types loadgate's outputs
// can hold), or nil. A switch, not a map: no start-up work outside `mcp`.
func knownSchema(t reflect.Type) *schema {
	switch t {
	case reflect.TypeFor[time.Time](), reflect.TypeFor[slog.Level]():
		return &schema{types: []string{"string"}}
	}
	return nil
}

// nullableProps names the properties of t that t's own MarshalJSON may write
// as null although their Go type is not a pointer (the sides of a check one
// side did not measure): the schema must admit null there. A switch, as
// above.
func nullableProps(t reflect.Type) []string {
	if t == reflect.TypeFor[gate.Check]() {
		return []string{"base", "head", "delta"}
	}
	return nil
}

// schemaFor infers the schema of t. Pointers are followed (the schema then
// also admits null) and the result is always the element's schema.
func schemaFor(t reflect.Type) (*schema, error) {
	return inferSchema(t, map[reflect.Type]bool{})
}

// wordEquals reports whether tag starts with a word and "=" (what the regular
// expression `^[^ \t\n]*=` matches), a syntax jsonschema-go reserves for
// the future.
func wordEquals(tag string) bool {
	i := strings.IndexAny(tag, " \t\n=")
	return i >= 0 && tag[i] == '='
}

func inferSchema(t reflect.Type, seen map[reflect.Type]bool) (*schema, error) {
	allowNull := false
	for t.Kind() == reflect.Pointer {
		allowNull = true
		t = t.Elem()
	}
	if t.Name() != "" {
		if seen[t] {
			return nil, fmt.Errorf("cycle detected for type %v", t)
		}
		seen[t] = true
		defer delete(seen, t)
	}
	if s := knownSchema(t); s != nil {
		if allowNull {
			s.types = append([]string{"null"}, s.types...)
		}
		return s, nil
	}
	s := &schema{}
	bounds := func(lo, hi float64) {
		s.types = []string{"integer"}
		s.minimum = &lo
		if hi != 0 {
			s.maximum = &hi
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		s.types = []string{"boolean"}
	case reflect.Int, reflect.Int64:
		s.types = []string{"integer"}
	case reflect.Uint, reflect.Uint64, reflect.Uintptr:
		bounds(0, 0)
	case reflect.Int8:
		bounds(math.MinInt8, math.MaxInt8)
	case reflect.Uint8:
		bounds(0, math.MaxUint8)
	case reflect.Int16:
		bounds(math.MinInt16, math.MaxInt16)
	case reflect.Uint16:
		bounds(0, math.MaxUint16)
	case reflect.Int32:
		bounds(math.MinInt32, math.MaxInt32)
	case reflect.Uint32:
		bounds(0, math.MaxUint32)
	case reflect.Float32, reflect.Float64:
		s.types = []string{"number"}
	case reflect.String:
		s.types = []string{"string"}
	case reflect.Interface:
		// any value
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("unsupported map key type %v", t.Key().Kind())
		}
		s.types = []string{"object"}
		v, err := inferSchema(t.Elem(), seen)
		if err != nil {
			return nil, fmt.Errorf("computing map value schema: %v", err)
		}
		s.extra = v
	case reflect.Slice, reflect.Array:
		if t.Kind() == reflect.Slice {
			s.types = []string{"null", "array"}
		} else {
			s.types = []string{"array"}
			n := t.Len()
			s.minItems, s.maxItems = &n, &n
		}
		items, err := inferSchema(t.Elem(), seen)
		if err != nil {
			return nil, fmt.Errorf("computing element schema: %v", err)
		}
		s.items = items
	case reflect.Struct:
		s.types = []string{"object"}
		s.closed = true
		fields := reflect.VisibleFields(t)
		if len(fields) > 0 {
			s.props = []property{} // "properties": {} even when no field is exported
		}
		for _, f := range fields {
			if f.Anonymous || !f.IsExported() {
				continue // an embedded struct's fields are visited as promoted fields
			}
			name, opts := f.Name, ""
			if tag, ok := f.Tag.Lookup("json"); ok {
				n, rest, found := strings.Cut(tag, ",")
				if n == "-" && !found {
					continue
				}
				if n != "" {
					name = n
				}
				opts = "," + rest + ","
			}
			fs, err := inferSchema(f.Type, seen)
			if err != nil {
				return nil, err
			}
			if tag, ok := f.Tag.Lookup("jsonschema"); ok {
				if tag == "" || wordEquals(tag) {
					return nil, fmt.Errorf("jsonschema tag on %s.%s: want a plain description", t, f.Name)
				}
				fs.description = tag
			}
			// A later field of the same name wins, at the later position.
			s.props = slices.DeleteFunc(s.props, func(p property) bool { return p.name == name })
			s.props = append(s.props, property{name, fs})
			if !strings.Contains(opts, ",omitempty,") && !strings.Contains(opts, ",omitzero,") {
				s.required = append(s.required, name)
			}
		}
	default:
		return nil, fmt.Errorf("type %v is unsupported by jsonschema", t)
	}
	for _, name := range nullableProps(t) {
		for _, p := range s.props {
			if p.name == name && len(p.schema.types) == 1 {
				p.schema.types = []string{"null", p.schema.types[0]}
			}
		}
	}
	if allowNull && len(s.types) == 1 {
		s.types = []string{"null", s.types[0]}
	}
	return s, nil
}

// MarshalJSON writes the schema with its keys in jsonschema-go's order.
func (s *schema) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	n := 0
	key := func(k string) {
		if n > 0 {
			b.WriteByte(',')
		}
		n++
		b.WriteString(strconv.Quote(k))
		b.WriteByte(':')
	}
	val := func(v any) error {
		data, err := json.Marshal(v)
		b.Write(data)
		return err
	}
	switch len(s.types) {
	case 0:
	case 1:
		key("type")
		_ = val(s.types[0])
	default:
		key("type")
		_ = val(s.types)
	}
	if s.props != nil {
		key("properties")
		b.WriteByte('{')
		for i, p := range s.props {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.Quote(p.name))
			b.WriteByte(':')
			if err := val(p.schema); err != nil {
				return nil, err
			}
		}
		b.WriteByte('}')
	}
	if s.items != nil {
		key("items")
		if err := val(s.items); err != nil {
			return nil, err
		}
	}
	if s.description != "" {
		key("description")
		_ = val(s.description)
	}
	if s.minimum != nil {
		key("minimum")
		_ = val(*s.minimum)
	}
	if s.maximum != nil {
		key("maximum")
		_ = val(*s.maximum)
	}
	if s.minItems != nil {
		key("minItems")
		_ = val(*s.minItems)
	}
	if s.maxItems != nil {
		key("maxItems")
		_ = val(*s.maxItems)
	}
	if len(s.required) > 0 {
		key("required")
		_ = val(s.required)
	}
	switch {
	case s.extra != nil:
		key("additionalProperties")
		if err := val(s.extra); err != nil {
			return nil, err
		}
	case s.closed:
		key("additionalProperties")
		b.WriteString("false")
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// validate checks a decoded JSON value (encoding/json's any: map, slice,
// float64, string, bool, nil) against s; the error names the offending path.
func (s *schema) validate(v any, path string) error {
	if len(s.types) > 0 && !slices.ContainsFunc(s.types, func(t string) bool { return hasType(v, t) }) {
		return fmt.Errorf("%swant %s, got %s", at(path), strings.Join(s.types, " or "), jsonType(v))
	}
	switch v := v.(type) {
	case float64:
		if s.minimum != nil && v < *s.minimum {
			return fmt.Errorf("%s%v is less than the minimum %v", at(path), v, *s.minimum)
		}
		if s.maximum != nil && v > *s.maximum {
			return fmt.Errorf("%s%v is more than the maximum %v", at(path), v, *s.maximum)
		}
	case []any:
		if s.minItems != nil && len(v) < *s.minItems || s.maxItems != nil && len(v) > *s.maxItems {
			return fmt.Errorf("%s%d items, want %d", at(path), len(v), *s.minItems)
		}
		if s.items != nil {
			for i, e := range v {
				if err := s.items.validate(e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
			}
		}
	case map[string]any:
		var missing []string
		for _, r := range s.required {
			if _, ok := v[r]; !ok {
				missing = append(missing, strconv.Quote(r))
			}
		}
		if len(missing) > 0 {
			return fmt.Errorf("%smissing required %s", at(path), strings.Join(missing, ", "))
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			sub := s.extra
			if i := slices.IndexFunc(s.props, func(p property) bool { return p.name == k }); i >= 0 {
				sub = s.props[i].schema
			} else if s.closed {
				return fmt.Errorf("%sunknown property %q (known: %s)", at(path), k, s.propNames())
			}
			if sub != nil {
				if err := sub.validate(v[k], join(path, k)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

func (s *schema) propNames() string {
	names := make([]string, len(s.props))
	for i, p := range s.props {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

// at prefixes a message with the path of the value it is about.
func at(path string) string {
	if path == "" {
		return ""
	}
	return strconv.Quote(path) + ": "
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func hasType(v any, t string) bool {
	switch t {
	case "null":
		return v == nil
	case "boolean":
		_, ok := v.(bool)
		return ok
	case "string":
		_, ok := v.(string)
		return ok
	case "number":
		_, ok := v.(float64)
		return ok
	case "integer":
		f, ok := v.(float64)
		return ok && f == math.Trunc(f) && !math.IsInf(f, 0)
	case "array":
		_, ok := v.([]any)
		return ok
	case "object":
		_, ok := v.(map[string]any)
		return ok
	}
	return false
}

func jsonType(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
