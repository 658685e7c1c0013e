package sshhost_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/agent"

	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/sshhost"
	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

// Test secrets: they must never show up in logs or errors.
const (
	testPassword   = "pw-Vq9!zK2#secret"
	testPassphrase = "pp-7Hx$wL0&secret"
)

// fixture is a Backend whose environment is a map and whose logs are kept,
// with a fresh HOME and known_hosts file.
type fixture struct {
	home  string
	known string
	env   map[string]string
	logs  *syncBuffer
	b     *sshhost.Backend
}

func newFixture(t *testing.T, opt sshhost.Options) *fixture {
	t.Helper()
	f := &fixture{home: t.TempDir(), env: map[string]string{}, logs: &syncBuffer{}}
	f.known = filepath.Join(f.home, "known_hosts")
	f.env["HOME"] = f.home
	f.env["TEST_PASSWORD"] = testPassword
	f.env["TEST_PASSPHRASE"] = testPassphrase
	if opt.ConfigFile == "" {
		opt.ConfigFile = "none"
	}
	if opt.KnownHostsFile == "" {
		opt.KnownHostsFile = f.known
	}
	opt.Getenv = func(k string) string { return f.env[k] }
	opt.Logger = slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.b = sshhost.New(opt)
	t.Cleanup(func() {
		for _, secret := range []string{testPassword, testPassphrase} {
			if strings.Contains(f.logs.String(), secret) {
				t.Errorf("a secret reached the log:\n%s", f.logs.String())
			}
		}
	})
	return f
}

// start starts a session and fails the test on error.
func (f *fixture) start(t *testing.T, spec sessions.Spec, cwd string, env ...string) *term {
	t.Helper()
	p, err := f.try(spec, cwd, env...)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	return newTerm(t, p)
}

// try starts a session and returns Start's result; errors are checked for
// secrets.
func (f *fixture) try(spec sessions.Spec, cwd string, env ...string) (sessions.Process, error) {
	spec.Kind = sessions.KindSSH
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := f.b.Start(ctx, sessions.StartRequest{ID: "s-test", Generation: 1, Spec: spec, Cwd: cwd, Env: env})
	if err != nil {
		for _, secret := range []string{testPassword, testPassphrase} {
			if strings.Contains(err.Error(), secret) {
				panic("a secret reached an error: " + err.Error())
			}
		}
	}
	return p, err
}

// sshSpec is a spec for srv with its known_hosts line written.
func (f *fixture) sshSpec(t *testing.T, srv *sshtest.Server, user string) *sessions.SSHSpec {
	t.Helper()
	srv.WriteKnownHosts(t, f.known)
	return &sessions.SSHSpec{Host: "127.0.0.1", Port: srv.Port(), User: user}
}

// term reads a Process's output in the background so that tests can wait
// for text to appear.
type term struct {
	p    sessions.Process
	mu   sync.Mutex
	out  bytes.Buffer
	seen int // expect has matched output before this offset
	err  error
	more chan struct{} // signalled on every read
	done chan struct{} // closed when Read returned an error
}

func newTerm(t *testing.T, p sessions.Process) *term {
	tm := &term{p: p, more: make(chan struct{}, 1), done: make(chan struct{})}
	go func() { // ends when Read fails; waited for in the cleanup
		defer close(tm.done)
		buf := make([]byte, 32<<10)
		for {
			n, err := p.Read(buf)
			tm.mu.Lock()
			tm.out.Write(buf[:n])
			if err != nil {
				tm.err = err
			}
			tm.mu.Unlock()
			select {
			case tm.more <- struct{}{}:
			default:
			}
			if err != nil {
				return
			}
		}
	}()
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		<-tm.done
	})
	return tm
}

func (tm *term) output() string {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.out.String()
}

// expect waits until output after the previous match matches re and
// returns the match. The bound only turns a hang into a failure.
func (tm *term) expect(t *testing.T, re string) string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.NewTimer(20 * time.Second)
	defer deadline.Stop()
	for {
		tm.mu.Lock()
		s := tm.out.String()[tm.seen:]
		if loc := rx.FindStringIndex(s); loc != nil {
			tm.seen += loc[1]
			tm.mu.Unlock()
			return s[loc[0]:loc[1]]
		}
		tm.mu.Unlock()
		select {
		case <-tm.more:
		case <-tm.done:
			// Read ended: one last look happens on the next loop, then give up.
			if !rx.MatchString(tm.output()[tm.seen:]) {
				t.Fatalf("output ended (%v) without %q; output:\n%s", tm.readErr(), re, tm.output())
			}
		case <-deadline.C:
			t.Fatalf("no %q within 20s; output:\n%s", re, tm.output())
		}
	}
}

func (tm *term) readErr() error {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	return tm.err
}

// typ types s into the terminal.
func (tm *term) typ(t *testing.T, s string) {
	t.Helper()
	if _, err := tm.p.Write([]byte(s)); err != nil {
		t.Fatalf("Write: %v", err)
	}
}

// wait waits for the program's end; the bound only turns a hang into a
// failure.
func (tm *term) wait(t *testing.T) (sessions.Exit, error) {
	t.Helper()
	type result struct {
		exit sessions.Exit
		err  error
	}
	ch := make(chan result, 1)
	go func() { e, err := tm.p.Wait(); ch <- result{e, err} }()
	select {
	case r := <-ch:
		return r.exit, r.err
	case <-time.After(30 * time.Second):
		t.Fatalf("Wait did not return within 30s; output:\n%s", tm.output())
		return sessions.Exit{}, nil
	}
}

// readAll waits for Read to end and returns the output.
func (tm *term) readAll(t *testing.T) string {
	t.Helper()
	select {
	case <-tm.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("output did not end within 30s; output:\n%s", tm.output())
	}
	if err := tm.readErr(); err != io.EOF {
		t.Errorf("Read ended with %v, want io.EOF", err)
	}
	return tm.output()
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serveAgent serves keyring on a unix socket in a temporary directory and
// returns its path.
func serveAgent(t *testing.T, keyring agent.Agent) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatalf("listen agent socket: %v", err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_ = agent.ServeAgent(keyring, c) // ends when the client hangs up
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return sock
}

// noLeaks fails if a goroutine of this package's processes is still
// running: Close must have waited for all of them.
func noLeaks(t *testing.T) {
	t.Helper()
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "sshhost.(*process)") || strings.Contains(g, "sshhost.keepalive") {
			t.Errorf("goroutine left running after Close:\n%s", g)
		}
	}
}
