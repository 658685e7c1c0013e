package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// runner owns everything a run starts: the work dir, the built binaries,
// the servers shared by sections, sshd and the rows measured so far.
// Its methods run on one goroutine; sections start their own goroutines
// and wait for them.
type runner struct {
	ctx     context.Context
	cfg     config
	log     io.Writer
	modRoot string
	root    string // work dir: binaries, state dirs, homes; every holder's argv contains it
	home    string // HOME of the servers: .bashrc sets PS1='$ '
	bin     string // console-mcp, with console-mcp-ptyhost beside it
	alone   string // the same console-mcp alone in a directory: its holders run from it
	base    string // mcpbaseline

	rows []Row
	errs []error

	shared   map[string]*server // servers shared by sections, by role
	shells   map[string]string  // a warm shell session per shared server role
	ssh      *openSSH           // nil until asked for; sshErr says why it is missing
	sshErr   error
	sshTried bool
	fleet    *fleet // sessions of the create section, reused by restart
	closers  []func() error
}

func newRunner(ctx context.Context, cfg config, log io.Writer) (*runner, error) {
	mod, err := moduleRoot(ctx)
	if err != nil {
		return nil, err
	}
	root, err := os.MkdirTemp("", "console-mcp-bench-")
	if err != nil {
		return nil, fmt.Errorf("create work dir: %w", err)
	}
	// Unix socket paths are short (108 bytes): keep the root's path short.
	root, _ = filepath.EvalSymlinks(root) // best effort: a symlinked TMPDIR still works unresolved
	home := filepath.Join(root, "home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("create home: %w", err)
	}
	if err := os.WriteFile(filepath.Join(home, ".bashrc"), []byte("PS1='$ '\n"), 0o600); err != nil {
		os.RemoveAll(root)
		return nil, fmt.Errorf("write .bashrc: %w", err)
	}
	return &runner{ctx: ctx, cfg: cfg, log: log, modRoot: mod, root: root, home: home,
		shared: map[string]*server{}, shells: map[string]string{}}, nil
}

func (r *runner) logf(format string, args ...any) {
	fmt.Fprintf(r.log, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func (r *runner) add(row Row) {
	r.rows = append(r.rows, row)
	r.logf("  %s: %s %s (baseline %s, ratio %s, holds %s)", row.Figure, num(row.Value), row.Unit, num(row.Baseline), num(row.Ratio), row.Holds)
}

// onClose registers fn to run at Close, last registered first.
func (r *runner) onClose(fn func() error) { r.closers = append(r.closers, fn) }

// moduleRoot is the directory of the console-mcp module containing the
// working directory.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("run go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("run it from inside the console-mcp module (go run ./cmd/console-mcp-bench)")
	}
	data, err := os.ReadFile(gomod)
	if err != nil {
		return "", fmt.Errorf("read go.mod: %w", err)
	}
	if !strings.Contains(string(data), "module github.com/console-mcp/console-mcp\n") {
		return "", fmt.Errorf("%s is not the console-mcp module", gomod)
	}
	return filepath.Dir(gomod), nil
}

// build builds the server, its holder binary and the baseline into the
// work dir, and puts a link to the server alone in a directory of its own.
func (r *runner) build() error {
	dir := filepath.Join(r.root, "bin")
	r.bin, r.base = filepath.Join(dir, "console-mcp"), filepath.Join(dir, "mcpbaseline")
	r.alone = filepath.Join(r.root, "alone", "console-mcp")
	args := []string{"build"}
	if r.cfg.race {
		args = append(args, "-race")
	}
	for _, b := range []struct{ out, pkg string }{
		{r.bin, "./cmd/console-mcp"},
		{filepath.Join(dir, "console-mcp-ptyhost"), "./cmd/console-mcp-ptyhost"},
		{r.base, "./internal/mcpbaseline"},
	} {
		t0 := time.Now()
		cmd := exec.CommandContext(r.ctx, "go", append(args, "-o", b.out, b.pkg)...)
		cmd.Dir = r.modRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %w\n%s", b.pkg, err, out)
		}
		r.logf("built %s in %s", b.pkg, time.Since(t0).Round(time.Millisecond))
	}
	if err := os.MkdirAll(filepath.Dir(r.alone), 0o755); err != nil {
		return err
	}
	return os.Link(r.bin, r.alone) // the same file system: the work dir
}

// section is one group of rows.
type section struct {
	name string
	run  func() error
}

func (r *runner) runSections() {
	all := []section{
		{"execute", r.benchExecute},
		{"tmux", r.benchTmux},
		{"capture", r.benchCapture},
		{"readback", r.benchReadBack},
		{"create", r.benchCreate},
		{"restart", r.benchRestart},
		{"rss", r.benchRSS},
		{"http", r.benchHTTP},
		{"validate", r.benchValidate},
		{"persist", r.benchPersist},
	}
	for _, s := range all {
		if !r.cfg.wants(s.name) {
			continue
		}
		if err := r.ctx.Err(); err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: not run: %w", s.name, context.Cause(r.ctx)))
			continue
		}
		t0 := time.Now()
		r.logf("== %s", s.name)
		if err := s.run(); err != nil {
			r.errs = append(r.errs, fmt.Errorf("%s: %w", s.name, err))
			r.logf("== %s failed after %s: %v", s.name, time.Since(t0).Round(time.Millisecond), err)
			continue
		}
		r.logf("== %s done in %s", s.name, time.Since(t0).Round(time.Millisecond))
	}
}

// Close stops everything the run started, last started first, makes sure
// no holder process of the run remains, and removes the work dir. It is
// safe to call after the run's context was cancelled.
func (r *runner) Close() error {
	var errs []error
	if r.fleet != nil {
		errs = append(errs, r.fleet.srv.Close())
	}
	for i := len(r.closers) - 1; i >= 0; i-- {
		if err := r.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	r.closers = nil
	if n, err := killHolders(r.root); err != nil {
		errs = append(errs, err)
	} else if n > 0 {
		r.logf("clean up: killed %d holder processes", n)
	}
	if err := os.RemoveAll(r.root); err != nil {
		errs = append(errs, fmt.Errorf("remove work dir: %w", err))
	}
	return errors.Join(errs...)
}

// sharedServer returns the server of a role, started on first use and
// stopped at Close: stdio and stdio-noholder (console-mcp over stdio),
// http (console-mcp serve), baseline-stdio and baseline-http.
func (r *runner) sharedServer(role string) (*server, error) {
	if s := r.shared[role]; s != nil {
		return s, nil
	}
	var s *server
	var err error
	switch role {
	case "stdio":
		s, err = r.startConsole(role, r.stateDir(role))
	case "stdio-noholder":
		s, err = r.startConsole(role, r.stateDir(role), "--no-holder")
	case "http":
		s, err = r.startConsoleHTTP(role, r.stateDir(role))
	case "baseline-stdio":
		s, err = r.startBaseline()
	case "baseline-http":
		s, err = r.startBaselineHTTP()
	default:
		return nil, fmt.Errorf("no server role %q", role)
	}
	if err != nil {
		return nil, err
	}
	r.shared[role] = s
	r.onClose(s.Close)
	return s, nil
}

// warmShell returns a bash session of a shared console server that has
// run a command already.
func (r *runner) warmShell(role string) (*server, string, error) {
	s, err := r.sharedServer(role)
	if err != nil {
		return nil, "", err
	}
	if id := r.shells[role]; id != "" {
		return s, id, nil
	}
	id, err := createShell(r.ctx, s.c)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", role, err)
	}
	r.shells[role] = id
	return s, id, nil
}

// stateDir returns a fresh state dir for a server of the run.
func (r *runner) stateDir(name string) string {
	for i := 0; ; i++ {
		d := filepath.Join(r.root, "state-"+name)
		if i > 0 {
			d = fmt.Sprintf("%s-%d", d, i)
		}
		if _, err := os.Stat(d); errors.Is(err, os.ErrNotExist) {
			return d
		}
	}
}

// sshTarget starts sshd on first use; it returns nil and the reason when
// OpenSSH is not installed or does not start.
func (r *runner) sshTarget() (*openSSH, error) {
	if !r.sshTried {
		r.sshTried = true
		r.ssh, r.sshErr = startOpenSSH(filepath.Join(r.root, "sshd"))
		if r.ssh != nil {
			r.onClose(func() error { r.ssh.Close(); return nil })
		}
	}
	return r.ssh, r.sshErr
}

// sshShell creates an SSH session to the loopback sshd in a console
// server and runs a command in it.
func (r *runner) sshShell(s *server) (string, error) {
	o, err := r.sshTarget()
	if err != nil {
		return "", err
	}
	res, err := call(r.ctx, s.c, "console_create_session", map[string]any{"ssh": map[string]any{
		"host": "127.0.0.1", "port": o.Port(), "user": o.User(), "identity_file": o.KeyFile(),
		"known_hosts_file": o.KnownHostsFile(),
	}})
	if err != nil {
		return "", err
	}
	id := res.str("session_id")
	if err := execTrue(r.ctx, s.c, id); err != nil {
		return "", fmt.Errorf("ssh session: %w", err)
	}
	return id, nil
}

// parallel runs fn(i) for i in [0, n) on workers goroutines and waits; it
// returns the first three errors joined, and how many more there were.
func parallel(n, workers int, fn func(i int) error) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan int)
	)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := fn(i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if len(errs) > 3 {
		errs = append(errs[:3], fmt.Errorf("and %d more errors", len(errs)-3))
	}
	return errors.Join(errs...)
}
