package local

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/loadgate/loadgate/plan"
)

// MaxSetupBodyBytes bounds the setup response body read for extraction.
const MaxSetupBodyBytes = 4 << 20

// SetupError is a failed setup step: the run does not start (the CLI exits
// 3), so load never goes to a service without the credentials setup was to
// obtain. Its message never holds a response body or an extracted value.
type SetupError struct {
	Step   string // the step's name
	Method string
	Path   string // as written in the plan (template, not values)
	Err    error
}

func (e *SetupError) Error() string {
	return fmt.Sprintf("setup step %q (%s %s) failed, nothing was run: %v", e.Step, e.Method, e.Path, e.Err)
}

func (e *SetupError) Unwrap() error { return e.Err }

// runSetup runs the plan's setup steps in order and returns the variables
// they extract. Every extracted value is made a secret of the plan before
// the next step, so no later message can show it. Data references in setup
// take the first row of this worker's share of each source.
func runSetup(ctx context.Context, p *plan.Plan, client *http.Client, data *dataState) (map[string]string, error) {
	vars := map[string]string{}
	if len(p.Setup) == 0 {
		return vars, nil
	}
	var names []string
	t := newTState(len(data.sources))
	for i, s := range data.sources {
		t.rows[i] = s.rows[0]
	}
	base := strings.TrimRight(p.Target, "/")
	for _, st := range p.Setup {
		fail := func(err error) error {
			return &SetupError{Step: st.Name, Method: st.Method, Path: st.Path, Err: errors.New(p.Redact(err.Error()))}
		}
		render := func(text string, esc uint8) (string, error) {
			tp := &templating{}
			ph, err := tp.compile(p, text, vars, names, esc)
			if err != nil {
				return "", err
			}
			dyn := &dynamic{}
			return string(tp.split(ph).render(nil, t, data, dyn, int64(data.shard)+1)), nil
		}
		path, err := render(st.Path, escURL)
		if err != nil {
			return nil, fail(err)
		}
		body, err := render(st.Body, escNone)
		if err != nil {
			return nil, fail(err)
		}
		timeout := st.Timeout
		if timeout <= 0 {
			timeout = DefaultTimeout
		}
		rctx, cancel := context.WithTimeout(ctx, timeout)
		req, err := http.NewRequestWithContext(rctx, st.Method, base+path, bytes.NewReader([]byte(body)))
		if err != nil {
			cancel()
			return nil, fail(err)
		}
		if body == "" {
			req.Body, req.ContentLength = nil, 0
		}
		req.Header.Set("User-Agent", userAgent)
		for k, v := range st.Headers {
			hv, err := render(v, escHeader)
			if err != nil {
				cancel()
				return nil, fail(err)
			}
			if strings.EqualFold(k, "Host") {
				req.Host = hv
				continue
			}
			req.Header.Set(k, hv)
		}
		resp, err := client.Do(req)
		if err != nil {
			cancel()
			return nil, fail(err)
		}
		respBody, rerr := io.ReadAll(io.LimitReader(resp.Body, MaxSetupBodyBytes+1))
		_ = resp.Body.Close()
		cancel()
		if rerr != nil {
			return nil, fail(fmt.Errorf("reading the response: %w", rerr))
		}
		if !expected(st.Expect.Status, resp.StatusCode) {
			want := "2xx or 3xx"
			if len(st.Expect.Status) > 0 {
				want = fmt.Sprint(st.Expect.Status)
			}
			return nil, fail(fmt.Errorf("status %d, want %s", resp.StatusCode, want))
		}
		for _, x := range st.Extract {
			var v string
			switch {
			case x.Header != "":
				v = resp.Header.Get(x.Header)
				if v == "" {
					return nil, fail(fmt.Errorf("extract %s: the response has no header %s", x.Var, x.Header))
				}
			default:
				if len(respBody) > MaxSetupBodyBytes {
					return nil, fail(fmt.Errorf("extract %s: the response body is larger than %d bytes", x.Var, MaxSetupBodyBytes))
				}
				v, err = plan.ExtractJSON(respBody, x.JSON)
				if err != nil {
					return nil, fail(fmt.Errorf("extract %s from JSON %s: %v", x.Var, x.JSON, err))
				}
				if v == "" {
					return nil, fail(fmt.Errorf("extract %s from JSON %s: empty value", x.Var, x.JSON))
				}
			}
			vars[x.Var] = v
			names = append(names, x.Var)
			p.AddRuntimeSecrets(v)
		}
	}
	return vars, nil
}
