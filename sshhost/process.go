package sshhost

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/console-mcp/console-mcp/sessions"
)

// process is one PTY session on an SSH connection. It owns the connection
// chain, the session, the waiter and the keepalive goroutine.
type process struct {
	label   string
	log     *slog.Logger
	clients chain
	session *ssh.Session
	stdin   io.WriteCloser
	out     *io.PipeReader // stdout and stderr, merged

	done chan struct{} // closed when exit and err are set
	exit sessions.Exit
	err  error

	mu         sync.Mutex // guards closing and dropReason
	closing    bool
	dropReason string

	stopKeepalive chan struct{}
	closeOnce     sync.Once
	wg            sync.WaitGroup
}

var _ sessions.Process = (*process)(nil)

// Read reads the program's output (stderr merged into stdout). It returns
// io.EOF once the channel has closed, and after Close.
func (p *process) Read(b []byte) (int, error) {
	n, err := p.out.Read(b)
	if errors.Is(err, io.ErrClosedPipe) {
		err = io.EOF
	}
	return n, err
}

// Write types b into the remote terminal.
func (p *process) Write(b []byte) (int, error) {
	n, err := p.stdin.Write(b)
	if err != nil {
		return n, fmt.Errorf("write to ssh session: %w", err)
	}
	return n, nil
}

// Resize sends a window-change.
func (p *process) Resize(cols, rows int) error {
	if cols <= 0 || rows <= 0 {
		return fmt.Errorf("resize ssh terminal: size %dx%d is not positive", cols, rows)
	}
	if err := p.session.WindowChange(rows, cols); err != nil {
		return fmt.Errorf("resize ssh terminal: %w", err)
	}
	return nil
}

// Signal sends a signal request. Many servers ignore those (OpenSSH
// delivers them to the session's first process, not to the terminal's
// foreground job), so SIGINT is also typed as Ctrl-C, which the remote
// terminal turns into SIGINT for its foreground process group. Where a
// SIGTERM, SIGHUP or SIGKILL is ignored, Close ends the program: the
// server hangs up its terminal.
func (p *process) Signal(sig syscall.Signal) error {
	name, ok := sshSignalName(sig)
	if !ok {
		return fmt.Errorf("signal ssh session: %v has no SSH name", sig)
	}
	var typed error
	if sig == syscall.SIGINT {
		_, typed = p.stdin.Write([]byte{0x03})
	}
	err := p.session.Signal(ssh.Signal(name))
	if err != nil && (sig != syscall.SIGINT || typed != nil) {
		return fmt.Errorf("signal ssh session with SIG%s: %w", name, err)
	}
	return nil
}

// Wait returns how the program ended: its exit status or the signal that
// killed it, or sessions.ErrDisconnected (wrapped, with the cause) when no
// exit status arrived: the connection was lost (keepalive, reset, EOF) or
// Close came first.
func (p *process) Wait() (sessions.Exit, error) {
	<-p.done
	return p.exit, p.err
}

// Pid is 0: the remote program's pid is not known.
func (p *process) Pid() int { return 0 }

// Cwd is "": the remote directory is not visible from here.
func (p *process) Cwd() string { return "" }

// Close closes the session and the connections, which hangs up the remote
// program, and waits for the process's goroutines. It is idempotent and
// unblocks a pending Read.
func (p *process) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closing = true
		p.mu.Unlock()
		close(p.stopKeepalive)
		_ = p.session.Close() // best effort: the channel may be gone already
		p.clients.close()
		_ = p.out.CloseWithError(io.EOF) // unblocks a copy nobody reads any more
		p.wg.Wait()
	})
	return nil
}

// wait is the goroutine that waits for the session's end. x/crypto's Wait
// returns once the channel is closed and its output was copied into the
// pipe, i.e. read.
func (p *process) wait(pw *io.PipeWriter) {
	defer close(p.done)
	err := p.session.Wait()
	_ = pw.Close() // the reader sees io.EOF after the last output
	p.exit, p.err = exitOf(err)
	if p.err == nil {
		p.log.Debug("ssh: program exited", "host", p.label, "exit", p.exit.String())
		return
	}
	p.mu.Lock()
	closing, reason := p.closing, p.dropReason
	p.mu.Unlock()
	switch {
	case closing:
		p.err = fmt.Errorf("ssh %s: %w: closed before an exit status arrived", p.label, sessions.ErrDisconnected)
	case reason != "":
		p.err = fmt.Errorf("ssh %s: %w: %s", p.label, sessions.ErrDisconnected, reason)
	default:
		p.err = fmt.Errorf("ssh %s: %w: %v", p.label, sessions.ErrDisconnected, p.err)
	}
	p.log.Info("ssh: session ended without an exit status", "host", p.label, "err", p.err)
}

// dropped is keepalive's verdict: the connection is dead. Closing the
// clients ends the session's Wait and a pending Read.
func (p *process) dropped(reason string) {
	p.mu.Lock()
	p.dropReason = reason
	p.mu.Unlock()
	p.log.Warn("ssh: connection lost", "host", p.label, "reason", reason)
	p.clients.close()
}

// exitOf maps x/crypto's Session.Wait result; an error means no exit
// status arrived.
func exitOf(err error) (sessions.Exit, error) {
	var ee *ssh.ExitError
	switch {
	case err == nil:
		return sessions.Exit{Code: 0}, nil
	case errors.As(err, &ee) && ee.Signal() != "":
		return sessions.Exit{Code: 128 + signalNumbers[ee.Signal()], Signal: "SIG" + ee.Signal()}, nil
	case errors.As(err, &ee):
		return sessions.Exit{Code: ee.ExitStatus()}, nil
	default:
		return sessions.Exit{}, err
	}
}

// signalNumbers are the numbers shells use in 128+n exit codes for the
// signal names of RFC 4254 (Linux numbering; the remote is not known).
var signalNumbers = map[string]int{
	"HUP": 1, "INT": 2, "QUIT": 3, "ILL": 4, "ABRT": 6, "FPE": 8, "KILL": 9,
	"USR1": 10, "SEGV": 11, "USR2": 12, "PIPE": 13, "ALRM": 14, "TERM": 15,
}

// sshSignalName is sig's RFC 4254 name ("INT").
func sshSignalName(sig syscall.Signal) (string, bool) {
	switch sig {
	case syscall.SIGHUP:
		return "HUP", true
	case syscall.SIGINT:
		return "INT", true
	case syscall.SIGQUIT:
		return "QUIT", true
	case syscall.SIGILL:
		return "ILL", true
	case syscall.SIGABRT:
		return "ABRT", true
	case syscall.SIGFPE:
		return "FPE", true
	case syscall.SIGKILL:
		return "KILL", true
	case syscall.SIGUSR1:
		return "USR1", true
	case syscall.SIGSEGV:
		return "SEGV", true
	case syscall.SIGUSR2:
		return "USR2", true
	case syscall.SIGPIPE:
		return "PIPE", true
	case syscall.SIGALRM:
		return "ALRM", true
	case syscall.SIGTERM:
		return "TERM", true
	}
	return "", false
}

// remoteCommand is the exec request for command/args started in dir, or ""
// for the login shell in the home directory (a "shell" request). The
// command line is the user's: args are quoted, command is not (it may be a
// shell command line like "exit 3", as with ssh(1)). Nothing is typed
// into the terminal.
func remoteCommand(command string, args []string, dir string) string {
	line := command
	if command != "" {
		var b strings.Builder
		b.WriteString(command)
		for _, a := range args {
			b.WriteByte(' ')
			b.WriteString(shellQuote(a))
		}
		line = b.String()
	}
	switch {
	case dir == "":
		return line
	case line == "":
		// A missing directory falls back to the home directory, as a
		// reconnect into a removed directory should still give a shell.
		return "cd -- " + quoteDir(dir) + ` 2>/dev/null; exec "${SHELL:-/bin/sh}" -l`
	default:
		// A newline, not "&&": the command line may hold ";" or a comment.
		return "cd -- " + quoteDir(dir) + " || exit\n" + line
	}
}

// quoteDir quotes dir for a POSIX shell, keeping a leading "~/" expandable.
func quoteDir(dir string) string {
	if dir == "~" {
		return "~"
	}
	if rest, ok := strings.CutPrefix(dir, "~/"); ok {
		return "~/" + shellQuote(rest)
	}
	return shellQuote(dir)
}

// shellQuote quotes s as one word for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
