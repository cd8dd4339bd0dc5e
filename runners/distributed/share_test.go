package distributed

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/results"
)

// The merged results record the plan's rate whatever the number of workers,
// so runs with different worker counts and a single-process baseline of the
// same plan compare; only the runner class differs, and that is a warning.
func TestMergedProfileIsThePlansAcrossWorkerCounts(t *testing.T) {
	t.Parallel()
	run := func(n int, class string) *results.File {
		l := &goLauncher{store: &DirStore{Root: t.TempDir()}, requests: 50}
		o := fastOptions(t, l, n)
		o.RunnerClass = class
		f, err := New(o).Run(context.Background(), testPlan())
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	three, fifteen := run(3, "local/3proc"), run(15, "local/15proc")
	single, err := (&Synthetic{Share: Share{RateScale: 1, StartAt: time.Now()}, Requests: 50}).Run(context.Background(), testPlan())
	if err != nil {
		t.Fatal(err)
	}
	single.Run.RunnerClass = "local/1proc"
	for _, f := range []*results.File{three, fifteen} {
		if f.Profile.Rate != 100 || f.Profile.Type != "load" || len(f.Profile.Stages) != 1 || f.Profile.Stages[0].StartRate != 100 {
			t.Fatalf("%s: profile %+v, want the plan's 100/s", f.Run.RunnerClass, f.Profile)
		}
	}
	for _, pair := range [][2]*results.File{{single, three}, {three, fifteen}, {single, fifteen}} {
		w, err := gate.Compatible([]*results.File{pair[0]}, pair[1], gate.Policy{})
		if err != nil || len(w) != 1 || !strings.Contains(w[0], "runner class") {
			t.Errorf("%s vs %s: warnings %q, err %v; want only a runner-class warning", pair[0].Run.RunnerClass, pair[1].Run.RunnerClass, w, err)
		}
	}
}

func TestInterruptBeforeTheBarrierIsAPartialInvalidRun(t *testing.T) {
	t.Parallel()
	l := &goLauncher{store: &DirStore{Root: t.TempDir()}, requests: 10, never: map[int]bool{0: true, 1: true}}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(200*time.Millisecond, cancel)
	f, err := New(fastOptions(t, l, 3)).Run(ctx, testPlan())
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
	if f == nil || !f.Run.Partial || f.Validity.Valid || f.Total.Requests != 0 || len(f.Workers) != 3 || f.Profile.Rate != 100 {
		t.Fatalf("results %+v", f)
	}
	if r := strings.Join(f.Validity.Reasons, " "); !strings.Contains(r, "interrupted while waiting for workers to be ready") || !strings.Contains(r, "every one stopped") {
		t.Errorf("reasons %q", f.Validity.Reasons)
	}
	st, _ := l.State(context.Background())
	for id, s := range st {
		if s.Phase == PhaseRunning {
			t.Errorf("worker %s still running", id)
		}
	}
}

// taskLauncher starts tasks that know only their task ID (as on ECS) and
// whose assignment never comes.
type taskLauncher struct {
	store  Store
	mu     sync.Mutex
	states map[string]TaskState
	wg     sync.WaitGroup
}

func (l *taskLauncher) Launch(ctx context.Context, run string, specs []WorkerSpec) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.states = map[string]TaskState{}
	for _, s := range specs {
		task := "arn:aws:ecs:r1:1:task/lg/t" + s.ID()[len(s.Region)+1:]
		l.states[s.ID()] = TaskState{Phase: PhaseRunning, Task: task}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			// Fails (nobody assigns) and files its note by task ID.
			if _, err := WaitAssignment(ctx, l.store, run, s.Region, task[strings.LastIndex(task, "/")+1:], 50*time.Millisecond); err == nil {
				panic("assignment without a launcher writing it")
			}
			l.mu.Lock()
			l.states[s.ID()] = TaskState{Phase: PhaseStopped, Task: task, Reason: "EssentialContainerExited (container loadgate: exit 3)"}
			l.mu.Unlock()
		}()
	}
	return nil
}

func (l *taskLauncher) State(context.Context) (map[string]TaskState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]TaskState{}
	for k, v := range l.states {
		out[k] = v
	}
	return out, nil
}

func (l *taskLauncher) Stop(context.Context, string) error { l.wg.Wait(); return nil }

func TestFailureBeforeTheIndexIsReported(t *testing.T) {
	t.Parallel()
	store := &DirStore{Root: t.TempDir()}
	specs, _ := Split(2, []string{"r1"}, []float64{1})
	l := &taskLauncher{store: store}
	_, err := New(Options{Store: store, Launcher: l, RunID: "run-1", Workers: specs, PollInterval: 20 * time.Millisecond,
		StartTimeout: 10 * time.Second}).Run(context.Background(), testPlan())
	var ie *InfraError
	if !errors.As(err, &ie) || !strings.Contains(err.Error(), "failed: worker index of task t0") ||
		!strings.Contains(err.Error(), "all 2 stopped or failed first") || !strings.Contains(err.Error(), "exit 3") {
		t.Fatalf("err %v, want each task's own failure note and stop reason", err)
	}
}
