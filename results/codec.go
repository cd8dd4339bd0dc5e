package results

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// SchemaError reports a results file whose schema this build cannot read.
type SchemaError struct {
	File string
	Got  string
}

func (e *SchemaError) Error() string {
	if e.Got == "" {
		return fmt.Sprintf("%s: not a loadgate results file (no \"schema\" field; want %q)", e.File, Schema)
	}
	return fmt.Sprintf("%s: unsupported schema %q (this loadgate reads %q; upgrade loadgate or regenerate the file)", e.File, e.Got, Schema)
}

// SyntaxError is malformed JSON, positioned by line and column.
type SyntaxError struct {
	File         string
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
}

// Encode writes f as indented JSON. Histograms are V2 compressed base64.
func Encode(w io.Writer, f *File) error {
	if f.Schema == "" {
		f.Schema = Schema
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	return nil
}

// Decode reads one results file; name is used in error messages. It rejects
// unknown schemas, malformed JSON (with line:column) and corrupt histograms.
func Decode(r io.Reader, name string) (*File, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return DecodeBytes(data, name)
}

// DecodeBytes is Decode on an in-memory document.
func DecodeBytes(data []byte, name string) (*File, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, PositionJSONError(data, name, err)
	}
	if head.Schema != Schema {
		return nil, &SchemaError{File: name, Got: head.Schema}
	}
	var f File
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&f); err != nil {
		return nil, PositionJSONError(data, name, err)
	}
	if err := f.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &f, nil
}

// ReadFile decodes the results file at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeBytes(data, path)
}

// WriteFile encodes f to path atomically (temp file + rename), so a reader never
// sees half a file even if the process is killed mid-write.
func WriteFile(path string, f *File) error {
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (f *File) check() error {
	var errs []error
	seen := map[string]bool{}
	for i, e := range f.Endpoints {
		if e.Name == "" {
			errs = append(errs, fmt.Errorf("endpoints[%d].name: empty", i))
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("endpoints[%d].name: duplicate %q", i, e.Name))
		}
		seen[e.Name] = true
		if e.Requests < 0 || e.Errors < 0 || e.Errors > e.Requests {
			errs = append(errs, fmt.Errorf("endpoints[%d] (%s): inconsistent counts (requests %d, errors %d)", i, e.Name, e.Requests, e.Errors))
		}
	}
	return errors.Join(errs...)
}

// PositionJSONError turns an encoding/json error on data into a
// *SyntaxError naming file, line and column where the error has an offset;
// other errors are wrapped with the file name. Every loadgate JSON format
// (results, baselines, verdicts) reports its errors this way.
func PositionJSONError(data []byte, name string, err error) error {
	var off int64 = -1
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	msg := err.Error()
	switch {
	case errors.As(err, &se):
		off = max(se.Offset-1, 0) // Offset is just past the offending byte
		if strings.Contains(msg, "unexpected end") {
			msg = "truncated file (unexpected end of JSON input)"
		}
	case errors.As(err, &te):
		off = te.Offset
		msg = fmt.Sprintf("%s: cannot use %s as %s", te.Field, te.Value, te.Type)
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		off = int64(len(data))
		msg = "truncated file (unexpected end of JSON input)"
	case strings.HasPrefix(msg, "json: unknown field"):
		return fmt.Errorf("%s: %s", name, strings.TrimPrefix(msg, "json: "))
	}
	if off < 0 {
		return fmt.Errorf("%s: %w", name, err)
	}
	line, col := lineCol(data, off)
	return &SyntaxError{File: name, Line: line, Column: col, Msg: strings.TrimPrefix(msg, "json: ")}
}

func lineCol(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
