package mcpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"sort"
	"sync"
)

// loadgate speaks MCP itself: newline-delimited JSON-RPC 2.0 on stdio, the
// methods and result shapes the MCP Go SDK (v1.8.0) server gave clients before,
// so clients see no change. The SDK stays a test dependency: the tests drive
// this server with its client. Not linking it saves every loadgate command
// its package initialisation (docs/ARCHITECTURE.md, README "Weight").

// protocolVersions are the MCP revisions served, newest first. The draft
// stateless revision (2026-07-28, server/discover) is not: a client that
// offers it is told so and falls back to initialize.
var protocolVersions = []string{"2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"}

// JSON-RPC and MCP error codes.
const (
	codeParseError      = -32700
	codeInvalidRequest  = -32600
	codeMethodNotFound  = -32601
	codeInvalidParams   = -32602
	codeUnsupportedVers = -32022
)

// maxMessage bounds one incoming line (an inline plan is the largest thing a
// client sends).
const maxMessage = 32 << 20

// rpcError is a JSON-RPC error response.
type rpcError struct {
	Code    int             `json:"code"`
	Message string          `json:"message"`
	Data    json.RawMessage `json:"data,omitempty"`
}

func (e *rpcError) Error() string { return fmt.Sprintf("%s (%d)", e.Message, e.Code) }

func errorf(code int, format string, args ...any) *rpcError {
	return &rpcError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// resourceNotFound is the SDK's answer for an unknown resource (SEP-2164).
func resourceNotFound(uri string) *rpcError {
	data, _ := json.Marshal(map[string]string{"uri": uri})
	return &rpcError{Code: codeInvalidParams, Message: "Resource not found", Data: data}
}

// message is any JSON-RPC message a client sends.
type message struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id,omitempty"`
	Method  string          `json:"method,omitempty"`
	Params  json.RawMessage `json:"params,omitempty"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   json.RawMessage `json:"error,omitempty"`
}

type response struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  any             `json:"result,omitempty"`
	Error   *rpcError       `json:"error,omitempty"`
}

type notification struct {
	JSONRPC string `json:"jsonrpc"`
	Method  string `json:"method"`
	Params  any    `json:"params,omitempty"`
}

// implementation is clientInfo / serverInfo.
type implementation struct {
	Name    string `json:"name"`
	Title   string `json:"title,omitempty"`
	Version string `json:"version"`
}

type initializeParams struct {
	ProtocolVersion string          `json:"protocolVersion"`
	ClientInfo      *implementation `json:"clientInfo"`
	Capabilities    json.RawMessage `json:"capabilities"`
}

type listChanged struct {
	ListChanged bool `json:"listChanged"`
}

type capabilities struct {
	Logging   *struct{}    `json:"logging,omitempty"`
	Resources *listChanged `json:"resources,omitempty"`
	Tools     *listChanged `json:"tools,omitempty"`
}

type initializeResult struct {
	Capabilities    capabilities    `json:"capabilities"`
	Instructions    string          `json:"instructions,omitempty"`
	ProtocolVersion string          `json:"protocolVersion"`
	ServerInfo      *implementation `json:"serverInfo"`
}

// cacheable are the SEP-2549 cache hints the SDK puts on list and read
// results: immediately stale, shareable.
type cacheable struct {
	TTLMs      int    `json:"ttlMs"`
	CacheScope string `json:"cacheScope"`
}

var noCache = cacheable{CacheScope: "public"}

// content is a text content block (the only kind loadgate returns).
type content struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

func textContent(s string) []content { return []content{{Type: "text", Text: s}} }

// callToolResult is a tools/call result.
type callToolResult struct {
	Content           []content       `json:"content"`
	StructuredContent json.RawMessage `json:"structuredContent,omitempty"`
	IsError           bool            `json:"isError,omitempty"`
}

// toolError is a failed call as the SDK reports it: a result with isError,
// so the model sees the message and can correct itself.
func toolError(err error) *callToolResult {
	return &callToolResult{Content: textContent(err.Error()), IsError: true}
}

type toolAnnotations struct {
	DestructiveHint *bool  `json:"destructiveHint,omitempty"`
	IdempotentHint  bool   `json:"idempotentHint"`
	OpenWorldHint   *bool  `json:"openWorldHint,omitempty"`
	ReadOnlyHint    bool   `json:"readOnlyHint"`
	Title           string `json:"title,omitempty"`
}

type toolInfo struct {
	Annotations  *toolAnnotations `json:"annotations,omitempty"`
	Description  string           `json:"description,omitempty"`
	InputSchema  *schema          `json:"inputSchema"`
	Name         string           `json:"name"`
	OutputSchema *schema          `json:"outputSchema,omitempty"`
	Title        string           `json:"title,omitempty"`
}

type resourceInfo struct {
	Description string `json:"description,omitempty"`
	MIMEType    string `json:"mimeType,omitempty"`
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	URI         string `json:"uri"`
}

type resourceTemplateInfo struct {
	Description string `json:"description,omitempty"`
	MIMEType    string `json:"mimeType,omitempty"`
	Name        string `json:"name"`
	Title       string `json:"title,omitempty"`
	URITemplate string `json:"uriTemplate"`
}

type resourceContents struct {
	URI      string `json:"uri"`
	MIMEType string `json:"mimeType,omitempty"`
	Text     string `json:"text,omitempty"`
}

type readResourceResult struct {
	cacheable
	Contents []resourceContents `json:"contents"`
}

// resourceHandler reads one resource; uri is the one requested.
type resourceHandler func(ctx context.Context, uri string) (*readResourceResult, error)

// toolRequest is what a tool handler learns about its call.
type toolRequest struct {
	session       *session
	progressToken any // nil when the client asked for no progress
}

// tool is a registered tool.
type tool struct {
	info toolInfo
	call func(ctx context.Context, req *toolRequest, args json.RawMessage) (*callToolResult, error)
}

// addTool registers a tool whose arguments decode into In and whose
// structured result is Out, with both schemas inferred from the types. A
// handler error becomes an isError result; a nil result gets the output's
// JSON as its text content.
func addTool[In, Out any](s *Server, info toolInfo, h func(context.Context, *toolRequest, In) (*callToolResult, Out, error)) {
	in, err := schemaFor(elem(reflect.TypeFor[In]()))
	if err != nil {
		panic(fmt.Sprintf("tool %s: input schema: %v", info.Name, err))
	}
	outType := reflect.TypeFor[Out]()
	out, err := schemaFor(elem(outType))
	if err != nil {
		panic(fmt.Sprintf("tool %s: output schema: %v", info.Name, err))
	}
	info.InputSchema, info.OutputSchema = in, out
	call := func(ctx context.Context, req *toolRequest, args json.RawMessage) (*callToolResult, error) {
		var v any = map[string]any{}
		if len(args) > 0 && !bytes.Equal(args, []byte("null")) {
			m := map[string]any{}
			if err := json.Unmarshal(args, &m); err != nil {
				return toolError(fmt.Errorf("validating \"arguments\": unmarshaling arguments: %w", err)), nil
			}
			v = m
		}
		if err := in.validate(v, ""); err != nil {
			return toolError(fmt.Errorf("validating \"arguments\": %w", err)), nil
		}
		var input In
		if len(args) > 0 {
			if err := json.Unmarshal(args, &input); err != nil {
				return toolError(err), nil
			}
		}
		res, output, err := h(ctx, req, input)
		if err != nil {
			var re *rpcError
			if errors.As(err, &re) {
				return nil, re
			}
			return toolError(err), nil
		}
		if res == nil {
			res = &callToolResult{}
		}
		var outVal any = output
		if outType.Kind() == reflect.Pointer && reflect.ValueOf(output).IsNil() {
			// The zero value, not null, as the SDK did.
			outVal = reflect.New(outType.Elem()).Interface()
		}
		data, err := json.Marshal(outVal)
		if err != nil {
			return nil, fmt.Errorf("marshaling output: %w", err)
		}
		res.StructuredContent = data
		if res.Content == nil {
			res.Content = textContent(string(data))
		}
		return res, nil
	}
	s.tools = append(s.tools, &tool{info: info, call: call})
	sort.Slice(s.tools, func(i, j int) bool { return s.tools[i].info.Name < s.tools[j].info.Name })
}

// elem is the type a tool's schema describes: a pointer's element, so the
// schema is an object's, not "object or null".
func elem(t reflect.Type) reflect.Type {
	if t.Kind() == reflect.Pointer {
		return t.Elem()
	}
	return t
}

// session is one client connection: requests run concurrently (a run_plan
// waiting for its run must not hold up get_run or cancel_run), responses and
// notifications are written one line at a time.
type session struct {
	s *Server

	wmu sync.Mutex
	w   io.Writer

	mu       sync.Mutex
	init     *initializeParams
	inFlight map[string]*call
}

// call is a request being handled.
type call struct {
	cancel    context.CancelFunc
	cancelled bool // by notifications/cancelled: no response is sent
}

// write sends one message.
func (ss *session) write(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ss.wmu.Lock()
	defer ss.wmu.Unlock()
	_, err = ss.w.Write(append(data, '\n'))
	return err
}

// notify sends a notification, giving up when ctx ends: a client that stops
// reading blocks the write, and the caller must not wait for it forever.
func (ss *session) notify(ctx context.Context, method string, params any) error {
	done := make(chan error, 1)
	go func() { done <- ss.write(notification{JSONRPC: "2.0", Method: method, Params: params}) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// clientName is the client's self-description from initialize.
func (ss *session) clientName() string {
	if ss == nil {
		return ""
	}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.init == nil || ss.init.ClientInfo == nil {
		return ""
	}
	ci := ss.init.ClientInfo
	if ci.Version != "" {
		return ci.Name + "/" + ci.Version
	}
	return ci.Name
}

// serve reads messages from r until EOF or ctx ends, then cancels the calls
// still running and waits for them.
func (s *Server) serve(ctx context.Context, r io.Reader, w io.Writer) error {
	ctx, cancel := context.WithCancel(ctx)
	ss := &session{s: s, w: w, inFlight: map[string]*call{}}
	s.addSession(ss)
	var wg sync.WaitGroup
	defer func() {
		cancel() // the session is over: calls still running stop waiting
		wg.Wait()
		s.removeSession(ss)
	}()
	lines := make(chan []byte)
	readErr := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), maxMessage)
		for sc.Scan() {
			select {
			case lines <- bytes.Clone(sc.Bytes()):
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if err == nil {
				err = io.EOF
			}
			return err
		case line := <-lines:
			ss.handleLine(ctx, line, &wg)
		}
	}
}

func (ss *session) handleLine(ctx context.Context, line []byte, wg *sync.WaitGroup) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	var m message
	if !json.Valid(line) {
		ss.s.opts.Logger.Warn("mcp: malformed JSON from the client", "len", len(line))
		_ = ss.write(response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: errorf(codeParseError, "parse error: not valid JSON")})
		return
	}
	if err := json.Unmarshal(line, &m); err != nil {
		ss.s.opts.Logger.Warn("mcp: invalid request from the client", "err", err)
		_ = ss.write(response{JSONRPC: "2.0", ID: json.RawMessage("null"), Error: errorf(codeInvalidRequest, "invalid request: %v", err)})
		return
	}
	isCall := len(m.ID) > 0 && !bytes.Equal(m.ID, []byte("null"))
	switch {
	case m.JSONRPC != "2.0":
		id := m.ID
		if !isCall {
			id = json.RawMessage("null")
		}
		_ = ss.write(response{JSONRPC: "2.0", ID: id, Error: errorf(codeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)})
		return
	case m.Method == "":
		return // a response: the server sends no requests, so none is awaited
	case !isCall:
		ss.handleNotification(m)
		return
	}
	// Requests other than initialize run concurrently.
	if m.Method == "initialize" {
		res, err := ss.handleRequest(ctx, m)
		ss.respond(m.ID, res, err)
		return
	}
	cctx, cancel := context.WithCancel(ctx)
	c := &call{cancel: cancel}
	key := idKey(m.ID)
	ss.mu.Lock()
	ss.inFlight[key] = c
	ss.mu.Unlock()
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		res, err := ss.handleRequest(cctx, m)
		ss.mu.Lock()
		cancelled := c.cancelled
		if ss.inFlight[key] == c {
			delete(ss.inFlight, key)
		}
		ss.mu.Unlock()
		if !cancelled {
			ss.respond(m.ID, res, err)
		}
	}()
}

// idKey normalises a request id for the in-flight table.
func idKey(id json.RawMessage) string {
	var b bytes.Buffer
	if json.Compact(&b, id) != nil {
		return string(id)
	}
	return b.String()
}

func (ss *session) respond(id json.RawMessage, res any, err error) {
	if err == nil {
		if res == nil {
			res = struct{}{}
		}
		_ = ss.write(response{JSONRPC: "2.0", ID: id, Result: res})
		return
	}
	var re *rpcError
	if !errors.As(err, &re) {
		// Like the SDK: a plain error carries its message and no code.
		re = &rpcError{Message: err.Error()}
	}
	_ = ss.write(response{JSONRPC: "2.0", ID: id, Error: re})
}

func (ss *session) handleNotification(m message) {
	switch m.Method {
	case "notifications/cancelled":
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(m.Params, &p) != nil || len(p.RequestID) == 0 {
			return
		}
		ss.mu.Lock()
		if c := ss.inFlight[idKey(p.RequestID)]; c != nil {
			c.cancelled = true
			c.cancel()
		}
		ss.mu.Unlock()
	default:
		// notifications/initialized, roots and progress notifications: nothing to do.
	}
}

// protocolVersionMeta is where a client of the draft stateless revision puts
// its version on every request.
const protocolVersionMeta = "io.modelcontextprotocol/protocolVersion"

func (ss *session) handleRequest(ctx context.Context, m message) (any, error) {
	var meta struct {
		Meta map[string]json.RawMessage `json:"_meta"`
	}
	_ = json.Unmarshal(m.Params, &meta)
	if raw, ok := meta.Meta[protocolVersionMeta]; ok {
		var v string
		_ = json.Unmarshal(raw, &v)
		if !slices.Contains(protocolVersions, v) {
			data, _ := json.Marshal(map[string]any{"supported": protocolVersions, "requested": v})
			return nil, &rpcError{Code: codeUnsupportedVers, Message: "unsupported protocol version", Data: data}
		}
	}
	ss.mu.Lock()
	initialized := ss.init != nil
	ss.mu.Unlock()
	if !initialized && m.Method != "initialize" && m.Method != "ping" {
		ss.s.opts.Logger.Warn("mcp: method invalid during initialization", "method", m.Method)
		return nil, fmt.Errorf("method %q is invalid during session initialization", m.Method)
	}
	s := ss.s
	switch m.Method {
	case "initialize":
		return ss.initialize(m.Params)
	case "ping":
		return struct{}{}, nil
	case "logging/setLevel":
		var p struct {
			Level string `json:"level"`
		}
		if err := decodeParams(m.Params, &p); err != nil {
			return nil, err
		}
		return struct{}{}, nil
	case "tools/list":
		s.mu.Lock()
		defer s.mu.Unlock()
		out := struct {
			cacheable
			Tools []toolInfo `json:"tools"`
		}{cacheable: noCache, Tools: []toolInfo{}}
		for _, t := range s.tools {
			out.Tools = append(out.Tools, t.info)
		}
		return out, nil
	case "tools/call":
		var p struct {
			Name      string          `json:"name"`
			Arguments json.RawMessage `json:"arguments"`
			Meta      struct {
				ProgressToken any `json:"progressToken"`
			} `json:"_meta"`
		}
		if err := decodeParams(m.Params, &p); err != nil {
			return nil, err
		}
		t := s.tool(p.Name)
		if t == nil {
			return nil, errorf(codeInvalidParams, "unknown tool %q", p.Name)
		}
		return t.call(ctx, &toolRequest{session: ss, progressToken: p.Meta.ProgressToken}, p.Arguments)
	case "resources/list":
		s.mu.Lock()
		defer s.mu.Unlock()
		out := struct {
			cacheable
			Resources []resourceInfo `json:"resources"`
		}{cacheable: noCache, Resources: []resourceInfo{}}
		for _, r := range s.resources {
			out.Resources = append(out.Resources, r.info)
		}
		return out, nil
	case "resources/templates/list":
		s.mu.Lock()
		defer s.mu.Unlock()
		out := struct {
			cacheable
			ResourceTemplates []resourceTemplateInfo `json:"resourceTemplates"`
		}{cacheable: noCache, ResourceTemplates: []resourceTemplateInfo{}}
		for _, t := range s.templates {
			out.ResourceTemplates = append(out.ResourceTemplates, t.info)
		}
		return out, nil
	case "resources/read":
		var p struct {
			URI string `json:"uri"`
		}
		if err := decodeParams(m.Params, &p); err != nil {
			return nil, err
		}
		return s.readResource(ctx, p.URI)
	default:
		return nil, errorf(codeMethodNotFound, "method not found: %q", m.Method)
	}
}

func decodeParams(raw json.RawMessage, v any) error {
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return errorf(codeInvalidParams, `invalid params: missing required "params"`)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return errorf(codeInvalidParams, "invalid params: %v", err)
	}
	return nil
}

func (ss *session) initialize(raw json.RawMessage) (any, error) {
	var p initializeParams
	if err := decodeParams(raw, &p); err != nil {
		return nil, err
	}
	ss.mu.Lock()
	dup := ss.init != nil
	if !dup {
		ss.init = &p
	}
	ss.mu.Unlock()
	if dup {
		return nil, errors.New(`duplicate "initialize" received`)
	}
	version := protocolVersions[0]
	if slices.Contains(protocolVersions, p.ProtocolVersion) {
		version = p.ProtocolVersion
	}
	s := ss.s
	return initializeResult{
		Capabilities: capabilities{
			Logging:   &struct{}{},
			Resources: &listChanged{ListChanged: true},
			Tools:     &listChanged{ListChanged: true},
		},
		Instructions:    instructions,
		ProtocolVersion: version,
		ServerInfo:      &implementation{Name: "loadgate", Title: "loadgate performance gate", Version: s.opts.Version},
	}, nil
}
