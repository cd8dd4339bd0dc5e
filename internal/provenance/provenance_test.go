package provenance

import (
	"strings"
	"testing"

	"github.com/loadgate/loadgate/results"
)

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestDetect(t *testing.T) {
	t.Parallel()
	gha := map[string]string{
		"GITHUB_ACTIONS":    "true",
		"GITHUB_REPOSITORY": "octo/api",
		"GITHUB_RUN_ID":     "123",
		"GITHUB_ACTOR":      "octocat",
	}
	tests := []struct {
		name string
		via  string
		env  map[string]string
		want results.Launch
	}{
		{"cli", ViaCLI, nil, results.Launch{Via: "cli"}},
		{"empty via is cli", "", nil, results.Launch{Via: "cli"}},
		{"cli in actions is action", ViaCLI, gha, results.Launch{Via: "action", Repository: "octo/api", RunID: "123", Actor: "octocat"}},
		{"action", ViaAction, gha, results.Launch{Via: "action", Repository: "octo/api", RunID: "123", Actor: "octocat"}},
		{"mcp in actions stays mcp", ViaMCP, gha, results.Launch{Via: "mcp", Repository: "octo/api", RunID: "123", Actor: "octocat"}},
		{"GITHUB_ACTIONS not true", ViaCLI, map[string]string{"GITHUB_ACTIONS": "false", "GITHUB_ACTOR": "x"}, results.Launch{Via: "cli"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := Detect(tt.via, env(tt.env))
			if *got != tt.want {
				t.Errorf("Detect(%q) = %+v, want %+v", tt.via, *got, tt.want)
			}
		})
	}
	if got := Detect(ViaCLI, nil); got.Via != ViaCLI {
		t.Errorf("nil getenv: %+v", got)
	}
}

func TestMCP(t *testing.T) {
	t.Parallel()
	got := MCP("claude-code/1.0", env(nil))
	want := results.Launch{Via: "mcp", Actor: "mcp-client:claude-code/1.0"}
	if *got != want {
		t.Errorf("MCP = %+v, want %+v", *got, want)
	}
	got = MCP("inspector", env(map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_ACTOR": "octocat", "GITHUB_RUN_ID": "9"}))
	want = results.Launch{Via: "mcp", RunID: "9", Actor: "octocat via mcp-client:inspector"}
	if *got != want {
		t.Errorf("MCP in actions = %+v, want %+v", *got, want)
	}
	if got := MCP("", nil); got.Actor != "" || got.Via != ViaMCP {
		t.Errorf("MCP without client = %+v", got)
	}
	// A hostile client name cannot inject lines or grow without bound.
	got = MCP("evil\nFAKE LOG LINE"+strings.Repeat("x", 1000), nil)
	if strings.ContainsAny(got.Actor, "\n\r") || len(got.Actor) > maxField+len("mcp-client:") {
		t.Errorf("client name not cleaned: %q", got.Actor)
	}
}

func TestWorker(t *testing.T) {
	t.Parallel()
	parent := &results.Launch{Via: ViaAction, Repository: "octo/api", RunID: "7", Actor: "octocat"}
	got := Worker(env(map[string]string{EnvStartedBy: Encode(parent)}))
	want := results.Launch{Via: ViaWorker, Repository: "octo/api", RunID: "7", Actor: "octocat"}
	if *got != want {
		t.Errorf("Worker = %+v, want %+v", *got, want)
	}
	for _, bad := range []string{"", "{", `{"via":"root"}`, "null"} {
		if got := Worker(env(map[string]string{EnvStartedBy: bad})); *got != (results.Launch{Via: ViaWorker}) {
			t.Errorf("Worker(%q) = %+v, want bare worker", bad, *got)
		}
	}
	if got := Worker(nil); got.Via != ViaWorker {
		t.Errorf("Worker(nil) = %+v", got)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, l := range []results.Launch{
		{Via: ViaCLI},
		{Via: ViaAction, Repository: "o/r", RunID: "1", Actor: "a"},
		{Via: ViaMCP, Actor: "mcp-client:x/1 ünïcode"},
		{Via: ViaWorker, RunID: "42"},
	} {
		got, err := Decode(Encode(&l))
		if err != nil {
			t.Fatalf("Decode(Encode(%+v)): %v", l, err)
		}
		if *got != l {
			t.Errorf("round trip %+v → %+v", l, *got)
		}
	}
	if Encode(nil) != "" {
		t.Error("Encode(nil) not empty")
	}
	if l, err := Decode("  "); l != nil || err != nil {
		t.Errorf("Decode(blank) = %v, %v", l, err)
	}
}

func TestStamp(t *testing.T) {
	t.Parallel()
	f := &results.File{}
	l := &results.Launch{Via: ViaMCP}
	Stamp(f, l)
	if f.Run.StartedBy == nil || f.Run.StartedBy.Via != ViaMCP {
		t.Fatalf("Stamp did not record: %+v", f.Run.StartedBy)
	}
	l.Via = "changed"
	if f.Run.StartedBy.Via != ViaMCP {
		t.Error("Stamp kept a reference to the caller's launch")
	}
	Stamp(f, &results.Launch{Via: ViaCLI})
	if f.Run.StartedBy.Via != ViaMCP {
		t.Error("Stamp overwrote an existing launch")
	}
	Stamp(nil, l) // must not panic
}

func TestString(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		l    *results.Launch
		want string
	}{
		{nil, "unknown"},
		{&results.Launch{Via: "cli"}, "cli"},
		{&results.Launch{Via: "action", Repository: "o/r", RunID: "1", Actor: "a"}, "action (o/r run 1 by a)"},
	} {
		if got := String(tt.l); got != tt.want {
			t.Errorf("String(%+v) = %q, want %q", tt.l, got, tt.want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(`{"via":"action","repository":"o/r","run_id":"1","actor":"a"}`)
	f.Add(`{"via":"mcp"}`)
	f.Add(`{`)
	f.Add(``)
	f.Fuzz(func(t *testing.T, s string) {
		l, err := Decode(s)
		if err != nil || l == nil {
			return
		}
		again, err := Decode(Encode(l))
		if err != nil {
			t.Fatalf("re-decode of %q: %v", Encode(l), err)
		}
		if *again != *l {
			t.Fatalf("not stable: %+v → %+v", *l, *again)
		}
	})
}
