// Package baselines is the committed baseline file: the last N runs of a plan
// with their provenance, loaded for gate.Compare and updated by `loadgate
// baseline update`. It imports only results.
package baselines

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/loadgate/loadgate/results"
)

// Schema is the version tag of the baseline format this build writes.
const Schema = "loadgate/baseline/v1"

// schemaPrefix marks any version of the baseline format.
const schemaPrefix = "loadgate/baseline/"

// DefaultKeep is how many runs a baseline keeps unless told otherwise: enough
// for the gate to estimate run-to-run spread (≥ 3), small enough to follow the
// service as it changes.
const DefaultKeep = 5

// File is a baseline: the last Keep runs of one plan, oldest first. Each run
// keeps its windows and (compressed) histograms so the gate can resample them.
type File struct {
	Schema  string          `json:"schema"`
	Plan    results.PlanRef `json:"plan"`
	Profile results.Profile `json:"profile"`
	Keep    int             `json:"keep"`
	Runs    []*results.File `json:"runs"`
	// Notes tell the caller how the file was read (e.g. a results file taken
	// as a one-run baseline); never written.
	Notes []string `json:"-"`
}

// SchemaError reports a file that is not a baseline this build can read.
type SchemaError struct {
	File string
	Got  string
}

func (e *SchemaError) Error() string {
	switch {
	case e.Got == "":
		return fmt.Sprintf("%s: not a loadgate baseline (no \"schema\" field; want %q)", e.File, Schema)
	case strings.HasPrefix(e.Got, schemaPrefix):
		return fmt.Sprintf("%s: baseline schema %q was written by a newer loadgate (this one reads %q): upgrade loadgate or re-record the baseline", e.File, e.Got, Schema)
	}
	return fmt.Sprintf("%s: not a loadgate baseline (schema %q; want %q)", e.File, e.Got, Schema)
}

// SyntaxError is malformed JSON, positioned by line and column.
type SyntaxError = results.SyntaxError

// Load reads the baseline at path. A results file is accepted as a one-run
// baseline (with a note saying so). Every error names the file. A file
// larger than results.MaxFileBytes is refused without being read.
func Load(path string) (*File, error) {
	data, err := results.ReadLimited(path)
	if err != nil {
		var tl *results.TooLargeError
		if errors.As(err, &tl) {
			return nil, err
		}
		return nil, fmt.Errorf("baseline: %w", err)
	}
	return Decode(data, path)
}

// Decode parses a baseline document; name is used in error messages.
func Decode(data []byte, name string) (*File, error) {
	var head struct {
		Schema string `json:"schema"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, results.PositionJSONError(data, name, err)
	}
	if head.Schema == results.Schema {
		r, err := results.DecodeBytes(data, name)
		if err != nil {
			return nil, err
		}
		f := New(r, DefaultKeep)
		f.Notes = append(f.Notes, fmt.Sprintf("%s is a results file, not a baseline: used as a baseline of 1 run (record more with `loadgate baseline update`)", name))
		return f, nil
	}
	if head.Schema != Schema {
		return nil, &SchemaError{File: name, Got: head.Schema}
	}
	var raw struct {
		Schema  string            `json:"schema"`
		Plan    results.PlanRef   `json:"plan"`
		Profile results.Profile   `json:"profile"`
		Keep    int               `json:"keep"`
		Runs    []json.RawMessage `json:"runs"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return nil, results.PositionJSONError(data, name, err)
	}
	f := &File{Schema: raw.Schema, Plan: raw.Plan, Profile: raw.Profile, Keep: raw.Keep}
	var errs []error
	if f.Keep < 0 {
		errs = append(errs, fmt.Errorf("%s: keep: must be ≥ 0, got %d", name, f.Keep))
	}
	if len(raw.Runs) == 0 {
		errs = append(errs, fmt.Errorf("%s: runs: the baseline holds no runs", name))
	}
	for i, rm := range raw.Runs {
		r, err := results.DecodeBytes(rm, fmt.Sprintf("%s: runs[%d]", name, i))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if r.Plan.Hash != f.Plan.Hash {
			errs = append(errs, fmt.Errorf("%s: runs[%d]: plan hash %s differs from the baseline's %s", name, i, r.Plan.Hash, f.Plan.Hash))
		}
		f.Runs = append(f.Runs, r)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return f, nil
}

// New returns a baseline holding one run.
func New(r *results.File, keep int) *File {
	if keep <= 0 {
		keep = DefaultKeep
	}
	return &File{Schema: Schema, Plan: r.Plan, Profile: r.Profile, Keep: keep, Runs: []*results.File{r}}
}

// Encode writes f as indented JSON.
func Encode(w io.Writer, f *File) error {
	f.Schema = Schema
	for _, r := range f.Runs {
		if r.Schema == "" {
			r.Schema = results.Schema
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("encode baseline: %w", err)
	}
	return nil
}

// Add appends r and trims to the last keep runs (keep ≤ 0 keeps f.Keep, or
// DefaultKeep). A run from a different plan hash or profile starts the history
// afresh: old runs of another plan must not be compared with new ones. Invalid
// and partial runs are refused — they describe the generator, not the service.
// The returned notes say what happened to older runs.
func (f *File) Add(r *results.File, keep int) (notes []string, err error) {
	if !r.Validity.Valid {
		return nil, fmt.Errorf("the run is invalid (%s): not added to the baseline", strings.Join(r.Validity.Reasons, "; "))
	}
	if r.Run.Partial {
		return nil, errors.New("the run was interrupted (partial results): not added to the baseline")
	}
	if err := checkAlive(r); err != nil {
		return nil, err
	}
	if keep > 0 {
		f.Keep = keep
	}
	if f.Keep <= 0 {
		f.Keep = DefaultKeep
	}
	if len(f.Runs) > 0 && (f.Plan.Hash != r.Plan.Hash || profileKey(f.Profile) != profileKey(r.Profile)) {
		notes = append(notes, fmt.Sprintf("the plan or profile changed (hash %s → %s): dropped %d older run(s)", f.Plan.Hash, r.Plan.Hash, len(f.Runs)))
		f.Runs = nil
	}
	f.Plan, f.Profile = r.Plan, r.Profile
	f.Runs = append(f.Runs, r)
	if n := len(f.Runs) - f.Keep; n > 0 {
		notes = append(notes, fmt.Sprintf("trimmed %d oldest run(s) to keep %d", n, f.Keep))
		f.Runs = append([]*results.File(nil), f.Runs[n:]...)
	}
	return notes, nil
}

func profileKey(p results.Profile) string {
	return fmt.Sprintf("%s/%s/%g/%d", p.Type, p.Model, p.Rate, p.VUs)
}

// Append adds r to the baseline at path (creating it), keeping the last keep
// runs, and writes it atomically.
func Append(path string, r *results.File, keep int) error {
	_, err := Update(path, r, keep)
	return err
}

// Update is Append that also returns notes on what changed.
func Update(path string, r *results.File, keep int) (notes []string, err error) {
	f, err := Load(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		f = &File{Schema: Schema}
		notes = append(notes, fmt.Sprintf("created %s", path))
	case err != nil:
		return nil, err
	}
	n, err := f.Add(r, keep)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	notes = append(notes, n...)
	return notes, WriteFile(path, f)
}

// WriteFile encodes f to path atomically: a temp file in the same directory,
// synced, then renamed over path, so a reader never sees half a baseline.
func WriteFile(path string, f *File) error {
	var buf bytes.Buffer
	if err := Encode(&buf, f); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("write baseline: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write baseline %s: %w", path, err)
	}
	return nil
}

// DeadRunError refuses a run with no successful response as a baseline: later
// runs of the same dead service would compare as unchanged.
type DeadRunError struct {
	Requests int64
	Kinds    map[string]int64
}

func (e *DeadRunError) Error() string {
	if e.Requests == 0 {
		return "the run has no requests: nothing to record (not added to the baseline)"
	}
	keys := make([]string, 0, len(e.Kinds))
	for k := range e.Kinds {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kinds := make([]string, len(keys))
	for i, k := range keys {
		kinds[i] = fmt.Sprintf("%s %d", k, e.Kinds[k])
	}
	return fmt.Sprintf("every one of the run's %d requests failed (%s): a baseline of a dead service would make later failing runs look unchanged; not added to the baseline (fix the target, then record again)",
		e.Requests, strings.Join(kinds, ", "))
}

// checkAlive refuses a run without requests or in which every request failed.
func checkAlive(r *results.File) error {
	var req, errs int64
	kinds := map[string]int64{}
	for _, e := range r.Endpoints {
		req += e.Requests
		errs += e.Errors
		for k, n := range e.ErrorKinds {
			kinds[k] += n
		}
	}
	if req == 0 || errs >= req {
		return &DeadRunError{Requests: req, Kinds: kinds}
	}
	return nil
}

// PlanChangedError reports, before any load is sent, that the plan about to
// run is not the one the baseline was recorded from (exit 2).
type PlanChangedError struct {
	Baseline, Plan string // plan hashes
}

func (e *PlanChangedError) Error() string {
	return fmt.Sprintf("the baseline was recorded from plan hash %s, this plan hashes %s: its endpoints, bodies, header names or schedule changed. "+
		"Nothing was sent. Re-record the baseline (`loadgate baseline update`), or compare anyway with --allow-plan-change",
		e.Baseline, e.Plan)
}

// CheckPlan checks that a plan hashing to hash can be compared with the
// baseline's runs, so an incompatible baseline is refused before the run
// rather than after it. With allowChange a mismatch comes back as a warning.
func CheckPlan(runs []*results.File, hash string, allowChange bool) (warnings []string, err error) {
	for _, r := range runs {
		if r == nil || r.Plan.Hash == hash {
			continue
		}
		pe := &PlanChangedError{Baseline: r.Plan.Hash, Plan: hash}
		if allowChange {
			return []string{"plan changed (allowed): baseline hash " + pe.Baseline + ", plan hash " + pe.Plan}, nil
		}
		return nil, pe
	}
	return nil, nil
}
