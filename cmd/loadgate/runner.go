package main

import (
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/local"
)

// selectRunner picks the runner a plan asks for; lo configures the built-in
// generator.
func (a *app) selectRunner(p *plan.Plan, lo local.Options) (runners.Runner, error) {
	if p.Runner.Exec != "" || p.Runner.Import != nil {
		return a.execRunner(p), nil // import.go
	}
	return local.New(lo), nil
}
