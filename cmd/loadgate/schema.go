package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/plan"
)

func newSchemaCmd(a *app) *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "schema [-o FILE]",
		Short: "Print the JSON Schema of the plan file",
		Long: `Print the JSON Schema (draft 2020-12) of loadgate's plan file. Editors with the
YAML language server complete and check a plan that starts with

  # yaml-language-server: $schema=<URL or path of this schema>

(loadgate init writes that line). Save a copy with -o to pin the schema to the
loadgate version you run.`,
		Example: `  loadgate schema
  loadgate schema -o .loadgate/plan.schema.json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s := plan.JSONSchema()
			if out == "" || out == "-" {
				if _, err := a.stdout.Write(s); err != nil {
					return withCode(exitInfra, fmt.Errorf("write schema: %w", err))
				}
				return nil
			}
			if err := os.WriteFile(out, s, 0o644); err != nil {
				return withCode(exitUsage, fmt.Errorf("write schema: %w", err))
			}
			fmt.Fprintf(a.stderr, "plan schema written to %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the schema to FILE (default: standard output)")
	return cmd
}
