package mcphttp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// quiet discards logs: clients log a failed DELETE when the test's server
// is already gone.
var quiet = slog.New(slog.DiscardHandler)

// newEchoServer is an MCP server with one tool, "echo", which answers
// "<text>|<mcp session id seen by the tool>".
func newEchoServer() *server.MCPServer {
	s := server.NewMCPServer("echo-test", "0.0.1", server.WithHooks(&server.Hooks{}), server.WithToolCapabilities(false))
	s.AddTool(mcp.NewTool("echo", mcp.WithString("text", mcp.Required())), func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		sid := ""
		if cs := server.ClientSessionFromContext(ctx); cs != nil {
			sid = cs.SessionID()
		}
		return mcp.NewToolResultText(req.GetString("text", "") + "|" + sid), nil
	})
	// "notify" sends a notification before its result, which turns the
	// response into an SSE stream.
	s.AddTool(mcp.NewTool("notify"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if err := server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/message", map[string]any{"level": "info", "data": "working"}); err != nil {
			return nil, err
		}
		return mcp.NewToolResultText("done"), nil
	})
	return s
}

// running is a Server serving on a real loopback listener.
type running struct {
	*Server
	url      string
	addr     string
	served   chan error
	stopOnce sync.Once
}

// startServer serves a new echo MCP server over store on addr
// ("127.0.0.1:0" for any port). Cleanup closes it and checks that Serve
// returned.
func startServer(t *testing.T, store SessionStore, opt Options, addr string) *running {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = quiet
	}
	var (
		ln  net.Listener
		err error
	)
	for range 50 { // re-binding the port of a server just stopped
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	opt.Listen = ln.Addr().String()
	srv, err := New(newEchoServer(), store, opt)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	r := &running{Server: srv, addr: ln.Addr().String(), served: make(chan error, 1)}
	go func() { r.served <- srv.Serve(t.Context(), ln) }()
	r.url = srv.URL()
	if want := "http://" + r.addr + "/mcp"; r.url != want {
		t.Fatalf("URL() = %q, want %q", r.url, want)
	}
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop closes the server (idempotent) and waits for Serve to return.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.stopOnce.Do(func() {
		if err := r.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-r.served:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after Close")
		}
	})
}

// crash stops serving like a kill -9: connections drop and nothing more is
// flushed. The caller then abandons the Server.
func (r *running) crash() {
	r.closeOnce.Do(func() {
		r.stopStreams()
		_ = r.http.Close()
		r.ids.closeOnce.Do(func() {
			close(r.ids.quit)
			<-r.ids.done
		})
	})
}

// newLegacyClient returns an initialized mcp-go streamable HTTP client
// pinned to protocol 2025-11-25.
func newLegacyClient(t *testing.T, url string, opts ...transport.StreamableHTTPCOption) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(url, append([]transport.StreamableHTTPCOption{transport.WithHTTPLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	res, err := c.Initialize(t.Context(), mcp.InitializeRequest{Params: mcp.InitializeParams{
		ClientInfo: mcp.Implementation{Name: "legacy-test", Version: "1.2.3"},
	}})
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if res.ProtocolVersion != mcp.ProtocolVersion20251125 {
		t.Fatalf("negotiated %q, want %q", res.ProtocolVersion, mcp.ProtocolVersion20251125)
	}
	if !validID(c.GetSessionId()) {
		t.Fatalf("session id %q was not issued by IDManager", c.GetSessionId())
	}
	return c
}

// resumedClient is an mcp-go client that resumes session id without
// initializing.
func resumedClient(t *testing.T, url, id string) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(url, transport.WithSession(id), transport.WithHTTPLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	tr.SetProtocolVersion(mcp.ProtocolVersion20251125)
	c := client.NewClient(tr, client.WithSession(), client.WithProtocolVersion(mcp.ProtocolVersion20251125))
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// callEcho calls the echo tool and returns what it answered.
func callEcho(ctx context.Context, c *client.Client, text string) (string, error) {
	res, err := c.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}}})
	if err != nil {
		return "", err
	}
	if res.IsError || len(res.Content) != 1 {
		return "", errors.New("echo: unexpected result")
	}
	tc, ok := res.Content[0].(mcp.TextContent)
	if !ok {
		return "", errors.New("echo: not text")
	}
	return tc.Text, nil
}

func mustEcho(t *testing.T, c *client.Client, text, wantSession string) {
	t.Helper()
	got, err := callEcho(t.Context(), c, text)
	if err != nil {
		t.Fatalf("call echo: %v", err)
	}
	if want := text + "|" + wantSession; got != want {
		t.Fatalf("echo = %q, want %q", got, want)
	}
}

// recorder is an http.RoundTripper that keeps the session headers of every
// request and response.
type recorder struct {
	mu      sync.Mutex
	reqIDs  []string
	respIDs []string
	count   int
}

func (rec *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	rec.mu.Lock()
	defer rec.mu.Unlock()
	rec.count++
	if v := req.Header.Get(server.HeaderKeySessionID); v != "" {
		rec.reqIDs = append(rec.reqIDs, v)
	}
	if err == nil {
		if v := resp.Header.Get(server.HeaderKeySessionID); v != "" {
			rec.respIDs = append(rec.respIDs, v)
		}
	}
	return resp, err
}

// rawInitialize is a 2025-11-25 initialize body.
const rawInitialize = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"0"}}}`

const rawPing = `{"jsonrpc":"2.0","id":2,"method":"ping"}`

// do sends a request to url with the given headers and returns the status
// and the response headers.
func do(t *testing.T, method, url, body string, header map[string]string) (int, http.Header) {
	t.Helper()
	// A stream opened by mistake must fail the test, not hang it.
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Errorf("%s %s: reading the body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header
}

// initSession initializes a session with a raw POST and returns its id.
func initSession(t *testing.T, url string, header map[string]string) string {
	t.Helper()
	status, h := do(t, http.MethodPost, url, rawInitialize, header)
	id := h.Get(server.HeaderKeySessionID)
	if status != http.StatusOK || id == "" {
		t.Fatalf("initialize: status %d, session %q", status, id)
	}
	return id
}
