package importers

import (
	"bytes"
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
	case bytes.HasPrefix(first, []byte(`{"type":"Metric"`)) || bytes.HasPrefix(first, []byte(`{"type":"Point"`)):
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
	return ""
}
