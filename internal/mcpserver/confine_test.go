package mcpserver

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// confineFixture builds:
//
//	outside/secret.txt
//	work/            (the root)
//	  plans/p.yaml
//	  in-link   -> plans           (symlink staying inside)
//	  out-link  -> ../outside      (symlink leading out)
//	  out-file  -> ../outside/secret.txt
//	  dangling  -> ../outside/nope
//	link-to-work -> work           (the root named through a symlink)
func confineFixture(t *testing.T) (base string, r *Root) {
	t.Helper()
	base = t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(base, "outside"), 0o755))
	must(os.WriteFile(filepath.Join(base, "outside", "secret.txt"), []byte("secret"), 0o644))
	must(os.MkdirAll(filepath.Join(base, "work", "plans"), 0o755))
	must(os.WriteFile(filepath.Join(base, "work", "plans", "p.yaml"), []byte("name: x\n"), 0o644))
	must(os.Symlink("plans", filepath.Join(base, "work", "in-link")))
	must(os.Symlink(filepath.Join("..", "outside"), filepath.Join(base, "work", "out-link")))
	must(os.Symlink(filepath.Join("..", "outside", "secret.txt"), filepath.Join(base, "work", "out-file")))
	must(os.Symlink(filepath.Join("..", "outside", "nope"), filepath.Join(base, "work", "dangling")))
	must(os.Symlink("work", filepath.Join(base, "link-to-work")))
	r, err := OpenRoot(filepath.Join(base, "link-to-work"))
	must(err)
	t.Cleanup(func() { r.Close() })
	return base, r
}

func TestResolve(t *testing.T) {
	t.Parallel()
	base, r := confineFixture(t)
	work, _ := filepath.EvalSymlinks(filepath.Join(base, "work"))
	if r.Dir() != work {
		t.Fatalf("Dir() = %q, want %q", r.Dir(), work)
	}
	ok := []struct{ in, rel string }{
		{"plans/p.yaml", "plans/p.yaml"},
		{"./plans/../plans/p.yaml", "plans/p.yaml"},
		{".", "."},
		{"in-link/p.yaml", "plans/p.yaml"},
		{"new/dir/results.json", "new/dir/results.json"},
		{filepath.Join(work, "plans", "p.yaml"), "plans/p.yaml"},
		// The root named through its symlink is still the root.
		{filepath.Join(base, "link-to-work", "plans", "p.yaml"), "plans/p.yaml"},
	}
	for _, tt := range ok {
		abs, rel, err := r.Resolve(tt.in)
		if err != nil {
			t.Errorf("Resolve(%q): %v", tt.in, err)
			continue
		}
		if rel != tt.rel || abs != filepath.Join(work, filepath.FromSlash(tt.rel)) {
			t.Errorf("Resolve(%q) = %q, %q; want rel %q", tt.in, abs, rel, tt.rel)
		}
	}
	refused := []struct {
		in      string
		outside bool
	}{
		{"..", true},
		{"../outside/secret.txt", true},
		{"plans/../../outside/secret.txt", true},
		{"/etc/passwd", true},
		{filepath.Join(base, "outside", "secret.txt"), true},
		{"out-link/secret.txt", true},
		{"out-link", true},
		{"out-file", true},
		{"out-link/new-file.json", true}, // writing through a symlinked dir
		{"dangling", false},
		{"dangling/x", false},
		{"", false},
		{"plans/p.yaml\x00", false},
	}
	for _, tt := range refused {
		_, _, err := r.Resolve(tt.in)
		var pe *PathError
		if !errors.As(err, &pe) {
			t.Errorf("Resolve(%q) err = %v, want *PathError", tt.in, err)
			continue
		}
		if got := errors.Is(err, ErrOutside); got != tt.outside {
			t.Errorf("Resolve(%q): errors.Is(ErrOutside) = %v, want %v (%v)", tt.in, got, tt.outside, err)
		}
	}
}

func TestReadWriteFile(t *testing.T) {
	t.Parallel()
	_, r := confineFixture(t)
	data, _, err := r.ReadFile("in-link/p.yaml")
	if err != nil || string(data) != "name: x\n" {
		t.Fatalf("ReadFile inside = %q, %v", data, err)
	}
	for _, p := range []string{"out-file", "../outside/secret.txt", "out-link/secret.txt"} {
		if data, _, err := r.ReadFile(p); err == nil || strings.Contains(string(data), "secret") {
			t.Errorf("ReadFile(%q) = %q, %v; want refusal", p, data, err)
		}
	}
	if _, _, err := r.ReadFile("plans"); err == nil {
		t.Error("ReadFile(directory) succeeded")
	}
	abs, err := r.WriteFile(".loadgate/runs/x/results.json", []byte("{}"))
	if err != nil {
		t.Fatalf("WriteFile: %v", err)
	}
	if got, _ := os.ReadFile(abs); string(got) != "{}" {
		t.Errorf("written %q", got)
	}
	if r.Display(abs) != ".loadgate/runs/x/results.json" {
		t.Errorf("Display = %q", r.Display(abs))
	}
	if _, err := r.WriteFile("out-link/evil.json", []byte("x")); !errors.Is(err, ErrOutside) {
		t.Errorf("WriteFile through outward symlink: %v", err)
	}
}

// FuzzResolve: whatever the input, an accepted path lies inside the root.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"a", "..", "../x", "/etc/passwd", "a/../../b", "./././x", "in-link/../..", "out-link/x", "\x00", "//", "a//b/"} {
		f.Add(s)
	}
	base := f.TempDir()
	work := filepath.Join(base, "work")
	if err := os.MkdirAll(filepath.Join(work, "d"), 0o755); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("..", filepath.Join(work, "out-link")); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("d", filepath.Join(work, "in-link")); err != nil {
		f.Fatal(err)
	}
	r, err := OpenRoot(work)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, p string) {
		abs, rel, err := r.Resolve(p)
		if err != nil {
			return
		}
		if _, ok := within(r.Dir(), abs); !ok {
			t.Fatalf("Resolve(%q) = %q outside %q", p, abs, r.Dir())
		}
		if rel == ".." || strings.HasPrefix(rel, "../") {
			t.Fatalf("Resolve(%q) rel = %q", p, rel)
		}
	})
}
