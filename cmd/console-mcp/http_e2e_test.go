package main

import (
	"context"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// legacyClient is the mcp-go streamable HTTP client pinned to 2025-11-25,
// the era with MCP session ids.
func legacyClient(t *testing.T, endpoint string) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	res := initialize(t, c)
	if res.ProtocolVersion != mcp.ProtocolVersion20251125 || c.GetSessionId() == "" {
		t.Fatalf("negotiated %q with session id %q", res.ProtocolVersion, c.GetSessionId())
	}
	return c
}

func portOf(t *testing.T, endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil {
		t.Fatal(err)
	}
	return u.Port()
}

// TestLegacyClientSurvivesRestart: a 2025-11-25 client keeps its MCP
// session id and its console session across a kill -9 and a SIGTERM of
// `console-mcp serve`, without initializing again.
func TestLegacyClientSurvivesRestart(t *testing.T) {
	env := testEnv(t, t.TempDir())
	p := startServe(t, env)
	c := legacyClient(t, p.url)
	mcpID := c.GetSessionId()
	id := createShell(t, c, nil)
	execIn(t, c, id, "GREETING=still-here")
	port := portOf(t, p.url)

	for _, stop := range []string{"kill -9", "SIGTERM"} {
		if stop == "kill -9" {
			kill9(t, p.cmd.Process.Pid)
			<-p.done
		} else {
			p.stop(t)
		}
		p = startServe(t, env, "--listen", "127.0.0.1:"+port)
		// The same client object, with its session id, no initialize.
		r := mustCall(t, c, "console_list_sessions", map[string]any{})
		if !strings.Contains(r.Text, id) {
			t.Fatalf("after %s: the console session is not listed: %s", stop, r.Text)
		}
		if out := execIn(t, c, id, "echo $GREETING").str("output"); out != "still-here\n" {
			t.Errorf("after %s: %q, want the same shell", stop, out)
		}
		if c.GetSessionId() != mcpID {
			t.Errorf("after %s: MCP session id changed from %s to %s", stop, mcpID, c.GetSessionId())
		}
	}
	// A new client resuming the id explicitly, without initialize.
	tr, err := transport.NewStreamableHTTP(p.url, transport.WithSession(mcpID))
	if err != nil {
		t.Fatal(err)
	}
	tr.SetProtocolVersion(mcp.ProtocolVersion20251125)
	c2 := client.NewClient(tr, client.WithSession(), client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err := c2.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if r := mustCall(t, c2, "console_list_sessions", map[string]any{}); !strings.Contains(r.Text, id) {
		t.Errorf("resumed client: %s", r.Text)
	}
	// Closing it sends DELETE: the id is terminated, for every client.
	c2.Close()
	req := mcp.CallToolRequest{}
	req.Params.Name = "console_list_sessions"
	if _, err := c.CallTool(context.Background(), req); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("a terminated MCP session id still works: %v", err)
	}
}

// TestScopeSessions: with --scope-sessions, another MCP session does not
// see a console session it did not create.
func TestScopeSessions(t *testing.T) {
	p := startServe(t, testEnv(t, t.TempDir()), "--scope-sessions")
	a := legacyClient(t, p.url)
	b := legacyClient(t, p.url)
	id := createShell(t, a, nil)
	r := call(t, b, "console_get_output", map[string]any{"session_id": id})
	if !r.IsError || !strings.Contains(r.Text, "no session") {
		t.Errorf("another MCP session read %s: %s", id, r.Text)
	}
	if l := mustCall(t, b, "console_list_sessions", map[string]any{}); strings.Contains(l.Text, id) {
		t.Errorf("another MCP session lists %s", id)
	}
	if r := execIn(t, a, id, "echo mine"); r.str("output") != "mine\n" {
		t.Errorf("the creator: %q", r.str("output"))
	}
}

// TestServeRefusesOpenBindWithoutToken and accepts it with a token file.
func TestServeAuthToken(t *testing.T) {
	env := testEnv(t, t.TempDir())
	cmd := exec.Command(binPath, "serve", "--listen", "0.0.0.0:0")
	cmd.Env = append(cmd.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--auth-token-file") {
		t.Fatalf("serve on 0.0.0.0 without a token: %v\n%s", err, out)
	}
	token := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(token, []byte("s3cret-token-value\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, env, "--auth-token-file", token)
	if _, err := client.NewStreamableHttpClient(p.url); err != nil {
		t.Fatal(err)
	}
	noAuth, _ := client.NewStreamableHttpClient(p.url)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := noAuth.Start(ctx); err == nil {
		if _, err := noAuth.Initialize(ctx, mcp.InitializeRequest{}); err == nil {
			t.Error("initialize without the token succeeded")
		}
	}
	noAuth.Close()
	authed, err := client.NewStreamableHttpClient(p.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer s3cret-token-value"}))
	if err != nil {
		t.Fatal(err)
	}
	if err := authed.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer authed.Close()
	initialize(t, authed)
	if r := mustCall(t, authed, "console_list_sessions", map[string]any{}); r.IsError {
		t.Error(r.Text)
	}
}
