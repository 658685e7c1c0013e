package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"golang.org/x/term"

	"github.com/console-mcp/console-mcp/mcphttp"
	"github.com/console-mcp/console-mcp/persist"
	"github.com/console-mcp/console-mcp/ptyhost"
	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/sshhost"
	"github.com/console-mcp/console-mcp/tools"
)

// stateFlags locate the state dir; every command that reads it has them.
type stateFlags struct {
	stateDir string
	logLevel string
}

func (f *stateFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.stateDir, "state-dir", "", "state directory (database, holder sockets); default $CONSOLE_MCP_STATE_DIR, else $XDG_STATE_HOME/console-mcp, else ~/.local/state/console-mcp")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level on stderr: debug, info, warn, error")
}

func (f *stateFlags) dir() (string, error) {
	if f.stateDir != "" {
		return filepath.Abs(f.stateDir)
	}
	return persist.DefaultStateDir()
}

// serverFlags are the flags of both transports.
type serverFlags struct {
	stateFlags
	maxSessions      int
	noHolder         bool
	allowInsecureSSH bool
	scopeSessions    bool
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	f.stateFlags.register(fs)
	fs.IntVar(&f.maxSessions, "max-sessions", 64, "most live sessions at once")
	fs.BoolVar(&f.noHolder, "no-holder", false, "run local programs inside the server process: they end when the server ends (no reattach after a restart)")
	fs.BoolVar(&f.allowInsecureSSH, "allow-insecure-ssh", false, "allow SSH sessions with known_hosts=insecure (no host key check)")
	fs.BoolVar(&f.scopeSessions, "scope-sessions", false, "an MCP session sees only the console sessions it created (default: all are shared)")
}

// stack is the running product behind a transport.
type stack struct {
	log      *slog.Logger
	stateDir string
	store    *persist.Store
	mgr      *sessions.Manager
	mcp      *server.MCPServer
}

func newOwnerID() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return "o-" + hex.EncodeToString(b[:])
}

// openStack opens the store, builds the backends and the manager, takes
// the owner lease and recovers the sessions of earlier runs.
func openStack(ctx context.Context, f serverFlags, stderr io.Writer) (*stack, error) {
	ptyhost.CloseInheritedOnExec()
	logger, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return nil, err
	}
	if f.maxSessions < 1 {
		return nil, usageError{fmt.Errorf("--max-sessions %d: use a positive number", f.maxSessions)}
	}
	dir, err := f.dir()
	if err != nil {
		return nil, err
	}
	store, err := persist.Open(dir, persist.Options{}, logger)
	if err != nil {
		return nil, err
	}
	var local sessions.Backend = &ptyhost.Local{}
	if !f.noHolder {
		exe, err := os.Executable()
		if err != nil {
			store.Close()
			return nil, fmt.Errorf("find own executable for the holders: %w", err)
		}
		image, why, warn := ptyhost.FindHolderImage(ctx, exe)
		if warn {
			logger.Warn("holder binary", "detail", why)
		} else {
			logger.Info("holder binary", "detail", why)
		}
		local, err = ptyhost.NewHolders(ptyhost.HolderOptions{
			RunDir: filepath.Join(dir, "run"), Exe: image, Argv0: exe, Args: []string{"ptyhost"}, Logger: logger,
		})
		if err != nil {
			store.Close()
			return nil, err
		}
	}
	backends := map[sessions.Kind]sessions.Backend{
		sessions.KindLocal: local,
		sessions.KindSSH:   sshhost.New(sshhost.Options{AllowInsecure: f.allowInsecureSSH, Logger: logger}),
	}
	mgr := sessions.NewManager(backends, store, sessions.Options{
		MaxLive: f.maxSessions, Owner: newOwnerID(), Logger: logger, Echoes: ptyhost.TTYEchoes,
	})
	st := &stack{log: logger, stateDir: dir, store: store, mgr: mgr}
	host, _ := os.Hostname() // best effort: "" still scopes the lease to this machine's pids
	if err := mgr.StartLease(host); err != nil {
		st.Close()
		return nil, err
	}
	started := time.Now()
	if err := mgr.RecoverAll(ctx); err != nil {
		st.Close()
		return nil, err
	}
	if infos, err := mgr.List(false); err == nil && len(infos) > 0 {
		logger.Info("sessions ready", "live", len(infos), "took", time.Since(started).Round(time.Millisecond))
	}
	st.mcp = tools.NewServer(mgr, tools.Options{Version: version, Logger: logger, ScopeSessions: f.scopeSessions},
		server.WithHooks(&server.Hooks{}))
	return st, nil
}

// Close detaches from the sessions (they keep running in their holders),
// flushes and closes the store.
func (s *stack) Close() error {
	err := s.mgr.Close()
	if cerr := s.store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("close store: %w", cerr))
	}
	return err
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func runStdio(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var f serverFlags
	fs := newFlagSet("console-mcp", "console-mcp [flags]", stderr)
	f.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage, "\nFlags of the stdio server (serve takes them too):\n")
		fs.PrintDefaults()
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	if in, ok := stdin.(*os.File); ok && term.IsTerminal(int(in.Fd())) {
		fmt.Fprint(stderr, "console-mcp speaks MCP on stdin/stdout: configure it in your MCP client (see README),\n"+
			"or run 'console-mcp serve' for HTTP. Waiting for an MCP client on stdin; Ctrl-C quits.\n")
	}
	ctx, cancel := signalContext()
	defer cancel()
	st, err := openStack(ctx, f, stderr)
	if err != nil {
		return err
	}
	srv := server.NewStdioServer(st.mcp)
	srv.SetErrorLogger(log.New(stderr, "mcp: ", 0))
	st.log.Info("serving MCP over stdio", "version", version, "state_dir", st.stateDir)
	err = srv.Listen(ctx, stdin, stdout)
	if cerr := st.Close(); cerr != nil {
		st.log.Error("shutdown", "err", cerr)
	}
	if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
		return fmt.Errorf("serve stdio: %w", err)
	}
	st.log.Info("stopped")
	return nil
}

// multiFlag is a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return fmt.Sprint(*m) }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runServe(args []string, stderr io.Writer) error {
	var f serverFlags
	fs := newFlagSet("serve", "console-mcp serve [flags]", stderr)
	f.register(fs)
	listen := fs.String("listen", mcphttp.DefaultListen, "address to serve HTTP on; a non-loopback address requires --auth-token-file")
	tokenFile := fs.String("auth-token-file", "", "file holding the bearer token clients must send (mode 0600)")
	var origins multiFlag
	fs.Var(&origins, "allowed-origin", "an Origin allowed besides loopback ones (repeatable), e.g. https://app.example")
	ttl := fs.Duration("session-ttl", 24*time.Hour, "how long an idle MCP session id stays valid")
	if err := parse(fs, args); err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	st, err := openStack(ctx, f, stderr)
	if err != nil {
		return err
	}
	defer func() {
		if err := st.Close(); err != nil {
			st.log.Error("shutdown", "err", err)
		}
	}()
	hs, err := mcphttp.New(st.mcp, httpStore{st.store}, mcphttp.Options{
		Listen: *listen, AuthTokenFile: *tokenFile, AllowedOrigins: origins, SessionTTL: *ttl, Logger: st.log,
	})
	if err != nil {
		return usageError{err}
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ctx, ln) }()
	url := "http://" + ln.Addr().String() + mcphttp.Endpoint
	fmt.Fprintf(stderr, "console-mcp %s serving MCP at %s (state %s)\n", version, url, st.stateDir)
	fmt.Fprintf(stderr, "Add it to an MCP client:\n  claude mcp add --transport http console %s\n  {\"mcpServers\": {\"console\": {\"type\": \"http\", \"url\": \"%s\"}}}\n", url, url)
	err = <-errc // Serve shuts down gracefully when ctx ends
	if cerr := hs.Close(); cerr != nil && err == nil {
		err = cerr
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("serve http: %w", err)
	}
	st.log.Info("stopped")
	return nil
}

// httpStore adapts the SQLite store to mcphttp's SessionStore.
type httpStore struct{ s *persist.Store }

func (h httpStore) LoadMCPSession(id string) (mcphttp.SessionRecord, bool, error) {
	r, ok, err := h.s.LoadMCPSession(id)
	return mcphttp.SessionRecord(r), ok, err
}

func (h httpStore) SaveMCPSessions(recs []mcphttp.SessionRecord) error {
	out := make([]persist.MCPSession, len(recs))
	for i, r := range recs {
		out[i] = persist.MCPSession(r)
	}
	return h.s.SaveMCPSessions(out)
}

func (h httpStore) DeleteMCPSessionsBefore(t time.Time) (int64, error) {
	return h.s.DeleteMCPSessionsBefore(t)
}

func runPtyhost(args []string) int { return ptyhost.Main(args) }
