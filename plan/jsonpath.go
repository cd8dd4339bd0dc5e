package plan

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxJSONPathSteps bounds a JSON pointer or path.
const MaxJSONPathSteps = 64

// ParseJSONPath parses a JSON pointer ("/data/0/token", RFC 6901) or a dotted
// path ("data[0].token", an optional leading "$." allowed) into steps: object
// keys, and array indices written as decimal numbers.
func ParseJSONPath(s string) ([]string, error) {
	if s == "" {
		return nil, errors.New("empty JSON path")
	}
	var steps []string
	if s[0] == '/' {
		for _, tok := range strings.Split(s[1:], "/") {
			tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
			steps = append(steps, tok)
		}
	} else {
		s = strings.TrimPrefix(strings.TrimPrefix(s, "$"), ".")
		for _, seg := range strings.Split(s, ".") {
			key, rest, _ := strings.Cut(seg, "[")
			if key == "" && rest == "" {
				return nil, fmt.Errorf("JSON path %q: empty step (want a.b[0].c or a pointer /a/b/0/c)", s)
			}
			if key != "" {
				steps = append(steps, key)
			}
			for rest != "" {
				idx, after, ok := strings.Cut(rest, "]")
				if _, err := strconv.Atoi(idx); !ok || err != nil {
					return nil, fmt.Errorf("JSON path %q: want [N] with a number N", s)
				}
				steps = append(steps, idx)
				if after == "" {
					break
				}
				if !strings.HasPrefix(after, "[") {
					return nil, fmt.Errorf("JSON path %q: unexpected %q after ]", s, after)
				}
				rest = after[1:]
			}
		}
	}
	if len(steps) > MaxJSONPathSteps {
		return nil, fmt.Errorf("JSON path longer than %d steps", MaxJSONPathSteps)
	}
	return steps, nil
}

// ExtractJSON returns the value at path in a JSON document as template text
// (strings unquoted, others as written). The error never quotes the document
// (it may hold secrets).
func ExtractJSON(doc []byte, path string) (string, error) {
	steps, err := ParseJSONPath(path)
	if err != nil {
		return "", err
	}
	cur := json.RawMessage(bytes.TrimSpace(doc))
	if !json.Valid(cur) {
		return "", errors.New("the response body is not JSON")
	}
	for i, st := range steps {
		at := "/" + strings.Join(steps[:i], "/")
		switch {
		case len(cur) > 0 && cur[0] == '{':
			var obj map[string]json.RawMessage
			if err := json.Unmarshal(cur, &obj); err != nil {
				return "", fmt.Errorf("at %s: %v", at, err)
			}
			v, ok := obj[st]
			if !ok {
				return "", fmt.Errorf("at %s: no key %q", at, st)
			}
			cur = bytes.TrimSpace(v)
		case len(cur) > 0 && cur[0] == '[':
			var arr []json.RawMessage
			if err := json.Unmarshal(cur, &arr); err != nil {
				return "", fmt.Errorf("at %s: %v", at, err)
			}
			n, err := strconv.Atoi(st)
			if err != nil || n < 0 || n >= len(arr) {
				return "", fmt.Errorf("at %s: no element %q (the array has %d)", at, st, len(arr))
			}
			cur = bytes.TrimSpace(arr[n])
		default:
			return "", fmt.Errorf("at %s: not an object or array, cannot take %q", at, st)
		}
	}
	if string(cur) == "null" {
		return "", fmt.Errorf("at %s: null", path)
	}
	return jsonText(cur), nil
}
