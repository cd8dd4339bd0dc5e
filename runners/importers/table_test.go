package importers

import (
	"testing"
	"time"
)

func TestParserTable(t *testing.T) {
	seen := map[string]bool{}
	for _, p := range parsers {
		if seen[p.format] || p.parse == nil {
			t.Errorf("format %q listed twice or without a parser", p.format)
		}
		seen[p.format] = true
	}
	if parserFor("nope") != nil || parserFor(FormatAuto) != nil {
		t.Error("parserFor found a parser for a format that has none")
	}
}

func TestSampleTimeBounds(t *testing.T) {
	if got := time.Date(2262, 1, 1, 0, 0, 0, 0, time.UTC).Unix(); got != maxSampleUnix {
		t.Fatalf("maxSampleUnix = %d, 2262-01-01 is %d", int64(maxSampleUnix), got)
	}
	epoch := time.Unix(0, 0)
	for _, c := range []struct {
		t  time.Time
		ok bool
	}{
		{epoch, true}, {epoch.Add(-time.Nanosecond), false}, {epoch.Add(-time.Second), false},
		{time.Unix(maxSampleUnix, 0).Add(-time.Nanosecond), true}, {time.Unix(maxSampleUnix, 0), false},
	} {
		if err := checkTime(c.t); (err == nil) != c.ok {
			t.Errorf("checkTime(%s) = %v, want ok=%v", c.t.UTC().Format(time.RFC3339Nano), err, c.ok)
		}
	}
}
