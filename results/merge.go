package results

import (
	"fmt"
	"slices"
	"sort"
	"time"
)

// Merge combines results of the same plan run by several workers into one File.
// Histograms are summed (exact percentiles, never averaged), counts summed, and
// windows aligned by absolute start time. The inputs are not modified. It is
// a Merger fed all files at once.
func Merge(files ...*File) (*File, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("merge: no results")
	}
	var m Merger
	for _, f := range files {
		if err := m.Add(f); err != nil {
			return nil, err
		}
	}
	return m.File(), nil
}

// Merge adds src's validity to v: valid only if both are, reasons (prefixed
// with "where: " when where is set), causes, schedule counts, the worst lag
// and generator CPU, degradation and missing workers. It is the one merge of
// validity: distributed runs, results.Merge and paired slots use it.
func (v *Validity) Merge(src *Validity, where string) {
	dst := v
	dst.Valid = dst.Valid && src.Valid
	for _, r := range src.Reasons {
		if where != "" {
			r = where + ": " + r
		}
		dst.Reasons = append(dst.Reasons, r)
	}
	dst.AddCauses(src.Causes...)
	dst.Scheduled += src.Scheduled
	dst.Sent += src.Sent
	dst.Dropped += src.Dropped
	dst.Late += src.Late
	dst.LagP99Ms = max(dst.LagP99Ms, src.LagP99Ms)
	dst.LagMaxMs = max(dst.LagMaxMs, src.LagMaxMs)
	dst.GeneratorCPU = max(dst.GeneratorCPU, src.GeneratorCPU)
	dst.Degraded = dst.Degraded || src.Degraded
	dst.MissingWorkers = append(dst.MissingWorkers, src.MissingWorkers...)
}

// AddCounts adds src's request, error and byte counts, status codes and
// error kinds to e (histograms and windows are merged by their owners); an
// aggregate source makes e aggregate. It is the one merge of endpoint counts.
func (e *Endpoint) AddCounts(src *Endpoint) {
	e.Requests += src.Requests
	e.Errors += src.Errors
	e.Bytes += src.Bytes
	e.BytesSent += src.BytesSent
	if src.Precision == PrecisionAggregate {
		e.Precision = PrecisionAggregate
	}
	addCounts(&e.Status, src.Status)
	addCounts(&e.ErrorKinds, src.ErrorKinds)
}

func mergeEndpoint(dst, src *Endpoint) error {
	dst.AddCounts(src)
	if err := mergeHist(&dst.Histogram, src.Histogram); err != nil {
		return err
	}
	if err := mergeHist(&dst.ServiceHistogram, src.ServiceHistogram); err != nil {
		return err
	}
	if err := mergeHist(&dst.ServerHistogram, src.ServerHistogram); err != nil {
		return err
	}
	for _, w := range src.Windows {
		i := sort.Search(len(dst.Windows), func(i int) bool { return !dst.Windows[i].Start.Before(w.Start) })
		if i < len(dst.Windows) && dst.Windows[i].Start.Equal(w.Start) {
			d := &dst.Windows[i]
			d.Requests += w.Requests
			d.Errors += w.Errors
			d.Bytes += w.Bytes
			d.OfferedRPS += w.OfferedRPS
			d.Warmup = d.Warmup && w.Warmup
			if err := mergeHist(&d.Histogram, w.Histogram); err != nil {
				return err
			}
			if err := mergeHist(&d.ServerHistogram, w.ServerHistogram); err != nil {
				return err
			}
			continue
		}
		nw := w
		nw.Histogram, nw.ServerHistogram = nil, nil
		if err := mergeHist(&nw.Histogram, w.Histogram); err != nil {
			return err
		}
		if err := mergeHist(&nw.ServerHistogram, w.ServerHistogram); err != nil {
			return err
		}
		dst.Windows = append(dst.Windows, Window{})
		copy(dst.Windows[i+1:], dst.Windows[i:])
		dst.Windows[i] = nw
	}
	return nil
}

func mergeHist(dst **Histogram, src *Histogram) error {
	if src == nil {
		return nil
	}
	if *dst == nil {
		*dst = src.emptyLike()
	}
	return (*dst).Merge(src)
}

func addCounts(dst *map[string]int64, src map[string]int64) {
	if len(src) == 0 {
		return
	}
	if *dst == nil {
		*dst = map[string]int64{}
	}
	for k, v := range src {
		(*dst)[k] += v
	}
}

// Finalize recomputes every endpoint's derived figures and the Total over
// elapsed (the measured duration, warm-up excluded).
func (f *File) Finalize(elapsed time.Duration) {
	total := Endpoint{Name: "total"}
	for i := range f.Endpoints {
		f.Endpoints[i].Finalize(elapsed)
	}
	if len(f.Endpoints) == 1 && ascending(f.Endpoints[0].Windows) {
		total.shareOne(&f.Endpoints[0])
	} else {
		for i := range f.Endpoints {
			_ = mergeEndpoint(&total, &f.Endpoints[i])
		}
	}
	if len(f.Endpoints) > 0 && total.Precision == "" {
		total.Precision = f.Endpoints[0].Precision
	}
	total.Finalize(elapsed)
	f.Total = total
}

// shareOne makes t the total of e alone: what mergeEndpoint into an empty
// total gives, with e's histograms shared instead of copied. A long run's
// window histograms are most of what its results hold in memory, and a copy
// of each for a one-endpoint total doubled that when the results were
// written; histograms of a finalized file are read, never recorded into.
func (t *Endpoint) shareOne(e *Endpoint) {
	t.AddCounts(e) // the maps are copies
	t.Histogram, t.ServiceHistogram, t.ServerHistogram = e.Histogram, e.ServiceHistogram, e.ServerHistogram
	if len(e.Windows) > 0 {
		t.Windows = slices.Clone(e.Windows)
	}
}

// ascending reports whether the windows' starts strictly increase (no two
// to merge into one).
func ascending(ws []Window) bool {
	for i := 1; i < len(ws); i++ {
		if !ws[i-1].Start.Before(ws[i].Start) {
			return false
		}
	}
	return true
}
