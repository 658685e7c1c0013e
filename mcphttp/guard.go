package mcphttp

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// guard answers, for every path, the requests a browser could be tricked
// into sending: a Host that is not loopback on a loopback connection (DNS
// rebinding) and a present Origin that is not allowed. Both get 403.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if connIsLoopback(r) && !IsLoopbackHost(r.Host) {
			http.Error(w, fmt.Sprintf("Forbidden: Host %q is not a loopback name", r.Host), http.StatusForbidden)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && !s.originAllowed(origin) {
			http.Error(w, fmt.Sprintf("Forbidden: Origin %q is not allowed", origin), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// connIsLoopback reports whether r arrived on a loopback address of this
// host, whatever address the server was bound to.
func connIsLoopback(r *http.Request) bool {
	addr, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	if !ok || addr == nil {
		return false
	}
	if tcp, ok := addr.(*net.TCPAddr); ok {
		return tcp.IP.IsLoopback()
	}
	ap, err := netip.ParseAddrPort(addr.String())
	return err == nil && ap.Addr().IsLoopback()
}

func (s *Server) originAllowed(origin string) bool {
	return IsLoopbackOrigin(origin) || s.origins[normalizeOrigin(origin)]
}

// serveMCP is /mcp: authentication, method and body size, then the session
// gate, then mcp-go.
func (s *Server) serveMCP(w http.ResponseWriter, r *http.Request) {
	if s.auth && !bearerMatches(r, s.tokenHash) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="console-mcp"`)
		http.Error(w, "Unauthorized: a valid bearer token is required", http.StatusUnauthorized)
		return
	}
	switch r.Method {
	case http.MethodGet, http.MethodPost, http.MethodDelete:
	default:
		w.Header().Set("Allow", "GET, POST, DELETE")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	var body []byte
	if r.Method == http.MethodPost {
		var ok bool
		if body, ok = s.readBody(w, r); !ok {
			return
		}
	}

	// Protocol 2026-07-28 has no MCP sessions: mcp-go ignores the header of
	// such a request and answers its GET and DELETE with 405 itself.
	if !mcp.IsModernProtocol(r.Header.Get(mcp.HeaderProtocolVersion)) {
		if id := r.Header.Get(server.HeaderKeySessionID); id != "" {
			// An initialize carrying a stale id starts a new session:
			// mcp-go ignores the header then, so the gate does too.
			if err := s.ids.Touch(id); err != nil && !isInitialize(body) {
				s.sessionError(w, r, err)
				return
			}
		} else if r.Method != http.MethodPost {
			// mcp-go would open a GET stream for an id it makes up.
			http.Error(w, "Bad Request: Mcp-Session-Id header is required", http.StatusBadRequest)
			return
		}
		if r.Method == http.MethodGet {
			ctx, cancel := context.WithCancel(r.Context())
			defer cancel()
			stop := context.AfterFunc(s.streams, cancel)
			defer stop()
			r = r.WithContext(ctx)
		}
	}
	s.streamable.Load().ServeHTTP(w, r)
}

// readBody reads a POST body of at most maxBody bytes and puts it back for
// mcp-go; a bigger one gets 413.
func (s *Server) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.ContentLength > s.maxBody {
		s.tooLarge(w)
		return nil, false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, s.maxBody+1))
	if err != nil {
		http.Error(w, "Bad Request: reading the body failed", http.StatusBadRequest)
		return nil, false
	}
	if int64(len(body)) > s.maxBody {
		s.tooLarge(w)
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

func (s *Server) tooLarge(w http.ResponseWriter) {
	http.Error(w, fmt.Sprintf("Request Entity Too Large: the limit is %d bytes", s.maxBody), http.StatusRequestEntityTooLarge)
}

// sessionError answers a request whose Mcp-Session-Id cannot be used: 404
// for unknown, expired and terminated ids (the client initializes again),
// 503 when the store could not answer.
func (s *Server) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrUnknownSession) || errors.Is(err, ErrSessionExpired) || errors.Is(err, ErrSessionTerminated) {
		http.Error(w, "Not Found: "+err.Error()+"; initialize a new session", http.StatusNotFound)
		return
	}
	s.log.Error("validate mcp session id", "method", r.Method, "err", err)
	http.Error(w, "Service Unavailable: the session store failed", http.StatusServiceUnavailable)
}

// isInitialize reports whether body is a JSON-RPC initialize request. It is
// only asked on the failure path of the gate.
func isInitialize(body []byte) bool {
	var msg struct {
		Method string `json:"method"`
	}
	return len(body) > 0 && json.Unmarshal(body, &msg) == nil && msg.Method == string(mcp.MethodInitialize)
}

// serveHealth is /healthz. It needs no token: it says the process serves
// HTTP and nothing else.
func serveHealth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(w, `{"status":"ok"}`+"\n") // best effort: the client may be gone
}
