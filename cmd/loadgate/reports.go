package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/loadgate/loadgate/report"
)

// reportSpec is one --report FORMAT=FILE.
type reportSpec struct{ format, path string }

func parseReportFlags(vals []string) ([]reportSpec, error) {
	var out []reportSpec
	for _, v := range vals {
		format, path, ok := strings.Cut(v, "=")
		if !ok || path == "" {
			return nil, fmt.Errorf("--report %q: want FORMAT=FILE, e.g. html=report.html", v)
		}
		if !slices.Contains(report.Formats(), format) {
			return nil, fmt.Errorf("--report %q: unknown format %q (have %s)", v, format, strings.Join(report.Formats(), ", "))
		}
		out = append(out, reportSpec{format, path})
	}
	return out, nil
}

func writeReports(specs []reportSpec, in report.Input) error {
	for _, s := range specs {
		f, err := os.Create(s.path)
		if err != nil {
			return fmt.Errorf("report %s: %w", s.format, err)
		}
		werr := report.Write(s.format, f, in)
		cerr := f.Close()
		if werr != nil {
			return fmt.Errorf("report %s to %s: %w", s.format, s.path, werr)
		}
		if cerr != nil {
			return fmt.Errorf("report %s to %s: %w", s.format, s.path, cerr)
		}
	}
	return nil
}
