package importers

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"
)

// parseGatling reads the text simulation.log of Gatling 3.0–3.11
// (io.gatling.core.stats.writer.LogFileDataWriter): tab-separated records
//
//	RUN      class  simulationId  start(ms)  description  version
//	USER     scenario  START|END  timestamp(ms)
//	REQUEST  groups  name  start(ms)  end(ms)  OK|KO  message       (3.4+)
//	REQUEST  userId  groups  name  start  end  OK|KO  message       (3.0–3.3)
//	GROUP    groups  start  end  cumulatedResponseTime  OK|KO
//	ERROR    message  timestamp(ms)
//	ASSERTION  base64
//
// Each REQUEST is one sample (latency end − start, ms resolution), so
// endpoints are exact. Gatling logs no status code for OK requests; for KO
// ones the status comes from the check message ("… but actually found 500").
// Gatling 3.12+ writes a binary simulation.log, which is not supported.
func parseGatling(ctx context.Context, in *input, b *builder) error {
	b.model = "closed"
	var s sample
	var errorRecords int64
	err := in.lines(ctx, func(n int64, line []byte) error {
		if len(line) == 0 {
			return nil
		}
		if n == 1 && !bytes.HasPrefix(line, []byte("RUN\t")) && !bytes.HasPrefix(line, []byte("ASSERTION\t")) &&
			!bytes.HasPrefix(line, []byte("USER\t")) && !bytes.HasPrefix(line, []byte("REQUEST\t")) {
			if !isText(line) {
				return in.errorf(n, "not a text Gatling simulation.log (Gatling 3.12+ writes a binary log, which loadgate cannot read)")
			}
		}
		f := strings.Split(string(line), "\t")
		switch f[0] {
		case "REQUEST":
			return b.addGatlingRequest(in, n, f, &s)
		case "RUN":
			if len(f) >= 6 {
				b.toolVersion = "gatling " + f[5]
			}
			if len(f) >= 4 {
				if ms, err := strconv.ParseInt(f[3], 10, 64); err == nil && ms > 0 {
					t := time.UnixMilli(ms).UTC()
					if b.started.IsZero() || t.Before(b.started) {
						b.started = t
					}
				}
			}
		case "ERROR":
			errorRecords++
		case "USER", "GROUP", "ASSERTION":
		default:
			return b.bad(in.errorf(n, "unknown record type %q", f[0]))
		}
		return nil
	})
	if errorRecords > 0 {
		b.warn("%s: %d ERROR record(s) (Gatling's own errors, not requests)", in.name, errorRecords)
	}
	return err
}

func isText(line []byte) bool {
	for _, c := range line {
		if c < 0x09 || (c > 0x0d && c < 0x20) {
			return false
		}
	}
	return true
}

func (b *builder) addGatlingRequest(in *input, n int64, f []string, s *sample) error {
	var groups, name, start, end, status, msg string
	switch {
	case len(f) == 7 || len(f) == 6:
		groups, name, start, end, status = f[1], f[2], f[3], f[4], f[5]
		if len(f) == 7 {
			msg = f[6]
		}
	case len(f) == 8 && isDigits(f[1]):
		groups, name, start, end, status, msg = f[2], f[3], f[4], f[5], f[6], f[7]
	default:
		return b.bad(in.errorf(n, "REQUEST record: %d fields, want 7 (Gatling 3.4+) or 8 (3.0–3.3)", len(f)))
	}
	st, err := strconv.ParseInt(start, 10, 64)
	if err != nil {
		return b.bad(in.errorf(n, "REQUEST start: not a number %q", start))
	}
	en, err := strconv.ParseInt(end, 10, 64)
	if err != nil {
		return b.bad(in.errorf(n, "REQUEST end: not a number %q", end))
	}
	if err := checkTime(time.UnixMilli(st)); err != nil {
		return b.bad(in.errorf(n, "REQUEST start: %v", err))
	}
	if en < st {
		return b.bad(in.errorf(n, "REQUEST end %d before start %d", en, st))
	}
	if name == "" {
		return b.bad(in.errorf(n, "REQUEST name: empty"))
	}
	label := name
	if g := strings.TrimSpace(groups); g != "" {
		label = strings.ReplaceAll(g, ",", " / ") + " / " + name
	}
	*s = sample{label: label, t: st * int64(time.Millisecond), end: en * int64(time.Millisecond), latencyUS: (en - st) * 1000}
	switch status {
	case "OK":
	case "KO":
		code := gatlingFoundStatus(msg)
		if code > 0 {
			s.status = strconv.Itoa(code)
		}
		s.errKind = classify(msg, code)
	default:
		return b.bad(in.errorf(n, "REQUEST status: want OK or KO, got %q", status))
	}
	return b.addLine(in, n, s)
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// gatlingFoundStatus extracts the status of a failed status check:
// "status.find.in(200,201,…,304), but actually found 500".
func gatlingFoundStatus(msg string) int {
	i := strings.LastIndex(msg, "found ")
	if i < 0 || !strings.Contains(msg, "status") {
		return 0
	}
	rest := msg[i+len("found "):]
	if len(rest) < 3 {
		return 0
	}
	return atoiStatus(rest[:3])
}
