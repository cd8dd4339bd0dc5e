package main

import (
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners"
	"github.com/loadgate/loadgate/runners/local"
)

// selectRunner picks the runner a plan asks for.
func (a *app) selectRunner(p *plan.Plan) (runners.Runner, error) {
	return local.New(local.Options{}), nil
}
