package results

import "fmt"

// Merger merges results files one at a time, so a coordinator of thousands of
// workers holds one accumulated File instead of every worker's file (each
// decoded histogram owns a counts array of ~170 kB). Merger{}.Add(f...) then
// File() equals Merge(f...).
type Merger struct {
	out    *File
	byName map[string]*Endpoint
	order  []string
	n      int
}

// Add folds f into the merge. f is not modified and may be discarded afterwards.
func (m *Merger) Add(f *File) error {
	if m.out == nil {
		m.out = &File{Schema: Schema, Plan: f.Plan, Profile: f.Profile, Run: f.Run}
		m.out.Run.Runner = "merge"
		m.out.Run.Workers = 0
		m.out.Validity = Validity{Valid: true}
		m.byName = map[string]*Endpoint{}
	}
	if f.Plan.Hash != m.out.Plan.Hash {
		return fmt.Errorf("merge: result %d is from plan %s (%s), others from %s", m.n, f.Plan.Name, f.Plan.Hash, m.out.Plan.Hash)
	}
	if f.Run.Started.Before(m.out.Run.Started) {
		m.out.Run.Started = f.Run.Started
	}
	if f.Run.Ended.After(m.out.Run.Ended) {
		m.out.Run.Ended = f.Run.Ended
	}
	m.out.Run.Partial = m.out.Run.Partial || f.Run.Partial
	w := f.Run.Workers
	if w == 0 {
		w = 1
	}
	m.out.Run.Workers += w
	mergeValidity(&m.out.Validity, &f.Validity, m.n == 0)
	for i := range f.Endpoints {
		e := &f.Endpoints[i]
		dst, ok := m.byName[e.Name]
		if !ok {
			dst = &Endpoint{Name: e.Name, Method: e.Method, URL: e.URL, Precision: e.Precision}
			m.byName[e.Name] = dst
			m.order = append(m.order, e.Name)
		}
		if err := mergeEndpoint(dst, e); err != nil {
			return fmt.Errorf("merge: endpoint %s: %w", e.Name, err)
		}
	}
	m.n++
	return nil
}

// Len is the number of files added.
func (m *Merger) Len() int { return m.n }

// File finalizes and returns the merged result (nil if nothing was added).
// The Merger must not be used afterwards.
func (m *Merger) File() *File {
	if m.out == nil {
		return nil
	}
	out := m.out
	elapsed := out.Run.Ended.Sub(out.Run.Started) - out.Profile.Warmup.D()
	if elapsed <= 0 {
		elapsed = out.Run.Ended.Sub(out.Run.Started)
	}
	out.Endpoints = out.Endpoints[:0]
	for _, n := range m.order {
		out.Endpoints = append(out.Endpoints, *m.byName[n])
	}
	out.Finalize(elapsed)
	m.out = nil
	return out
}
