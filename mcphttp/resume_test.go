package mcphttp

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/server"
)

// sseEvent is one event of an SSE body.
type sseEvent struct{ id, data string }

// readSSE sends req and returns the events of its SSE body until it ends.
func readSSE(t *testing.T, req *http.Request) []sseEvent {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("%s: %d %q, want 200 text/event-stream", req.Method, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var (
		events []sseEvent
		ev     sseEvent
	)
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.data != "" {
				events = append(events, ev)
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, "id: "):
			ev.id = strings.TrimPrefix(line, "id: ")
		case strings.HasPrefix(line, "data: "):
			ev.data = strings.TrimPrefix(line, "data: ")
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("read SSE: %v", err)
	}
	return events
}

// TestLastEventIDResumesAStream: with an event store, a 2025-era client
// that lost a response stream gets the missed events again with a GET
// carrying Last-Event-ID, through the session gate.
func TestLastEventIDResumesAStream(t *testing.T) {
	r := startServer(t, newMemStore(), Options{EventStore: server.NewInMemoryEventStore()}, "127.0.0.1:0")
	id := initSession(t, r.url, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()

	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, r.url, strings.NewReader(`{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"notify","arguments":{}}}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set(server.HeaderKeySessionID, id)
	events := readSSE(t, req)
	if len(events) != 2 || events[0].id == "" || !strings.Contains(events[0].data, "notifications/message") || !strings.Contains(events[1].data, `"done"`) {
		t.Fatalf("POST stream = %+v, want the notification then the result, with event ids", events)
	}

	// Pretend the connection broke after the first event.
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set(server.HeaderKeySessionID, id)
	req.Header.Set("Last-Event-ID", events[0].id)
	replayed := readSSE(t, req)
	if len(replayed) != 1 || replayed[0] != events[1] {
		t.Fatalf("replay after %s = %+v, want [%+v]", events[0].id, replayed, events[1])
	}

	// The gate still refuses a resume on an unknown session.
	req, _ = http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	req.Header.Set(server.HeaderKeySessionID, "mcp-"+strings.Repeat("Z", 26))
	req.Header.Set("Last-Event-ID", events[0].id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("resume on an unknown session: %d, want 404", resp.StatusCode)
	}
}
