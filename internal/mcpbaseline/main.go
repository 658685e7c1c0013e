// Command mcpbaseline is the yardstick of console-mcp's benchmarks: an
// mcp-go server with nothing behind its tools, so that a benchmark can
// measure, in the same run, what the transport and mcp-go alone cost and
// report console-mcp's figures as a ratio to it.
//
// It serves MCP over stdio by default, or streamable HTTP at /mcp with
// -http ADDR (the URL goes to stderr); -cpuprofile FILE profiles the run
// (written when stdin closes or on SIGINT/SIGTERM). Its tools:
//
//   - noop: returns a tiny structured result, as a console tool does.
//   - bytes: returns n bytes of text from memory, in the result shape named
//     by shape (see bytesIn).
//
// It is built by cmd/console-mcp's TestMain; it is not part of the product.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/server"
)

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "mcpbaseline:", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mcpbaseline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("http", "", "serve streamable HTTP at this address (e.g. 127.0.0.1:0) instead of stdio")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return fmt.Errorf("create cpu profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("start cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	s := newServer()
	if *addr == "" {
		err := server.NewStdioServer(s).Listen(ctx, stdin, stdout)
		if err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
			return fmt.Errorf("serve stdio: %w", err)
		}
		return nil
	}
	return serveHTTP(ctx, s, *addr, stderr)
}

// serveHTTP serves s at http://addr/mcp until ctx ends.
func serveHTTP(ctx context.Context, s *server.MCPServer, addr string, stderr io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(s))
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "mcpbaseline serving MCP at http://%s/mcp\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer scancel()
	if err := hs.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	<-errc // Serve returns ErrServerClosed once Shutdown began
	return nil
}
