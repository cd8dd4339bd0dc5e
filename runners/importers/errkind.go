package importers

import (
	"strconv"
	"strings"

	"github.com/loadgate/loadgate/runners"
)

// classify maps a tool's failure text (Go, Java or Python error messages) and
// HTTP status to one of the runners.Err* classes.
func classify(msg string, status int) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "timeout") || strings.Contains(m, "timed out") || strings.Contains(m, "deadline exceeded"):
		return runners.ErrTimeout
	case strings.Contains(m, "refused") || strings.Contains(m, "connectexception"):
		return runners.ErrRefused
	case strings.Contains(m, "reset") || strings.Contains(m, "broken pipe") || strings.Contains(m, "eof") ||
		strings.Contains(m, "remotedisconnected") || strings.Contains(m, "nohttpresponseexception"):
		return runners.ErrReset
	case strings.Contains(m, "no such host") || strings.Contains(m, "unknownhost") || strings.Contains(m, "name resolution") ||
		strings.Contains(m, "nameresolution") || strings.Contains(m, "getaddrinfo"):
		return runners.ErrDNS
	case strings.Contains(m, "tls") || strings.Contains(m, "x509") || strings.Contains(m, "ssl") || strings.Contains(m, "certificate"):
		return runners.ErrTLS
	}
	// An unexpected status is a status error; a failure with an acceptable status
	// (a failed assertion on a 200) is "other".
	if status >= 400 || (status > 0 && status < 200) {
		return runners.ErrStatus
	}
	return runners.ErrOther
}

// statusFailed is the default success rule when a tool records no verdict of
// its own: 1xx–3xx succeed, anything else (including no response) fails.
func statusFailed(code int) bool { return code < 100 || code >= 400 }

// atoiStatus parses an HTTP status code; anything else is 0.
func atoiStatus(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < 0 || n > 999 {
		return 0
	}
	return n
}
