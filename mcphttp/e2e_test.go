package mcphttp

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	mcpsdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestLegacySessionSurvivesRestart: a 2025-11-25 client keeps its
// Mcp-Session-Id across a restart of the server, graceful or kill -9.
func TestLegacySessionSurvivesRestart(t *testing.T) {
	for _, tc := range []struct {
		name string
		stop func(t *testing.T, r *running)
	}{
		{"graceful", func(t *testing.T, r *running) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			if err := r.Shutdown(ctx); err != nil {
				t.Fatalf("Shutdown with a GET stream open: %v", err)
			}
		}},
		{"kill", func(t *testing.T, r *running) { r.crash() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			store := newMemStore()
			clock := newFakeClock()
			first := startServer(t, store, Options{Now: clock.Now}, "127.0.0.1:0")
			c := newLegacyClient(t, first.url)
			id := c.GetSessionId()
			rec, ok := store.get(id)
			if !ok {
				t.Fatal("the id was not persisted by initialize")
			}
			if rec.ClientName != "legacy-test" || rec.ClientVersion != "1.2.3" || rec.ProtocolVersion != "2025-11-25" {
				t.Fatalf("record after initialize = %+v, want the client info and the negotiated version", rec)
			}
			clock.Advance(time.Minute)
			mustEcho(t, c, "before", id)

			// A listening GET stream must not keep a graceful shutdown waiting.
			streamCtx, cancelStream := context.WithCancel(t.Context())
			defer cancelStream()
			req, _ := http.NewRequestWithContext(streamCtx, http.MethodGet, first.url, nil)
			req.Header.Set(server.HeaderKeySessionID, id)
			req.Header.Set("Accept", "text/event-stream")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET stream: %d", resp.StatusCode)
			}

			tc.stop(t, first)
			rec, _ = store.get(id)
			if rec.Terminated {
				t.Fatal("stopping the server terminated the session")
			}
			if tc.name == "graceful" && !rec.LastAccess.Equal(clock.Now()) {
				t.Fatalf("final flush: last access %v, want %v", rec.LastAccess, clock.Now())
			}

			// Restart: new MCP server, new Server, new IDManager, same store.
			second := startServer(t, store, Options{Now: clock.Now}, first.addr)
			resumed := resumedClient(t, second.url, id)
			mustEcho(t, resumed, "after", id)
			// The original client object, too, just carries on.
			mustEcho(t, c, "again", id)
		})
	}
}

func TestExpiredSessionGets404AndReinitializes(t *testing.T) {
	clock := newFakeClock()
	r := startServer(t, newMemStore(), Options{Now: clock.Now, SessionTTL: time.Hour}, "127.0.0.1:0")
	c := newLegacyClient(t, r.url)
	id := c.GetSessionId()
	clock.Advance(59 * time.Minute)
	mustEcho(t, c, "alive", id) // slides the TTL
	clock.Advance(59 * time.Minute)
	mustEcho(t, c, "still", id)
	clock.Advance(time.Hour)

	if status, _ := do(t, http.MethodPost, r.url, rawPing, map[string]string{server.HeaderKeySessionID: id}); status != http.StatusNotFound {
		t.Fatalf("expired id: status %d, want 404", status)
	}
	if _, err := callEcho(t.Context(), c, "expired"); !errors.Is(err, transport.ErrSessionTerminated) {
		t.Fatalf("call with an expired id = %v, want the client to see 404 (ErrSessionTerminated)", err)
	}
	if _, err := c.Initialize(t.Context(), mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "legacy-test", Version: "1.2.3"}}}); err != nil {
		t.Fatalf("re-initialize: %v", err)
	}
	fresh := c.GetSessionId()
	if fresh == id || !validID(fresh) {
		t.Fatalf("re-initialize gave id %q (old %q)", fresh, id)
	}
	mustEcho(t, c, "fresh", fresh)
}

func TestDeleteTerminates(t *testing.T) {
	store := newMemStore()
	r := startServer(t, store, Options{}, "127.0.0.1:0")
	c := newLegacyClient(t, r.url)
	id := c.GetSessionId()
	mustEcho(t, c, "x", id)
	if err := c.Close(); err != nil { // sends DELETE
		t.Fatal(err)
	}
	if rec, _ := store.get(id); !rec.Terminated {
		t.Fatalf("record after DELETE = %+v, want Terminated (persisted synchronously)", rec)
	}
	hdr := map[string]string{server.HeaderKeySessionID: id}
	for _, m := range []struct{ method, body string }{{http.MethodPost, rawPing}, {http.MethodGet, ""}, {http.MethodDelete, ""}} {
		if status, _ := do(t, m.method, r.url, m.body, hdr); status != http.StatusNotFound {
			t.Errorf("%s after DELETE: status %d, want 404", m.method, status)
		}
	}

	// Still terminated after a restart.
	r.stop(t)
	r2 := startServer(t, store, Options{}, "127.0.0.1:0")
	if status, _ := do(t, http.MethodPost, r2.url, rawPing, hdr); status != http.StatusNotFound {
		t.Errorf("terminated id after restart: status %d, want 404", status)
	}
}

// TestModernClientsHaveNoMCPSession: 2026-07-28 clients (mcp-go's default
// client and the official go-sdk client) call tools without any
// Mcp-Session-Id, and nothing is stored for them.
func TestModernClientsHaveNoMCPSession(t *testing.T) {
	store := newMemStore()
	r := startServer(t, store, Options{}, "127.0.0.1:0")

	t.Run("mcp-go", func(t *testing.T) {
		rec := &recorder{}
		tr, err := transport.NewStreamableHTTP(r.url, transport.WithHTTPBasicClient(&http.Client{Transport: rec}), transport.WithHTTPLogger(quiet))
		if err != nil {
			t.Fatal(err)
		}
		c := client.NewClient(tr)
		if err := c.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.Initialize(t.Context(), mcp.InitializeRequest{Params: mcp.InitializeParams{ClientInfo: mcp.Implementation{Name: "modern", Version: "1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if res.ProtocolVersion != mcp.ProtocolVersion20260728 {
			t.Fatalf("negotiated %q, want %q", res.ProtocolVersion, mcp.ProtocolVersion20260728)
		}
		mustEcho(t, c, "hi", "")
		mustEcho(t, c, "again", "")
		checkNoSessionHeaders(t, rec)
	})

	t.Run("go-sdk", func(t *testing.T) {
		rec := &recorder{}
		cl := mcpsdk.NewClient(&mcpsdk.Implementation{Name: "go-sdk-test", Version: "1"}, nil)
		cs, err := cl.Connect(t.Context(), &mcpsdk.StreamableClientTransport{Endpoint: r.url, HTTPClient: &http.Client{Transport: rec}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer cs.Close()
		if v := cs.InitializeResult().ProtocolVersion; v != "2026-07-28" {
			t.Fatalf("negotiated %q, want 2026-07-28", v)
		}
		for _, text := range []string{"hi", "again"} {
			res, err := cs.CallTool(t.Context(), &mcpsdk.CallToolParams{Name: "echo", Arguments: map[string]any{"text": text}})
			if err != nil {
				t.Fatal(err)
			}
			if res.IsError || len(res.Content) != 1 {
				t.Fatalf("echo result %+v", res)
			}
			if tc, ok := res.Content[0].(*mcpsdk.TextContent); !ok || tc.Text != text+"|" {
				t.Fatalf("echo = %#v, want %q", res.Content[0], text+"|")
			}
		}
		checkNoSessionHeaders(t, rec)
	})

	if n, _, _ := store.count(); n != 0 {
		t.Fatalf("%d MCP sessions stored for stateless clients", n)
	}
}

func checkNoSessionHeaders(t *testing.T, rec *recorder) {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if rec.count < 2 {
		t.Fatalf("recorder saw %d requests; the client did not use it", rec.count)
	}
	if len(rec.reqIDs) != 0 || len(rec.respIDs) != 0 {
		t.Fatalf("Mcp-Session-Id sent %v, received %v; want none", rec.reqIDs, rec.respIDs)
	}
}

func TestExpiredSessionStateIsReclaimedFromMCPGo(t *testing.T) {
	clock := newFakeClock()
	mcpSrv := newEchoServer()
	var unregistered []string // appended by the in-process DELETE, in this goroutine
	mcpSrv.GetHooks().AddOnUnregisterSession(func(_ context.Context, s server.ClientSession) {
		unregistered = append(unregistered, s.SessionID())
	})
	srv, err := New(mcpSrv, newMemStore(), Options{Now: clock.Now, SessionTTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	post := func(body, id string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, Endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		if id != "" {
			req.Header.Set(server.HeaderKeySessionID, id)
		}
		w := httptest.NewRecorder()
		srv.Handler().ServeHTTP(w, req)
		return w
	}
	w := post(rawInitialize, "")
	id := w.Header().Get(server.HeaderKeySessionID)
	if w.Code != http.StatusOK || id == "" {
		t.Fatalf("initialize: %d %q", w.Code, id)
	}
	if w := post(rawPing, id); w.Code != http.StatusOK {
		t.Fatalf("ping: %d", w.Code)
	}
	clock.Advance(2 * time.Minute)
	// What the flush tick does.
	if err := srv.ids.Flush(); err != nil {
		t.Fatal(err)
	}
	srv.ids.sweep()
	if len(unregistered) != 1 || unregistered[0] != id {
		t.Fatalf("mcp-go sessions unregistered after expiry: %v, want [%s]", unregistered, id)
	}
	if w := post(rawPing, id); w.Code != http.StatusNotFound {
		t.Fatalf("ping after expiry: %d, want 404", w.Code)
	}
}

// TestListenAndServeStopsGracefullyWhenContextEnds: cancelling the context
// of ListenAndServe shuts down and does the final flush before it returns.
func TestListenAndServeStopsGracefullyWhenContextEnds(t *testing.T) {
	store := newMemStore()
	clock := newFakeClock()
	ln, err := net.Listen("tcp", "127.0.0.1:0") // find a free port
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	srv, err := New(newEchoServer(), store, Options{Listen: addr, Now: clock.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	id := srv.ids.Generate()
	clock.Advance(time.Minute)
	if err := srv.ids.Touch(id); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() { served <- srv.ListenAndServe(ctx) }()
	for up := false; !up; {
		resp, err := http.Get("http://" + addr + HealthEndpoint)
		if err == nil {
			resp.Body.Close()
			up = resp.StatusCode == http.StatusOK
		}
		select {
		case err := <-served:
			t.Fatalf("ListenAndServe returned early: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
	}
	cancel()
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("ListenAndServe after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenAndServe did not return after its context ended")
	}
	if rec, _ := store.get(id); !rec.LastAccess.Equal(clock.Now()) || rec.Terminated {
		t.Fatalf("record after shutdown = %+v, want last access %v and not terminated", rec, clock.Now())
	}
}
