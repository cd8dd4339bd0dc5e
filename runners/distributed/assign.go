package distributed

import (
	"context"
	"fmt"
	"time"
)

// Launchers that start several identical tasks per call (ECS RunTask starts up
// to 10 tasks with the same command) cannot put the worker index on the
// command line. They assign indices by task ID instead: the launcher writes
// "<run-id>/assign/<region>/<task-id>.json" as soon as it knows the task's ID,
// and the worker, which learns its own task ID from its runtime (ECS task
// metadata), reads it.

// Assignment maps a task to a worker index.
type Assignment struct {
	Index int `json:"index"`
}

func assignKey(run, region, task string) string {
	return run + "/assign/" + region + "/" + task + ".json"
}

// PutAssignment records that task runs worker index of region.
func PutAssignment(ctx context.Context, s Store, run, region, task string, index int) error {
	return putJSON(ctx, s, assignKey(run, region, task), Assignment{Index: index})
}

// WaitAssignment polls for task's assignment, for up to wait. When it fails,
// it uploads a failure note keyed by the task ID, so the coordinator can say
// why the task never became ready (it has no index to file it under).
func WaitAssignment(ctx context.Context, s Store, run, region, task string, wait time.Duration) (int, error) {
	var a Assignment
	if err := waitGet(ctx, s, assignKey(run, region, task), &a, wait, 500*time.Millisecond); err != nil {
		err = fmt.Errorf("worker index of task %s: %w", task, err)
		PutTaskFailure(ctx, s, run, region, task, err)
		return 0, err
	}
	return a.Index, nil
}

// PutTaskFailure uploads the failure note of a task that failed before it
// knew its worker index. Best effort, on a fresh context (the worker's may be
// cancelled).
func PutTaskFailure(ctx context.Context, s Store, run, region, task string, err error) {
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = putJSON(fctx, s, failedTaskPrefix(run)+region+"/"+task+".json", Failure{Error: err.Error(), At: time.Now()})
}
