package distributed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Phase is a worker task's lifecycle state as the launcher sees it.
type Phase string

// Phases. ECS's PROVISIONING/PENDING/ACTIVATING map to Pending;
// RUNNING/DEACTIVATING/STOPPING (the container still runs) to Running;
// DEPROVISIONING/STOPPED to Stopped.
const (
	PhasePending Phase = "pending"
	PhaseRunning Phase = "running"
	PhaseStopped Phase = "stopped"
)

// TaskState is one worker's task state.
type TaskState struct {
	Phase Phase
	// Reason says why a task stopped (exit code, ECS stop reason, launch failure).
	Reason string
	// Task identifies the task (process id, ECS task ARN).
	Task string
}

// Launcher starts and stops the worker tasks of one run.
type Launcher interface {
	// Launch starts one task per spec. Tasks that cannot be launched are
	// reported as stopped by State, with the reason; Launch returns an error
	// only when it could not try (bad configuration, cancelled context).
	Launch(ctx context.Context, runID string, specs []WorkerSpec) error
	// State returns the state of every launched task by worker ID.
	State(ctx context.Context) (map[string]TaskState, error)
	// Stop stops every task that is not stopped yet. It is safe to call more
	// than once and after a failed Launch.
	Stop(ctx context.Context, reason string) error
}

// ProcessLauncher runs workers as child processes of this machine:
// `<Binary> worker --store <Store> --run-id <id> --index <n> --region <r> <ExtraArgs…>`.
type ProcessLauncher struct {
	// Binary is the loadgate executable (os.Executable() in the CLI, a
	// freshly built binary in tests).
	Binary string
	// Store is the --store argument the workers get.
	Store string
	// ExtraArgs are appended to each worker's command line.
	ExtraArgs []string
	// Env is the workers' environment (nil: inherit this process's).
	Env []string
	// Output receives the workers' stdout and stderr (nil: discarded).
	Output io.Writer
	// KillGrace is how long Stop waits after SIGTERM before SIGKILL (default 5s).
	KillGrace time.Duration

	mu    sync.Mutex
	procs map[string]*process
	outMu sync.Mutex
}

type process struct {
	cmd   *exec.Cmd
	done  chan struct{}
	state TaskState
}

var _ Launcher = (*ProcessLauncher)(nil)

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// Launch starts the processes.
func (l *ProcessLauncher) Launch(ctx context.Context, runID string, specs []WorkerSpec) error {
	if l.Binary == "" {
		return errors.New("process launcher: no worker binary")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.procs == nil {
		l.procs = map[string]*process{}
	}
	for _, s := range specs {
		if err := ctx.Err(); err != nil {
			return err
		}
		args := []string{"worker", "--store", l.Store, "--run-id", runID,
			"--index", strconv.Itoa(s.Index), "--region", s.Region}
		args = append(args, l.ExtraArgs...)
		// Not exec.CommandContext: the coordinator decides when workers stop
		// (Stop sends SIGTERM first so they can upload partial results).
		cmd := exec.Command(l.Binary, args...)
		cmd.Env = l.Env
		if l.Output != nil {
			w := lockedWriter{&l.outMu, l.Output}
			cmd.Stdout, cmd.Stderr = w, w
		}
		p := &process{cmd: cmd, done: make(chan struct{})}
		l.procs[s.ID()] = p
		if err := cmd.Start(); err != nil {
			p.state = TaskState{Phase: PhaseStopped, Reason: "launch failed: " + err.Error()}
			close(p.done)
			continue
		}
		p.state = TaskState{Phase: PhaseRunning, Task: "pid " + strconv.Itoa(cmd.Process.Pid)}
		go func() {
			err := cmd.Wait()
			reason := "exit 0"
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				reason = ee.String()
			} else if err != nil {
				reason = err.Error()
			}
			l.mu.Lock()
			p.state.Phase, p.state.Reason = PhaseStopped, reason
			l.mu.Unlock()
			close(p.done)
		}()
	}
	return nil
}

// State reports each process: running until it exits.
func (l *ProcessLauncher) State(context.Context) (map[string]TaskState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make(map[string]TaskState, len(l.procs))
	for id, p := range l.procs {
		out[id] = p.state
	}
	return out, nil
}

// Stop sends SIGTERM to every live worker, waits up to KillGrace, then SIGKILLs.
func (l *ProcessLauncher) Stop(ctx context.Context, reason string) error {
	grace := l.KillGrace
	if grace <= 0 {
		grace = 5 * time.Second
	}
	l.mu.Lock()
	var live []*process
	for _, p := range l.procs {
		if p.state.Phase != PhaseStopped && p.cmd.Process != nil {
			live = append(live, p)
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	l.mu.Unlock()
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	expired := false
	var errs []error
	for _, p := range live {
		if !expired {
			select {
			case <-p.done:
				continue
			case <-deadline.C:
				expired = true
			case <-ctx.Done():
				expired = true
			}
		}
		if err := p.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("kill %s: %w", p.state.Task, err))
		}
		<-p.done
	}
	return errors.Join(errs...)
}
