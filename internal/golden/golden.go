// Package golden compares test output with golden files under testdata/ and
// rewrites them when the test binary runs with -update. It is for tests only.
//
// The -update flag belongs to each test package (flag.Bool("update", …)),
// so a package that also uses it for other purposes keeps one definition;
// Check reads it by name.
package golden

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// Updating reports whether the test binary runs with -update.
func Updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// Check compares got with the file at path (relative to the package
// directory). With -update it writes got there instead, creating directories.
// A difference fails the test with a -want +got diff and the command that
// accepts it.
func Check(t testing.TB, path string, got []byte) {
	t.Helper()
	if Updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if string(want) != string(got) {
		t.Errorf("%s differs from the golden file (rerun with -update to accept) (-want +got):\n%s", path, cmp.Diff(string(want), string(got)))
	}
}
