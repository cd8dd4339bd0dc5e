package importers

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/gob"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/loadgate/loadgate/results"
)

// vegetaResult mirrors the field names and types of vegeta v12's Result
// (github.com/tsenart/vegeta/v12/lib.Result), which `vegeta attack` writes as a
// gob stream and `vegeta encode` as JSON or CSV. gob matches struct fields by
// name, so Body and Headers are left out on purpose: the decoder skips them
// without allocating. loadgate does not import vegeta.
type vegetaResult struct {
	Attack    string        `json:"attack"`
	Seq       uint64        `json:"seq"`
	Code      uint16        `json:"code"`
	Timestamp time.Time     `json:"timestamp"`
	Latency   time.Duration `json:"latency"` // ns
	BytesOut  uint64        `json:"bytes_out"`
	BytesIn   uint64        `json:"bytes_in"`
	Error     string        `json:"error"`
	Method    string        `json:"method"`
	URL       string        `json:"url"`
}

// vegetaSample turns one result into a sample. Vegeta counts a request as a
// success when 200 <= code < 400 (lib/metrics.go); the same rule applies here so
// error rates match `vegeta report`.
func vegetaSample(r *vegetaResult, s *sample) {
	*s = sample{
		method:    r.Method,
		url:       r.URL,
		t:         r.Timestamp.UnixNano(),
		latencyUS: (int64(r.Latency) + 500) / 1000,
		bytes:     int64(r.BytesIn),
		sent:      int64(r.BytesOut),
	}
	s.end = s.t + int64(r.Latency)
	if r.Code != 0 {
		s.status = strconv.Itoa(int(r.Code))
	}
	if r.Code < 200 || r.Code >= 400 {
		s.errKind = classify(r.Error, int(r.Code))
	}
}

func parseVegetaGob(ctx context.Context, in *input, b *builder) error {
	b.model = "open"
	dec := gob.NewDecoder(&gobFrames{r: in.r, name: in.name})
	var s sample
	for n := int64(1); ; n++ {
		if n%checkEvery == 0 && ctx.Err() != nil {
			return ctx.Err()
		}
		var r vegetaResult
		if err := decodeGob(dec, &r); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			// A gob stream cannot resynchronise after a bad record, so this is
			// fatal even with SkipBadLines.
			return &LineError{File: in.name, Msg: fmt.Sprintf("result %d: %v", n, err)}
		}
		if err := checkTime(r.Timestamp); err != nil {
			if err := b.bad(&LineError{File: in.name, Msg: fmt.Sprintf("result %d: %v", n, err)}); err != nil {
				return err
			}
			continue
		}
		vegetaSample(&r, &s)
		err := b.add(&s)
		var se *sampleError
		if errors.As(err, &se) {
			err = b.bad(&LineError{File: in.name, Msg: fmt.Sprintf("result %d: %v", n, err)})
		} else if err != nil {
			err = &LineError{File: in.name, Msg: fmt.Sprintf("result %d: %v", n, err)}
		}
		if err != nil {
			return err
		}
	}
}

// maxGobMessage bounds one gob message. A vegeta result is a few hundred bytes
// plus its response body (vegeta's -max-body defaults to unlimited, but bodies
// above this are not load-test material); without the bound a corrupt length
// makes encoding/gob allocate up to 1 GB before noticing the input is short.
const maxGobMessage = 64 << 20

// gobFrames passes a gob stream through, checking each message's length
// prefix (an unsigned count: one byte below 128, else the negated number of
// big-endian bytes that follow) against maxGobMessage.
type gobFrames struct {
	r       *bufio.Reader
	name    string
	pending []byte // the length prefix, not yet handed to the decoder
	rem     int64  // payload bytes of the current message still to pass
}

func (g *gobFrames) Read(p []byte) (int, error) {
	if len(g.pending) == 0 && g.rem == 0 {
		b, err := g.r.ReadByte()
		if err != nil {
			return 0, err
		}
		g.pending = append(g.pending[:0], b)
		n := int64(b)
		if b >= 0x80 {
			size := int(-int8(b))
			if size > 8 {
				return 0, fmt.Errorf("corrupt gob stream: bad length prefix")
			}
			n = 0
			for i := 0; i < size; i++ {
				c, err := g.r.ReadByte()
				if err != nil {
					return 0, io.ErrUnexpectedEOF
				}
				g.pending = append(g.pending, c)
				n = n<<8 | int64(c)
			}
		}
		if n < 0 || n > maxGobMessage {
			return 0, fmt.Errorf("corrupt gob stream: a %d-byte message (limit %d)", n, maxGobMessage)
		}
		g.rem = n
	}
	if len(g.pending) > 0 {
		k := copy(p, g.pending)
		g.pending = g.pending[k:]
		return k, nil
	}
	if int64(len(p)) > g.rem {
		p = p[:g.rem]
	}
	k, err := g.r.Read(p)
	g.rem -= int64(k)
	return k, err
}

// decodeGob guards against panics inside encoding/gob on hostile input.
func decodeGob(dec *gob.Decoder, r *vegetaResult) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("corrupt gob stream (%v)", p)
		}
	}()
	return dec.Decode(r)
}

func parseVegetaJSON(ctx context.Context, in *input, b *builder) error {
	b.model = "open"
	var s sample
	return in.lines(ctx, func(n int64, line []byte) error {
		if len(line) == 0 {
			return nil
		}
		var r vegetaResult
		if err := json.Unmarshal(line, &r); err != nil {
			return b.bad(in.errorf(n, "not a vegeta JSON result: %v", err))
		}
		if err := checkTime(r.Timestamp); err != nil {
			return b.bad(in.errorf(n, "field \"timestamp\": %v", err))
		}
		vegetaSample(&r, &s)
		return b.addLine(in, n, &s)
	})
}

// Column order of `vegeta encode -to csv` (lib/results.go NewCSVEncoder); the
// file has no header.
const (
	vcTimestamp = iota // Unix ns
	vcCode
	vcLatency // ns
	vcBytesOut
	vcBytesIn
	vcError
	vcBody // base64
	vcAttack
	vcSeq
	vcMethod
	vcURL
	vcHeaders   // base64
	vcMinFields = vcError + 1
)

func parseVegetaCSV(ctx context.Context, in *input, b *builder) error {
	b.model = "open"
	cr := csv.NewReader(in.r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	var s sample
	var r vegetaResult
	return eachCSVRecord(ctx, in, b, cr, func(rec []string, line int64) error {
		if len(rec) < vcMinFields {
			return b.bad(in.errorf(line, "want at least %d columns, got %d", vcMinFields, len(rec)))
		}
		r = vegetaResult{Error: rec[vcError]}
		ts, err1 := strconv.ParseInt(rec[vcTimestamp], 10, 64)
		code, err2 := strconv.ParseUint(rec[vcCode], 10, 16)
		lat, err3 := strconv.ParseInt(rec[vcLatency], 10, 64)
		bo, err4 := strconv.ParseUint(rec[vcBytesOut], 10, 64)
		bi, err5 := strconv.ParseUint(rec[vcBytesIn], 10, 64)
		if bad := firstBad([]string{"timestamp", "code", "latency", "bytes_out", "bytes_in"}, rec, err1, err2, err3, err4, err5); bad != "" {
			return b.bad(in.errorf(line, "%s", bad))
		}
		r.Timestamp, r.Code, r.Latency, r.BytesOut, r.BytesIn = time.Unix(0, ts), uint16(code), time.Duration(lat), bo, bi
		if len(rec) > vcURL {
			r.Method, r.URL = rec[vcMethod], rec[vcURL]
		}
		vegetaSample(&r, &s)
		return b.addLine(in, line, &s)
	})
}

// firstBad names the first column whose parse failed, in the style
// `column "latency": not a number "abc"`.
func firstBad(cols, rec []string, errs ...error) string {
	for i, err := range errs {
		if err != nil {
			return fmt.Sprintf("column %q: not a number %q", cols[i], rec[i])
		}
	}
	return ""
}

// vegetaReport is `vegeta report -type=json` (lib/metrics.go Metrics).
// Durations are nanoseconds.
type vegetaReport struct {
	Latencies struct {
		Total int64 `json:"total"`
		Mean  int64 `json:"mean"`
		P50   int64 `json:"50th"`
		P90   int64 `json:"90th"`
		P95   int64 `json:"95th"`
		P99   int64 `json:"99th"`
		Max   int64 `json:"max"`
		Min   int64 `json:"min"`
	} `json:"latencies"`
	BytesIn struct {
		Total int64 `json:"total"`
	} `json:"bytes_in"`
	BytesOut struct {
		Total int64 `json:"total"`
	} `json:"bytes_out"`
	Earliest    time.Time        `json:"earliest"`
	Latest      time.Time        `json:"latest"`
	End         time.Time        `json:"end"`
	Duration    int64            `json:"duration"`
	Wait        int64            `json:"wait"`
	Requests    *uint64          `json:"requests"`
	Rate        float64          `json:"rate"`
	Throughput  float64          `json:"throughput"`
	Success     float64          `json:"success"`
	StatusCodes map[string]int64 `json:"status_codes"`
	Errors      []string         `json:"errors"`
}

// VegetaReportEndpoint is the endpoint name of a `vegeta report` import: the
// report covers every target of the attack together.
const VegetaReportEndpoint = "all"

func parseVegetaReport(_ context.Context, in *input, b *builder) error {
	b.model = "open"
	dec := json.NewDecoder(io.LimitReader(in.r, maxLineBytes))
	var rep vegetaReport
	if err := dec.Decode(&rep); err != nil {
		return in.errorf(0, "not a vegeta JSON report: %v", err)
	}
	if rep.Requests == nil {
		return in.errorf(0, "not a vegeta JSON report: no \"requests\" field")
	}
	e, err := b.aggregate(VegetaReportEndpoint)
	if err != nil {
		return in.errorf(0, "%v", err)
	}
	if *rep.Requests > 1<<53 { // beyond float64's exact integers: not a real count
		return in.errorf(0, "field \"requests\": %d is not a plausible count", *rep.Requests)
	}
	if rep.Success < 0 || rep.Success > 1 {
		return in.errorf(0, "field \"success\": %v is not a fraction 0..1", rep.Success)
	}
	if e.Requests != 0 {
		return in.errorf(0, "cannot combine two vegeta reports: their percentiles do not add up (import the result streams instead)")
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	e.Requests += int64(*rep.Requests)
	// success is the fraction of 2xx/3xx responses; the rest are errors.
	e.Errors += min(e.Requests, max(0, int64(float64(*rep.Requests)*(1-rep.Success)+0.5))) // float rounding must not exceed requests
	e.Bytes += rep.BytesIn.Total
	e.BytesSent += rep.BytesOut.Total
	if len(rep.StatusCodes) > 0 {
		if e.Status == nil {
			e.Status = map[string]int64{}
		}
		for k, v := range rep.StatusCodes {
			if k != "0" {
				e.Status[k] += v
			}
		}
	}
	e.Latency = results.Summary{
		P50: ms(rep.Latencies.P50), P90: ms(rep.Latencies.P90), P95: ms(rep.Latencies.P95),
		P99: ms(rep.Latencies.P99), Max: ms(rep.Latencies.Max), Min: ms(rep.Latencies.Min), Mean: ms(rep.Latencies.Mean),
		P999: results.Unmeasured, // the report has no 99.9th
	}
	if !rep.Earliest.IsZero() {
		b.started = rep.Earliest.UTC()
		end := rep.End
		if end.IsZero() {
			end = rep.Latest
		}
		b.ended = end.UTC()
	}
	return nil
}
