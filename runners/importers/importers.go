// Package importers turns the result files of other load-test tools (k6, JMeter,
// Locust, Vegeta, Gatling) into loadgate results. Every parser streams its input
// (bufio, csv.Reader, xml.Decoder tokens, json.Decoder, gob.Decoder) so memory
// depends on the number of endpoints and time windows, never on the file size.
//
// Where a tool writes one record per request, the results hold exact
// HdrHistograms (precision "exact"); where it writes only percentiles or
// aggregates, endpoints say precision "aggregate" and carry the tool's figures.
package importers

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/loadgate/loadgate/results"
)

// Format names accepted by Import (and `loadgate import --from`).
const (
	FormatK6JSON        = "k6-json"
	FormatK6Summary     = "k6-summary"
	FormatJMeterCSV     = "jmeter-csv"
	FormatJMeterXML     = "jmeter-xml"
	FormatLocustStats   = "locust-stats"
	FormatLocustHistory = "locust-history"
	FormatVegetaGob     = "vegeta-gob"
	FormatVegetaJSON    = "vegeta-json"
	FormatVegetaCSV     = "vegeta-csv"
	FormatVegetaReport  = "vegeta-report"
	FormatGatling       = "gatling"
	// FormatAuto detects the format of each file from its content.
	FormatAuto = "auto"
)

// DefaultWindow is the width of the time windows imports build when
// Options.Window is zero; it matches the local runner's windows.
const DefaultWindow = time.Second

// maxLineBytes bounds one record of a line-oriented format. k6 points with many
// tags and JMeter rows with long failure messages stay far below it; a longer
// "line" means the file is not what the format says.
const maxLineBytes = 4 << 20

// Options tune an import.
type Options struct {
	// SkipBadLines counts malformed records and goes on instead of failing.
	// Skipped lines are reported in Validity.Reasons and returned by Warnings.
	SkipBadLines bool
	// Rename lists path patterns such as "/users/{id}"; an endpoint whose path
	// matches one is renamed to the pattern. A {name} segment matches exactly one
	// path segment. See Renamer.
	Rename []string
	// Window is the width of the results' time windows (default DefaultWindow).
	Window time.Duration
	// JMeterColumns names the columns of a JMeter CSV file written without a
	// header line (default JMeterDefaultColumns213). Ignored when the file has a header.
	JMeterColumns []string
	// PlanName is recorded as the results' plan name (default: the first file's base name).
	PlanName string
	// Logf, when set, receives warnings (skipped lines, ignored records) as they happen.
	Logf func(format string, args ...any)
}

// LineError is a malformed record: the file, its 1-based line (0 when the format
// has no lines, as in gob) and what is wrong.
type LineError struct {
	File string
	Line int64
	Msg  string
}

func (e *LineError) Error() string {
	if e.Line <= 0 {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// FormatError reports an unknown format name or a file whose format cannot be detected.
type FormatError struct {
	Format string
	File   string
	Msg    string
}

func (e *FormatError) Error() string {
	if e.File != "" {
		return fmt.Sprintf("%s: %s", e.File, e.Msg)
	}
	return fmt.Sprintf("import format %q: %s", e.Format, e.Msg)
}

// Formats lists the format names Import accepts (without "auto").
func Formats() []string {
	out := make([]string, 0, len(parsers))
	for _, p := range parsers {
		out = append(out, p.format)
	}
	sort.Strings(out)
	return out
}

// parser reads one file into b.
type parser func(ctx context.Context, in *input, b *builder) error

// parsers is a slice, not a map: static data, so no start-up work in
// commands that import nothing.
var parsers = []struct {
	format string
	parse  parser
}{
	{FormatK6JSON, parseK6JSON},
	{FormatK6Summary, parseK6Summary},
	{FormatJMeterCSV, parseJMeterCSV},
	{FormatJMeterXML, parseJMeterXML},
	{FormatLocustStats, parseLocust},
	{FormatLocustHistory, parseLocust},
	{FormatVegetaGob, parseVegetaGob},
	{FormatVegetaJSON, parseVegetaJSON},
	{FormatVegetaCSV, parseVegetaCSV},
	{FormatVegetaReport, parseVegetaReport},
	{FormatGatling, parseGatling},
}

// parserFor returns format's parser, nil for an unknown format.
func parserFor(format string) parser {
	for _, p := range parsers {
		if p.format == format {
			return p.parse
		}
	}
	return nil
}

// Import reads files written by the tool named by format and returns loadgate
// results. With format "auto" each file's format is detected from its content
// (see Detect). Files may be gzip-compressed (as `k6 --out json=x.gz` writes).
// A malformed record fails the import with a *LineError unless
// opts.SkipBadLines is set.
func Import(ctx context.Context, format string, files []string, opts Options) (*results.File, error) {
	if len(files) == 0 {
		return nil, errors.New("import: no files")
	}
	if format != FormatAuto {
		if parserFor(format) == nil {
			return nil, &FormatError{Format: format, Msg: "unknown (known: auto, " + strings.Join(Formats(), ", ") + ")"}
		}
	}
	ren, err := NewRenamer(opts.Rename)
	if err != nil {
		return nil, err
	}
	b := newBuilder(opts, ren)
	formats := make([]string, 0, len(files))
	for _, name := range files {
		f, err := importFile(ctx, format, name, b)
		if err != nil {
			return nil, err
		}
		formats = append(formats, f)
	}
	runner := formats[0]
	for _, f := range formats[1:] {
		if f != runner && !(isLocust(f) && isLocust(runner)) {
			runner = "mixed"
		}
	}
	planName := opts.PlanName
	if planName == "" {
		planName = filepath.Base(files[0])
	}
	return b.file(runner, planName), nil
}

func isLocust(f string) bool { return f == FormatLocustStats || f == FormatLocustHistory }

func importFile(ctx context.Context, format, name string, b *builder) (string, error) {
	fh, err := os.Open(name)
	if err != nil {
		return "", fmt.Errorf("import: %w", err)
	}
	defer fh.Close()
	return importReader(ctx, format, name, fh, b)
}

// importReader parses one input named name (for messages) into b and returns
// the format it was read as.
func importReader(ctx context.Context, format, name string, r io.Reader, b *builder) (string, error) {
	in, err := newInput(r, name)
	if err != nil {
		return "", err
	}
	defer in.close()
	if format == FormatAuto {
		head, _ := in.r.Peek(detectBytes)
		format = Detect(head)
		if format == "" {
			return "", &FormatError{File: name, Msg: "cannot detect the format from the content; pass --from FORMAT (one of " + strings.Join(Formats(), ", ") + ")"}
		}
	}
	if err := parserFor(format)(ctx, in, b); err != nil {
		return "", err
	}
	return format, nil
}

// input is one opened file, transparently gunzipped, with line accounting for
// the parsers that read lines.
type input struct {
	name string
	r    *bufio.Reader
	gz   *gzip.Reader
}

func newInput(r io.Reader, name string) (*input, error) {
	br := bufio.NewReaderSize(r, 256<<10)
	in := &input{name: name, r: br}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%s: gzip: %w", name, err)
		}
		in.gz = gz
		in.r = bufio.NewReaderSize(gz, 256<<10)
	}
	return in, nil
}

func (in *input) close() {
	if in.gz != nil {
		in.gz.Close()
	}
}

func (in *input) errorf(line int64, format string, args ...any) *LineError {
	return &LineError{File: in.name, Line: line, Msg: fmt.Sprintf(format, args...)}
}

// lines calls fn for each line of in (without the line end), 1-based numbering.
// Lines longer than maxLineBytes are an error.
func (in *input) lines(ctx context.Context, fn func(n int64, line []byte) error) error {
	sc := bufio.NewScanner(in.r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLineBytes)
	var n int64
	for sc.Scan() {
		n++
		if n%checkEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		line := sc.Bytes()
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return in.errorf(n+1, "line longer than %d bytes", maxLineBytes)
		}
		return fmt.Errorf("%s: %w", in.name, err)
	}
	return nil
}

// checkEvery is how many records a parser reads between checks of ctx.
const checkEvery = 4096
