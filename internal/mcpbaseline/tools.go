package main

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// maxBytes bounds the bytes tool's n.
const maxBytes = 16 << 20

// Result shapes of the bytes tool.
const (
	// shapeText is one text content of n bytes: the least a tool returning
	// n bytes can send.
	shapeText = "text"
	// shapeStructured is what console-mcp's tools send (mcp-go's
	// NewToolResultStructured): the n bytes in structuredContent.output and
	// again in the text content.
	shapeStructured = "structured"
	// shapeStructuredOnly is the n bytes in structuredContent.output and a
	// short text.
	shapeStructuredOnly = "structured_only"
)

// Kinds of text the bytes tool returns.
const (
	// kindLines is lines of 63 printable ASCII bytes and a newline, as
	// `yes` or a build log writes.
	kindLines = "lines"
	// kindControl has an ESC every 16 bytes, which JSON escapes as \u001b
	// (6 bytes): terminal output with colours.
	kindControl = "control"
)

// bytesOut is the bytes tool's structured content.
type bytesOut struct {
	Output string `json:"output"`
	Bytes  int    `json:"bytes"`
}

// corpus caches the bytes tool's text, built once per kind.
var corpus = struct {
	once  sync.Once
	lines string
	ctl   string
}{}

func buildText() {
	var b strings.Builder
	b.Grow(maxBytes)
	for b.Len() < maxBytes {
		b.WriteString("0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+\n")
	}
	corpus.lines = b.String()
	b = strings.Builder{}
	b.Grow(maxBytes)
	for b.Len() < maxBytes {
		b.WriteString("\x1b[1mbold\x1b[0m text\n")
	}
	corpus.ctl = b.String()
}

// newServer returns the baseline MCP server with its two tools.
func newServer() *server.MCPServer {
	s := server.NewMCPServer("mcpbaseline", "1", server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("noop",
		mcp.WithDescription("Does nothing and returns a tiny structured result."),
		mcp.WithReadOnlyHintAnnotation(true),
	), noop)
	s.AddTool(mcp.NewTool("bytes",
		mcp.WithDescription("Returns n bytes of text from memory."),
		mcp.WithNumber("n", mcp.Required(), mcp.Description("bytes to return, 0..16 MiB")),
		mcp.WithString("shape", mcp.Description("text (default), structured (structuredContent and the same text again, as console-mcp's tools) or structured_only")),
		mcp.WithString("kind", mcp.Description("lines (default: printable ASCII lines) or control (an ESC every 16 bytes)")),
		mcp.WithReadOnlyHintAnnotation(true),
	), bytesTool)
	return s
}

func noop(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	return mcp.NewToolResultStructured(map[string]bool{"ok": true}, "ok"), nil
}

func bytesTool(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	n := req.GetInt("n", -1)
	if n < 0 || n > maxBytes {
		return mcp.NewToolResultError(fmt.Sprintf("n %d is out of range: use 0..%d", n, maxBytes)), nil
	}
	corpus.once.Do(buildText)
	var s string
	switch kind := req.GetString("kind", kindLines); kind {
	case kindLines:
		s = corpus.lines[:n]
	case kindControl:
		s = corpus.ctl[:n]
	default:
		return mcp.NewToolResultError(fmt.Sprintf("kind %q: use lines or control", kind)), nil
	}
	switch shape := req.GetString("shape", shapeText); shape {
	case shapeText:
		return mcp.NewToolResultText(s), nil
	case shapeStructured:
		return mcp.NewToolResultStructured(bytesOut{Output: s, Bytes: n}, s), nil
	case shapeStructuredOnly:
		return mcp.NewToolResultStructured(bytesOut{Output: s, Bytes: n}, fmt.Sprintf("%d bytes in structuredContent.output", n)), nil
	default:
		return mcp.NewToolResultError(fmt.Sprintf("shape %q: use text, structured or structured_only", shape)), nil
	}
}
