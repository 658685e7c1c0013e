package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/console-mcp/console-mcp/ptyhost"
	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/tools"
)

// serverFlags are the flags of both transports.
type serverFlags struct {
	logLevel    string
	maxSessions int
}

func (f *serverFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.logLevel, "log-level", "info", "log level on stderr: debug, info, warn, error")
	fs.IntVar(&f.maxSessions, "max-sessions", 64, "most live sessions at once")
}

// stack is the running product behind a transport.
type stack struct {
	log *slog.Logger
	mgr *sessions.Manager
	mcp *server.MCPServer
}

func openStack(f serverFlags, stderr io.Writer) (*stack, error) {
	logger, err := newLogger(stderr, f.logLevel)
	if err != nil {
		return nil, err
	}
	if f.maxSessions < 1 {
		return nil, usageError{fmt.Errorf("--max-sessions %d: use a positive number", f.maxSessions)}
	}
	mgr := sessions.NewManager(map[sessions.Kind]sessions.Backend{
		sessions.KindLocal: &ptyhost.Local{},
	}, nil, sessions.Options{MaxLive: f.maxSessions, Logger: logger})
	return &stack{
		log: logger,
		mgr: mgr,
		mcp: tools.NewServer(mgr, tools.Options{Version: version, Logger: logger}),
	}, nil
}

// Close detaches from the sessions and flushes what is pending.
func (s *stack) Close() error {
	return s.mgr.Close()
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
}

func runStdio(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	var f serverFlags
	fs := newFlagSet("console-mcp", "console-mcp [flags]   (MCP over stdio; see 'console-mcp help' for commands)", stderr)
	f.register(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}
	st, err := openStack(f, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := signalContext()
	defer cancel()
	srv := server.NewStdioServer(st.mcp)
	srv.SetErrorLogger(log.New(stderr, "mcp: ", 0))
	st.log.Info("serving MCP over stdio", "version", version)
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

func runServe(args []string, stderr io.Writer) error {
	var f serverFlags
	fs := newFlagSet("serve", "console-mcp serve [flags]", stderr)
	f.register(fs)
	listen := fs.String("listen", "127.0.0.1:8722", "address to serve HTTP on (loopback unless --auth-token-file)")
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := openStack(f, stderr)
	if err != nil {
		return err
	}
	defer st.Close()
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *listen, err)
	}
	h := server.NewStreamableHTTPServer(st.mcp)
	mux := http.NewServeMux()
	mux.Handle("/mcp", originGuard(h))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, cancel := signalContext()
	defer cancel()
	url := "http://" + ln.Addr().String() + "/mcp"
	fmt.Fprintf(stderr, "console-mcp %s serving MCP at %s\n", version, url)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	return hs.Shutdown(sctx)
}

func originGuard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" {
			u, err := url.Parse(o)
			if err != nil || (u.Hostname() != "localhost" && u.Hostname() != "127.0.0.1" && u.Hostname() != "::1") {
				http.Error(w, "forbidden origin", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func runSessions(args []string, stdout, stderr io.Writer) error {
	return errors.New("sessions: needs the state dir")
}
func runLogs(args []string, stdout, stderr io.Writer) error {
	return errors.New("logs: needs the state dir")
}
func runExport(args []string, stdout, stderr io.Writer) error {
	return errors.New("export: needs the state dir")
}
func runAttach(args []string, stderr io.Writer) error { return errors.New("attach: needs holders") }
func runPtyhost(args []string) int                    { fmt.Fprintln(os.Stderr, "ptyhost: not yet"); return 2 }
