// Package tools is console-mcp's MCP surface: the console_* tool
// definitions (typed input and output structs, output schemas, explicit
// annotations) and their handlers over a sessions.Manager.
//
// Every tool returns structuredContent and a short text that carries what a
// model needs (clients differ in which of the two they show it). Domain
// errors are isError results whose text names the field or the session and
// the next step, mapped in one place (errorResult); JSON-RPC errors are
// left to mcp-go for malformed requests.
package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/console-mcp/console-mcp/sessions"
)

// Instructions teach a model the workflow in a few lines.
const Instructions = `console-mcp gives you real terminals (local PTYs and SSH) that keep running across server restarts.
Workflow:
1. console_create_session starts a shell (or any program) and returns a session_id; sessions persist, so first check console_list_sessions for one you already have.
2. In a shell session, console_execute_command runs one command and returns its own output, its real exit_code and the cwd after it. Long jobs: when it returns still_running, continue with console_wait_for_output from the returned cursor (or press ctrl+c with console_send_keys).
3. For REPLs, prompts and TUIs use console_send_input (text; submit=true presses Enter) or console_send_keys (enter, ctrl+c, up, esc...), then console_wait_for_output with a regex pattern or idle_ms.
4. Read output by cursor with console_get_output: pass the cursor each call returned to get only what came after; nothing is consumed by reading.
5. Full-screen programs (vim, less, top): console_get_screen shows the rendered screen.
6. console_stop_session ends a session; its history stays readable.
Type passwords with console_send_input secret_env=NAME_OF_ENV_VAR (never put secrets in input).`

// Options configure the tools.
type Options struct {
	// Version is reported in the MCP initialize result.
	Version string
	// ScopeSessions limits each MCP session to the console sessions it
	// created (--scope-sessions); zero means shared, as a local user expects.
	ScopeSessions bool
	// Getenv reads the server's environment for secret_env; zero means os.Getenv.
	Getenv func(string) string
	// Logger; zero means slog.Default().
	Logger *slog.Logger
}

// Tools holds the handlers' dependencies.
type Tools struct {
	m   *sessions.Manager
	opt Options
	log *slog.Logger
}

// NewServer returns an MCP server with the console tools over m.
func NewServer(m *sessions.Manager, opt Options, extra ...server.ServerOption) *server.MCPServer {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Getenv == nil {
		opt.Getenv = osGetenv
	}
	if opt.Version == "" {
		opt.Version = "dev"
	}
	t := &Tools{m: m, opt: opt, log: opt.Logger}
	opts := append([]server.ServerOption{
		server.WithInstructions(Instructions),
		server.WithToolCapabilities(false),
		server.WithRecovery(),
	}, extra...)
	s := server.NewMCPServer("console-mcp", opt.Version, opts...)
	t.register(s)
	return s
}

// hints are a tool's annotations, always all four explicit.
type hints struct {
	readOnly, destructive, idempotent, openWorld bool
}

func tool[In, Out any](name, title, desc string, h hints) mcp.Tool {
	return mcp.NewTool(name,
		mcp.WithDescription(desc),
		mcp.WithInputSchema[In](),
		mcp.WithOutputSchema[Out](),
		mcp.WithToolAnnotation(mcp.ToolAnnotation{
			Title:           title,
			ReadOnlyHint:    &h.readOnly,
			DestructiveHint: &h.destructive,
			IdempotentHint:  &h.idempotent,
			OpenWorldHint:   &h.openWorld,
		}),
	)
}

// handler adapts a typed handler: it binds arguments strictly (unknown
// fields and wrong types are errors that name the field), and turns the
// result into structured content plus text, or a domain error into an
// isError result.
func handler[In, Out any](t *Tools, fn func(ctx context.Context, in In) (Out, string, error)) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in In
		if err := bind(req, &in); err != nil {
			return errorResult(err), nil
		}
		out, text, err := fn(ctx, in)
		if err != nil {
			return errorResult(err), nil
		}
		return mcp.NewToolResultStructured(out, text), nil
	}
}

// bind decodes a tool's arguments into in, rejecting unknown fields.
func bind(req mcp.CallToolRequest, in any) error {
	var raw []byte
	switch a := req.GetRawArguments().(type) {
	case json.RawMessage:
		raw = a
	case nil:
		raw = []byte("{}")
	default:
		var err error
		if raw, err = json.Marshal(a); err != nil {
			return fmt.Errorf("arguments: %w", err)
		}
	}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(in); err != nil {
		return argumentError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("arguments: trailing data after the JSON object")
	}
	return nil
}

// argumentError rewrites encoding/json's errors to name the field and the
// expected type.
func argumentError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return fmt.Errorf("arguments must be a JSON object, not %s", te.Value)
		}
		return fmt.Errorf("%s: expected %s, got %s", field, jsonType(te.Type.Kind().String()), te.Value)
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return fmt.Errorf("unknown argument %s: check the tool's input schema for the field names", name)
	}
	return fmt.Errorf("arguments: %v", err)
}

func jsonType(kind string) string {
	switch kind {
	case "int", "int64", "int32", "uint16":
		return "an integer"
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	}
	return kind
}

// errorResult maps an error to the isError result a model can act on.
func errorResult(err error) *mcp.CallToolResult {
	msg := err.Error()
	switch {
	case errors.Is(err, sessions.ErrNotFound):
		msg += "; call console_list_sessions (include_ended=true) to see the sessions"
	case errors.Is(err, sessions.ErrNotLive):
		msg += "; its history is still readable with console_get_output, or create a new session"
	}
	return mcp.NewToolResultError(msg)
}

// required reports a missing required string argument.
func required(name, value, hint string) error {
	if strings.TrimSpace(value) == "" {
		return fmt.Errorf("%s is required: %s", name, hint)
	}
	return nil
}
