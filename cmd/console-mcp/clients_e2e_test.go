package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// serveProcess is a `console-mcp serve` under test.
type serveProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *lockedBuffer
	done   chan error
}

var urlLine = regexp.MustCompile(`serving MCP at (http://\S+/mcp)`)

// startServe runs `console-mcp serve --listen 127.0.0.1:0` and waits for
// the URL it prints.
func startServe(t testing.TB, env []string, args ...string) *serveProcess {
	t.Helper()
	if lvl := os.Getenv("CONSOLE_MCP_TEST_LOG"); lvl != "" {
		args = append([]string{"--log-level", lvl}, args...)
	}
	cmd := exec.Command(binPath, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Env = append(cmd.Environ(), env...)
	pr, pw := io.Pipe()
	p := &serveProcess{cmd: cmd, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stderr = pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("start serve: %v", err)
	}
	go func() { p.done <- cmd.Wait(); pw.Close() }()
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			p.stderr.Write([]byte(line + "\n"))
			if m := urlLine.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	select {
	case p.url = <-found:
	case <-time.After(30 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("serve printed no URL; stderr:\n%s", p.stderr.String())
	}
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("serve %v stderr:\n%s", args, p.stderr.String())
		}
	})
	return p
}

// stop sends SIGTERM and waits for a clean exit.
func (p *serveProcess) stop(t testing.TB) {
	if p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("serve exited with %v after SIGTERM; stderr:\n%s", err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		t.Errorf("serve did not stop within 20s of SIGTERM")
	}
}

func httpClient(t testing.TB, url string) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(url)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatalf("start http client: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	initialize(t, c)
	return c
}

// TestEveryToolOverHTTP runs the same checks as over stdio through the
// mcp-go streamable HTTP client.
func TestEveryToolOverHTTP(t *testing.T) {
	p := startServe(t, testEnv(t, t.TempDir()))
	c := httpClient(t, p.url)
	toolsEveryTool(t, c, createShell(t, c, map[string]any{"name": "main", "cols": 100, "rows": 30}))
}

// TestHTTPOrigin checks the MUST of the spec that mcp-go leaves to us.
func TestHTTPOrigin(t *testing.T) {
	p := startServe(t, testEnv(t, t.TempDir()))
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"https://evil.example", http.StatusForbidden},
		{"http://localhost:3000", http.StatusOK},
		{"", http.StatusOK},
	} {
		req, _ := http.NewRequest("POST", p.url, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if tc.origin != "" {
			req.Header.Set("Origin", tc.origin)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("Origin %q: status %d, want %d", tc.origin, resp.StatusCode, tc.want)
		}
	}
}

// TestGoSDKClient does the console workflow with the official go-sdk
// client, a second, independent implementation of the protocol.
func TestGoSDKClient(t *testing.T) {
	env := testEnv(t, t.TempDir())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.Command(binPath)
	cmd.Env = append(cmd.Environ(), env...)
	c := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-test", Version: "1"}, nil)
	cs, err := c.Connect(ctx, &sdk.CommandTransport{Command: cmd}, nil)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer cs.Close()

	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range tools.Tools {
		if tool.OutputSchema == nil || tool.Annotations == nil || tool.Annotations.DestructiveHint == nil || tool.Annotations.OpenWorldHint == nil {
			t.Errorf("%s: missing output schema or explicit annotations", tool.Name)
		}
	}
	callSDK := func(name string, args map[string]any) (map[string]any, string, bool) {
		t.Helper()
		res, err := cs.CallTool(ctx, &sdk.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var text string
		for _, c := range res.Content {
			if tc, ok := c.(*sdk.TextContent); ok {
				text += tc.Text
			}
		}
		var out map[string]any
		raw, _ := json.Marshal(res.StructuredContent)
		_ = json.Unmarshal(raw, &out)
		return out, text, res.IsError
	}
	out, text, isErr := callSDK("console_create_session", map[string]any{"command": "/bin/bash", "args": []string{"--norc"}, "env": map[string]any{"PS1": "$ "}})
	if isErr {
		t.Fatalf("create: %s", text)
	}
	id := out["session_id"].(string)
	out, text, _ = callSDK("console_execute_command", map[string]any{"session_id": id, "command": "echo sdk-$((1+2)); (exit 4)"})
	if out["output"] != "sdk-3\n" || out["exit_code"] != float64(4) {
		t.Errorf("execute: %s", text)
	}
	out, _, _ = callSDK("console_send_input", map[string]any{"session_id": id, "input": "echo typed", "submit": true})
	out, text, _ = callSDK("console_wait_for_output", map[string]any{"session_id": id, "pattern": "^typed", "cursor": out["cursor"]})
	if out["matched"] != true {
		t.Errorf("wait: %s", text)
	}
	out, text, _ = callSDK("console_get_output", map[string]any{"session_id": id, "tail_lines": 2})
	if !strings.Contains(out["output"].(string), "typed") {
		t.Errorf("get_output: %s", text)
	}
	if _, text, isErr = callSDK("console_get_output", map[string]any{"session_id": "s-missing"}); !isErr || !strings.Contains(text, "console_list_sessions") {
		t.Errorf("unknown session: %s", text)
	}
	out, text, _ = callSDK("console_stop_session", map[string]any{"session_id": id})
	if out["status"] != "stopped" {
		t.Errorf("stop: %s", text)
	}
}
