package plan

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"
)

func plan(t *testing.T, profile string) *Plan {
	t.Helper()
	src := rep(minimal, "profile: {type: load, rate: 10/s, duration: 5s}\n", "profile:\n"+profile)
	p, err := Parse([]byte(src), "p.yaml", ".", nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

const s = time.Second

func TestSchedule(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		profile string
		want    []Stage
		total   time.Duration
		peak    float64
	}{
		{"load with warmup", "  type: load\n  rate: 12000/m\n  duration: 60s\n  warmup: 10s\n",
			[]Stage{
				{Name: "warmup", Duration: 10 * s, StartRate: 200, EndRate: 200, Warmup: true},
				{Name: "steady", Duration: 60 * s, StartRate: 200, EndRate: 200},
			}, 70 * s, 200},
		{"endurance closed", "  type: endurance\n  vus: 8\n  duration: 2h\n",
			[]Stage{{Name: "steady", Duration: 2 * time.Hour, VUs: 8}}, 2 * time.Hour, 0},
		{"stress defaults", "  type: stress\n  rate: 40/s\n  step_rate: 10/s\n  step_duration: 5s\n",
			[]Stage{
				{Name: "step 10/s", Duration: 5 * s, StartRate: 10, EndRate: 10},
				{Name: "step 20/s", Duration: 5 * s, StartRate: 20, EndRate: 20},
				{Name: "step 30/s", Duration: 5 * s, StartRate: 30, EndRate: 30},
				{Name: "step 40/s", Duration: 5 * s, StartRate: 40, EndRate: 40},
			}, 20 * s, 40},
		{"scalability uneven top", "  type: scalability\n  rate: 25/s\n  start_rate: 5/s\n  step_rate: 10/s\n  warmup: 2s\n",
			[]Stage{
				{Name: "warmup", Duration: 2 * s, StartRate: 5, EndRate: 5, Warmup: true},
				{Name: "step 5/s", Duration: 10 * s, StartRate: 5, EndRate: 5},
				{Name: "step 15/s", Duration: 10 * s, StartRate: 15, EndRate: 15},
				{Name: "step 25/s", Duration: 10 * s, StartRate: 25, EndRate: 25},
			}, 32 * s, 25},
		{"spike", "  type: spike\n  rate: 10/s\n  multiplier: 5\n  duration: 60s\n  spike_at: 20s\n  spike_duration: 10s\n",
			[]Stage{
				{Name: "pre-spike", Duration: 20 * s, StartRate: 10, EndRate: 10},
				{Name: "spike", Duration: 10 * s, StartRate: 50, EndRate: 50},
				{Name: "post-spike", Duration: 30 * s, StartRate: 10, EndRate: 10},
			}, 60 * s, 50},
		{"spike defaults closed", "  type: spike\n  vus: 2\n  duration: 30s\n",
			[]Stage{
				{Name: "pre-spike", Duration: 10 * s, VUs: 2},
				{Name: "spike", Duration: 3 * s, VUs: 20},
				{Name: "post-spike", Duration: 17 * s, VUs: 2},
			}, 30 * s, 0},
		{"volume", "  type: volume\n  rate: 5/s\n  payloads: [1KB, 64KiB, 1MiB]\n  step_duration: 4s\n",
			[]Stage{
				{Name: "payload 1000B", Duration: 4 * s, StartRate: 5, EndRate: 5, PayloadBytes: 1000},
				{Name: "payload 64KiB", Duration: 4 * s, StartRate: 5, EndRate: 5, PayloadBytes: 64 << 10},
				{Name: "payload 1MiB", Duration: 4 * s, StartRate: 5, EndRate: 5, PayloadBytes: 1 << 20},
			}, 12 * s, 5},
		{"stages", "  type: stages\n  warmup: 5s\n  stages:\n    - {duration: 30s, ramp: 10/s -> 100/s}\n    - {name: hold, duration: 1m, rate: 100/s}\n    - {duration: 10s, ramp: 100/s -> 0/s}\n",
			[]Stage{
				{Name: "warmup", Duration: 5 * s, StartRate: 10, EndRate: 10, Warmup: true},
				{Name: "stage 1", Duration: 30 * s, StartRate: 10, EndRate: 100},
				{Name: "hold", Duration: 60 * s, StartRate: 100, EndRate: 100},
				{Name: "stage 3", Duration: 10 * s, StartRate: 100, EndRate: 0},
			}, 105 * s, 100},
		{"stages closed", "  type: stages\n  stages:\n    - {duration: 5s, vus: 1}\n    - {duration: 5s, vus: 4}\n",
			[]Stage{{Name: "stage 1", Duration: 5 * s, VUs: 1}, {Name: "stage 2", Duration: 5 * s, VUs: 4}}, 10 * s, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			p := plan(t, tt.profile)
			if got := p.Schedule(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Schedule:\n got %+v\nwant %+v", got, tt.want)
			}
			if got := p.TotalDuration(); got != tt.total {
				t.Errorf("TotalDuration = %v, want %v", got, tt.total)
			}
			if got := p.PeakRate(); got != tt.peak {
				t.Errorf("PeakRate = %v, want %v", got, tt.peak)
			}
		})
	}
}

func TestStressBreakDefaults(t *testing.T) {
	t.Parallel()
	p := plan(t, "  type: stress\n  rate: 100/s\n")
	pr := p.Profile
	if pr.BreakErrorRate != 0.05 || pr.BreakP95 != 0 || pr.StepRate != 10 || pr.StartRate != 10 || pr.StepDuration != 10*s {
		t.Errorf("stress defaults: %+v", pr)
	}
	if n := len(p.Schedule()); n != 10 {
		t.Errorf("%d steps, want 10", n)
	}
	p = plan(t, "  type: stress\n  rate: 100/s\n  break_error_rate: 1%\n  break_p95: 250ms\n")
	if p.Profile.BreakErrorRate != 0.01 || p.Profile.BreakP95 != 250*time.Millisecond {
		t.Errorf("stress limits: %+v", p.Profile)
	}
	// 0 % is the user's "any error breaks the step": kept as 0, not
	// replaced by a default, including through the JSON a worker is sent.
	p = plan(t, "  type: stress\n  rate: 100/s\n  break_error_rate: 0%\n")
	if p.Profile.BreakErrorRate != 0 {
		t.Fatalf("break_error_rate 0%%: %v, want 0", p.Profile.BreakErrorRate)
	}
	for _, rate := range []float64{0, 0.05} {
		p.Profile.BreakErrorRate = rate
		data, _, err := p.MarshalRefs()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), fmt.Sprintf(`"break_error_rate":%g`, rate)) {
			t.Errorf("break_error_rate %g not written: %s", rate, data)
		}
		q, err := UnmarshalRefs(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if q.Profile.BreakErrorRate != rate {
			t.Errorf("round trip: break_error_rate %v, want %v", q.Profile.BreakErrorRate, rate)
		}
	}
}

func TestScheduleDropsEmptyStages(t *testing.T) {
	t.Parallel()
	p := plan(t, "  type: spike\n  rate: 10/s\n  duration: 60s\n  spike_at: 20s\n  spike_duration: 10s\n")
	p.Profile.Duration = 25 * s // an override shorter than the spike's end
	got := p.Schedule()
	want := []Stage{
		{Name: "pre-spike", Duration: 20 * s, StartRate: 10, EndRate: 10},
		{Name: "spike", Duration: 10 * s, StartRate: 100, EndRate: 100},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Schedule = %+v", got)
	}
}
