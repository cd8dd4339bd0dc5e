package main

import (
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/loadgate/loadgate/internal/scaffold"
	"github.com/loadgate/loadgate/plan"
)

func newInitCmd(a *app) *cobra.Command {
	var (
		dir, name, fromOpenAPI, rate string
		force, includeWrites         bool
		tags, prefixes               []string
		maxEndpoints                 int
	)
	cmd := &cobra.Command{
		Use:   "init [--dir DIR] [--from-openapi api.yaml [--include-writes] [--tag T] [--path-prefix P] [--max-endpoints N] [--rate R]] [--force]",
		Short: "Write a starter plan, a baselines/ directory and a GitHub workflow",
		Long: `Write a commented starter plan (loadgate.yaml, with the editor schema line), a
baselines/ directory with a README, and .github/workflows/loadgate.yml that runs
the gate on pull requests (GitHub reads workflows from the repository root: run
init there, or move the file). Existing files are left alone unless --force.

--from-openapi creates endpoints from the operations of an OpenAPI 3 document
(JSON or YAML; no external references are fetched). It is safe by default:
only GET and HEAD operations (--include-writes adds POST, PUT, PATCH and
DELETE, whose path parameters and bodies go to data/*.ndjson files the plan
reads, one row per request), and only as many endpoints as the rate gives 200
requests each in the measured 30 s (--max-endpoints, --rate), chosen by --tag
and --path-prefix; the operations left out are listed at the end of the plan,
and each endpoint's comment says how many requests it will get. Path
parameters are filled from the document's examples, defaults or enums (else
1), required query and header parameters likewise. The target stays on
loopback: point TARGET_URL at a test deployment you own.`,
		Example: `  loadgate init
  loadgate init --dir services/checkout --name checkout-api
  loadgate init --from-openapi openapi.yaml --tag repos --max-endpoints 10 --force
  loadgate init --from-openapi openapi.yaml --path-prefix /orders --include-writes --rate 200/s`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if name == "" {
				abs, err := filepath.Abs(dir)
				if err != nil {
					return withCode(exitUsage, err)
				}
				name = scaffold.PlanName(filepath.Base(abs))
			}
			var files []scaffold.File
			if fromOpenAPI != "" {
				r, err := plan.ParseRate(rate)
				if err != nil || r <= 0 {
					return withCode(exitUsage, fmt.Errorf("--rate %q: want a rate like 50/s", rate))
				}
				g, err := scaffold.FromOpenAPI(fromOpenAPI, scaffold.OpenAPIOptions{
					Name: name, IncludeWrites: includeWrites, Tags: tags, PathPrefixes: prefixes,
					MaxEndpoints: maxEndpoints, Rate: r,
				})
				if err != nil {
					return withCode(exitUsage, err)
				}
				for _, w := range g.Warnings {
					fmt.Fprintf(a.stderr, "loadgate: %s: %s\n", fromOpenAPI, w)
				}
				fmt.Fprintf(a.stderr, "loadgate: %s: %d of %d operations selected (the rest are listed at the end of the plan)\n", fromOpenAPI, g.Selected, g.Total)
				files = g.Files
			} else {
				text, err := scaffold.Starter(name)
				if err != nil {
					return withCode(exitInfra, err)
				}
				files = []scaffold.File{{Path: scaffold.PlanFile, Content: text}}
			}
			// Never write a plan loadgate itself would reject.
			if err := scaffold.Validate(files, scaffold.PlanFile); err != nil {
				return withCode(exitInfra, fmt.Errorf("internal error: generated plan does not validate: %w", err))
			}
			files = append(files,
				scaffold.File{Path: filepath.Join("baselines", "README.md"), Content: scaffold.BaselinesReadme(name)},
				scaffold.File{Path: filepath.Join(".github", "workflows", "loadgate.yml"), Content: scaffold.Workflow(name, dir)})
			if err := scaffold.WriteFiles(dir, files, force); err != nil {
				return withCode(exitUsage, err) // *scaffold.ExistsError, or the directory is not writable
			}
			for _, f := range files {
				fmt.Fprintf(a.stdout, "wrote %s\n", filepath.Join(dir, f.Path))
			}
			fmt.Fprintf(a.stdout, `
next steps:
  loadgate validate %[1]s
  TARGET_URL=http://127.0.0.1:8080 loadgate baseline update %[1]s --baseline %[2]s
  git add %[1]s %[3]s %[4]s
`, filepath.Join(dir, scaffold.PlanFile), filepath.Join(dir, "baselines", name+".json"), filepath.Join(dir, "baselines"),
				filepath.Join(dir, ".github", "workflows", "loadgate.yml"))
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".", "directory to write into")
	cmd.Flags().StringVar(&name, "name", "", "plan name (default: the directory's name)")
	cmd.Flags().StringVar(&fromOpenAPI, "from-openapi", "", "create endpoints from the operations of this OpenAPI 3 document")
	cmd.Flags().BoolVar(&includeWrites, "include-writes", false, "with --from-openapi: also POST, PUT, PATCH and DELETE (they change data on the target)")
	cmd.Flags().StringSliceVar(&tags, "tag", nil, "with --from-openapi: only operations with this tag (repeatable)")
	cmd.Flags().StringSliceVar(&prefixes, "path-prefix", nil, "with --from-openapi: only paths starting with this (repeatable)")
	cmd.Flags().IntVar(&maxEndpoints, "max-endpoints", 0, "with --from-openapi: at most this many endpoints (default: what --rate gives 200 requests each)")
	cmd.Flags().StringVar(&rate, "rate", "50/s", "with --from-openapi: the plan's arrival rate")
	cmd.Flags().BoolVar(&force, "force", false, "overwrite existing files")
	return cmd
}
