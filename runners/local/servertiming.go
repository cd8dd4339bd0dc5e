package local

import (
	"math"
	"strconv"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

// Server-Timing (W3C, https://www.w3.org/TR/server-timing/): the target's
// own account of where a response's time went, e.g.
//
//	Server-Timing: db;dur=4.1;desc="query", app;dur=12.3
//
// One metric's duration per response becomes a sample of the endpoint's
// server-time histogram. It excludes the time the request spent queued in
// both machines' schedulers, which on a busy runner is most of the latency
// a client sees and drowns a slowdown of the service itself.

// stPicker chooses the metric whose duration is recorded: the one named by
// http.server_timing, or automatically a metric named "total", else the
// first metric with a valid duration. nil records nothing (off).
type stPicker struct {
	name string // "" = automatic
}

// newSTPicker returns the picker for the plan's http.server_timing (nil: off).
func newSTPicker(p *plan.Plan) *stPicker {
	switch p.HTTP.ServerTiming {
	case plan.ServerTimingOff:
		return nil
	case plan.ServerTimingAuto:
		return &stPicker{}
	}
	return &stPicker{name: p.HTTP.ServerTiming}
}

// stResult is the choice so far over one response's Server-Timing header
// lines (repeated lines read as one comma-joined list).
type stResult struct {
	dur     float64 // milliseconds; meaningful when ok
	ok      bool
	decided bool // the named (or "total") metric was seen: later metrics cannot change the choice
}

// micros is the chosen duration in microseconds, clamped to the
// histogram's range (which counts the clamp).
func (r stResult) micros() int64 {
	us := math.Round(r.dur * 1000)
	if us > float64(results.MaxTrackable+1) {
		return results.MaxTrackable + 1
	}
	return int64(us)
}

// scan reads one Server-Timing header value into r. It does not allocate.
// A metric whose syntax is broken is skipped up to the next comma outside
// a quoted string; the chosen metric's duration must be a non-negative
// finite decimal, else the response has no sample: a named metric that
// appears without a usable duration is never replaced by another metric,
// so one histogram never mixes two kinds of time.
func scanServerTiming[T string | []byte](s *stPicker, v T, r *stResult) {
	want := s.name
	if want == "" {
		want = "total"
	}
	i := 0
	for i < len(v) && !r.decided {
		i = skipOWS(v, i)
		if i < len(v) && v[i] == ',' {
			i++
			continue
		}
		nameStart := i
		for i < len(v) && isTokenByte(v[i]) {
			i++
		}
		name := v[nameStart:i]
		var dur T
		hasDur, broken := false, nameStart == i
		for !broken {
			i = skipOWS(v, i)
			if i >= len(v) || v[i] == ',' {
				break
			}
			if v[i] != ';' {
				broken = true
				break
			}
			i = skipOWS(v, i+1)
			ps := i
			for i < len(v) && isTokenByte(v[i]) {
				i++
			}
			if ps == i {
				broken = true
				break
			}
			pname := v[ps:i]
			i = skipOWS(v, i)
			var val T
			if i < len(v) && v[i] == '=' {
				i = skipOWS(v, i+1)
				if i < len(v) && v[i] == '"' {
					end, ok := quotedEnd(v, i)
					if !ok {
						broken = true
						break
					}
					val = v[i+1 : end-1] // escapes left in: a quoted dur with one is no number
					i = end
				} else {
					vs := i
					for i < len(v) && isTokenByte(v[i]) {
						i++
					}
					val = v[vs:i]
				}
			}
			if !hasDur && len(pname) == 3 && pname[0]|0x20 == 'd' && pname[1]|0x20 == 'u' && pname[2]|0x20 == 'r' {
				dur, hasDur = val, true // the first dur counts, as in the W3C processing model
			}
		}
		if broken {
			i = skipToComma(v, i)
			continue
		}
		d, valid := parseDur(dur, hasDur)
		if string(name) == want {
			r.decided, r.ok, r.dur = true, valid, d
			return
		}
		if s.name == "" && valid && !r.ok {
			r.ok, r.dur = true, d
		}
	}
}

// parseDur accepts a plain non-negative decimal ("12", "12.5", ".5", "1e3").
func parseDur[T string | []byte](b T, has bool) (float64, bool) {
	if !has || len(b) == 0 {
		return 0, false
	}
	digits := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, false
		}
	}
	if !digits {
		return 0, false
	}
	var f float64
	var err error
	if len(b) <= 32 {
		var buf [32]byte // the usual case parses without a string on the heap
		n := copy(buf[:], b)
		f, err = strconv.ParseFloat(string(buf[:n]), 64)
	} else {
		f, err = strconv.ParseFloat(string(b), 64)
	}
	if err != nil || f < 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false
	}
	return f, true
}

func skipOWS[T string | []byte](v T, i int) int {
	for i < len(v) && (v[i] == ' ' || v[i] == '\t') {
		i++
	}
	return i
}

// quotedEnd returns the index just past the quoted string starting at i.
func quotedEnd[T string | []byte](v T, i int) (int, bool) {
	for j := i + 1; j < len(v); j++ {
		switch v[j] {
		case '\\':
			j++
		case '"':
			return j + 1, true
		}
	}
	return len(v), false
}

// skipToComma returns the index of the next comma outside a quoted string
// (or len(v)).
func skipToComma[T string | []byte](v T, i int) int {
	for i < len(v) && v[i] != ',' {
		if v[i] == '"' {
			i, _ = quotedEnd(v, i)
			continue
		}
		i++
	}
	return i
}

// isTokenByte reports whether c may appear in an HTTP token (RFC 9110).
func isTokenByte(c byte) bool {
	switch {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		return true
	}
	switch c {
	case '!', '#', '$', '%', '&', '\'', '*', '+', '-', '.', '^', '_', '`', '|', '~':
		return true
	}
	return false
}
