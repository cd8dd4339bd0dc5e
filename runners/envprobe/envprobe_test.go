package envprobe

import (
	"errors"
	"testing"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	got, ok := parseStat("intr 1 2\ncpu  100 5 50 800 10 1 2 30 7 0\ncpu0 50 2 25 400 5 0 1 15 3 0\n")
	if !ok || got.total != 998 || got.steal != 30 {
		t.Errorf("parseStat = %+v %v, want total 998 steal 30", got, ok)
	}
	for _, bad := range []string{"", "cpu 1 2 3", "cpu a b c d e f g h i"} {
		if _, ok := parseStat(bad); ok {
			t.Errorf("parseStat(%q) ok", bad)
		}
	}
}

// The probe records what it measured: two calibrations (before and after),
// load per CPU and steal from /proc, and leaves out what it cannot read.
func TestProbe(t *testing.T) {
	t.Parallel()
	stats := []string{"cpu 100 0 100 700 0 0 0 100 0 0\n", "cpu 200 0 200 1300 0 0 0 300 0 0\n"}
	n := 0
	read := func(name string) ([]byte, error) {
		switch name {
		case procLoad:
			return []byte("3.00 2.00 1.00 2/300 42\n"), nil
		case procStat:
			s := stats[min(n, 1)]
			n++
			return []byte(s), nil
		}
		return nil, errors.New("no such file")
	}
	h := start(read).Finish()
	if len(h.CalibrationMs) != 2 || len(h.SleepOverUs) != 2 || h.CalibrationMs[0] <= 0 || h.SleepOverUs[0] < 0 {
		t.Errorf("calibration %v sleep %v", h.CalibrationMs, h.SleepOverUs)
	}
	if h.LoadPerCPU <= 0 {
		t.Errorf("load per CPU %v", h.LoadPerCPU)
	}
	// steal: 200 of 1000 jiffies.
	if h.StealPct == nil || *h.StealPct != 20 {
		t.Errorf("steal %v, want 20 %%", h.StealPct)
	}
	none := start(func(string) ([]byte, error) { return nil, errors.New("no /proc") }).Finish()
	if none.StealPct != nil || none.LoadPerCPU != 0 || len(none.CalibrationMs) != 2 {
		t.Errorf("without /proc: %+v", none)
	}
}

// FuzzParseStat: /proc/stat from any kernel (or none) never panics, and a
// parsed line's steal is part of its total.
func FuzzParseStat(f *testing.F) {
	f.Add("cpu  100 5 50 800 10 1 2 30 7 0\n")
	f.Add("cpu 1 2 3\n")
	f.Add("intr 1\ncpu 18446744073709551615 0 0 0 0 0 0 1 0 0\n")
	f.Fuzz(func(t *testing.T, s string) {
		if got, ok := parseStat(s); ok && got.steal > got.total {
			t.Errorf("steal %d beyond total %d", got.steal, got.total)
		}
	})
}
