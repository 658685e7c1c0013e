package ptyhost

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// HolderOptions configures Holders.
type HolderOptions struct {
	// RunDir holds the holders' sockets and keys; NewHolders creates it
	// with mode 0700. Required.
	RunDir string
	// Exe and Args run a holder: the holder's arguments (-dir RUNDIR ID)
	// follow Args, e.g. os.Executable() and ["ptyhost"]. Exe is required.
	Exe  string
	Args []string
	// Argv0 is the holder's argv[0]; empty means Exe. The server runs the
	// holder-only image (see FindHolderImage) with its own path as argv[0],
	// so every holder reads `console-mcp ptyhost -dir RUNDIR ID` in ps
	// whichever image runs it; /proc/PID/exe tells which.
	Argv0 string
	// RingBytes is each holder's output ring; zero means 8 MiB.
	RingBytes int
	// Linger is how long a holder keeps an exited program's status and
	// unread output for a server to collect; zero means 24 h.
	Linger time.Duration
	// HelloTimeout bounds connecting to a holder and its answer to hello
	// (a holder that accepts and never answers is given up); zero means 2 s.
	HelloTimeout time.Duration
	// Logger receives holder starts and exits; nil discards.
	Logger *slog.Logger
}

// Holders is the backend of held local sessions: it starts a detached
// holder per session and attaches to holders started earlier, also by a
// previous server process. It is safe for concurrent use.
//
// Holders reaps the holders it started (one goroutine each, which ends when
// that holder exits, parked on a channel rather than holding a thread:
// waitCmd) so none becomes a zombie while the server lives. Those
// goroutines are deliberately not waited for by anyone: a holder is meant to
// outlive the server, and when the server exits its holders are re-parented
// to init.
type Holders struct {
	opt HolderOptions
	log *slog.Logger

	mu     sync.Mutex
	reaped map[int]chan struct{} // holder pid -> closed once reaped
	wg     sync.WaitGroup        // the reapers; see the type's comment
}

var (
	_ sessions.Backend  = (*Holders)(nil)
	_ sessions.Attacher = (*Holders)(nil)
)

const (
	defaultRingBytes = 8 << 20
	defaultLinger    = 24 * time.Hour
	// readyTimeout bounds a new holder's start (exec, request, child
	// started, socket listening).
	readyTimeout = 10 * time.Second
)

// NewHolders checks opt and creates the run directory (0700, owned by this
// user).
func NewHolders(opt HolderOptions) (*Holders, error) {
	if opt.RunDir == "" || opt.Exe == "" {
		return nil, errors.New("new holders: RunDir and Exe are required")
	}
	if opt.RingBytes <= 0 {
		opt.RingBytes = defaultRingBytes
	}
	if opt.Linger <= 0 {
		opt.Linger = defaultLinger
	}
	if opt.HelloTimeout <= 0 {
		opt.HelloTimeout = defaultHelloTimeout
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := makeRunDir(opt.RunDir); err != nil {
		return nil, err
	}
	return &Holders{opt: opt, log: log, reaped: make(map[int]chan struct{})}, nil
}

// makeRunDir creates dir 0700 or checks that an existing one is ours and
// closes it to others.
func makeRunDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	st, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("create run dir: %w", err)
	}
	if !st.IsDir() {
		return fmt.Errorf("run dir %s is not a directory", dir)
	}
	if uid, ok := fileUID(st); ok && uid != os.Getuid() {
		return fmt.Errorf("run dir %s is owned by uid %d, not by this user (uid %d)", dir, uid, os.Getuid())
	}
	if st.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return fmt.Errorf("restrict run dir: %w", err)
		}
	}
	return nil
}

// Start starts a holder for req and connects to it from req.Offset. It
// returns once the holder runs the program and answered, or with the
// holder's reason ("program not found", "cwd does not exist").
func (h *Holders) Start(ctx context.Context, req sessions.StartRequest) (sessions.Process, error) {
	id := req.ID
	if err := validID(string(id)); err != nil {
		return nil, err
	}
	if req.Cwd == "" && req.Spec.Cwd == "" {
		// Start where an in-process child would: in the server's cwd.
		if wd, err := os.Getwd(); err == nil {
			req.Cwd = wd
		}
	}
	if req.Env == nil {
		req.Env = os.Environ() // as exec would for Local
	}
	if err := h.clearStale(id); err != nil {
		return nil, err
	}
	secret := make([]byte, secretSize)
	_, _ = rand.Read(secret) // never fails (crypto/rand panics instead)
	key := keyPath(h.opt.RunDir, id)
	if err := writeKey(key, secret); err != nil {
		return nil, err
	}
	cmd, err := h.spawn(ctx, startRequest{Request: req, Secret: secret, RingBytes: h.opt.RingBytes, Linger: h.opt.Linger})
	if err != nil {
		_ = os.Remove(key) // best effort
		return nil, fmt.Errorf("start holder of %s: %w", id, err)
	}
	p, err := dialHolder(ctx, h.opt.RunDir, id, req.Offset, roleServer, h.opt.HelloTimeout)
	if err != nil {
		_ = cmd.Process.Kill()                    // best effort: the child is hung up with it
		_ = os.Remove(sockPath(h.opt.RunDir, id)) // best effort
		_ = os.Remove(key)                        // best effort
		return nil, fmt.Errorf("start holder of %s: %w", id, err)
	}
	return p, nil
}

// Attach connects to the holder of session id and replays its output from
// offset from; see sessions.Attacher. A socket nobody listens on is stale:
// Attach removes it and its key and says the holder is gone.
func (h *Holders) Attach(ctx context.Context, id sessions.ID, from int64) (sessions.Process, error) {
	if from < 0 {
		return nil, fmt.Errorf("attach %s: negative offset %d", id, from)
	}
	p, err := dialHolder(ctx, h.opt.RunDir, id, from, roleServer, h.opt.HelloTimeout)
	if err != nil {
		return nil, err
	}
	return p, nil
}

// clearStale removes a previous holder's files, unless that holder still
// listens.
func (h *Holders) clearStale(id sessions.ID) error {
	sock := sockPath(h.opt.RunDir, id)
	if _, err := os.Lstat(sock); err == nil {
		if c, err := net.DialTimeout("unix", sock, h.opt.HelloTimeout); err == nil {
			_ = c.Close() // best effort
			return fmt.Errorf("start holder of %s: a holder is already running (%s)", id, sock)
		}
		if err := os.Remove(sock); err != nil {
			return fmt.Errorf("remove stale socket: %w", err)
		}
	}
	if err := os.Remove(keyPath(h.opt.RunDir, id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove stale key: %w", err)
	}
	return nil
}

func writeKey(path string, secret []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create key: %w", err)
	}
	_, err = f.WriteString(hex.EncodeToString(secret) + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path) // best effort
		return fmt.Errorf("write key: %w", err)
	}
	return nil
}

// spawn starts a holder process, writes it sr and waits for its ready
// status. A holder that fails is killed and reaped.
func (h *Holders) spawn(ctx context.Context, sr startRequest) (*exec.Cmd, error) {
	id := string(sr.Request.ID)
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("create pipe: %w", err)
	}
	statusR, statusW, err := os.Pipe()
	if err != nil {
		_ = stdinR.Close()
		_ = stdinW.Close()
		return nil, fmt.Errorf("create pipe: %w", err)
	}
	defer statusR.Close()
	args := append(append([]string(nil), h.opt.Args...), "-dir", h.opt.RunDir, id)
	cmd := exec.Command(h.opt.Exe, args...)
	if h.opt.Argv0 != "" {
		cmd.Args[0] = h.opt.Argv0
	}
	cmd.Stdin = stdinR // stdout and stderr: /dev/null
	cmd.ExtraFiles = []*os.File{statusW}
	// The holder's own environment: PATH only (lookPath's fallback, as
	// for Local); the program's is in the request.
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	_ = stdinR.Close()  // best effort: the holder has its copy
	_ = statusW.Close() // best effort
	if err != nil {
		_ = stdinW.Close()
		return nil, fmt.Errorf("run %s: %w", h.opt.Exe, err)
	}
	reaped := h.reap(cmd, id)

	err = json.NewEncoder(stdinW).Encode(sr)
	if cerr := stdinW.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		err = fmt.Errorf("did not take the start request: %w", err)
	}
	var st readyStatus
	if err == nil {
		err = readStatus(ctx, statusR, &st)
	}
	if err == nil && st.Error != "" {
		<-reaped // it exits after reporting
		return nil, errors.New(st.Error)
	}
	if err == nil && st.Pid <= 0 {
		err = errors.New("reported no pid")
	}
	if err != nil {
		_ = cmd.Process.Kill() // best effort: it may have exited already
		<-reaped
		return nil, fmt.Errorf("holder %w (%v)", err, cmd.ProcessState)
	}
	h.log.Debug("holder started", "session", id, "holder_pid", cmd.Process.Pid, "pid", st.Pid)
	return cmd, nil
}

// readStatus reads a holder's ready status within readyTimeout and ctx.
func readStatus(ctx context.Context, r *os.File, st *readyStatus) error {
	_ = r.SetReadDeadline(time.Now().Add(readyTimeout)) // best effort: pipes support deadlines
	stop := context.AfterFunc(ctx, func() { _ = r.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	err := json.NewDecoder(r).Decode(st)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("start cancelled: %w", context.Cause(ctx))
	case errors.Is(err, os.ErrDeadlineExceeded):
		return fmt.Errorf("not ready within %v", readyTimeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("exited before it was ready")
	default:
		return fmt.Errorf("status unreadable: %w", err)
	}
}

// reap waits for a holder this server started, in a goroutine, and returns
// a channel closed once it is reaped.
func (h *Holders) reap(cmd *exec.Cmd, id string) <-chan struct{} {
	done := make(chan struct{})
	pid := cmd.Process.Pid
	h.mu.Lock()
	h.reaped[pid] = done
	h.mu.Unlock()
	h.wg.Go(func() {
		err := waitCmd(cmd)
		h.log.Debug("holder exited", "session", id, "holder_pid", pid, "status", cmd.ProcessState.String(), "err", err)
		h.mu.Lock()
		delete(h.reaped, pid)
		h.mu.Unlock()
		close(done)
	})
	return done
}

// holderReaped returns a channel closed once the holder with pid, started
// by h, is reaped (closed at once for one h did not start or reaped).
func (h *Holders) holderReaped(pid int) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if ch, ok := h.reaped[pid]; ok {
		return ch
	}
	ch := make(chan struct{})
	close(ch)
	return ch
}
