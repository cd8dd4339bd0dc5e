// Package runnertest holds runners for tests of code that drives runners
// (the distributed coordinator and workers, the AWS launcher).
package runnertest

import (
	"context"
	"net/http"
	"strings"

	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/results"
	"github.com/loadgate/loadgate/runners"
)

// Probe sends one request per endpoint of the plan it is given — as the
// worker decoded it, headers, body and TLS settings included, so a test can
// check what reached the target — and then runs Next.
type Probe struct{ Next runners.Runner }

// Run implements runners.Runner.
func (r Probe) Run(ctx context.Context, p *plan.Plan) (*results.File, error) {
	client := http.DefaultClient
	if strings.HasPrefix(p.Target, "https:") {
		c, err := p.TLSConfig()
		if err != nil {
			return nil, err
		}
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: c}}
		defer client.CloseIdleConnections()
	}
	for i := range p.Endpoints {
		e := &p.Endpoints[i]
		req, err := http.NewRequestWithContext(ctx, e.Method, p.URL(e), strings.NewReader(e.Body))
		if err != nil {
			return nil, err
		}
		for k, v := range e.Headers {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, err
		}
		resp.Body.Close()
	}
	return r.Next.Run(ctx, p)
}
