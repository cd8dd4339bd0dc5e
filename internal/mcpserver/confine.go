package mcpserver

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// maxReadBytes bounds any file a tool reads (plans, results, baselines), so a
// tool call cannot make the server load an arbitrarily large file into memory.
// Results files do not grow with the request count; 64 MiB is far above any
// real one.
const maxReadBytes = 64 << 20

// ErrOutside is matched (errors.Is) by every refusal of a path outside the
// working directory.
var ErrOutside = errors.New("outside the working directory")

// PathError is a refused path: outside the working directory, or unusable.
type PathError struct {
	Path   string
	Reason string
	// Outside is true when the path leads out of the working directory (after
	// cleaning ".." and resolving symlinks).
	Outside bool
}

func (e *PathError) Error() string {
	return fmt.Sprintf("path %q refused: %s", e.Path, e.Reason)
}

// Is makes errors.Is(err, ErrOutside) true for escapes.
func (e *PathError) Is(target error) bool { return target == ErrOutside && e.Outside }

// Root confines the paths tool calls name to one directory tree, the server's
// working directory. It is the single place where a client-supplied path turns
// into a file system path; every tool and resource goes through it.
type Root struct {
	dir string   // absolute, symlinks resolved
	fs  *os.Root // opens that cannot escape dir even if a symlink changes after Resolve
}

// OpenRoot confines paths to dir (made absolute, symlinks resolved).
func OpenRoot(dir string) (*Root, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	r, err := os.OpenRoot(real)
	if err != nil {
		return nil, fmt.Errorf("working directory: %w", err)
	}
	return &Root{dir: real, fs: r}, nil
}

// Dir is the confining directory (absolute, symlinks resolved).
func (r *Root) Dir() string { return r.dir }

// Close releases the directory handle.
func (r *Root) Close() error { return r.fs.Close() }

// Resolve maps p to an absolute path inside the root and its root-relative
// form (slash-separated). p is relative to the root, or absolute. It refuses:
// the empty path, NUL bytes, paths that ".." leads out of the root, absolute
// paths elsewhere, and paths whose existing part resolves (through symlinks)
// outside the root or through a dangling symlink. Components that do not exist
// yet are allowed (files about to be written), below a resolved parent.
func (r *Root) Resolve(p string) (abs, rel string, err error) {
	if p == "" {
		return "", "", &PathError{Path: p, Reason: "empty path"}
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", "", &PathError{Path: p, Reason: "NUL byte in path"}
	}
	full := p
	if !filepath.IsAbs(full) {
		full = filepath.Join(r.dir, full)
	}
	full = filepath.Clean(full)

	// Resolve symlinks in the longest existing prefix; keep the rest as is.
	existing, rest := full, ""
	for {
		if _, err := os.Lstat(existing); err == nil {
			break
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", "", &PathError{Path: p, Reason: err.Error()}
		}
		parent := filepath.Dir(existing)
		if parent == existing {
			break
		}
		rest = filepath.Join(filepath.Base(existing), rest)
		existing = parent
	}
	real, err := filepath.EvalSymlinks(existing)
	if err != nil {
		// A dangling symlink: where it leads cannot be checked.
		return "", "", &PathError{Path: p, Reason: "cannot resolve: " + err.Error()}
	}
	abs = filepath.Join(real, rest)
	rel, ok := within(r.dir, abs)
	if !ok {
		return "", "", &PathError{Path: p, Reason: "outside the working directory " + r.dir, Outside: true}
	}
	return abs, rel, nil
}

// within reports whether abs is dir or below it, and abs relative to dir.
func within(dir, abs string) (string, bool) {
	rel, err := filepath.Rel(dir, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// ReadFile reads the file p names (confined, at most maxReadBytes) and returns
// its contents and absolute path. The open itself goes through os.Root, so a
// symlink swapped in after Resolve still cannot lead outside.
func (r *Root) ReadFile(p string) ([]byte, string, error) {
	abs, rel, err := r.Resolve(p)
	if err != nil {
		return nil, "", err
	}
	f, err := r.fs.Open(filepath.FromSlash(rel))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p, err)
	}
	if st.IsDir() {
		return nil, "", &PathError{Path: p, Reason: "is a directory"}
	}
	data, err := io.ReadAll(io.LimitReader(f, maxReadBytes+1))
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p, err)
	}
	if len(data) > maxReadBytes {
		return nil, "", &PathError{Path: p, Reason: fmt.Sprintf("larger than %d MiB", maxReadBytes>>20)}
	}
	return data, abs, nil
}

// WriteFile writes data to p (confined), creating parent directories.
func (r *Root) WriteFile(p string, data []byte) (string, error) {
	abs, rel, err := r.Resolve(p)
	if err != nil {
		return "", err
	}
	rel = filepath.FromSlash(rel)
	if dir := filepath.Dir(rel); dir != "." {
		if err := r.fs.MkdirAll(dir, 0o755); err != nil {
			return "", fmt.Errorf("%s: %w", p, err)
		}
	}
	if err := r.fs.WriteFile(rel, data, 0o644); err != nil {
		return "", fmt.Errorf("%s: %w", p, err)
	}
	return abs, nil
}

// Display is abs as shown to clients: relative to the root when inside it.
func (r *Root) Display(abs string) string {
	if rel, ok := within(r.dir, abs); ok {
		return rel
	}
	return abs
}
