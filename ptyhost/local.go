// Package ptyhost runs local programs in pseudo-terminals.
//
// Local is the in-process backend: the server process owns the PTY master
// and is the child's parent, so the child dies with the server. The holder
// backend (a detached `console-mcp ptyhost` process per session) keeps the
// child alive across server restarts; both start children the same way
// (startPTY) so a session behaves the same under either.
package ptyhost

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
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"

	"github.com/console-mcp/console-mcp/sessions"
)

// Local starts programs in PTYs owned by the calling process. The zero
// value is ready to use; it is safe for concurrent use.
type Local struct{}

var _ sessions.Backend = (*Local)(nil)

// Start starts req's program in a new PTY of req.Spec's size.
func (l *Local) Start(ctx context.Context, req sessions.StartRequest) (sessions.Process, error) {
	t, err := startPTY(req)
	if err != nil {
		return nil, err
	}
	p := &localProcess{t: t, done: make(chan struct{})}
	go p.reap()
	return p, nil
}

// tty is a started child and the master side of its PTY.
type tty struct {
	cmd  *exec.Cmd
	ptmx *os.File
	raw  syscall.RawConn
}

// startPTY starts the program of req in a new session (setsid) whose
// controlling terminal is a new PTY. The master is switched to
// non-blocking mode so that Close wakes a pending Read and idle sessions
// park no OS thread.
func startPTY(req sessions.StartRequest) (*tty, error) {
	spec := req.Spec
	dir := req.Cwd
	if dir == "" {
		dir = spec.Cwd
	}
	if dir != "" {
		st, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("cwd %q: %w", dir, unwrapPathError(err))
		}
		if !st.IsDir() {
			return nil, fmt.Errorf("cwd %q is not a directory", dir)
		}
	}
	path, err := lookPath(spec.Command, req.Env)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, spec.Args...)
	cmd.Args[0] = spec.Command
	cmd.Dir = dir
	cmd.Env = req.Env
	cols, rows := spec.Cols, spec.Rows
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(cols), Rows: uint16(rows)})
	if err != nil {
		return nil, fmt.Errorf("start %q in a pty: %w", spec.Command, err)
	}
	raw, err := ptmx.SyscallConn()
	if err == nil {
		err = raw.Control(func(fd uintptr) { err = syscall.SetNonblock(int(fd), true) })
	}
	if err != nil {
		_ = ptmx.Close()          // best effort: the child gets SIGHUP
		_ = cmd.Process.Kill()    // best effort
		_, _ = cmd.Process.Wait() // reap
		return nil, fmt.Errorf("set pty non-blocking: %w", err)
	}
	return &tty{cmd: cmd, ptmx: ptmx, raw: raw}, nil
}

// lookPath finds program in the PATH of env (the child's), not the server's.
func lookPath(program string, env []string) (string, error) {
	if program == "" {
		return "", errors.New("command is empty")
	}
	if strings.Contains(program, "/") {
		st, err := os.Stat(program)
		if err != nil {
			return "", fmt.Errorf("program %q: %w", program, unwrapPathError(err))
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return "", fmt.Errorf("program %q is not an executable file", program)
		}
		return program, nil
	}
	pathEnv := os.Getenv("PATH")
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			pathEnv = v
		}
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, program)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("program %q not found in PATH (%s)", program, pathEnv)
}

func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// read reads the master (rawFD: no sysmon wake-up on the round trip).
func (t *tty) read(p []byte) (int, error) {
	n, err := rawFD{t.raw}.Read(p)
	if err == nil {
		return n, nil
	}
	// After the child and every holder of the slave side are gone the
	// master reads EIO: that is the end of output. An error that is not
	// a system call's comes from the poller: the master was closed.
	var serr *os.SyscallError
	if errors.Is(err, syscall.EIO) || errors.Is(err, io.EOF) || !errors.As(err, &serr) {
		return 0, io.EOF
	}
	return 0, err
}

// write types p into the master.
func (t *tty) write(p []byte) (int, error) { return rawFD{t.raw}.Write(p) }

func (t *tty) resize(cols, rows int) error {
	var err error
	cerr := t.raw.Control(func(fd uintptr) {
		err = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Row: uint16(rows), Col: uint16(cols)})
	})
	if cerr != nil {
		return fmt.Errorf("resize pty: %w", cerr)
	}
	if err != nil {
		return fmt.Errorf("resize pty: %w", err)
	}
	return nil
}

// signal delivers sig to the child's process group and to the terminal's
// foreground process group (a job the shell started).
func (t *tty) signal(sig syscall.Signal) error {
	pid := t.cmd.Process.Pid
	var fg int
	_ = t.raw.Control(func(fd uintptr) { // best effort: fg stays 0 on error
		fg, _ = unix.IoctlGetInt(int(fd), unix.TIOCGPGRP)
	})
	if fg > 0 && fg != pid {
		_ = syscall.Kill(-fg, sig) // best effort: the job may have just ended
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal %v to process group %d: %w", sig, pid, err)
	}
	return nil
}

// wait reaps the child once and converts its status.
func (t *tty) wait() sessions.Exit {
	err := waitCmd(t.cmd)
	return exitOf(t.cmd.ProcessState, err)
}

func exitOf(ps *os.ProcessState, err error) sessions.Exit {
	if ps == nil {
		return sessions.Exit{Code: -1}
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return sessions.Exit{Code: 128 + int(ws.Signal()), Signal: signalName(ws.Signal())}
	}
	return sessions.Exit{Code: ps.ExitCode()}
}

func signalName(s syscall.Signal) string {
	if n := unix.SignalName(s); n != "" {
		return n
	}
	return fmt.Sprintf("signal %d", int(s))
}

// localProcess is a child of this process in a PTY.
type localProcess struct {
	t    *tty
	done chan struct{} // closed once the child is reaped
	exit sessions.Exit

	closeOnce sync.Once
}

func (p *localProcess) reap() {
	p.exit = p.t.wait()
	close(p.done)
}

func (p *localProcess) Read(b []byte) (int, error)  { return p.t.read(b) }
func (p *localProcess) Write(b []byte) (int, error) { return p.t.write(b) }
func (p *localProcess) Resize(cols, rows int) error { return p.t.resize(cols, rows) }
func (p *localProcess) Pid() int                    { return p.t.cmd.Process.Pid }
func (p *localProcess) Cwd() string                 { return processCwd(p.Pid()) }

func (p *localProcess) Signal(sig syscall.Signal) error {
	select {
	case <-p.done:
		return nil
	default:
	}
	return p.t.signal(sig)
}

func (p *localProcess) Wait() (sessions.Exit, error) {
	<-p.done
	return p.exit, nil
}

// closeGrace is how long Close waits for a hung-up child before SIGKILL.
const closeGrace = 2 * time.Second

// Close hangs up the terminal (the child gets SIGHUP), waits a moment for
// the child to exit and kills its process group if it does not.
func (p *localProcess) Close() error {
	p.closeOnce.Do(func() {
		_ = p.t.ptmx.Close() // best effort: the only error is "already closed"
		select {
		case <-p.done:
		case <-time.After(closeGrace):
			_ = syscall.Kill(-p.Pid(), syscall.SIGKILL) // best effort: escalation
			<-p.done
		}
	})
	return nil
}

// ShellIdle reports whether the child itself is the terminal's foreground
// process group, i.e. a shell at its prompt with no job running.
func (p *localProcess) ShellIdle() bool { return p.t.foregroundIsChild() }

func (t *tty) foregroundIsChild() bool {
	fg := -1
	_ = t.raw.Control(func(fd uintptr) { // best effort: -1 means unknown
		fg, _ = unix.IoctlGetInt(int(fd), unix.TIOCGPGRP)
	})
	return fg == t.cmd.Process.Pid
}
