package results

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// The coordinator of a distributed run receives encoded results files. Decoding
// one the usual way builds a full HdrHistogram (a 170 kB counts array) per
// endpoint and window; AddJSON instead adds each V2-encoded histogram's counts
// straight into the Merger's accumulators, so merging thousands of worker
// files costs what their encoded size costs.

// rawWindow, rawEndpoint and rawFile mirror Window, Endpoint and File with the
// histograms left encoded. Total and Derived are recomputed by the merge.
type rawWindow struct {
	Start        time.Time `json:"t"`
	Width        Duration  `json:"width"`
	Requests     int64     `json:"requests"`
	Errors       int64     `json:"errors"`
	Bytes        int64     `json:"bytes,omitempty"`
	OfferedRPS   float64   `json:"offered_rps,omitempty"`
	PayloadBytes int64     `json:"payload_bytes,omitempty"`
	Warmup       bool      `json:"warmup,omitempty"`
	Histogram    *string   `json:"histogram,omitempty"`
	Server       *string   `json:"server_histogram,omitempty"`
}

type rawEndpoint struct {
	Name             string           `json:"name"`
	Method           string           `json:"method,omitempty"`
	URL              string           `json:"url,omitempty"`
	Precision        string           `json:"precision,omitempty"`
	Requests         int64            `json:"requests"`
	Errors           int64            `json:"errors"`
	Status           map[string]int64 `json:"status,omitempty"`
	ErrorKinds       map[string]int64 `json:"error_kinds,omitempty"`
	Bytes            int64            `json:"bytes"`
	BytesSent        int64            `json:"bytes_sent,omitempty"`
	Histogram        *string          `json:"histogram,omitempty"`
	ServiceHistogram *string          `json:"service_histogram,omitempty"`
	ServerHistogram  *string          `json:"server_histogram,omitempty"`
	Windows          []rawWindow      `json:"windows,omitempty"`
}

type rawFile struct {
	Schema    string        `json:"schema"`
	Plan      PlanRef       `json:"plan"`
	Run       Run           `json:"run"`
	Profile   Profile       `json:"profile"`
	Validity  Validity      `json:"validity"`
	Endpoints []rawEndpoint `json:"endpoints"`
	Workers   []Worker      `json:"workers,omitempty"`
}

// AddJSON adds an encoded results file (as Encode writes it) to the merge,
// like Add(Decode(data)) but without materializing its histograms. It returns
// the file's header — plan, run, validity, workers, and Total's request and
// error counts — without endpoints.
func (m *Merger) AddJSON(data []byte, name string) (*File, error) {
	var rf rawFile
	if err := json.Unmarshal(data, &rf); err != nil {
		return nil, PositionJSONError(data, name, err)
	}
	if rf.Schema != Schema {
		return nil, &SchemaError{File: name, Got: rf.Schema}
	}
	head := &File{Schema: rf.Schema, Plan: rf.Plan, Run: rf.Run, Profile: rf.Profile, Validity: rf.Validity, Workers: rf.Workers}
	for _, e := range rf.Endpoints {
		head.Total.Requests += e.Requests
		head.Total.Errors += e.Errors
	}
	if err := m.begin(head); err != nil {
		return nil, err
	}
	for i := range rf.Endpoints {
		e := &rf.Endpoints[i]
		if e.Name == "" || e.Requests < 0 || e.Errors < 0 || e.Errors > e.Requests {
			return nil, fmt.Errorf("%s: endpoints[%d]: bad name or counts", name, i)
		}
		dst := m.endpoint(e.Name, e.Method, e.URL, e.Precision)
		dst.e.AddCounts(&Endpoint{Requests: e.Requests, Errors: e.Errors, Bytes: e.Bytes, BytesSent: e.BytesSent,
			Precision: e.Precision, Status: e.Status, ErrorKinds: e.ErrorKinds})
		if err := dst.hist.addEncoded(e.Histogram, &m.dec); err != nil {
			return nil, fmt.Errorf("%s: endpoint %s: %w", name, e.Name, err)
		}
		if err := dst.service.addEncoded(e.ServiceHistogram, &m.dec); err != nil {
			return nil, fmt.Errorf("%s: endpoint %s: %w", name, e.Name, err)
		}
		if err := dst.server.addEncoded(e.ServerHistogram, &m.dec); err != nil {
			return nil, fmt.Errorf("%s: endpoint %s: %w", name, e.Name, err)
		}
		for _, w := range e.Windows {
			acc := dst.window(Window{Start: w.Start, Width: w.Width, Requests: w.Requests, Errors: w.Errors, Bytes: w.Bytes,
				OfferedRPS: w.OfferedRPS, PayloadBytes: w.PayloadBytes, Warmup: w.Warmup})
			if err := acc.latency.addEncoded(w.Histogram, &m.dec); err != nil {
				return nil, fmt.Errorf("%s: endpoint %s window %s: %w", name, e.Name, w.Start.Format(time.RFC3339), err)
			}
			if err := acc.server.addEncoded(w.Server, &m.dec); err != nil {
				return nil, fmt.Errorf("%s: endpoint %s window %s: %w", name, e.Name, w.Start.Format(time.RFC3339), err)
			}
		}
	}
	m.n++
	return head, nil
}

// HdrHistogram V2 encoding constants (hdrhistogram-go's hdr_encoding.go; the
// format is shared by every HdrHistogram implementation).
const (
	v2CompressedCookieBase = 0x1c849304
	v2EncodingCookieBase   = 0x1c849303
	v2HeaderSize           = 40
)

// addEncoded adds a base64 V2 compressed histogram. Histograms of loadgate's
// own configuration are parsed straight into the counts; others go through
// DecodeHistogram (which re-records them into loadgate's range).
func (a *accHist) addEncoded(s *string, d *v2decoder) error {
	if s == nil {
		return nil
	}
	if *s == "" {
		a.adopt(SignificantDigits) // DecodeHistogram("") is a NewHistogram
		return nil
	}
	body, err := d.inflate(*s)
	if err == errNotV2 {
		return a.addSlow(*s)
	}
	if err != nil {
		return err
	}
	be := binary.BigEndian
	// The normalizing index offset (body[8:12]) is ignored, as
	// hdrhistogram-go's own decoder does (it writes 1 and never shifts).
	digits := int64(int32(be.Uint32(body[12:16])))
	if int32(be.Uint32(body[0:4]))&^0xf0 != v2EncodingCookieBase ||
		int64(be.Uint64(body[16:24])) != LowestTrackable || int64(be.Uint64(body[24:32])) != MaxTrackable ||
		(digits != SignificantDigits && digits != WindowSignificantDigits) || a.present && digits != a.digits {
		return a.addSlow(*s)
	}
	a.adopt(digits)
	payload := body[v2HeaderSize:]
	if int(be.Uint32(body[4:8])) != len(payload) {
		return fmt.Errorf("decode histogram: payload length mismatch")
	}
	if a.counts == nil {
		a.counts = make([]int64, countsLen(digits))
	}
	idx := 0
	for len(payload) > 0 {
		v, k := zigzagLEB128(payload)
		if k == 0 {
			return errors.New("decode histogram: truncated count")
		}
		payload = payload[k:]
		if v < 0 {
			idx += int(-v)
			continue
		}
		if idx >= len(a.counts) {
			return errors.New("decode histogram: index out of range")
		}
		a.counts[idx] += v
		a.total += v
		idx++
	}
	return nil
}

func (a *accHist) addSlow(s string) error {
	h, err := DecodeHistogram(s)
	if err != nil {
		return err
	}
	return a.add(h)
}

// countsLen is the length of the counts array of loadgate's histograms of
// the given precision.
func countsLen(digits int64) int {
	if digits == WindowSignificantDigits {
		return windowCountsLen()
	}
	return fullCountsLen()
}

// fullCountsLen and windowCountsLen are computed on first use, not at init.
func fullCountsLen() int {
	countsLenOnce.full.Do(func() { countsLenOnce.fullN = len(NewHistogram().h.Export().Counts) })
	return countsLenOnce.fullN
}

func windowCountsLen() int {
	countsLenOnce.window.Do(func() { countsLenOnce.windowN = len(NewWindowHistogram().h.Export().Counts) })
	return countsLenOnce.windowN
}

var countsLenOnce struct {
	full, window   sync.Once
	fullN, windowN int
}

// zigzagLEB128 decodes HdrHistogram's ZigZag LEB128-64b9B varint: up to 8
// bytes of 7 bits, then a ninth byte of 8 bits. It returns the value and the
// bytes used (0 if truncated).
func zigzagLEB128(b []byte) (int64, int) {
	var v uint64
	for i := 0; i < 9; i++ {
		if i >= len(b) {
			return 0, 0
		}
		if i == 8 {
			v |= uint64(b[i]) << 56
			return int64(v>>1) ^ -int64(v&1), 9
		}
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return int64(v>>1) ^ -int64(v&1), i + 1
		}
	}
	return 0, 0
}

// v2decoder reuses its buffers and zlib reader across histograms: a fresh
// zlib reader allocates ~40 kB of state, more than a typical histogram.
type v2decoder struct {
	raw  []byte
	body bytes.Buffer
	br   bytes.Reader
	z    io.ReadCloser
}

var errNotV2 = errors.New("not a V2 compressed histogram")

// inflate returns the decompressed V2 header and payload of a base64 V2
// compressed histogram; valid until the next call.
func (d *v2decoder) inflate(s string) ([]byte, error) {
	n := base64.StdEncoding.DecodedLen(len(s))
	if cap(d.raw) < n {
		d.raw = make([]byte, n)
	}
	k, err := base64.StdEncoding.Decode(d.raw[:n], []byte(s))
	if err != nil || k < 8 {
		return nil, fmt.Errorf("decode histogram: bad base64 or header")
	}
	raw := d.raw[:k]
	cookie := int32(binary.BigEndian.Uint32(raw[0:4])) &^ 0xf0
	clen := int(binary.BigEndian.Uint32(raw[4:8]))
	if cookie != v2CompressedCookieBase || clen < 0 || clen > len(raw)-8 {
		return nil, errNotV2
	}
	d.br.Reset(raw[8 : 8+clen])
	if d.z == nil {
		if d.z, err = zlib.NewReader(&d.br); err != nil {
			d.z = nil
			return nil, fmt.Errorf("decode histogram: %w", err)
		}
	} else if err := d.z.(zlib.Resetter).Reset(&d.br, nil); err != nil {
		return nil, fmt.Errorf("decode histogram: %w", err)
	}
	d.body.Reset()
	if _, err := d.body.ReadFrom(io.LimitReader(d.z, 64<<20)); err != nil {
		return nil, fmt.Errorf("decode histogram: corrupt data")
	}
	if d.body.Len() < v2HeaderSize {
		return nil, fmt.Errorf("decode histogram: corrupt data")
	}
	return d.body.Bytes(), nil
}
