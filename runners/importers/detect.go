package importers

import (
	"bytes"
	"encoding/csv"
)

// detectBytes is how much of a file Detect looks at.
const detectBytes = 8 << 10

// gobResultType is how a gob stream of vegeta results starts: the wire type
// definition of a struct named "Result" whose first field is "Attack".
var gobResultType = []byte("\x06Result")

// Detect names the format of a file from its first bytes, or returns "" when
// the content is ambiguous or unknown. It is used by `--from auto`; an explicit
// format is always more reliable.
func Detect(head []byte) string {
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		return "" // compressed: the caller peeks after gunzip
	}
	first := head
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		first = head[:i]
	}
	first = bytes.TrimRight(first, "\r")
	trimmed := bytes.TrimSpace(head)
	switch {
	case bytes.Contains(head[:min(len(head), 64)], gobResultType) && bytes.Contains(head, []byte("Attack")) && bytes.Contains(head, []byte("Latency")):
		return FormatVegetaGob
	case bytes.HasPrefix(first, []byte("RUN\t")) || bytes.HasPrefix(first, []byte("ASSERTION\t")):
		return FormatGatling
	case bytes.HasPrefix(trimmed, []byte("<?xml")) || bytes.HasPrefix(trimmed, []byte("<testResults")):
		if bytes.Contains(head, []byte("<testResults")) {
			return FormatJMeterXML
		}
	case bytes.HasPrefix(first, []byte(`{"type":"Metric"`)) || bytes.HasPrefix(first, []byte(`{"type":"Point"`)) ||
		(bytes.HasPrefix(first, []byte(`{"metric":`)) && bytes.Contains(first, []byte(`"type":"Point"`))):
		return FormatK6JSON
	case bytes.HasPrefix(first, []byte(`{"attack":`)) && bytes.Contains(first, []byte(`"latency":`)):
		return FormatVegetaJSON
	case bytes.HasPrefix(trimmed, []byte("{")):
		switch {
		case bytes.Contains(head, []byte(`"latencies"`)) && bytes.Contains(head, []byte(`"status_codes"`)):
			return FormatVegetaReport
		case bytes.Contains(head, []byte(`"http_req_duration`)) && bytes.Contains(head, []byte(`"metrics"`)):
			return FormatK6Summary
		}
	case bytes.Contains(first, []byte("timeStamp")) && bytes.Contains(first, []byte("elapsed")):
		return FormatJMeterCSV
	case bytes.HasPrefix(first, []byte("Timestamp,User Count,Type,Name")):
		return FormatLocustHistory
	case bytes.HasPrefix(first, []byte("Type,Name,Request Count")) || bytes.HasPrefix(first, []byte("Method,Name,Error,Occurrences")):
		return FormatLocustStats
	}
	return detectHeaderlessCSV(first)
}

// detectHeaderlessCSV tells a `vegeta encode -to csv` row (12 fields, a Unix
// nanosecond timestamp, an HTTP method in field 10) from a headerless JMeter
// row (a Unix millisecond timestamp, "true"/"false" in the success column).
func detectHeaderlessCSV(first []byte) string {
	rec, err := csv.NewReader(bytes.NewReader(first)).Read()
	if err != nil || len(rec) < 5 {
		return ""
	}
	digits := func(s string) int {
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0
			}
		}
		return len(s)
	}
	switch n := digits(rec[0]); {
	case n >= 16 && n <= 19 && len(rec) == vcHeaders+1 && isMethod(rec[vcMethod]):
		return FormatVegetaCSV
	case n == 13 && len(rec) > 7 && (rec[7] == "true" || rec[7] == "false"):
		return FormatJMeterCSV
	}
	return ""
}

func isMethod(s string) bool {
	switch s {
	case "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "CONNECT":
		return true
	}
	return false
}
