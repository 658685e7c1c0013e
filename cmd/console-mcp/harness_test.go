package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// The end-to-end tests run the real binary, built once by TestMain, and
// drive it through real MCP clients.

var binPath string

// binRace says binPath (and holderBinPath) are built with the race
// detector: the default; CONSOLE_MCP_TEST_NORACE=1 turns it off.
var binRace = os.Getenv("CONSOLE_MCP_TEST_NORACE") == ""

// holderBinPath is cmd/console-mcp-ptyhost, built by TestMain beside
// binPath, where the server finds it and runs its holders from it.
var holderBinPath string

// baselinePath is internal/mcpbaseline, built by TestMain: the mcp-go
// server with nothing behind its tools that benchmarks measure against.
var baselinePath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "console-mcp-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "console-mcp")
	holderBinPath = filepath.Join(dir, "console-mcp-ptyhost")
	baselinePath = filepath.Join(dir, "mcpbaseline")
	flags := []string{"build"}
	if binRace {
		flags = append(flags, "-race")
	}
	for _, b := range []struct{ out, pkg string }{
		{binPath, "."},
		{holderBinPath, "github.com/console-mcp/console-mcp/cmd/console-mcp-ptyhost"},
		{baselinePath, "github.com/console-mcp/console-mcp/internal/mcpbaseline"},
	} {
		build := exec.Command("go", append(flags, "-o", b.out, b.pkg)...)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build", b.pkg+":", err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// testEnv is the environment of a server under test: its own state dir and
// home, bash as the login shell, a plain prompt.
func testEnv(t testing.TB, stateDir string) []string {
	// Holders outlive their server by design: end this test's with it.
	t.Cleanup(func() { killHolders(t, stateDir) })
	home := t.TempDir()
	if err := os.WriteFile(filepath.Join(home, ".bashrc"), []byte("PS1='$ '\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return []string{
		"CONSOLE_MCP_STATE_DIR=" + stateDir,
		"HOME=" + home,
		"SHELL=/bin/bash",
		"LANG=C.UTF-8",
		"XDG_STATE_HOME=" + filepath.Join(home, ".state"),
	}
}

// stdioClient starts the binary over stdio and initializes an mcp-go client.
func stdioClient(t testing.TB, env []string, args ...string) *client.Client {
	t.Helper()
	c, err := client.NewStdioMCPClient(binPath, env, args...)
	if err != nil {
		t.Fatalf("start stdio client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	initialize(t, c)
	return c
}

func initialize(t testing.TB, c *client.Client) *mcp.InitializeResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "console-mcp-test", Version: "1"}
	res, err := c.Initialize(ctx, req)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	return res
}

// result is a decoded tool result.
type result struct {
	IsError    bool
	Text       string
	Structured map[string]any
}

func (r result) str(k string) string {
	v, _ := r.Structured[k].(string)
	return v
}

func (r result) num(k string) int64 {
	v, _ := r.Structured[k].(float64)
	return int64(v)
}

func (r result) boolean(k string) bool {
	v, _ := r.Structured[k].(bool)
	return v
}

// intp returns a numeric field, or nil when it is null or absent.
func (r result) intp(k string) *int {
	v, ok := r.Structured[k].(float64)
	if !ok {
		return nil
	}
	i := int(v)
	return &i
}

// call calls a tool and decodes its result; a JSON-RPC error fails the test.
func call(t testing.TB, c *client.Client, name string, args map[string]any) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return decodeResult(t, res)
}

func decodeResult(t testing.TB, res *mcp.CallToolResult) result {
	t.Helper()
	r := result{IsError: res.IsError}
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			r.Text += tc.Text
		}
	}
	if res.StructuredContent != nil || len(res.RawStructuredContent) > 0 {
		var raw []byte
		if len(res.RawStructuredContent) > 0 {
			raw = res.RawStructuredContent
		} else {
			var err error
			if raw, err = json.Marshal(res.StructuredContent); err != nil {
				t.Fatal(err)
			}
		}
		if err := json.Unmarshal(raw, &r.Structured); err != nil {
			t.Fatalf("structured content: %v", err)
		}
	}
	return r
}

// mustCall calls a tool that must succeed.
func mustCall(t testing.TB, c *client.Client, name string, args map[string]any) result {
	t.Helper()
	r := call(t, c, name, args)
	if r.IsError {
		t.Fatalf("%s(%v): error result: %s", name, args, r.Text)
	}
	if r.Structured == nil {
		t.Fatalf("%s: no structured content", name)
	}
	return r
}

// createShell creates a bash session without rc files and waits for its prompt.
func createShell(t testing.TB, c *client.Client, extra map[string]any) string {
	t.Helper()
	args := map[string]any{"command": "/bin/bash", "args": []string{"--norc", "--noprofile"}, "env": map[string]any{"PS1": "$ "}}
	for k, v := range extra {
		args[k] = v
	}
	r := mustCall(t, c, "console_create_session", args)
	id := r.str("session_id")
	if !strings.HasPrefix(id, "s-") {
		t.Fatalf("session_id %q", id)
	}
	return id
}

// exec runs a command in a session and fails the test unless it completed.
func execIn(t testing.TB, c *client.Client, id, command string) result {
	t.Helper()
	r := mustCall(t, c, "console_execute_command", map[string]any{"session_id": id, "command": command, "timeout_ms": 30000})
	if r.boolean("timed_out") {
		t.Fatalf("%q timed out: %s", command, r.Text)
	}
	return r
}

// lockedBuffer is an io.Writer safe for concurrent use (a process's stderr).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// stdioServer starts the binary over stdio like stdioClient and also
// returns its process, for tests that kill it.
func stdioServer(t testing.TB, env []string, args ...string) (*client.Client, *exec.Cmd) {
	t.Helper()
	c, cmd, _ := stdioServerAt(t, binPath, env, args...)
	return c, cmd
}

// stdioServerAt is stdioServer running the server binary exe; it also
// returns the server's stderr so far.
func stdioServerAt(t testing.TB, exe string, env []string, args ...string) (*client.Client, *exec.Cmd, *lockedBuffer) {
	t.Helper()
	var cmd *exec.Cmd
	stderr := &lockedBuffer{}
	if lvl := os.Getenv("CONSOLE_MCP_TEST_LOG"); lvl != "" {
		args = append([]string{"--log-level", lvl}, args...)
	}
	c, err := client.NewStdioMCPClientWithOptions(exe, env, args, transport.WithCommandFunc(
		func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
			cmd = exec.CommandContext(ctx, command, args...)
			cmd.Env = append(os.Environ(), env...)
			cmd.Stderr = stderr
			return cmd, nil
		}))
	if err != nil {
		t.Fatalf("start stdio client: %v", err)
	}
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("server %v stderr:\n%s", args, stderr.String())
		}
	})
	initialize(t, c)
	return c, cmd, stderr
}

// killHolders kills the holder processes serving sessions of stateDir
// (their argv names its run dir); their programs get SIGHUP as the
// terminals close.
func killHolders(t testing.TB, stateDir string) {
	run := filepath.Join(stateDir, "run")
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil || !bytes.Contains(b, []byte("ptyhost")) || !bytes.Contains(b, []byte(run)) {
			continue
		}
		pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err == nil {
			_ = syscall.Kill(pid, syscall.SIGKILL) // best effort: it may have exited
		}
	}
}
