// Package envprobe measures the machine a run happens on — a short fixed CPU
// workload and sleep precision before and after the load, the load average,
// CPU steal — and records them in the results (results.Health), so that the
// gate can tell a slower machine from a slower build (docs/statistics.md,
// "When the machine changed").
package envprobe

import (
	"crypto/sha256"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/results"
)

// Calibration sizes: a few repetitions of a few milliseconds each, so the
// probe costs well under 0.1 s per side of the load while a median of them
// is not moved by one stall.
const (
	cpuReps    = 5
	cpuBlocks  = 256 // SHA-256 of 256 × 4 KiB ≈ 2–4 ms on a current core
	sleepReps  = 11
	sleepFor   = 500 * time.Microsecond
	procStat   = "/proc/stat"
	procLoad   = "/proc/loadavg"
	blockBytes = 4 << 10
)

// Probe is one run's measurement, started before the load.
type Probe struct {
	h     results.Health
	stat0 cpuTimes
	ok0   bool
	// read reads a /proc file (replaced in tests).
	read func(string) ([]byte, error)
}

// Start measures the machine before the load.
func Start() *Probe { return start(os.ReadFile) }

func start(read func(string) ([]byte, error)) *Probe {
	p := &Probe{read: read}
	p.h.CalibrationMs = append(p.h.CalibrationMs, calibrateCPU())
	p.h.SleepOverUs = append(p.h.SleepOverUs, calibrateSleep())
	if b, err := read(procLoad); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			if l, err := strconv.ParseFloat(f[0], 64); err == nil {
				p.h.LoadPerCPU = round3(l / float64(runtime.NumCPU()))
			}
		}
	}
	p.stat0, p.ok0 = p.cpu()
	return p
}

// Finish measures the machine after the load and returns the figures.
func (p *Probe) Finish() *results.Health {
	h := p.h
	if st, ok := p.cpu(); ok && p.ok0 {
		if total := st.total - p.stat0.total; total > 0 {
			v := round3(100 * float64(st.steal-p.stat0.steal) / float64(total))
			h.StealPct = &v
		}
	}
	h.CalibrationMs = append(h.CalibrationMs, calibrateCPU())
	h.SleepOverUs = append(h.SleepOverUs, calibrateSleep())
	return &h
}

// cpuTimes are the aggregate CPU line's jiffies of /proc/stat.
type cpuTimes struct {
	total, steal uint64
}

func (p *Probe) cpu() (cpuTimes, bool) {
	b, err := p.read(procStat)
	if err != nil {
		return cpuTimes{}, false
	}
	return parseStat(string(b))
}

// parseStat reads the "cpu" line: user nice system idle iowait irq softirq
// steal guest guest_nice; guest time is already inside user, so the total
// is the first eight fields.
func parseStat(s string) (cpuTimes, bool) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 9 || f[0] != "cpu" {
			continue
		}
		var t cpuTimes
		for i := 1; i <= 8; i++ {
			v, err := strconv.ParseUint(f[i], 10, 64)
			if err != nil || t.total+v < t.total {
				return cpuTimes{}, false // not a number, or a sum that wraps
			}
			t.total += v
			if i == 8 {
				t.steal = v
			}
		}
		return t, true
	}
	return cpuTimes{}, false
}

// calibrateCPU is the median wall time (ms) of a fixed SHA-256 workload: it
// grows when other processes share the CPU, the clock is throttled or the
// hypervisor steals time.
func calibrateCPU() float64 {
	buf := make([]byte, blockBytes)
	for i := range buf {
		buf[i] = byte(i)
	}
	ms := make([]float64, cpuReps)
	for r := range ms {
		t0 := time.Now()
		for range cpuBlocks {
			// Each sum feeds the next input, so the work cannot be
			// skipped; a local, because runs in one process may calibrate
			// at once.
			sum := sha256.Sum256(buf)
			buf[0] = sum[0]
		}
		ms[r] = float64(time.Since(t0).Microseconds()) / 1000
	}
	return round3(median(ms))
}

// calibrateSleep is the median oversleep (µs) of a short sleep: the timer's
// and the scheduler's wake-up latency, which a busy machine adds to every
// request a load test sends and every response a service sleeps for.
func calibrateSleep() float64 {
	us := make([]float64, sleepReps)
	for r := range us {
		t0 := time.Now()
		time.Sleep(sleepFor)
		us[r] = float64((time.Since(t0) - sleepFor).Microseconds())
	}
	return round3(median(us))
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func round3(v float64) float64 {
	return float64(int64(v*1000+0.5)) / 1000
}
