package baselines

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run in which every request failed is never recorded, and says why.
func TestAppendRefusesDeadRun(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "b.json")
	dead := run("dead", "h", 1)
	for i := range dead.Endpoints {
		e := &dead.Endpoints[i]
		e.Errors = e.Requests
		e.ErrorKinds = map[string]int64{"reset": e.Requests}
	}
	err := Append(path, dead, 5)
	var de *DeadRunError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "every one of the run's") || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("dead run: %v, want a DeadRunError naming the error kinds", err)
	}
	if _, err := os.Stat(path); err == nil {
		t.Error("the dead run was written")
	}
	empty := run("empty", "h", 1)
	empty.Endpoints = nil
	if err := Append(path, empty, 5); !errors.As(err, &de) || !strings.Contains(err.Error(), "no requests") {
		t.Errorf("empty run: %v", err)
	}
}

// CheckPlan refuses a different plan hash before any load, or warns when allowed.
func TestCheckPlan(t *testing.T) {
	t.Parallel()
	runs := []*File{New(run("a", "h1", 1), 5)}
	if w, err := CheckPlan(runs[0].Runs, "h1", false); err != nil || len(w) != 0 {
		t.Errorf("same hash: %v %v", w, err)
	}
	var pe *PlanChangedError
	if _, err := CheckPlan(runs[0].Runs, "h2", false); !errors.As(err, &pe) || !strings.Contains(err.Error(), "Nothing was sent") {
		t.Errorf("other hash: %v", err)
	}
	if w, err := CheckPlan(runs[0].Runs, "h2", true); err != nil || len(w) != 1 {
		t.Errorf("other hash, allowed: %v %v", w, err)
	}
	if w, err := CheckPlan(nil, "h2", false); err != nil || w != nil {
		t.Errorf("no baseline: %v %v", w, err)
	}
}
