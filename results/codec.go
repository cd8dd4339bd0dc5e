package results

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
)

// DefaultMaxFileBytes is how large a results or baseline file may be before
// reading it is refused: a results file is bounded by the run's duration (a
// few MB for an hour), so anything near the limit is not one.
const DefaultMaxFileBytes = 64 << 20

// maxFileBytes is the limit SetMaxFileBytes set; 0 (its zero value, so no
// init work) stands for DefaultMaxFileBytes.
var maxFileBytes atomic.Int64

// MaxFileBytes is the current size limit of ReadFile (and of baseline files).
func MaxFileBytes() int64 {
	if n := maxFileBytes.Load(); n > 0 {
		return n
	}
	return DefaultMaxFileBytes
}

// SetMaxFileBytes changes the size limit (the CLI's --max-file-size); n ≤ 0
// restores the default.
func SetMaxFileBytes(n int64) {
	maxFileBytes.Store(max(n, 0))
}

// TooLargeError reports a file over the size limit; nothing beyond the limit
// was read.
type TooLargeError struct {
	File  string
	Limit int64
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s: larger than the %s limit of results and baseline files (raise it with --max-file-size)", e.File, FormatBytes(e.Limit))
}

// FormatBytes renders n in binary units ("64 MiB").
func FormatBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// ReadLimited reads the file at path, refusing (without reading further) a
// file larger than MaxFileBytes.
func ReadLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	limit := MaxFileBytes()
	if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() > limit {
		return nil, &TooLargeError{File: path, Limit: limit}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{File: path, Limit: limit}
	}
	return data, nil
}

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
// unknown schemas, malformed JSON (with line:column), corrupt histograms,
// counts that disagree with the windows and histograms, and input beyond
// MaxFileBytes.
func Decode(r io.Reader, name string) (*File, error) {
	limit := MaxFileBytes()
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, &TooLargeError{File: name, Limit: limit}
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

// ReadFile decodes the results file at path (at most MaxFileBytes).
func ReadFile(path string) (*File, error) {
	data, err := ReadLimited(path)
	if err != nil {
		return nil, err
	}
	return DecodeBytes(data, path)
}

// WriteFile encodes f to path atomically (temp file + rename), so a reader never
// sees half a file even if the process is killed mid-write. Writing is the
// peak of a run's memory, so the encoding goes to the file as it is made
// rather than through one more in-memory copy of the document, one
// histogram encoder serves the whole file, and the garbage collector's
// target is tight meanwhile (TightenGC).
func WriteFile(path string, f *File) (err error) {
	defer TightenGC()()
	defer holdEncoder()()
	tmp := path + ".tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = out.Close()
			_ = os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(out, 32<<10)
	if err := Encode(bw, f); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func (f *File) check() error {
	var errs []error
	seen := map[string]bool{}
	exact := true
	var sumReq, sumErr int64
	for i := range f.Endpoints {
		e := &f.Endpoints[i]
		field := fmt.Sprintf("endpoints[%d] (%s)", i, e.Name)
		if e.Name == "" {
			errs = append(errs, fmt.Errorf("endpoints[%d].name: empty", i))
		}
		if seen[e.Name] {
			errs = append(errs, fmt.Errorf("endpoints[%d].name: duplicate %q", i, e.Name))
		}
		seen[e.Name] = true
		errs = append(errs, e.checkCounts(field)...)
		exact = exact && e.Precision != PrecisionAggregate
		sumReq += e.Requests
		sumErr += e.Errors
	}
	// A file may leave the total out (zero); one it carries must agree.
	if f.Total.Requests != 0 || f.Total.Errors != 0 || f.Total.Histogram != nil {
		errs = append(errs, f.Total.checkCounts("total")...)
		// Aggregate imports may name only some of the requests (k6
		// sub-metrics), so only exact files must add up.
		if exact && f.Total.Precision != PrecisionAggregate && (f.Total.Requests != sumReq || f.Total.Errors != sumErr) {
			errs = append(errs, fmt.Errorf("total: requests %d, errors %d, but the endpoints add up to requests %d, errors %d",
				f.Total.Requests, f.Total.Errors, sumReq, sumErr))
		}
	}
	return errors.Join(errs...)
}

// checkCounts checks that an endpoint's counts agree with each other, with
// its windows and with its histogram; field names it in messages. Warm-up
// windows are in Windows but not in the counts, and a window straddling the
// end of the warm-up is flagged by its midpoint, so with warm-up windows the
// windows bound the counts from above only.
func (e *Endpoint) checkCounts(field string) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf(field+"."+format, args...))
	}
	if e.Requests < 0 || e.Errors < 0 || e.Errors > e.Requests {
		bad("errors: inconsistent counts (requests %d, errors %d)", e.Requests, e.Errors)
		return errs
	}
	if len(e.Windows) > 0 {
		var req, errc int64
		warm := false
		for j, w := range e.Windows {
			if w.Requests < 0 || w.Errors < 0 || w.Errors > w.Requests {
				bad("windows[%d]: inconsistent counts (requests %d, errors %d)", j, w.Requests, w.Errors)
				return errs
			}
			if w.Histogram != nil {
				if n := w.Histogram.Count(); n > w.Requests || n < w.Requests-w.Errors {
					bad("windows[%d].histogram: %d samples for %d requests with %d errors", j, n, w.Requests, w.Errors)
				}
			}
			if w.ServerHistogram != nil && w.ServerHistogram.Count() > w.Requests {
				bad("windows[%d].server_histogram: %d samples for %d requests", j, w.ServerHistogram.Count(), w.Requests)
			}
			req += w.Requests
			errc += w.Errors
			warm = warm || w.Warmup
		}
		switch {
		case e.Requests > req:
			bad("requests: %d, but its windows hold %d", e.Requests, req)
		case e.Errors > errc:
			bad("errors: %d, but its windows hold %d", e.Errors, errc)
		case !warm && e.Requests != req:
			bad("requests: %d, but its windows (no warm-up) hold %d", e.Requests, req)
		case !warm && e.Errors != errc:
			bad("errors: %d, but its windows (no warm-up) hold %d", e.Errors, errc)
		}
	}
	// A failed request without a response has no latency; every other one
	// is in the histogram.
	if e.Histogram != nil && e.Precision != PrecisionAggregate {
		if n := e.Histogram.Count(); n > e.Requests || n < e.Requests-e.Errors {
			bad("histogram: %d samples for %d requests with %d errors", n, e.Requests, e.Errors)
		}
	}
	// Only responses that reported the metric have a server time.
	if e.ServerHistogram != nil && e.Precision != PrecisionAggregate && e.ServerHistogram.Count() > e.Requests {
		bad("server_histogram: %d samples for %d requests", e.ServerHistogram.Count(), e.Requests)
	}
	return errs
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
