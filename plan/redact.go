package plan

import (
	"net/url"
	"sort"
	"strings"
)

// RedactURL is Redact for a URL the user must still recognise, such as the
// target in the progress line: scheme, host and port are always shown (where
// the load goes is not a secret, even when the whole URL came from
// TARGET_URL), the userinfo and every query value are hidden whatever their
// origin, secrets inside the path or query keys are replaced as Redact does,
// and the fragment is dropped. A string that is not an absolute URL is
// redacted as a whole.
func (p *Plan) RedactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return p.Redact(s)
	}
	var b strings.Builder
	b.WriteString(u.Scheme + "://")
	if u.User != nil {
		b.WriteString("***@")
	}
	b.WriteString(u.Host)
	b.WriteString(p.Redact(u.EscapedPath()))
	if u.RawQuery != "" {
		q := u.Query()
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for i, k := range keys {
			if i == 0 {
				b.WriteString("?")
			} else {
				b.WriteString("&")
			}
			b.WriteString(p.Redact(url.QueryEscape(k)) + "=***")
		}
	}
	return b.String()
}
