package sshtest

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/creack/pty"
	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"
)

// Payloads of the session requests (RFC 4254 section 6).
type ptyRequestMsg struct {
	Term          string
	Columns, Rows uint32
	Width, Height uint32
	Modes         string
}

type windowChangeMsg struct {
	Columns, Rows uint32
	Width, Height uint32
}

type envMsg struct{ Name, Value string }

type execMsg struct{ Command string }

type signalMsg struct{ Signal string }

type exitStatusMsg struct{ Status uint32 }

type exitSignalMsg struct {
	Signal     string
	CoreDumped bool
	Error      string
	Lang       string
}

// session is one "session" channel: at most one program, in a PTY when
// one was requested.
type session struct {
	srv  *Server
	ch   ssh.Channel
	user string
	env  []string
	pty  *ptyRequestMsg

	mu      sync.Mutex // guards cmd, ptmx, exited
	cmd     *exec.Cmd
	ptmx    *os.File
	exited  bool
	exiting atomic.Bool // the program ended: output reads stop when idle

	wg sync.WaitGroup
}

// session serves one channel until the client closes it or the connection
// ends; a program still running then is killed, as a hangup would.
func (s *Server) session(ch ssh.Channel, reqs <-chan *ssh.Request, user string) {
	ss := &session{srv: s, ch: ch, user: user}
	for req := range reqs {
		ok, start := ss.request(req)
		if req.WantReply {
			_ = req.Reply(ok, nil) // best effort: the client may be gone
		}
		if start != nil {
			start()
		}
	}
	ss.hangup()
	ss.wg.Wait()
	_ = ch.Close() // best effort: closed already after an exit
}

// request handles one channel request; start, when not nil, starts the
// program after the reply went out.
func (ss *session) request(req *ssh.Request) (ok bool, start func()) {
	switch req.Type {
	case "pty-req":
		var m ptyRequestMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return false, nil
		}
		ss.pty = &m
		return true, nil
	case "env":
		var m envMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return false, nil
		}
		for _, n := range ss.srv.opt.RefuseEnv {
			if n == m.Name {
				return false, nil
			}
		}
		ss.env = append(ss.env, m.Name+"="+m.Value)
		return true, nil
	case "shell", "exec":
		ss.mu.Lock()
		started := ss.cmd != nil
		ss.mu.Unlock()
		if started {
			return false, nil
		}
		args := []string{"-l"}
		if req.Type == "exec" {
			var m execMsg
			if ssh.Unmarshal(req.Payload, &m) != nil {
				return false, nil
			}
			args = []string{"-c", m.Command}
		}
		cmd := exec.Command(ss.srv.opt.Shell, args...)
		cmd.Dir = ss.srv.opt.Home
		cmd.Env = append([]string{
			"HOME=" + ss.srv.opt.Home,
			"USER=" + ss.user,
			"LOGNAME=" + ss.user,
			"SHELL=" + ss.srv.opt.Shell,
			"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		}, ss.env...)
		if ss.pty != nil {
			cmd.Env = append(cmd.Env, "TERM="+ss.pty.Term)
			return ss.startPTY(cmd)
		}
		return ss.startPipes(cmd)
	case "window-change":
		var m windowChangeMsg
		if ssh.Unmarshal(req.Payload, &m) != nil {
			return false, nil
		}
		ss.resize(m.Columns, m.Rows)
		return true, nil
	case "signal":
		var m signalMsg
		if ssh.Unmarshal(req.Payload, &m) != nil || ss.srv.opt.IgnoreSignals {
			return false, nil
		}
		sig, ok := signalByName[m.Signal]
		if !ok {
			return false, nil
		}
		ss.mu.Lock()
		defer ss.mu.Unlock()
		if ss.cmd == nil || ss.exited {
			return false, nil
		}
		// Like OpenSSH: to the session's first process only.
		return ss.cmd.Process.Signal(sig) == nil, nil
	}
	return false, nil
}

func (ss *session) startPTY(cmd *exec.Cmd) (bool, func()) {
	ptmx, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: uint16(ss.pty.Columns), Rows: uint16(ss.pty.Rows)})
	if err != nil {
		ss.srv.log.Warn("sshtest: start pty", "err", err)
		return false, nil
	}
	// Non-blocking, so that a deadline or Close ends a pending Read.
	if raw, err := ptmx.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) { _ = syscall.SetNonblock(int(fd), true) })
	}
	ss.mu.Lock()
	ss.cmd, ss.ptmx = cmd, ptmx
	ss.mu.Unlock()
	return true, func() {
		outDone := make(chan struct{})
		ss.wg.Go(func() {
			_, _ = io.Copy(ptmx, ss.ch) // ends when the channel or the terminal closes
		})
		ss.wg.Go(func() {
			defer close(outDone)
			ss.copyOutput(ptmx)
		})
		ss.wg.Go(func() {
			_ = cmd.Wait() // the exit is reported from ProcessState
			ss.mu.Lock()
			ss.exited = true
			ss.mu.Unlock()
			ss.exiting.Store(true)
			// Output written before the exit is still buffered: let the
			// copy drain it; a background job holding the terminal must
			// not keep the channel open, hence the deadline.
			_ = ptmx.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
			<-outDone
			ss.sendExit(cmd)
			_ = ptmx.Close() // best effort: hangs up what is left
		})
	}
}

// copyOutput copies the terminal's output to the channel until the
// terminal ends (EIO), or, after the program exited, is idle.
func (ss *session) copyOutput(ptmx *os.File) {
	buf := make([]byte, 32<<10)
	for {
		if ss.exiting.Load() {
			_ = ptmx.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		}
		n, err := ptmx.Read(buf)
		if n > 0 {
			if _, werr := ss.ch.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) && !ss.exiting.Load() {
				continue
			}
			return
		}
	}
}

func (ss *session) startPipes(cmd *exec.Cmd) (bool, func()) {
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return false, nil
	}
	cmd.Stdout, cmd.Stderr = ss.ch, ss.ch.Stderr()
	if err := cmd.Start(); err != nil {
		return false, nil
	}
	ss.mu.Lock()
	ss.cmd = cmd
	ss.mu.Unlock()
	return true, func() {
		ss.wg.Go(func() {
			_, _ = io.Copy(stdin, ss.ch)
			_ = stdin.Close() // best effort: EOF for the program
		})
		ss.wg.Go(func() {
			_ = cmd.Wait() // the exit is reported from ProcessState
			ss.mu.Lock()
			ss.exited = true
			ss.mu.Unlock()
			ss.sendExit(cmd)
		})
	}
}

// sendExit reports how the program ended and closes the channel.
func (ss *session) sendExit(cmd *exec.Cmd) {
	defer ss.ch.Close()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	switch {
	case ok && ws.Signaled():
		name, known := nameBySignal[ws.Signal()]
		if !known {
			_, _ = ss.ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{uint32(128 + int(ws.Signal()))}))
			return
		}
		_, _ = ss.ch.SendRequest("exit-signal", false, ssh.Marshal(exitSignalMsg{Signal: name, CoreDumped: ws.CoreDump()}))
	default:
		_, _ = ss.ch.SendRequest("exit-status", false, ssh.Marshal(exitStatusMsg{uint32(cmd.ProcessState.ExitCode())}))
	}
}

func (ss *session) resize(cols, rows uint32) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.pty != nil {
		ss.pty.Columns, ss.pty.Rows = cols, rows
	}
	if ss.ptmx == nil || ss.exited {
		return
	}
	// Not pty.Setsize: it calls Fd(), which makes the file blocking again.
	if raw, err := ss.ptmx.SyscallConn(); err == nil {
		_ = raw.Control(func(fd uintptr) {
			_ = unix.IoctlSetWinsize(int(fd), unix.TIOCSWINSZ, &unix.Winsize{Col: uint16(cols), Row: uint16(rows)})
		})
	}
}

// hangup ends a program whose channel went away: its terminal is closed
// and its process group killed.
func (ss *session) hangup() {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.cmd == nil || ss.exited {
		return
	}
	_ = syscall.Kill(-ss.cmd.Process.Pid, syscall.SIGKILL) // best effort: it may be exiting
	_ = ss.cmd.Process.Kill()                              // best effort: without a PTY it has no own group
	if ss.ptmx != nil {
		ss.exiting.Store(true)
		_ = ss.ptmx.SetReadDeadline(time.Now()) // wake the output copy
	}
}

var signalByName = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT, "ALRM": syscall.SIGALRM, "FPE": syscall.SIGFPE, "HUP": syscall.SIGHUP,
	"ILL": syscall.SIGILL, "INT": syscall.SIGINT, "KILL": syscall.SIGKILL, "PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT, "SEGV": syscall.SIGSEGV, "TERM": syscall.SIGTERM,
	"USR1": syscall.SIGUSR1, "USR2": syscall.SIGUSR2,
}

var nameBySignal = func() map[syscall.Signal]string {
	m := map[syscall.Signal]string{}
	for n, s := range signalByName {
		m[s] = n
	}
	return m
}()
