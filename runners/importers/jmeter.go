package importers

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// JMeterDefaultColumns213 is the column set JMeter 2.13 writes by default
// (bin/jmeter.properties jmeter.save.saveservice.* defaults), used for CSV
// files without a header line unless Options.JMeterColumns says otherwise.
var JMeterDefaultColumns213 = []string{
	"timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName",
	"dataType", "success", "bytes", "grpThreads", "allThreads", "Latency",
}

// JMeterDefaultColumns5 is the default column set of JMeter 5.x.
var JMeterDefaultColumns5 = []string{
	"timeStamp", "elapsed", "label", "responseCode", "responseMessage", "threadName",
	"dataType", "success", "failureMessage", "bytes", "sentBytes", "grpThreads",
	"allThreads", "URL", "Latency", "IdleTime", "Connect",
}

// jmeterTimeLayouts are the jmeter.save.saveservice.timestamp_format values
// seen in practice besides the default "ms"; they carry no zone, so UTC is assumed.
var jmeterTimeLayouts = []string{
	"2006/01/02 15:04:05.000",
	"2006-01-02 15:04:05.000",
	"2006/01/02 15:04:05",
	"2006-01-02 15:04:05",
}

// jmeterSample is one sample row or element, as strings.
type jmeterSample struct {
	ts, elapsed, label, code, msg, success, failure, bytes, sent, url string
}

func (b *builder) addJMeter(in *input, line int64, js *jmeterSample, s *sample, col func(string) string) error {
	ts, err := parseJMeterTime(js.ts)
	if err == nil {
		err = checkTime(ts)
	}
	if err != nil {
		return b.bad(in.errorf(line, "%s: not a timestamp %q", col("timeStamp"), js.ts))
	}
	el, err := strconv.ParseInt(strings.TrimSpace(js.elapsed), 10, 64)
	if err != nil || el < 0 {
		return b.bad(in.errorf(line, "%s: not a number %q", col("elapsed"), js.elapsed))
	}
	*s = sample{label: js.label, url: js.url, t: ts.UnixNano(), latencyUS: el * 1000}
	s.end = s.t + el*int64(time.Millisecond)
	if js.bytes != "" {
		if s.bytes, err = strconv.ParseInt(strings.TrimSpace(js.bytes), 10, 64); err != nil {
			return b.bad(in.errorf(line, "%s: not a number %q", col("bytes"), js.bytes))
		}
	}
	if js.sent != "" {
		if s.sent, err = strconv.ParseInt(strings.TrimSpace(js.sent), 10, 64); err != nil {
			return b.bad(in.errorf(line, "%s: not a number %q", col("sentBytes"), js.sent))
		}
	}
	code := atoiStatus(js.code)
	if code > 0 {
		s.status = strconv.Itoa(code)
	}
	var ok bool
	switch strings.ToLower(strings.TrimSpace(js.success)) {
	case "true":
		ok = true
	case "false":
		ok = false
	case "":
		// No success column: JMeter's default HTTP rule (2xx/3xx succeed).
		ok = !statusFailed(code)
	default:
		return b.bad(in.errorf(line, "%s: not true or false %q", col("success"), js.success))
	}
	if !ok {
		s.errKind = classify(js.code+" "+js.msg+" "+js.failure, code)
	}
	if js.label == "" {
		return b.bad(in.errorf(line, "%s: empty", col("label")))
	}
	return b.addLine(in, line, s)
}

func parseJMeterTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	for _, l := range jmeterTimeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errors.New("bad timestamp")
}

func parseJMeterCSV(ctx context.Context, in *input, b *builder) error {
	first, _ := in.r.Peek(64 << 10)
	if i := bytes.IndexByte(first, '\n'); i >= 0 {
		first = first[:i]
	}
	cr := csv.NewReader(in.r)
	// JMeter's default delimiter is ","; "\t" is the common alternative
	// (jmeter.save.saveservice.default_delimiter).
	if bytes.Count(first, []byte("\t")) > bytes.Count(first, []byte(",")) {
		cr.Comma = '\t'
	}
	cr.FieldsPerRecord = -1
	cr.LazyQuotes = true
	cr.ReuseRecord = true

	idx := map[string]int{}
	setCols := func(cols []string) {
		for i, c := range cols {
			idx[strings.TrimSpace(c)] = i
		}
	}
	header := false
	var ncols int
	var js jmeterSample
	var s sample
	get := func(rec []string, name string) string {
		if i, ok := idx[name]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	col := func(name string) string { return fmt.Sprintf("column %q", name) }
	first1 := true
	return eachCSVRecord(ctx, in, b, cr, func(rec []string, line int64) error {
		if first1 {
			first1 = false
			if isJMeterHeader(rec) {
				header = true
				setCols(rec)
				ncols = len(rec)
				for _, req := range []string{"timeStamp", "elapsed", "label"} {
					if _, ok := idx[req]; !ok {
						return in.errorf(line, "header has no %q column (columns: %s)", req, strings.Join(rec, ","))
					}
				}
				return nil
			}
			cols := b.opts.JMeterColumns
			if len(cols) == 0 {
				cols = JMeterDefaultColumns213
			}
			setCols(cols)
			ncols = len(cols)
		}
		if len(rec) != ncols {
			what := "the header"
			if !header {
				what = "the column list (JMeter 2.13 default unless --jmeter-columns)"
			}
			return b.bad(in.errorf(line, "%d columns, %s has %d", len(rec), what, ncols))
		}
		js = jmeterSample{
			ts: get(rec, "timeStamp"), elapsed: get(rec, "elapsed"), label: get(rec, "label"),
			code: get(rec, "responseCode"), msg: get(rec, "responseMessage"), success: get(rec, "success"),
			failure: get(rec, "failureMessage"), bytes: get(rec, "bytes"), sent: get(rec, "sentBytes"), url: get(rec, "URL"),
		}
		return b.addJMeter(in, line, &js, &s, col)
	})
}

func isJMeterHeader(rec []string) bool {
	var ts, el bool
	for _, c := range rec {
		switch strings.TrimSpace(c) {
		case "timeStamp":
			ts = true
		case "elapsed":
			el = true
		}
	}
	return ts && el
}

// parseJMeterXML reads an XML JTL: <testResults> holding <httpSample> and
// <sample> elements whose attributes are t (elapsed ms), lt (latency), ts
// (timestamp ms), s (success), lb (label), rc (code), rm (message), by (bytes),
// sby (sent bytes). Nested samples are sub-results (redirects, embedded
// resources) already counted in their parent and are skipped.
func parseJMeterXML(ctx context.Context, in *input, b *builder) error {
	dec := xml.NewDecoder(in.r)
	dec.Strict = true
	var js jmeterSample
	var s sample
	depth := 0
	sampleDepth := 0 // depth of the open top-level sample, 0 if none
	col := func(name string) string {
		attr := map[string]string{"timeStamp": "ts", "elapsed": "t", "label": "lb", "success": "s", "bytes": "by", "sentBytes": "sby"}[name]
		return fmt.Sprintf("attribute %q", attr)
	}
	for n := 0; ; n++ {
		if n%checkEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			if depth != 0 {
				line, _ := dec.InputPos()
				return in.errorf(int64(line), "XML ends inside an element (truncated file?)")
			}
			return nil
		}
		if err != nil {
			line, _ := dec.InputPos()
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				line = se.Line
			}
			// XML cannot resynchronise after a syntax error: fatal even with SkipBadLines.
			return in.errorf(int64(line), "XML: %v", unwrapXML(err))
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			if depth == 1 && t.Name.Local != "testResults" {
				line, _ := dec.InputPos()
				return in.errorf(int64(line), "not a JMeter XML JTL: root element <%s>, want <testResults>", t.Name.Local)
			}
			if sampleDepth == 0 && depth == 2 && (t.Name.Local == "httpSample" || t.Name.Local == "sample") {
				sampleDepth = depth
				js = jmeterSample{}
				for _, a := range t.Attr {
					switch a.Name.Local {
					case "t":
						js.elapsed = a.Value
					case "ts":
						js.ts = a.Value
					case "s":
						js.success = a.Value
					case "lb":
						js.label = a.Value
					case "rc":
						js.code = a.Value
					case "rm":
						js.msg = a.Value
					case "by":
						js.bytes = a.Value
					case "sby":
						js.sent = a.Value
					}
				}
				line, _ := dec.InputPos()
				if err := b.addJMeter(in, int64(line), &js, &s, col); err != nil {
					return err
				}
			}
		case xml.EndElement:
			if depth == sampleDepth {
				sampleDepth = 0
			}
			depth--
		}
	}
}

func unwrapXML(err error) string {
	var se *xml.SyntaxError
	if errors.As(err, &se) {
		return se.Msg
	}
	return err.Error()
}
