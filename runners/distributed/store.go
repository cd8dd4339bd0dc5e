// Package distributed runs one plan on many workers: a Coordinator (a
// runners.Runner) writes the plan and a run manifest to a Store, launches
// workers through a Launcher, publishes a common start time once they are ready
// (a barrier), collects every worker's results file and merges them exactly.
// RunWorker is the worker side. The Store and Launcher are small interfaces:
// this package implements them with a local directory and local processes;
// runners/aws implements them with S3 and ECS Fargate.
package distributed

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// ErrNotFound is returned (wrapped) by Store.Get for a missing key.
var ErrNotFound = errors.New("not found")

// Store is the exchange between coordinator and workers: small objects by key.
// Keys are slash-separated ("<run-id>/workers/<region>/<n>.json").
type Store interface {
	// Put writes data under key, replacing any previous value. Readers never
	// see a partly written value.
	Put(ctx context.Context, key string, data []byte) error
	// Get reads key; a missing key gives an error wrapping ErrNotFound.
	Get(ctx context.Context, key string) ([]byte, error)
	// List returns every key starting with prefix, sorted.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes every key starting with prefix.
	Delete(ctx context.Context, prefix string) error
}

// DirStore is a Store in a local directory (local multi-process runs).
type DirStore struct {
	Root string
}

var _ Store = (*DirStore)(nil)

func (s *DirStore) path(key string) (string, error) {
	if key == "" || strings.HasPrefix(key, "/") || path.Clean(key) != key || strings.HasPrefix(key, "../") || key == ".." {
		return "", fmt.Errorf("store: bad key %q", key)
	}
	return filepath.Join(s.Root, filepath.FromSlash(key)), nil
}

// Put writes via a temporary file and rename, so a concurrent Get sees either
// nothing or the whole value.
func (s *DirStore) Put(_ context.Context, key string, data []byte) error {
	p, err := s.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return fmt.Errorf("store: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("store: put %s: %w", key, err)
	}
	return nil
}

// Get reads key.
func (s *DirStore) Get(_ context.Context, key string) ([]byte, error) {
	p, err := s.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("store: %s: %w", key, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return b, nil
}

// List walks the directory under prefix's parent.
func (s *DirStore) List(_ context.Context, prefix string) ([]string, error) {
	dir := prefix
	if i := strings.LastIndex(prefix, "/"); i >= 0 {
		dir = prefix[:i]
	} else {
		dir = ""
	}
	root := filepath.Join(s.Root, filepath.FromSlash(dir))
	var keys []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		if d.IsDir() || strings.HasPrefix(d.Name(), ".put-") {
			return nil
		}
		rel, err := filepath.Rel(s.Root, p)
		if err != nil {
			return err
		}
		k := filepath.ToSlash(rel)
		if strings.HasPrefix(k, prefix) {
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: list %s: %w", prefix, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete removes every key under prefix.
func (s *DirStore) Delete(ctx context.Context, prefix string) error {
	keys, err := s.List(ctx, prefix)
	if err != nil {
		return err
	}
	var errs []error
	for _, k := range keys {
		p, err := s.path(k)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
