package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// pipeClient connects an mcp-go client to the baseline server in this
// process through two io.Pipes: the same code as over stdio, less the
// kernel, so one -cpuprofile covers both ends.
func pipeClient(tb testing.TB) *client.Client {
	tb.Helper()
	toServer, fromClient := io.Pipe()
	toClient, fromServer := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		err := server.NewStdioServer(newServer()).Listen(ctx, toServer, fromServer)
		if err != nil && ctx.Err() == nil {
			tb.Errorf("listen: %v", err)
		}
		fromServer.Close()
	})
	c := client.NewClient(transport.NewIO(toClient, fromClient, nil))
	tb.Cleanup(func() {
		c.Close() // closes fromClient: the server reads EOF
		cancel()
		wg.Wait()
	})
	if err := c.Start(ctx); err != nil {
		tb.Fatalf("start client: %v", err)
	}
	initialize(tb, c)
	return c
}

// serverProfile makes stdioClient's server write a CPU profile:
// go test ... -args -server-cpuprofile FILE (the last server wins).
var serverProfile = flag.String("server-cpuprofile", "", "CPU profile of the stdio baseline server, written when it exits")

// stdioClient starts the baseline binary (built once) over stdio.
func stdioClient(tb testing.TB, args ...string) *client.Client {
	tb.Helper()
	if *serverProfile != "" {
		args = append(args, "-cpuprofile", *serverProfile)
	}
	c, err := client.NewStdioMCPClient(buildBinary(tb), nil, args...)
	if err != nil {
		tb.Fatalf("start stdio client: %v", err)
	}
	tb.Cleanup(func() { c.Close() })
	initialize(tb, c)
	return c
}

var built struct {
	once sync.Once
	path string
	err  error
}

// buildBinary builds this command into a temporary directory, once per run.
func buildBinary(tb testing.TB) string {
	tb.Helper()
	built.once.Do(func() {
		dir, err := os.MkdirTemp("", "mcpbaseline-")
		if err != nil {
			built.err = err
			return
		}
		built.path = filepath.Join(dir, "mcpbaseline")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = &buildError{err, string(out)}
		}
	})
	if built.err != nil {
		tb.Fatalf("build mcpbaseline: %v", built.err)
	}
	return built.path
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

func TestMain(m *testing.M) {
	code := m.Run()
	if built.path != "" {
		os.RemoveAll(filepath.Dir(built.path))
	}
	os.Exit(code)
}

func initialize(tb testing.TB, c *client.Client) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "mcpbaseline-test", Version: "1"}
	if _, err := c.Initialize(ctx, req); err != nil {
		tb.Fatalf("initialize: %v", err)
	}
}

func callBytes(tb testing.TB, c *client.Client, n int, shape, kind string) *mcp.CallToolResult {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = "bytes"
	req.Params.Arguments = map[string]any{"n": n, "shape": shape, "kind": kind}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		tb.Fatalf("bytes(%d, %s, %s): %v", n, shape, kind, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func TestBytesTool(t *testing.T) {
	c := pipeClient(t)
	tests := []struct {
		n               int
		shape, kind     string
		wantText        bool // the text content is the n bytes
		wantStructured  bool // structuredContent.output is the n bytes
		wantFirstLetter string
	}{
		{1000, shapeText, kindLines, true, false, "0"},
		{70000, shapeStructured, kindLines, true, true, "0"},
		{4096, shapeStructuredOnly, kindControl, false, true, "\x1b"},
		{0, shapeText, kindLines, true, false, ""},
	}
	for _, tt := range tests {
		res := callBytes(t, c, tt.n, tt.shape, tt.kind)
		if res.IsError {
			t.Fatalf("bytes(%d, %s): error %q", tt.n, tt.shape, text(res))
		}
		got := text(res)
		if tt.wantText != (len(got) == tt.n) {
			t.Errorf("bytes(%d, %s): text of %d bytes", tt.n, tt.shape, len(got))
		}
		var out bytesOut
		hasStructured := len(res.RawStructuredContent) > 0
		if hasStructured {
			if err := json.Unmarshal(res.RawStructuredContent, &out); err != nil {
				t.Fatal(err)
			}
		}
		if hasStructured != tt.wantStructured || (hasStructured && (out.Bytes != tt.n || len(out.Output) != tt.n)) {
			t.Errorf("bytes(%d, %s): structuredContent %v with output of %d bytes (bytes=%d)", tt.n, tt.shape, hasStructured, len(out.Output), out.Bytes)
		}
		payload := got
		if !tt.wantText {
			payload = out.Output
		}
		if !strings.HasPrefix(payload, tt.wantFirstLetter) {
			t.Errorf("bytes(%d, %s): begins %.1q, want %q", tt.n, tt.kind, payload, tt.wantFirstLetter)
		}
	}
	for _, args := range []map[string]any{{"n": -1}, {"n": maxBytes + 1}, {"n": 1, "shape": "xml"}, {"n": 1, "kind": "binary"}} {
		req := mcp.CallToolRequest{}
		req.Params.Name = "bytes"
		req.Params.Arguments = args
		res, err := c.CallTool(context.Background(), req)
		if err != nil || !res.IsError {
			t.Errorf("bytes(%v): err %v, isError %v; want an error result", args, err, res != nil && res.IsError)
		}
	}
}

func TestStdioNoop(t *testing.T) {
	c := stdioClient(t)
	req := mcp.CallToolRequest{}
	req.Params.Name = "noop"
	res, err := c.CallTool(context.Background(), req)
	if err != nil || res.IsError || text(res) != "ok" {
		t.Fatalf("noop: %v %+v", err, res)
	}
}
