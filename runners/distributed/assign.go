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

// WaitAssignment polls for task's assignment, for up to wait.
func WaitAssignment(ctx context.Context, s Store, run, region, task string, wait time.Duration) (int, error) {
	var a Assignment
	if err := waitGet(ctx, s, assignKey(run, region, task), &a, wait, 500*time.Millisecond); err != nil {
		return 0, fmt.Errorf("worker index of task %s: %w", task, err)
	}
	return a.Index, nil
}
