package mcphttp

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/server"
)

// BenchmarkValidate measures what the session id check adds to a request,
// against baselines measured in the same run:
//
//	go test -run '^$' -bench Validate -benchtime 20000x ./mcphttp/
//
// empty-handler is the floor of an in-process ServeHTTP call; Touch and
// Validate are the IDManager calls a request makes; ping/mcp-go-only and
// ping/through-guard serve the same POST (a ping on a live session) without
// and with this package in front, so their difference is the whole cost of
// the guard (Host, Origin, body copy, session gate).
func BenchmarkValidate(b *testing.B) {
	srv, err := New(newEchoServer(), newMemStore(), Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	defer srv.Close()
	w := httptest.NewRecorder()
	srv.Handler().ServeHTTP(w, postRequest(rawInitialize, ""))
	id := w.Header().Get(server.HeaderKeySessionID)
	if id == "" {
		b.Fatalf("initialize: %d %s", w.Code, w.Body)
	}

	b.Run("empty-handler", func(b *testing.B) {
		empty := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
		req := postRequest(rawPing, id)
		resp := discardResponse{header: http.Header{}}
		for b.Loop() {
			empty.ServeHTTP(resp, req)
		}
	})
	b.Run("IDManager.Touch", func(b *testing.B) {
		for b.Loop() {
			if err := srv.ids.Touch(id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("IDManager.Validate", func(b *testing.B) {
		for b.Loop() {
			if _, err := srv.ids.Validate(id); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("IDManager.Touch-parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := srv.ids.Touch(id); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	for _, tc := range []struct {
		name string
		h    http.Handler
	}{
		{"ping/mcp-go-only", srv.streamable.Load()},
		{"ping/through-guard", srv.Handler()},
	} {
		b.Run(tc.name, func(b *testing.B) {
			resp := &statusOnly{header: http.Header{}}
			for b.Loop() {
				resp.code = 0
				clear(resp.header)
				tc.h.ServeHTTP(resp, postRequest(rawPing, id))
				if resp.code != http.StatusOK {
					b.Fatalf("status %d", resp.code)
				}
			}
		})
	}
}

// BenchmarkHTTPPing is a ping on a live session over loopback HTTP through
// Server, for the scale of a real request.
func BenchmarkHTTPPing(b *testing.B) {
	store := newMemStore()
	srv, err := New(newEchoServer(), store, Options{Logger: quiet})
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	defer srv.Close()
	url := ts.URL + Endpoint
	resp, err := http.Post(url, "application/json", strings.NewReader(rawInitialize))
	if err != nil {
		b.Fatal(err)
	}
	resp.Body.Close()
	id := resp.Header.Get(server.HeaderKeySessionID)
	for b.Loop() {
		req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(rawPing))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		req.Header.Set(server.HeaderKeySessionID, id)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body) // best effort: drain for keep-alive
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func postRequest(body, id string) *http.Request {
	req, _ := http.NewRequest(http.MethodPost, Endpoint, bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if id != "" {
		req.Header.Set(server.HeaderKeySessionID, id)
	}
	return req
}

// statusOnly is a ResponseWriter that keeps only the status.
type statusOnly struct {
	header http.Header
	code   int
}

func (s *statusOnly) Header() http.Header         { return s.header }
func (s *statusOnly) Write(p []byte) (int, error) { return len(p), nil }
func (s *statusOnly) WriteHeader(code int)        { s.code = code }
