// Package provenance records who or what launched a run (results.Launch): a
// person at a terminal (cli), a GitHub Actions workflow (action, with the
// repository, run id and actor), an AI assistant through the MCP server (mcp),
// or a worker of a distributed run (worker, carrying its coordinator's launch).
//
// It reads the environment only through an injected getenv, so tests never
// touch the process environment.
package provenance

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/loadgate/loadgate/results"
)

// Via values of results.Launch.
const (
	ViaCLI    = "cli"
	ViaAction = "action"
	ViaMCP    = "mcp"
	ViaWorker = "worker"
)

// Environment variables read by Detect. The GITHUB_* names are set by GitHub
// Actions on every job ("Default environment variables" in GitHub's docs).
const (
	EnvGitHubActions    = "GITHUB_ACTIONS" // "true" inside a workflow
	EnvGitHubRepository = "GITHUB_REPOSITORY"
	EnvGitHubRunID      = "GITHUB_RUN_ID"
	EnvGitHubActor      = "GITHUB_ACTOR"
	// EnvStartedBy carries a coordinator's launch (Encode) to its workers.
	EnvStartedBy = "LOADGATE_STARTED_BY"
)

// maxField bounds each recorded field: the values come from the environment or
// from an MCP client's self-description and end up in committed baselines.
const maxField = 200

// Detect returns the launch of a run started via via (ViaCLI, ViaAction or
// ViaMCP). Inside a GitHub Actions job (GITHUB_ACTIONS=true) a CLI launch is
// recorded as ViaAction, since the workflow started it; every launch made
// inside a job records the repository, run id and actor.
func Detect(via string, getenv func(string) string) *results.Launch {
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	l := &results.Launch{Via: via}
	if getenv(EnvGitHubActions) == "true" {
		if via == ViaCLI || via == "" {
			l.Via = ViaAction
		}
		l.Repository = clean(getenv(EnvGitHubRepository))
		l.RunID = clean(getenv(EnvGitHubRunID))
		l.Actor = clean(getenv(EnvGitHubActor))
	}
	if l.Via == "" {
		l.Via = ViaCLI
	}
	return l
}

// MCP returns the launch of a run started through the MCP server by the client
// that named itself client (its initialize clientInfo, e.g. "claude-code/1.0").
// The client's self-description is recorded as the actor unless the server runs
// inside a GitHub Actions job, whose actor takes precedence; the client is then
// appended to it.
func MCP(client string, getenv func(string) string) *results.Launch {
	l := Detect(ViaMCP, getenv)
	client = clean(client)
	switch {
	case client == "":
	case l.Actor == "":
		l.Actor = "mcp-client:" + client
	default:
		l.Actor = clean(l.Actor + " via mcp-client:" + client)
	}
	return l
}

// Worker returns the launch of a distributed run's worker: Via is ViaWorker and
// the repository, run id and actor are those of the coordinator's launch,
// passed in EnvStartedBy. A missing or malformed value yields a bare worker
// launch (the worker still runs; the coordinator's merged file carries the
// authoritative provenance).
func Worker(getenv func(string) string) *results.Launch {
	l := &results.Launch{Via: ViaWorker}
	if getenv == nil {
		return l
	}
	parent, err := Decode(getenv(EnvStartedBy))
	if err != nil || parent == nil {
		return l
	}
	l.Repository, l.RunID, l.Actor = parent.Repository, parent.RunID, parent.Actor
	return l
}

// Encode serialises l for EnvStartedBy (compact JSON).
func Encode(l *results.Launch) string {
	if l == nil {
		return ""
	}
	b, err := json.Marshal(l)
	if err != nil { // a struct of strings cannot fail to marshal
		return ""
	}
	return string(b)
}

// ErrMalformed reports an EnvStartedBy value that is not a launch.
var ErrMalformed = errors.New("provenance: malformed launch")

// Decode parses Encode's output. The empty string decodes to (nil, nil).
func Decode(s string) (*results.Launch, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var l results.Launch
	if err := json.Unmarshal([]byte(s), &l); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	switch l.Via {
	case ViaCLI, ViaAction, ViaMCP, ViaWorker:
	default:
		return nil, fmt.Errorf("%w: via %q", ErrMalformed, l.Via)
	}
	l.Repository, l.RunID, l.Actor = clean(l.Repository), clean(l.RunID), clean(l.Actor)
	return &l, nil
}

// Stamp records l as f's launch unless f already has one (a merged or imported
// file keeps the provenance it was given).
func Stamp(f *results.File, l *results.Launch) {
	if f == nil || l == nil || f.Run.StartedBy != nil {
		return
	}
	c := *l
	f.Run.StartedBy = &c
}

// String describes l in one line for logs and reports, e.g.
// "action (octo/api run 123 by octocat)".
func String(l *results.Launch) string {
	if l == nil {
		return "unknown"
	}
	var parts []string
	if l.Repository != "" {
		parts = append(parts, l.Repository)
	}
	if l.RunID != "" {
		parts = append(parts, "run "+l.RunID)
	}
	if l.Actor != "" {
		parts = append(parts, "by "+l.Actor)
	}
	if len(parts) == 0 {
		return l.Via
	}
	return l.Via + " (" + strings.Join(parts, " ") + ")"
}

// clean drops control characters and bounds the length, so a hostile value
// cannot forge lines in logs or bloat a committed baseline.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > maxField {
		s = strings.ToValidUTF8(s[:maxField], "")
	}
	return s
}
