package mcpserver

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/jsonschema-go/jsonschema"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/loadgate/loadgate/gate"
	"github.com/loadgate/loadgate/plan"
	"github.com/loadgate/loadgate/runners"
)

// TestToolSchemasMatchJSONSchemaGo keeps the tools' schemas what clients saw
// when the MCP SDK inferred them with jsonschema-go: the same Go types must
// give the same schemas from our generator.
func TestToolSchemasMatchJSONSchemaGo(t *testing.T) {
	t.Parallel()
	types := map[string][2]reflect.Type{
		ToolValidatePlan:   {reflect.TypeFor[ValidatePlanInput](), reflect.TypeFor[ValidatePlanOutput]()},
		ToolRunPlan:        {reflect.TypeFor[RunPlanInput](), reflect.TypeFor[RunStatus]()},
		ToolGetRun:         {reflect.TypeFor[RunIDInput](), reflect.TypeFor[GetRunOutput]()},
		ToolCancelRun:      {reflect.TypeFor[RunIDInput](), reflect.TypeFor[RunStatus]()},
		ToolCompare:        {reflect.TypeFor[CompareInput](), reflect.TypeFor[gate.Verdict]()},
		ToolExplainVerdict: {reflect.TypeFor[CompareInput](), reflect.TypeFor[ExplainOutput]()},
		ToolListBaselines:  {reflect.TypeFor[ListBaselinesInput](), reflect.TypeFor[ListBaselinesOutput]()},
		ToolReadResults:    {reflect.TypeFor[ReadResultsInput](), reflect.TypeFor[ResultsView]()},
	}
	s, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if len(s.tools) != len(types) {
		t.Fatalf("%d tools, %d in this test's table", len(s.tools), len(types))
	}
	// gate.Check writes the absent side of a not-measured check as null
	// (its MarshalJSON, which jsonschema-go does not see): told here.
	check, err := jsonschema.ForType(reflect.TypeFor[gate.Check](), &jsonschema.ForOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"base", "head", "delta"} {
		p := check.Properties[name]
		p.Types, p.Type = []string{"null", p.Type}, ""
	}
	opts := &jsonschema.ForOptions{TypeSchemas: map[reflect.Type]*jsonschema.Schema{reflect.TypeFor[gate.Check](): check}}
	for _, tl := range s.tools {
		ts, ok := types[tl.info.Name]
		if !ok {
			t.Errorf("tool %s is not in this test's table", tl.info.Name)
			continue
		}
		for i, got := range []*schema{tl.info.InputSchema, tl.info.OutputSchema} {
			want, err := jsonschema.ForType(ts[i], opts)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(decodeJSON(t, want), decodeJSON(t, got)); d != "" {
				t.Errorf("%s %s schema differs from jsonschema-go's (-want +got):\n%s", tl.info.Name, []string{"input", "output"}[i], d)
			}
		}
	}
}

// TestSchemaInference covers kinds the tools' types do not use today.
func TestSchemaInference(t *testing.T) {
	t.Parallel()
	type inner struct {
		A int8 `json:"a"`
	}
	type sample struct {
		inner
		U    uint16            `json:"u,omitempty"`
		Arr  [2]string         `json:"arr"`
		M    map[string]*inner `json:"m,omitzero"`
		When *time.Time        `json:"when"`
		Any  any               `json:"any" jsonschema:"anything at all"`
		Skip string            `json:"-"`
		F32  float32
		priv int
	}
	_ = sample{}.priv
	got, err := schemaFor(reflect.TypeFor[sample]())
	if err != nil {
		t.Fatal(err)
	}
	want, err := jsonschema.For[sample](nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(decodeJSON(t, want), decodeJSON(t, got)); d != "" {
		t.Errorf("schema differs from jsonschema-go's (-want +got):\n%s", d)
	}
	type cycle struct {
		Next *cycle `json:"next"`
	}
	if _, err := schemaFor(reflect.TypeFor[cycle]()); err == nil {
		t.Error("a recursive type was accepted")
	}
	if _, err := schemaFor(reflect.TypeFor[map[int]string]()); err == nil {
		t.Error("a map with int keys was accepted")
	}
}

func TestSchemaValidate(t *testing.T) {
	t.Parallel()
	in, err := schemaFor(reflect.TypeFor[RunPlanInput]())
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args string
		want string // "" means valid
	}{
		{`{"plan":"p.yaml"}`, ""},
		{`{"plan":"p.yaml","rate":2.5,"wait":true}`, ""},
		{`{}`, `missing required "plan"`},
		{`{"plan":7}`, `"plan": want string, got integer`},
		{`{"plan":"p.yaml","rate":"fast"}`, `"rate": want number, got string`},
		{`{"plan":"p.yaml","speed":1}`, `unknown property "speed"`},
	} {
		var v any
		if err := json.Unmarshal([]byte(tt.args), &v); err != nil {
			t.Fatal(err)
		}
		err := in.validate(v, "")
		switch {
		case tt.want == "" && err != nil:
			t.Errorf("%s: %v", tt.args, err)
		case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
			t.Errorf("%s: error %v, want %q", tt.args, err, tt.want)
		}
	}
}

func decodeJSON(t *testing.T, v any) any {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// rawPeer speaks JSON-RPC lines with a server over pipes, for what the SDK's
// client never sends.
type rawPeer struct {
	t      *testing.T
	in     *io.PipeWriter
	out    *bufio.Scanner
	served chan error
}

func newRawPeer(t *testing.T, s *Server) *rawPeer {
	t.Helper()
	toServer, in := io.Pipe()
	outR, fromServer := io.Pipe()
	p := &rawPeer{t: t, in: in, out: bufio.NewScanner(outR), served: make(chan error, 1)}
	p.out.Buffer(make([]byte, 1<<20), 16<<20)
	go func() { p.served <- s.Serve(context.Background(), toServer, fromServer) }()
	t.Cleanup(func() { in.Close(); outR.Close() })
	return p
}

func (p *rawPeer) send(line string) {
	p.t.Helper()
	if _, err := io.WriteString(p.in, line+"\n"); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

type rawMsg struct {
	ID     json.RawMessage `json:"id"`
	Method string          `json:"method"`
	Result json.RawMessage `json:"result"`
	Error  *rpcError       `json:"error"`
}

// next reads the next message that is not a notification.
func (p *rawPeer) next() rawMsg {
	p.t.Helper()
	for p.out.Scan() {
		var m rawMsg
		if err := json.Unmarshal(p.out.Bytes(), &m); err != nil {
			p.t.Fatalf("not JSON-RPC: %q", p.out.Bytes())
		}
		if m.Method == "" {
			return m
		}
	}
	p.t.Fatalf("no response: %v", p.out.Err())
	return rawMsg{}
}

func (p *rawPeer) initialize(version string) rawMsg {
	p.t.Helper()
	p.send(`{"jsonrpc":"2.0","id":"init","method":"initialize","params":{"protocolVersion":"` + version + `","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`)
	m := p.next()
	p.send(`{"jsonrpc":"2.0","method":"notifications/initialized","params":{}}`)
	return m
}

func wantCode(t *testing.T, m rawMsg, code int, msg string) {
	t.Helper()
	if m.Error == nil || m.Error.Code != code || !strings.Contains(m.Error.Message, msg) {
		t.Errorf("response %s %+v, want error %d containing %q", m.ID, m.Error, code, msg)
	}
}

func TestProtocolErrors(t *testing.T) {
	t.Parallel()
	s, err := New(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	p := newRawPeer(t, s)

	p.send(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`)
	wantCode(t, p.next(), 0, `method "tools/list" is invalid during session initialization`)
	p.send(`{"jsonrpc":"2.0","id":2,"method":"ping"}`)
	if m := p.next(); m.Error != nil || string(m.ID) != "2" {
		t.Errorf("ping before initialize: %+v", m)
	}
	// The SDK's client first offers the draft stateless revision; it is
	// refused with the versions served, so the client falls back.
	p.send(`{"jsonrpc":"2.0","id":3,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}`)
	m := p.next()
	wantCode(t, m, codeUnsupportedVers, "unsupported protocol version")
	if m.Error != nil && !strings.Contains(string(m.Error.Data), `"supported":["2025-11-25"`) {
		t.Errorf("unsupported version data %s", m.Error.Data)
	}

	var init initializeResult
	m = p.initialize("1999-01-01")
	if err := json.Unmarshal(m.Result, &init); err != nil || init.ProtocolVersion != "2025-11-25" || init.ServerInfo.Title != "loadgate performance gate" || init.Instructions == "" {
		t.Errorf("initialize with an unknown version: %s %v", m.Result, err)
	}
	p.send(`{"jsonrpc":"2.0","id":4,"method":"initialize","params":{"protocolVersion":"2025-06-18"}}`)
	wantCode(t, p.next(), 0, `duplicate "initialize"`)

	p.send(`{"jsonrpc":"2.0","id":5,"method":"prompts/list"}`)
	wantCode(t, p.next(), codeMethodNotFound, "prompts/list")
	p.send(`{"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"nope"}}`)
	wantCode(t, p.next(), codeInvalidParams, `unknown tool "nope"`)
	p.send(`{"jsonrpc":"2.0","id":7,"method":"tools/call"}`)
	wantCode(t, p.next(), codeInvalidParams, "params")
	p.send(`{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{"uri":"file:///etc/passwd"}}`)
	m = p.next()
	wantCode(t, m, codeInvalidParams, "Resource not found")
	p.send(`{"jsonrpc":"2.0","id":9,"method":"resources/read","params":{"uri":"loadgate://runs/a/b"}}`)
	wantCode(t, p.next(), codeInvalidParams, "Resource not found")
	p.send(`{"jsonrpc":"2.0","id":10,"method":`)
	m = p.next()
	wantCode(t, m, codeParseError, "parse error")
	if string(m.ID) != "null" {
		t.Errorf("parse error id %s, want null", m.ID)
	}
	p.send(`{"jsonrpc":"1.0","id":11,"method":"ping"}`)
	wantCode(t, p.next(), codeInvalidRequest, "jsonrpc")
	// The session survives all of the above.
	p.send(`{"jsonrpc":"2.0","id":12,"method":"ping"}`)
	if m := p.next(); m.Error != nil || string(m.ID) != "12" {
		t.Errorf("ping after errors: %+v", m)
	}
	p.in.Close()
	if err := <-p.served; err != nil {
		t.Errorf("Serve after EOF: %v", err)
	}
}

// TestBadArguments: argument errors are tool results with isError, as the
// SDK reported them, so the model reads the message and corrects the call.
func TestBadArguments(t *testing.T) {
	t.Parallel()
	te := newTestEnv(t, nil)
	for _, tt := range []struct {
		args any
		want []string
	}{
		{map[string]any{"path": 3}, []string{`validating "arguments"`, `"path": want string, got integer`}},
		{map[string]any{"file": "p.yaml"}, []string{`unknown property "file"`, "path, yaml"}},
	} {
		wantToolError(t, te.call(t, ToolValidatePlan, tt.args, nil), tt.want...)
	}
	wantToolError(t, te.call(t, ToolRunPlan, map[string]any{}, nil), `missing required "plan"`)
}

// TestWaitDoesNotBlock: a run_plan that waits for its run leaves the session
// free for get_run and cancel_run, and a client that stops waiting
// (notifications/cancelled) gets no response for that call.
func TestWaitDoesNotBlock(t *testing.T) {
	t.Parallel()
	ts, _ := target(t)
	dir := t.TempDir()
	s, err := New(Options{Dir: dir, NewRunner: func(*plan.Plan) (runners.Runner, error) { return &httpRunner{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	te := &testEnv{dir: dir}
	pl := te.write(t, "long.yaml", strings.Replace(planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", ""), "duration: 1s", "duration: 5m", 1))
	p := newRawPeer(t, s)
	p.initialize("2025-06-18")

	p.send(`{"jsonrpc":"2.0","id":"wait","method":"tools/call","params":{"name":"run_plan","arguments":{"plan":"` + pl + `","wait":true}}}`)
	var id string
	for id == "" { // the run may take a moment to register
		p.send(`{"jsonrpc":"2.0","id":"get","method":"tools/call","params":{"name":"get_run","arguments":{}}}`)
		m := p.next()
		if string(m.ID) != `"get"` {
			t.Fatalf("response to %s while run_plan waits", m.ID)
		}
		var res struct {
			StructuredContent GetRunOutput `json:"structuredContent"`
		}
		if err := json.Unmarshal(m.Result, &res); err != nil {
			t.Fatal(err)
		}
		if len(res.StructuredContent.Runs) == 1 {
			id = res.StructuredContent.Runs[0].ID
		}
	}
	p.send(`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"wait","reason":"test"}}`)
	p.send(fmt.Sprintf(`{"jsonrpc":"2.0","id":"cancel","method":"tools/call","params":{"name":"cancel_run","arguments":{"id":%q}}}`, id))
	m := p.next()
	var res struct {
		StructuredContent RunStatus `json:"structuredContent"`
	}
	if err := json.Unmarshal(m.Result, &res); err != nil || string(m.ID) != `"cancel"` || res.StructuredContent.Status != StatusCancelled {
		t.Fatalf("cancel_run: %s %s %v", m.ID, m.Result, err)
	}
	// Serve answers every call it still has before it returns on EOF; the
	// cancelled one must not be among them.
	p.in.Close()
	for p.out.Scan() {
		if strings.Contains(p.out.Text(), `"id":"wait"`) {
			t.Errorf("the cancelled call was answered: %s", p.out.Text())
		}
	}
	if err := <-p.served; err != nil {
		t.Errorf("Serve: %v", err)
	}
}

// TestSDKClientCancelsWait: the SDK's client cancels a call when its context
// ends; the run goes on until cancel_run.
func TestSDKClientCancelsWait(t *testing.T) {
	t.Parallel()
	ts, _ := target(t)
	te := newTestEnv(t, newHTTPRunner)
	pl := te.write(t, "long.yaml", strings.Replace(planYAML(ts.URL, "targets: {allow: [127.0.0.1]}", ""), "duration: 1s", "duration: 5m", 1))
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := te.client.CallTool(ctx, &mcp.CallToolParams{Name: ToolRunPlan, Arguments: map[string]any{"plan": pl, "wait": true}})
		errc <- err
	}()
	var all GetRunOutput
	for len(all.Runs) == 0 {
		te.call(t, ToolGetRun, map[string]any{}, &all)
	}
	cancel()
	if err := <-errc; err == nil {
		t.Error("a cancelled call returned no error")
	}
	var st GetRunOutput
	te.call(t, ToolGetRun, map[string]any{"id": all.Runs[0].ID}, &st)
	if st.Run == nil || st.Run.Status != StatusRunning {
		t.Errorf("after the client stopped waiting: %+v", st.Run)
	}
	var c RunStatus
	te.call(t, ToolCancelRun, map[string]any{"id": all.Runs[0].ID}, &c)
	if c.Status != StatusCancelled {
		t.Errorf("cancel_run: %+v", c)
	}
}
