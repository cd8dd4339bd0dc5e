package pipeline

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/loadgate/loadgate/report"
)

// ReportSpec is one report to write: a format of report.Formats and a file.
type ReportSpec struct{ Format, Path string }

// ParseReports parses --report FORMAT=FILE values.
func ParseReports(vals []string) ([]ReportSpec, error) {
	var out []ReportSpec
	for _, v := range vals {
		format, path, ok := strings.Cut(v, "=")
		if !ok || path == "" {
			return nil, fmt.Errorf("--report %q: want FORMAT=FILE, e.g. html=report.html", v)
		}
		if !slices.Contains(report.Formats(), format) {
			return nil, fmt.Errorf("--report %q: unknown format %q (have %s)", v, format, strings.Join(report.Formats(), ", "))
		}
		out = append(out, ReportSpec{format, path})
	}
	return out, nil
}

// WriteReports writes every report of specs.
func WriteReports(specs []ReportSpec, in report.Input) error {
	for _, s := range specs {
		f, err := os.Create(s.Path)
		if err != nil {
			return fmt.Errorf("report %s: %w", s.Format, err)
		}
		werr := report.Write(s.Format, f, in)
		cerr := f.Close()
		if werr != nil {
			return fmt.Errorf("report %s to %s: %w", s.Format, s.Path, werr)
		}
		if cerr != nil {
			return fmt.Errorf("report %s to %s: %w", s.Format, s.Path, cerr)
		}
	}
	return nil
}
