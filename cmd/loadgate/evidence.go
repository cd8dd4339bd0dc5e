package main

import (
	"errors"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
)

// maxFileSize is the --max-file-size flag: a size with a binary unit.
type maxFileSize struct{ n int64 }

func (m *maxFileSize) String() string { return results.FormatBytes(m.n) }
func (m *maxFileSize) Type() string   { return "size" }
func (m *maxFileSize) Set(s string) error {
	n, err := plan.ParseSize(s)
	if err != nil {
		return err
	}
	if n <= 0 {
		return errors.New("must be > 0")
	}
	m.n = n
	return nil
}

var _ pflag.Value = (*maxFileSize)(nil)

// bindMaxFileSize adds --max-file-size to every command: results and
// baseline files beyond it are refused before being read.
func bindMaxFileSize(root *cobra.Command) {
	m := &maxFileSize{n: results.DefaultMaxFileBytes}
	root.PersistentFlags().Var(m, "max-file-size", "largest results or baseline file read (e.g. 256MiB)")
	root.PersistentPreRun = func(*cobra.Command, []string) { results.SetMaxFileBytes(m.n) }
}
