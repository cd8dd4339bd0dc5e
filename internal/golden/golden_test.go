package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	errors []string
	fatal  bool
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.fatal = true
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatal(args ...any) { r.fatal = true }

func TestCheck(t *testing.T) {
	if Updating() {
		t.Skip("-update given")
	}
	path := filepath.Join(t.TempDir(), "x.txt")
	if err := os.WriteFile(path, []byte("a\nb\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	Check(r, path, []byte("a\nb\n"))
	if len(r.errors) != 0 {
		t.Errorf("equal content failed: %v", r.errors)
	}
	Check(r, path, []byte("a\nc\n"))
	if len(r.errors) != 1 || !strings.Contains(r.errors[0], "-want +got") || !strings.Contains(r.errors[0], `a\nc`) {
		t.Errorf("difference not reported with a diff: %q", r.errors)
	}
	r = &recorder{TB: t}
	Check(r, filepath.Join(t.TempDir(), "missing.txt"), []byte("x"))
	if !r.fatal {
		t.Error("a missing golden file did not fail")
	}
}
