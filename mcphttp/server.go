package mcphttp

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/server"
)

const (
	// DefaultListen is where Server listens when Options.Listen is empty.
	DefaultListen = "127.0.0.1:8722"
	// Endpoint is the path of the MCP endpoint.
	Endpoint = "/mcp"
	// HealthEndpoint is the path of the liveness endpoint.
	HealthEndpoint = "/healthz"

	// shutdownGrace bounds the graceful part of the shutdown Serve does when
	// its context ends; after it, connections are closed.
	shutdownGrace = 10 * time.Second
	// idleTimeout closes keep-alive connections idle this long.
	idleTimeout = 2 * time.Minute
)

// Options configures a Server. The zero value serves on 127.0.0.1:8722
// without authentication.
type Options struct {
	// Listen is the TCP address to serve. Empty means DefaultListen. An
	// address that is not loopback (including ":8722" and "0.0.0.0:8722")
	// requires AuthTokenFile.
	Listen string
	// AuthTokenFile, if set, names a file holding the bearer token every
	// request to /mcp must carry. The file must be readable by its owner
	// only. Empty means no authentication (loopback only).
	AuthTokenFile string
	// AllowedOrigins are origins ("https://app.example:8443") allowed in
	// addition to the loopback ones. Empty means loopback origins only.
	AllowedOrigins []string
	// MaxBodyBytes caps a request body; bigger bodies get 413. Zero means 4 MiB.
	MaxBodyBytes int64
	// ReadHeaderTimeout bounds reading a request's headers. Zero means 10s.
	ReadHeaderTimeout time.Duration
	// SessionTTL, TouchRequests, TouchInterval and FlushInterval configure
	// the MCP session ids; see IDOptions for their zero values.
	SessionTTL    time.Duration
	TouchRequests int
	TouchInterval time.Duration
	FlushInterval time.Duration
	// EventStore, if set, makes SSE streams of 2025-era clients resumable
	// with Last-Event-ID (mcp-go's WithEventStore). Nil means not resumable.
	// server.NewInMemoryEventStore works within one process and keeps a
	// session's events until the session is deleted or expires; a store
	// that outlives the process (SQLite) would let resumption cross a
	// restart, through mcp-go's replay of streams it no longer tracks.
	EventStore server.EventStore
	// Now is the clock of session TTLs. Nil means time.Now.
	Now func() time.Time
	// Logger receives the server's logs. Nil discards them.
	Logger *slog.Logger
}

// Server serves an MCP server over streamable HTTP at /mcp, with hardening
// in front of mcp-go and MCP session ids that survive restarts. Create it
// with New, run it with Serve or ListenAndServe, stop it with Shutdown or
// Close. Its methods are safe for concurrent use.
type Server struct {
	ids        *IDManager
	streamable atomic.Pointer[server.StreamableHTTPServer]
	http       *http.Server
	log        *slog.Logger
	listen     string
	maxBody    int64
	origins    map[string]bool
	auth       bool
	tokenHash  [sha256.Size]byte

	// streams is cancelled when shutdown starts, ending the GET streams,
	// which would otherwise keep http.Server.Shutdown waiting forever.
	streams     context.Context
	stopStreams context.CancelFunc

	mu   sync.Mutex
	addr net.Addr // set by Serve

	closeOnce sync.Once
	closeErr  error
}

// New returns a Server for mcpSrv whose MCP session ids live in store. It
// validates opt: a Listen address that is not loopback requires
// AuthTokenFile, and the token file must exist, be non-empty and be
// accessible by its owner only.
//
// New registers the IDManager's hooks on mcpSrv.GetHooks(), so build mcpSrv
// with server.WithHooks (an empty &server.Hooks{} will do) to have client
// names and protocol versions recorded; without hooks they stay empty. Call
// New before mcpSrv serves anything. The caller must call Close or Shutdown,
// which leave store open.
func New(mcpSrv *server.MCPServer, store SessionStore, opt Options) (*Server, error) {
	s := &Server{
		log:     opt.Logger,
		listen:  opt.Listen,
		maxBody: opt.MaxBodyBytes,
		origins: make(map[string]bool),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.listen == "" {
		s.listen = DefaultListen
	}
	if s.maxBody <= 0 {
		s.maxBody = 4 << 20
	}
	host, _, err := net.SplitHostPort(s.listen)
	if err != nil {
		return nil, fmt.Errorf("parse listen address %q: %w", s.listen, err)
	}
	if opt.AuthTokenFile == "" && !isLoopbackName(host) {
		return nil, fmt.Errorf("listen address %s is not loopback: serving other hosts requires --auth-token-file", s.listen)
	}
	if opt.AuthTokenFile != "" {
		if s.tokenHash, err = readTokenFile(opt.AuthTokenFile); err != nil {
			return nil, err
		}
		s.auth = true
	}
	for _, o := range opt.AllowedOrigins {
		s.origins[normalizeOrigin(o)] = true
	}

	s.ids = NewIDManager(store, IDOptions{
		TTL:           opt.SessionTTL,
		TouchRequests: opt.TouchRequests,
		TouchInterval: opt.TouchInterval,
		FlushInterval: opt.FlushInterval,
		Now:           opt.Now,
		Logger:        s.log,
		OnExpire:      s.reclaim,
	})
	if h := mcpSrv.GetHooks(); h != nil {
		s.ids.Hooks(h)
	} else {
		s.log.Warn("MCP server built without server.WithHooks: client names and protocol versions of MCP sessions are not recorded")
	}
	httpOpts := []server.StreamableHTTPOption{
		server.WithSessionIdManager(s.ids),
		// The Host check lives in this package's guard, for every path.
		server.WithDisableLocalhostProtection(true),
		server.WithStreamableHTTPLogger(s.log),
	}
	if opt.EventStore != nil {
		httpOpts = append(httpOpts, server.WithEventStore(opt.EventStore))
	}
	s.streamable.Store(server.NewStreamableHTTPServer(mcpSrv, httpOpts...))
	s.streams, s.stopStreams = context.WithCancel(context.Background())

	mux := http.NewServeMux()
	mux.HandleFunc(Endpoint, s.serveMCP)
	mux.HandleFunc(HealthEndpoint, serveHealth)
	readHeader := opt.ReadHeaderTimeout
	if readHeader <= 0 {
		readHeader = 10 * time.Second
	}
	s.http = &http.Server{
		Handler:           s.guard(mux),
		ReadHeaderTimeout: readHeader,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Handler returns the HTTP handler Serve serves: the hardening guard in
// front of /mcp and /healthz.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// ListenAndServe listens on Options.Listen and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", s.listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully (at
// most 10s for requests in flight; GET streams end at once) and does the
// final flush of session ids. It also returns when Shutdown or Close is
// called, or when ln fails. It closes ln. Call Close afterwards in any case.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	s.mu.Lock()
	s.addr = ln.Addr()
	s.mu.Unlock()

	served := make(chan struct{})
	var (
		wg      sync.WaitGroup
		stopErr error
	)
	wg.Go(func() {
		select {
		case <-ctx.Done():
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
			defer cancel()
			stopErr = s.Shutdown(sctx)
		case <-served:
		}
	})
	err := s.http.Serve(ln)
	close(served)
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return stopErr
	}
	return errors.Join(fmt.Errorf("serve http: %w", err), stopErr)
}

// URL returns the MCP endpoint's URL: from the address Serve listens on
// once it started, from Options.Listen before. An unspecified host
// (0.0.0.0, ::) is shown as 127.0.0.1.
func (s *Server) URL() string {
	s.mu.Lock()
	hostport := s.listen
	if s.addr != nil {
		hostport = s.addr.String()
	}
	s.mu.Unlock()
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return "http://" + hostport + Endpoint
	}
	if ip, err := netip.ParseAddr(host); host == "" || (err == nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + Endpoint
}

// Shutdown stops the server gracefully: it stops listening, ends the GET
// streams, waits for requests in flight until ctx ends (then closes their
// connections) and does the final flush of session ids. It does not
// terminate any MCP session: mcp-go's own StreamableHTTPServer.Shutdown
// would, so it is never called. Later calls return the first result.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() {
		s.stopStreams()
		var httpErr error
		if err := s.http.Shutdown(ctx); err != nil {
			httpErr = fmt.Errorf("shut down http server: %w", err)
			// best effort: the graceful part failed; close what is left.
			_ = s.http.Close()
		}
		s.closeErr = errors.Join(httpErr, s.ids.Close())
	})
	return s.closeErr
}

// Close stops the server at once: it closes the listener and every
// connection, then does the final flush of session ids. Like Shutdown, it
// terminates no MCP session. Later calls return the first result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.stopStreams()
		var httpErr error
		if err := s.http.Close(); err != nil {
			httpErr = fmt.Errorf("close http server: %w", err)
		}
		s.closeErr = errors.Join(httpErr, s.ids.Close())
	})
	return s.closeErr
}

// reclaim drops mcp-go's per-session state (registered session, log level,
// session tools) of an expired id. mcp-go has no public call for that but
// DELETE, so this sends it one in process; its Terminate on the already
// forgotten id is a no-op.
func (s *Server) reclaim(id string) {
	h := s.streamable.Load()
	if h == nil {
		return
	}
	req, err := http.NewRequestWithContext(context.Background(), http.MethodDelete, Endpoint, nil)
	if err != nil {
		s.log.Warn("reclaim expired mcp session", "err", err)
		return
	}
	req.Header.Set(server.HeaderKeySessionID, id)
	h.ServeHTTP(discardResponse{header: http.Header{}}, req)
}

// discardResponse is the ResponseWriter of reclaim's in-process DELETE.
type discardResponse struct{ header http.Header }

func (d discardResponse) Header() http.Header         { return d.header }
func (d discardResponse) Write(p []byte) (int, error) { return len(p), nil }
func (d discardResponse) WriteHeader(int)             {}
