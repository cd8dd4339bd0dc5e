package distributed

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/loadgate/loadgate/plan"
)

// Store layout of one run, all under "<run-id>/". Start and abort signals are
// one object per region so that thousands of polling workers spread their GETs
// over several keys (S3 serves about 5,500 GET/s per prefix).
func planKey(run string) string     { return run + "/plan.json" }
func manifestKey(run string) string { return run + "/manifest.json" }
func startKey(run, region string) string {
	return run + "/start/" + region + ".json"
}
func abortKey(run, region string) string { return run + "/abort/" + region + ".json" }
func readyPrefix(run string) string      { return run + "/ready/" }
func failedPrefix(run string) string     { return run + "/failed/" }

// failedTaskPrefix holds failure notes of tasks that failed before they knew
// their worker index: "<run>/failed-task/<region>/<task-id>.json".
func failedTaskPrefix(run string) string { return run + "/failed-task/" }
func resultPrefix(run string) string     { return run + "/workers/" }
func workerKey(prefix string, w WorkerSpec) string {
	return prefix + w.Region + "/" + strconv.Itoa(w.Index) + ".json"
}

// ResultKey is where worker w uploads its results file.
func ResultKey(run string, w WorkerSpec) string { return workerKey(resultPrefix(run), w) }

// workerIDFromKey turns ".../<region>/<n>.json" under prefix into "<region>/<n>".
func workerIDFromKey(prefix, key string) string {
	return strings.TrimSuffix(strings.TrimPrefix(key, prefix), ".json")
}

// WorkerSpec is one worker of a run.
type WorkerSpec struct {
	// Index is unique within the run (0..N-1).
	Index  int    `json:"index"`
	Region string `json:"region"`
	// RateScale is this worker's share (0..1) of every rate of the plan.
	RateScale float64 `json:"rate_scale"`
}

// ID names the worker in results and messages: "<region>/<index>".
func (w WorkerSpec) ID() string { return w.Region + "/" + strconv.Itoa(w.Index) }

// Split assigns n workers to regions in proportion to weights (region → weight;
// a single region "local" when weights is empty) and gives each the rate share
// 1/n, so the rates of all workers add up to the plan's.
func Split(n int, regions []string, weights []float64) ([]WorkerSpec, error) {
	if n <= 0 {
		return nil, fmt.Errorf("workers: need at least 1, got %d", n)
	}
	if len(regions) == 0 {
		regions, weights = []string{"local"}, []float64{1}
	}
	if len(weights) != len(regions) {
		return nil, fmt.Errorf("workers: %d regions but %d weights", len(regions), len(weights))
	}
	var sum float64
	for i, w := range weights {
		if w <= 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			return nil, fmt.Errorf("workers: region %s: weight must be > 0", regions[i])
		}
		sum += w
	}
	// Largest-remainder apportionment: exact total, every count within 1 of its quota.
	counts := make([]int, len(regions))
	type rem struct {
		i int
		r float64
	}
	var rems []rem
	left := n
	for i, w := range weights {
		q := float64(n) * w / sum
		counts[i] = int(q)
		left -= counts[i]
		rems = append(rems, rem{i, q - float64(counts[i])})
	}
	for left > 0 {
		best := 0
		for j := range rems {
			if rems[j].r > rems[best].r {
				best = j
			}
		}
		counts[rems[best].i]++
		rems[best].r = -1
		left--
	}
	specs := make([]WorkerSpec, 0, n)
	for i, r := range regions {
		for range counts[i] {
			specs = append(specs, WorkerSpec{Index: len(specs), Region: r, RateScale: 1 / float64(n)})
		}
	}
	return specs, nil
}

// Manifest describes a run to its workers.
type Manifest struct {
	RunID    string       `json:"run_id"`
	Created  time.Time    `json:"created"`
	PlanHash string       `json:"plan_hash"`
	Workers  []WorkerSpec `json:"workers"`
	// PollInterval is how often workers poll the start and abort signals.
	PollInterval time.Duration `json:"poll_interval"`
	// StartBy is when a worker that has seen no start signal gives up.
	StartBy time.Time `json:"start_by"`
	// Runner is the coordinator's runner name, copied into worker results.
	Runner string `json:"runner"`
}

// Worker returns the spec with the given index.
func (m *Manifest) Worker(index int) (WorkerSpec, bool) {
	for _, w := range m.Workers {
		if w.Index == index {
			return w, true
		}
	}
	return WorkerSpec{}, false
}

// StartSignal is the barrier release of one region.
type StartSignal struct {
	StartAt   time.Time `json:"start_at"`
	Published time.Time `json:"published"`
	// Included are the indices (of this region) that take part; others exit.
	Included []int `json:"included"`
}

// AbortSignal tells a region's workers to stop.
type AbortSignal struct {
	Reason string    `json:"reason"`
	At     time.Time `json:"at"`
}

// Failure is what a worker uploads when it cannot deliver results.
type Failure struct {
	Error string    `json:"error"`
	At    time.Time `json:"at"`
	// Config marks a configuration problem of the worker (an environment
	// variable the plan needs is missing, its TLS key does not match the
	// certificate), as opposed to a crash or an infrastructure failure.
	Config bool `json:"config,omitempty"`
}

// Ready is what a worker uploads once it has loaded the plan.
type Ready struct {
	At   time.Time `json:"at"`
	Host string    `json:"host,omitempty"`
}

// TLSKeyEnv is the environment variable a worker reads the client private
// key (PEM) of the plan's tls.key_file from: the key is a secret, never
// stored. Local workers get it from the coordinator; ECS tasks from their
// task definition's container secrets.
const TLSKeyEnv = "LOADGATE_TLS_KEY"

// storedPlan is the plan as workers read it: body files, the TLS CA bundle
// and client certificate inlined (workers do not have the coordinator's
// files) and no secret value in it. Plan is plan.MarshalRefs' JSON: every
// secret is a ${NAME} reference to the environment variable it came from,
// which each worker resolves from its own environment (the store, an S3
// object that outlives the run, must not hold tokens); the client key is
// named by tls.key_env (TLSKeyEnv). Env lists all those variables.
type storedPlan struct {
	Plan   json.RawMessage `json:"plan"`
	Env    []string        `json:"env,omitempty"`
	Source string          `json:"source,omitempty"`
}

// encodePlan returns the stored plan and the environment variables workers
// need for its secrets. A TLS problem (a file missing, not PEM, a key that
// does not match its certificate) is a *ConfigError.
func encodePlan(p *plan.Plan) (data []byte, needs []string, err error) {
	cp := *p
	if cp.TLS, err = p.ShippableTLS(TLSKeyEnv); err != nil {
		return nil, nil, &ConfigError{fmt.Errorf("plan %s: %w", p.Source, err)}
	}
	cp.Endpoints = append([]plan.Endpoint(nil), p.Endpoints...)
	for i := range cp.Endpoints {
		e := &cp.Endpoints[i]
		if e.BodyFile == "" {
			continue
		}
		f := e.BodyFile
		if !filepath.IsAbs(f) {
			f = filepath.Join(p.Dir, f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, fmt.Errorf("endpoints[%d].body_file: %w", i, err)
		}
		// A body file's content is not a secret unless it contains one
		// (then MarshalRefs replaces it like any other occurrence).
		e.Body, e.BodyFile = string(b), ""
	}
	pb, needs, err := cp.MarshalRefs()
	if err != nil {
		return nil, nil, fmt.Errorf("store plan: %w", err)
	}
	if cp.TLS.KeyEnv != "" {
		needs = append(needs, cp.TLS.KeyEnv)
		sort.Strings(needs)
	}
	data, err = json.Marshal(storedPlan{Plan: pb, Env: needs, Source: p.Source})
	return data, needs, err
}

// WorkerEnv returns the environment variables every worker of p needs (the
// plan's secrets as stored, and TLSKeyEnv for a client certificate), so a
// launcher can check its tasks get them before starting any. Its errors are
// encodePlan's.
func WorkerEnv(p *plan.Plan) ([]string, error) {
	_, needs, err := encodePlan(p)
	return needs, err
}

// EnvError is a worker whose environment lacks variables the plan's secrets
// (or its TLS client key) come from. It is a configuration problem, found
// before any request is sent.
type EnvError struct {
	Names []string
}

func (e *EnvError) Error() string {
	s, them := "s", "them"
	if len(e.Names) == 1 {
		s, them = "", "it"
	}
	what := "the plan's secrets come from " + them
	if slices.Contains(e.Names, TLSKeyEnv) {
		what = TLSKeyEnv + " holds the PEM private key of the plan's tls.key_file"
		if len(e.Names) > 1 {
			what = "the plan's secrets come from " + them + " (" + what + ")"
		}
	}
	return fmt.Sprintf("environment variable%s %s not set in this worker: %s, and workers read %s from their own environment "+
		"(the exchange holds only the names). Local workers inherit the coordinator's environment; ECS tasks get %s from the task definition's "+
		"container secrets (valueFrom an SSM parameter or a Secrets Manager secret; see docs/aws.md), never from RunTask overrides",
		s, strings.Join(e.Names, ", "), what, them, them)
}

// TLSError is a worker whose TLS material does not make a usable
// configuration (the key in TLSKeyEnv does not match the inlined
// certificate, or is not a PEM key): a configuration problem, found before
// any request is sent.
type TLSError struct{ Err error }

func (e *TLSError) Error() string { return "TLS configuration: " + e.Err.Error() }
func (e *TLSError) Unwrap() error { return e.Err }

// IsWorkerConfigError reports whether a worker failed for its configuration
// (*EnvError, *TLSError), not a crash or an infrastructure problem.
func IsWorkerConfigError(err error) bool {
	var ee *EnvError
	var te *TLSError
	return errors.As(err, &ee) || errors.As(err, &te)
}

// decodePlan reads a stored plan, resolving its secret references with getenv
// (the worker's environment).
func decodePlan(b []byte, getenv func(string) string) (*plan.Plan, error) {
	var sp storedPlan
	if err := json.Unmarshal(b, &sp); err != nil {
		return nil, fmt.Errorf("stored plan: %w", err)
	}
	if len(sp.Plan) == 0 || string(sp.Plan) == "null" {
		return nil, errors.New("stored plan: empty")
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	p, err := plan.UnmarshalRefs(sp.Plan, getenv)
	var me *plan.MissingEnvError
	if err != nil && !errors.As(err, &me) {
		return nil, fmt.Errorf("stored plan: %w", err)
	}
	var missing []string
	if me != nil {
		missing = me.Names
	}
	var keyEnv string
	if p != nil {
		keyEnv = p.TLS.KeyEnv
	} else {
		// The references are unresolved, but which variable the key
		// comes from is still worth reporting in the same error.
		var probe struct {
			TLS struct {
				KeyEnv string `json:"key_env"`
			} `json:"tls"`
		}
		_ = json.Unmarshal(sp.Plan, &probe)
		keyEnv = probe.TLS.KeyEnv
	}
	switch {
	case keyEnv == "":
	case keyEnv != TLSKeyEnv:
		// Only the documented variable: a stored plan cannot make a worker
		// use another of its variables (its AWS credentials) as a key.
		return nil, fmt.Errorf("stored plan: tls.key_env %q: want %s", keyEnv, TLSKeyEnv)
	case getenv(keyEnv) == "":
		missing = append(missing, keyEnv)
		sort.Strings(missing)
	case p != nil:
		p.SetTLSKey([]byte(getenv(keyEnv)))
	}
	if len(missing) > 0 {
		return nil, &EnvError{Names: missing}
	}
	p.Source = sp.Source
	// Check the TLS material now, before the worker reports ready: a key
	// that does not match the certificate fails here, never on a request.
	if !p.TLS.IsZero() {
		if _, err := p.TLSConfig(); err != nil {
			return nil, &TLSError{err}
		}
	}
	return p, nil
}

// TargetError is a distributed run refused because of targets.allow.
type TargetError struct{ Err error }

func (e *TargetError) Error() string { return e.Err.Error() }
func (e *TargetError) Unwrap() error { return e.Err }

// CheckTargets refuses a plan whose target host is not listed in
// targets.allow. Distributed runs multiply load, so unlike local CLI runs an
// empty list refuses too.
func CheckTargets(p *plan.Plan) error {
	if len(p.Targets.Allow) == 0 {
		return &TargetError{fmt.Errorf("%w: distributed runs need the target's host in targets.allow (the plan lists none; target %s)",
			plan.ErrTargetNotAllowed, p.Redact(p.Target))}
	}
	u, err := url.Parse(p.Target)
	if err != nil || u.Hostname() == "" {
		return &TargetError{fmt.Errorf("target %q: not an absolute URL", p.Redact(p.Target))}
	}
	if err := p.CheckTargets(); err != nil {
		return &TargetError{err}
	}
	return nil
}

func putJSON(ctx context.Context, s Store, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.Put(ctx, key, b)
}

func getJSON(ctx context.Context, s Store, key string, v any) error {
	b, err := s.Get(ctx, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}
