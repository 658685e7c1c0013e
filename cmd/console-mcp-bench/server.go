package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// server is a running server process of the run (console-mcp or the
// baseline) and an initialized mcp-go client of it. Close stops the
// client, the process and, for console-mcp, its sessions and holders.
type server struct {
	name     string
	c        *client.Client
	proto    string // the negotiated protocol version
	cmd      *exec.Cmd
	stateDir string // console-mcp only
	url      string // HTTP only: the MCP endpoint
	stderr   *tail
	exited   chan struct{} // HTTP only: closed once the process was reaped
	once     sync.Once
	closeErr error
}

// Pid is the server process's id.
func (s *server) Pid() int { return s.cmd.Process.Pid }

// tail keeps the last 64 KiB written to it; safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - 64<<10; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(p), nil
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}

// consoleEnv is the environment of a console-mcp server of the run: its
// own state dir and home, bash as the login shell.
func (r *runner) consoleEnv(stateDir string) []string {
	return []string{
		"CONSOLE_MCP_STATE_DIR=" + stateDir,
		"HOME=" + r.home,
		"SHELL=/bin/bash",
		"LANG=C.UTF-8",
		"XDG_STATE_HOME=" + filepath.Join(r.home, ".state"),
	}
}

// startConsole starts console-mcp over stdio on stateDir.
func (r *runner) startConsole(name, stateDir string, args ...string) (*server, error) {
	return r.startConsoleFrom(r.bin, name, stateDir, args...)
}

// startConsoleFrom is startConsole running the server binary bin.
func (r *runner) startConsoleFrom(bin, name, stateDir string, args ...string) (*server, error) {
	args = append([]string{"--state-dir", stateDir, "--log-level", "warn"}, args...)
	s, err := r.startStdio(name, bin, r.consoleEnv(stateDir), args)
	if err != nil {
		return nil, err
	}
	s.stateDir = stateDir
	return s, nil
}

// startBaseline starts mcpbaseline over stdio.
func (r *runner) startBaseline() (*server, error) {
	return r.startStdio("baseline-stdio", r.base, nil, nil)
}

func (r *runner) startStdio(name, bin string, env, args []string) (*server, error) {
	s := &server{name: name, stderr: &tail{}}
	c, err := client.NewStdioMCPClientWithOptions(bin, env, args, transport.WithCommandFunc(
		func(ctx context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
			s.cmd = exec.CommandContext(ctx, command, args...)
			s.cmd.Env = append(os.Environ(), env...)
			s.cmd.Stderr = s.stderr
			setPdeathsig(s.cmd)
			return s.cmd, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s.c = c
	if s.proto, err = initialize(r.ctx, c); err != nil {
		s.Close()
		return nil, fmt.Errorf("initialize %s: %w\n%s", name, err, s.stderr.String())
	}
	return s, nil
}

// startConsoleHTTP starts `console-mcp serve` on a free loopback port.
func (r *runner) startConsoleHTTP(name, stateDir string, args ...string) (*server, error) {
	args = append([]string{"serve", "--listen", "127.0.0.1:0", "--state-dir", stateDir, "--log-level", "warn"}, args...)
	s, err := r.startHTTP(name, r.bin, r.consoleEnv(stateDir), args)
	if err != nil {
		return nil, err
	}
	s.stateDir = stateDir
	return s, nil
}

// startBaselineHTTP starts mcpbaseline -http on a free loopback port.
func (r *runner) startBaselineHTTP() (*server, error) {
	return r.startHTTP("baseline-http", r.base, nil, []string{"-http", "127.0.0.1:0"})
}

var servingRE = regexp.MustCompile(`serving MCP at (http://\S+)`)

// startHTTP starts an HTTP server process, reads its URL from stderr and
// connects a client.
func (r *runner) startHTTP(name, bin string, env, args []string) (*server, error) {
	s := &server{name: name, stderr: &tail{}, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, args...)
	s.cmd.Env = append(os.Environ(), env...)
	setPdeathsig(s.cmd)
	pipe, err := s.cmd.StderrPipe()
	if err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	urls := make(chan string, 1)
	go func() { // ends when the process exits: Close waits for it through exited
		sc := bufio.NewScanner(pipe)
		for sc.Scan() {
			fmt.Fprintln(s.stderr, sc.Text())
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case urls <- m[1]:
				default:
				}
			}
		}
		_ = s.cmd.Wait() // the exit status of a stopped server is expected
		close(s.exited)
	}()
	select {
	case s.url = <-urls:
	case <-s.exited:
		return nil, fmt.Errorf("%s exited before serving:\n%s", name, s.stderr.String())
	case <-time.After(30 * time.Second):
		s.Close()
		return nil, fmt.Errorf("%s did not print its URL in 30s:\n%s", name, s.stderr.String())
	case <-r.ctx.Done():
		s.Close()
		return nil, context.Cause(r.ctx)
	}
	c, proto, err := r.httpClient(s.url, "")
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s.c, s.proto = c, proto
	return s, nil
}

// httpTransport is shared by every HTTP client of the run so that 200
// concurrent clients keep their connections instead of redialling.
var httpTransport = &http.Transport{
	MaxIdleConns:        1024,
	MaxIdleConnsPerHost: 1024,
	IdleConnTimeout:     time.Minute,
}

// httpClient connects and initializes an mcp-go streamable HTTP client;
// a non-empty protocol pins the version it negotiates.
func (r *runner) httpClient(url, protocol string) (*client.Client, string, error) {
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPBasicClient(&http.Client{Transport: httpTransport}))
	if err != nil {
		return nil, "", fmt.Errorf("http client: %w", err)
	}
	var opts []client.ClientOption
	if protocol != "" {
		opts = append(opts, client.WithProtocolVersion(protocol))
	}
	c := client.NewClient(tr, opts...)
	if err := c.Start(r.ctx); err != nil {
		return nil, "", fmt.Errorf("start http client: %w", err)
	}
	proto, err := initialize(r.ctx, c)
	if err != nil {
		c.Close()
		return nil, "", fmt.Errorf("initialize http client: %w", err)
	}
	return c, proto, nil
}

func initialize(ctx context.Context, c *client.Client) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req := mcp.InitializeRequest{}
	req.Params.ClientInfo = mcp.Implementation{Name: "console-mcp-bench", Version: "1"}
	res, err := c.Initialize(ctx, req)
	if err != nil {
		return "", err
	}
	return res.ProtocolVersion, nil
}

// Kill9 kills the server process as a crash would and waits for it; its
// sessions' holders keep running.
func (s *server) Kill9() error {
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("kill -9 %s: %w", s.name, err)
	}
	s.once.Do(func() {
		_ = s.c.Close() // best effort: the process is gone; this reaps it (stdio)
		if s.exited != nil {
			<-s.exited
		}
	})
	return nil
}

// Close stops a console server's sessions, closes the client, stops the
// process and kills any holder of its state dir that remains. It is
// idempotent and works after the run's context was cancelled.
func (s *server) Close() error {
	s.once.Do(func() {
		var errs []error
		if s.stateDir != "" && s.c != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			if err := stopSessions(ctx, s.c); err != nil {
				errs = append(errs, fmt.Errorf("stop sessions of %s: %w", s.name, err))
			}
			cancel()
		}
		if s.c != nil {
			_ = s.c.Close() // best effort: stdio waits for the process to exit here
		}
		if s.exited != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM) // best effort: it may have exited
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill() // best effort
				<-s.exited
			}
		}
		if s.stateDir != "" {
			if err := ensureNoHolders(filepath.Join(s.stateDir, "run")); err != nil {
				errs = append(errs, err)
			}
		}
		s.closeErr = errors.Join(errs...)
	})
	return s.closeErr
}

// stopSessions kills every live session of a console server.
func stopSessions(ctx context.Context, c *client.Client) error {
	l, err := call(ctx, c, "console_list_sessions", map[string]any{})
	if err != nil {
		return err
	}
	items, _ := l.S["sessions"].([]any)
	return parallel(len(items), 8, func(i int) error {
		m, _ := items[i].(map[string]any)
		_, err := call(ctx, c, "console_stop_session", map[string]any{"session_id": m["session_id"], "signal": "KILL", "grace_ms": 1000})
		return err
	})
}

// ensureNoHolders kills holders whose argv names runDir (there should be
// none once their sessions stopped) and waits until they are gone.
func ensureNoHolders(runDir string) error {
	n, err := killHolders(runDir)
	if err != nil || n == 0 {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if pids, _ := holderPids(runDir); len(pids) == 0 {
			return nil
		}
	}
	pids, _ := holderPids(runDir)
	return fmt.Errorf("holders of %s still running after SIGKILL: %v", runDir, pids)
}

// killHolders SIGKILLs the holder processes (argv: console-mcp ptyhost
// -dir RUNDIR ID) whose argv contains substr; it returns how many.
func killHolders(substr string) (int, error) {
	pids, err := holderPids(substr)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL) // best effort: it may have exited
	}
	return len(pids), err
}

// procPidOf parses a /proc entry name.
func procPidOf(name string) (int, bool) {
	pid, err := strconv.Atoi(name)
	return pid, err == nil && pid > 0
}
