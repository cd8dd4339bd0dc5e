package results

import (
	"fmt"
	"slices"
	"sort"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Merger merges results files one at a time, so a coordinator of thousands of
// workers holds one accumulated File instead of every worker's file. Adding
// the files f1…fn to a Merger and calling File gives the same result as
// Merge(f1, …, fn).
//
// Histograms are accumulated as raw HdrHistogram count arrays (all loadgate
// histograms share one configuration, so counts add index by index), which
// is several times faster than merging histogram by histogram; the
// histograms are rebuilt once, in File.
type Merger struct {
	out   *File
	eps   map[string]*accEndpoint
	order []string
	n     int
	dec   v2decoder
}

type accEndpoint struct {
	e       Endpoint // counts and windows, without histograms
	hist    accHist
	service accHist
	server  accHist
	windows map[int64]*accWindow // by window start, UnixNano
}

// accWindow is one window's latency and Server-Timing histograms being merged.
type accWindow struct{ latency, server accHist }

// accHist is a histogram being merged: the summed counts array, at the
// precision of the first histogram added (as Merge's emptyLike does).
type accHist struct {
	counts  []int64
	total   int64
	clamped int64
	present bool
	digits  int64
}

// newWithDigits returns an empty histogram of loadgate's range with the given
// precision (SignificantDigits or WindowSignificantDigits).
func newWithDigits(d int64) *Histogram {
	if d == WindowSignificantDigits {
		return NewWindowHistogram()
	}
	return NewHistogram()
}

func (a *accHist) adopt(digits int64) {
	if !a.present {
		a.present, a.digits = true, digits
	}
}

func (a *accHist) add(h *Histogram) error {
	if h == nil || h.h == nil {
		return nil
	}
	a.adopt(h.h.SignificantFigures())
	a.clamped += h.Clamped
	n := h.Count()
	if n == 0 {
		return nil
	}
	if h.h.SignificantFigures() != a.digits {
		// Another precision: re-record at the accumulator's, as
		// Histogram.Merge into a histogram of that precision would.
		tmp := newWithDigits(a.digits)
		if dropped := tmp.h.Merge(h.h); dropped != 0 {
			return fmt.Errorf("histogram merge dropped %d values outside the trackable range", dropped)
		}
		h = tmp
	}
	s := h.h.Export()
	if s.LowestTrackableValue != LowestTrackable || s.HighestTrackableValue != MaxTrackable {
		return fmt.Errorf("histogram merge: unexpected range %d..%d", s.LowestTrackableValue, s.HighestTrackableValue)
	}
	if a.counts == nil {
		a.counts = s.Counts
		a.total = n
		return nil
	}
	var seen int64
	for i, c := range s.Counts {
		if c != 0 {
			a.counts[i] += c
			if seen += c; seen >= n {
				break
			}
		}
	}
	a.total += n
	return nil
}

// histogram rebuilds the merged histogram (nil if no input had one).
func (a *accHist) histogram() *Histogram {
	if !a.present {
		return nil
	}
	h := newWithDigits(a.digits)
	if a.total > 0 {
		imported := hdr.Import(&hdr.Snapshot{LowestTrackableValue: LowestTrackable, HighestTrackableValue: MaxTrackable,
			SignificantFigures: a.digits, Counts: a.counts})
		for _, b := range imported.Distribution() {
			if b.Count > 0 {
				// Recording at the bucket's highest equivalent value lands
				// in the same bucket: the counts are preserved exactly.
				_ = h.h.RecordValues(b.To, b.Count)
			}
		}
	}
	h.Clamped = a.clamped
	return h
}

// Add folds f into the merge. f is not modified and may be discarded afterwards.
func (m *Merger) Add(f *File) error {
	if err := m.begin(f); err != nil {
		return err
	}
	for i := range f.Endpoints {
		e := &f.Endpoints[i]
		if err := m.endpoint(e.Name, e.Method, e.URL, e.Precision).add(e); err != nil {
			return fmt.Errorf("merge: endpoint %s: %w", e.Name, err)
		}
	}
	m.n++
	return nil
}

// begin merges f's header (plan, run, validity).
func (m *Merger) begin(f *File) error {
	if m.out == nil {
		m.out = &File{Schema: Schema, Plan: f.Plan, Profile: f.Profile, Run: f.Run}
		m.out.Run.Runner = "merge"
		m.out.Run.Workers = 0
		m.out.Run.Warnings = slices.Clone(f.Run.Warnings)
		m.out.Validity = Validity{Valid: true}
		m.eps = map[string]*accEndpoint{}
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
	if m.n > 0 {
		m.out.Run.InsecureTLS = m.out.Run.InsecureTLS || f.Run.InsecureTLS
		for _, w := range f.Run.Warnings {
			if !slices.Contains(m.out.Run.Warnings, w) {
				m.out.Run.Warnings = append(m.out.Run.Warnings, w)
			}
		}
	}
	w := f.Run.Workers
	if w == 0 {
		w = 1
	}
	m.out.Run.Workers += w
	m.out.Validity.Merge(&f.Validity, "")
	return nil
}

func (m *Merger) endpoint(name, method, url, precision string) *accEndpoint {
	dst, ok := m.eps[name]
	if !ok {
		dst = &accEndpoint{e: Endpoint{Name: name, Method: method, URL: url, Precision: precision}, windows: map[int64]*accWindow{}}
		m.eps[name] = dst
		m.order = append(m.order, name)
	}
	return dst
}

func (a *accEndpoint) add(src *Endpoint) error {
	a.e.AddCounts(src)
	if err := a.hist.add(src.Histogram); err != nil {
		return err
	}
	if err := a.service.add(src.ServiceHistogram); err != nil {
		return err
	}
	if err := a.server.add(src.ServerHistogram); err != nil {
		return err
	}
	for _, w := range src.Windows {
		acc := a.window(w)
		if err := acc.latency.add(w.Histogram); err != nil {
			return err
		}
		if err := acc.server.add(w.ServerHistogram); err != nil {
			return err
		}
	}
	return nil
}

// window merges w's counts into the window with the same start (aligned by
// absolute time) and returns that window's histogram accumulators.
func (a *accEndpoint) window(w Window) *accWindow {
	dst := &a.e
	key := w.Start.UnixNano()
	i := sort.Search(len(dst.Windows), func(i int) bool { return !dst.Windows[i].Start.Before(w.Start) })
	if i < len(dst.Windows) && dst.Windows[i].Start.Equal(w.Start) {
		d := &dst.Windows[i]
		d.Requests += w.Requests
		d.Errors += w.Errors
		d.Bytes += w.Bytes
		d.OfferedRPS += w.OfferedRPS
		d.Warmup = d.Warmup && w.Warmup
		return a.windows[key]
	}
	nw := w
	nw.Histogram, nw.ServerHistogram = nil, nil
	dst.Windows = append(dst.Windows, Window{})
	copy(dst.Windows[i+1:], dst.Windows[i:])
	dst.Windows[i] = nw
	acc := &accWindow{}
	a.windows[key] = acc
	return acc
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
	for _, n := range m.order {
		a := m.eps[n]
		e := a.e
		e.Histogram = a.hist.histogram()
		e.ServiceHistogram = a.service.histogram()
		e.ServerHistogram = a.server.histogram()
		for i := range e.Windows {
			acc := a.windows[e.Windows[i].Start.UnixNano()]
			e.Windows[i].Histogram = acc.latency.histogram()
			e.Windows[i].ServerHistogram = acc.server.histogram()
		}
		out.Endpoints = append(out.Endpoints, e)
	}
	out.Finalize(elapsed)
	m.out, m.eps = nil, nil
	return out
}
