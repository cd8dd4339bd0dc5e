package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

func TestMCPFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"mcp", "--max-duration", "0s"},
		{"mcp", "--dir", filepath.Join(t.TempDir(), "missing")},
		{"mcp", "extra-arg"},
		{"mcp", "--allow-target", "http://example.com"},
	} {
		if code, _, errOut := cli(t, context.Background(), nil, args...); code != exitUsage {
			t.Errorf("%v: exit %d (%s), want %d", args, code, errOut, exitUsage)
		}
	}
}

// rpcPeer speaks newline-delimited JSON-RPC with a child process.
type rpcPeer struct {
	t      *testing.T
	in     io.WriteCloser
	out    *bufio.Scanner
	nextID int
}

func (p *rpcPeer) send(method string, params any, notification bool) int {
	p.t.Helper()
	msg := map[string]any{"jsonrpc": "2.0", "method": method}
	if params != nil {
		msg["params"] = params
	}
	id := 0
	if !notification {
		p.nextID++
		id = p.nextID
		msg["id"] = id
	}
	b, err := json.Marshal(msg)
	if err != nil {
		p.t.Fatal(err)
	}
	if _, err := p.in.Write(append(b, '\n')); err != nil {
		p.t.Fatalf("write %s: %v", method, err)
	}
	return id
}

// call sends a request and returns its result, skipping notifications.
func (p *rpcPeer) call(method string, params any) json.RawMessage {
	p.t.Helper()
	id := p.send(method, params, false)
	for p.out.Scan() {
		var resp struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
			Error  *struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		line := p.out.Bytes()
		if err := json.Unmarshal(line, &resp); err != nil {
			p.t.Fatalf("%s: stdout is not JSON-RPC: %q", method, line)
		}
		if resp.ID == nil || *resp.ID != id {
			continue // a notification
		}
		if resp.Error != nil {
			p.t.Fatalf("%s: error %d %s", method, resp.Error.Code, resp.Error.Message)
		}
		return resp.Result
	}
	p.t.Fatalf("%s: no response (%v)", method, p.out.Err())
	return nil
}

// TestMCPStdioEndToEnd builds the binary and speaks JSON-RPC over its real
// stdin/stdout: initialize, tools/list, tools/call validate_plan.
func TestMCPStdioEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := workerBinary(t)
	work := t.TempDir()
	writeFile(t, work, "plan.yaml", shortPlan("http://127.0.0.1:9"))

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "mcp")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	peer := &rpcPeer{t: t, in: stdin, out: sc}

	var init struct {
		ProtocolVersion string `json:"protocolVersion"`
		ServerInfo      struct {
			Name string `json:"name"`
		} `json:"serverInfo"`
		Capabilities map[string]any `json:"capabilities"`
	}
	mustUnmarshal(t, peer.call("initialize", map[string]any{
		"protocolVersion": "2025-06-18",
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": "e2e", "version": "0"},
	}), &init)
	if init.ServerInfo.Name != "loadgate" || init.Capabilities["tools"] == nil || init.Capabilities["resources"] == nil {
		t.Fatalf("initialize: %+v", init)
	}
	peer.send("notifications/initialized", map[string]any{}, true)

	var list struct {
		Tools []struct {
			Name         string          `json:"name"`
			InputSchema  json.RawMessage `json:"inputSchema"`
			OutputSchema json.RawMessage `json:"outputSchema"`
		} `json:"tools"`
	}
	mustUnmarshal(t, peer.call("tools/list", map[string]any{}), &list)
	names := map[string]bool{}
	for _, tool := range list.Tools {
		names[tool.Name] = true
		if len(tool.InputSchema) == 0 || len(tool.OutputSchema) == 0 {
			t.Errorf("%s: missing schema", tool.Name)
		}
	}
	for _, want := range []string{"validate_plan", "run_plan", "get_run", "cancel_run", "compare", "explain_verdict", "list_baselines", "read_results"} {
		if !names[want] {
			t.Errorf("tools/list lacks %s (got %v)", want, names)
		}
	}

	type callResult struct {
		IsError           bool `json:"isError"`
		StructuredContent struct {
			Valid    bool `json:"valid"`
			Problems []struct {
				Line, Column int
				Message      string
			} `json:"problems"`
			Plan struct {
				Name           string `json:"name"`
				RunnableViaMCP bool   `json:"runnable_via_mcp"`
			} `json:"plan"`
		} `json:"structuredContent"`
	}
	var good callResult
	mustUnmarshal(t, peer.call("tools/call", map[string]any{"name": "validate_plan", "arguments": map[string]any{"path": "plan.yaml"}}), &good)
	if good.IsError || !good.StructuredContent.Valid || good.StructuredContent.Plan.Name != "short" {
		t.Errorf("validate_plan good: %+v", good)
	}
	if good.StructuredContent.Plan.RunnableViaMCP {
		t.Error("a plan without targets.allow reported runnable over MCP")
	}
	var bad callResult
	mustUnmarshal(t, peer.call("tools/call", map[string]any{"name": "validate_plan", "arguments": map[string]any{"yaml": "name: x\nprofile: {type: load, rate: 1/s, duration: nope}\n"}}), &bad)
	if bad.StructuredContent.Valid || len(bad.StructuredContent.Problems) == 0 || bad.StructuredContent.Problems[0].Line == 0 {
		t.Errorf("validate_plan bad: %+v", bad)
	}
	var escape struct {
		IsError bool `json:"isError"`
		Content []struct {
			Text string `json:"text"`
		} `json:"content"`
	}
	mustUnmarshal(t, peer.call("tools/call", map[string]any{"name": "read_results", "arguments": map[string]any{"path": "../../etc/passwd"}}), &escape)
	if !escape.IsError || len(escape.Content) == 0 || !strings.Contains(escape.Content[0].Text, "outside the working directory") {
		t.Errorf("read_results escape: %+v", escape)
	}

	// Closing stdin ends the session; the process exits 0.
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("loadgate mcp exited: %v\nstderr: %s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "serving on stdio") {
		t.Errorf("stderr: %q", stderr.String())
	}
}

// TestMCPSDKClientEndToEnd drives the built binary's `loadgate mcp` with the
// MCP Go SDK's client, the reference implementation: the server is
// loadgate's own, so this is where conformance is checked end to end.
func TestMCPSDKClientEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	bin := workerBinary(t)
	work := t.TempDir()
	writeFile(t, work, "plan.yaml", shortPlan("http://127.0.0.1:9"))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command(bin, "mcp")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GITHUB_ACTIONS=")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	client := mcp.NewClient(&mcp.Implementation{Name: "sdk-e2e", Version: "1"}, nil)
	cs, err := client.Connect(ctx, &mcp.CommandTransport{Command: cmd, TerminateDuration: 30 * time.Second}, nil)
	if err != nil {
		t.Fatalf("connect: %v\nstderr: %s", err, stderr.String())
	}
	init := cs.InitializeResult()
	if init.ServerInfo == nil || init.ServerInfo.Name != "loadgate" || init.ServerInfo.Title != "loadgate performance gate" ||
		init.Capabilities.Tools == nil || init.Capabilities.Resources == nil || init.Instructions == "" {
		t.Errorf("initialize: %+v", init)
	}
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(tools.Tools) != 8 {
		t.Errorf("%d tools, want 8", len(tools.Tools))
	}

	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "validate_plan", Arguments: map[string]any{"path": "plan.yaml"}})
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Valid bool `json:"valid"`
		Plan  struct {
			Name string `json:"name"`
		} `json:"plan"`
	}
	data, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(data, &out); err != nil || res.IsError || !out.Valid || out.Plan.Name != "short" {
		t.Errorf("validate_plan: %s %v", data, err)
	}
	if len(res.Content) != 1 || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, `"valid":true`) {
		t.Errorf("validate_plan text content: %+v", res.Content)
	}

	// A tool error is a result the model can read, not a protocol error.
	res, err = cs.CallTool(ctx, &mcp.CallToolParams{Name: "get_run", Arguments: map[string]any{"id": "missing"}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.IsError || len(res.Content) == 0 || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, `no run "missing"`) {
		t.Errorf("get_run of a missing run: %+v", res)
	}
	// An unknown tool is a protocol error.
	if _, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "no_such_tool"}); err == nil || !strings.Contains(err.Error(), "unknown tool") {
		t.Errorf("unknown tool: %v", err)
	}
	rr, err := cs.ReadResource(ctx, &mcp.ReadResourceParams{URI: "loadgate://schema/plan.json"})
	if err != nil || len(rr.Contents) != 1 || !strings.Contains(rr.Contents[0].Text, "targets") {
		t.Errorf("plan schema resource: %v", err)
	}
	if err := cs.Ping(ctx, nil); err != nil {
		t.Error(err)
	}
	// Closing the session closes the server's stdin; the process exits 0.
	if err := cs.Close(); err != nil {
		t.Errorf("close: %v\nstderr: %s", err, stderr.String())
	}
	if cmd.ProcessState == nil || !cmd.ProcessState.Success() {
		t.Errorf("loadgate mcp: %v\nstderr: %s", cmd.ProcessState, stderr.String())
	}
}

func mustUnmarshal(t *testing.T, data json.RawMessage, v any) {
	t.Helper()
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", data, err)
	}
}
