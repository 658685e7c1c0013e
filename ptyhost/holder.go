// The detached holder (the dtach/abduco model).
//
// A held session's program does not belong to the server process: the server
// starts `console-mcp ptyhost -dir RUNDIR ID` in its own session (setsid,
// stdio on /dev/null) and writes a start request (spec, cwd, environment,
// secret) to the holder's stdin, so no secret or environment value is ever in
// argv. The holder starts the child with startPTY, exactly as the in-process
// Local backend does, is its parent and reaps it, and reports "ready" (the
// child's pid) or the reason it could not start on a status pipe (fd 3); that
// is how "program not found" reaches the server although the holder's stderr
// is /dev/null.
//
// The holder keeps the most recent output (default 8 MiB, grown on demand)
// in a ring addressed by absolute offset (the session's stream offset, passed
// in the request) and serves a Unix socket RUNDIR/ID.sock (0600, in a 0700
// dir). A client's first message must carry the session's 32-byte secret,
// which the server keeps in RUNDIR/ID.key (0600); a connection that does not
// present it is dropped. Each client has its own read position: it is
// replayed from the offset it asks for (a lost message first when the ring no
// longer has it) and then follows live. Several clients may be connected (the
// server and a person's `console-mcp attach`); any may type, resize or signal.
//
// Back-pressure: while a server is connected the holder stops reading the PTY
// rather than overrun that server's position, so a slow server slows the
// program as a pipe would; a person's terminal never slows the program (it
// is told what it missed). Until the starting server's hello arrives the
// holder behaves as if it were connected at the first offset. With no server
// connected the ring overruns and the next server learns the count as lost
// bytes.
//
// After the child exits, the holder keeps its exit status and the unread tail
// until a client that has read the exit sends release (the server has
// persisted them) or the linger (default 24 h) expires, then removes its
// socket and key file and exits. It never touches the database. SIGTERM,
// SIGINT or SIGHUP hang the program up and end the holder.
//
// The holder runs from the server's binary or, when it is installed beside
// the server, from cmd/console-mcp-ptyhost, which is this package's Main in
// a binary of its own (image.go says why and how the server picks).
//
// The server side is a client like any other: Holders (holders.go) spawns
// holders and attaches to them, holderProcess (client.go) is one connection
// as a sessions.Process, AttachTerminal (attach.go) a person's terminal. The
// wire protocol is in wire.go.

package ptyhost

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"time"

	"github.com/console-mcp/console-mcp/offring"
	"github.com/console-mcp/console-mcp/sessions"
)

// startRequest is what the server writes to a new holder's stdin (JSON).
type startRequest struct {
	Request   sessions.StartRequest `json:"request"`
	Secret    []byte                `json:"secret"`
	RingBytes int                   `json:"ring_bytes"`
	Linger    time.Duration         `json:"linger"`
}

// readyStatus is what a holder writes to its status pipe: the child's pid
// once it serves the socket, or why it could not start.
type readyStatus struct {
	Pid   int    `json:"pid,omitempty"`
	Error string `json:"error,omitempty"`
}

const (
	// statusFd is the holder's end of the status pipe (the server's
	// cmd.ExtraFiles[0]).
	statusFd = 3
	// maxRequest caps the start request read from stdin.
	maxRequest = 4 << 20
	// helloWait is how long the holder waits for a connection's hello.
	helloWait = 5 * time.Second
	// outputGrace is how long the holder waits, after the child was reaped,
	// for the PTY's output to end (a background job may hold the terminal)
	// before it hangs the terminal up.
	outputGrace = time.Second
	// hangupGrace is how long a terminated holder waits for the hung-up
	// child before it kills the child's process group.
	hangupGrace = 2 * time.Second
	// maxClients caps a holder's connections.
	maxClients = 64
	// readSize is the holder's PTY read buffer.
	readSize = 32 << 10
)

// Main runs a holder: args are what follows `console-mcp ptyhost`, that is
// `-dir RUNDIR ID`. It reads the start request from stdin, reports readiness
// on fd 3 and serves until the child's exit has been released or has
// lingered long enough. It returns the process exit code.
func Main(args []string) int {
	fs := flag.NewFlagSet("ptyhost", flag.ContinueOnError)
	dir := fs.String("dir", "", "run directory holding the session's socket and key")
	version := fs.Bool("version", false, "print the protocol version this holder speaks and its build, and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *version {
		fmt.Printf("console-mcp ptyhost protocol %d %s\n", protocolVersion, buildDescription())
		return 0
	}
	if *dir == "" || fs.NArg() != 1 {
		fmt.Fprintln(fs.Output(), "usage: console-mcp ptyhost -dir RUNDIR SESSION-ID (started by the server)")
		return 2
	}
	syscall.Umask(0o077) // the socket is created 0600 with no window
	// The status pipe, and whatever else was inherited, is passed to the
	// holder without close-on-exec; the program it starts must get only
	// its terminal.
	CloseInheritedOnExec()
	status := os.NewFile(statusFd, "status")
	h, err := openHolder(*dir, fs.Arg(0), os.Stdin)
	if err != nil {
		reportStatus(status, readyStatus{Error: err.Error()})
		return 1
	}
	reportStatus(status, readyStatus{Pid: h.t.cmd.Process.Pid})
	_ = stdinToDevNull() // best effort: the request pipe is drained; the server may be gone
	// Give back what the binary's package initializers left behind; a
	// holder lives long and mostly idles.
	debug.FreeOSMemory()
	h.run()
	return 0
}

// reportStatus writes st to the status pipe and closes it.
func reportStatus(f *os.File, st readyStatus) {
	if f == nil {
		return
	}
	_ = json.NewEncoder(f).Encode(st) // best effort: nobody may be listening
	_ = f.Close()                     // best effort
}

// holder is one held session. mu guards the fields below it; data wakes
// client writers (new output, end, exit, shutdown) and space wakes the PTY
// reader (a server client moved on).
type holder struct {
	id       string
	sockPath string
	keyPath  string
	secret   []byte
	gen      int
	linger   time.Duration
	t        *tty
	ln       *net.UnixListener
	inMu     sync.Mutex // serializes input written to the PTY

	mu         sync.Mutex
	data       *sync.Cond
	space      *sync.Cond
	ring       offring.Ring
	outputDone bool // the PTY's output ended
	exitKnown  bool // the child was reaped
	exit       sessions.Exit
	cols, rows int
	clients    map[*client]struct{}
	closing    bool
	released   bool
	// awaitServer holds the output for the server that started the holder
	// until it said hello, as if it were connected at the first offset.
	awaitServer bool
	base        int64

	exited     chan struct{} // closed once the child is reaped
	outputEnds chan struct{} // closed once the PTY's output ended
	release    chan struct{} // closed by the first release after the exit
	wg         sync.WaitGroup
}

// openHolder reads the start request, listens on the session's socket and
// starts the child.
func openHolder(dir, id string, in io.Reader) (*holder, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	var req startRequest
	if err := json.NewDecoder(io.LimitReader(in, maxRequest)).Decode(&req); err != nil {
		return nil, fmt.Errorf("read start request: %w", err)
	}
	if string(req.Request.ID) != id {
		return nil, fmt.Errorf("start request is for session %q, not %q", req.Request.ID, id)
	}
	if len(req.Secret) != secretSize {
		return nil, fmt.Errorf("start request has a secret of %d bytes, want %d", len(req.Secret), secretSize)
	}
	tuneMemory(req.RingBytes)
	sockPath := filepath.Join(dir, id+".sock")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sockPath, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", sockPath, err)
	}
	if err := os.Chmod(sockPath, 0o600); err != nil {
		_ = ln.Close() // best effort: also unlinks the socket
		return nil, fmt.Errorf("chmod socket: %w", err)
	}
	t, err := startPTY(req.Request)
	if err != nil {
		_ = ln.Close() // best effort: also unlinks the socket
		return nil, err
	}
	// Do not pin the directory the server ran in (a mount to unmount).
	_ = os.Chdir("/") // best effort
	h := &holder{
		id:          id,
		sockPath:    sockPath,
		keyPath:     filepath.Join(dir, id+".key"),
		secret:      req.Secret,
		gen:         req.Request.Generation,
		linger:      req.Linger,
		t:           t,
		ln:          ln,
		ring:        offring.New(req.RingBytes, req.Request.Offset),
		awaitServer: true,
		base:        req.Request.Offset,
		cols:        req.Request.Spec.Cols,
		rows:        req.Request.Spec.Rows,
		clients:     make(map[*client]struct{}),
		exited:      make(chan struct{}),
		outputEnds:  make(chan struct{}),
		release:     make(chan struct{}),
	}
	h.data = sync.NewCond(&h.mu)
	h.space = sync.NewCond(&h.mu)
	return h, nil
}

// tuneMemory keeps a holder small and cheap: one thread runs Go code (so a
// burst of PTY reads is sent in one write once the reader waits, without
// waking another thread), the heap is collected early and softly limited to
// a little over the ring.
func tuneMemory(ringBytes int) {
	runtime.GOMAXPROCS(1)
	debug.SetGCPercent(50)
	debug.SetMemoryLimit(int64(ringBytes) + 16<<20)
}

// run serves until the holder is done and then cleans up.
func (h *holder) run() {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	h.wg.Go(h.readLoop)
	h.wg.Go(h.reap)
	h.wg.Go(h.acceptLoop)

	var lingerC <-chan time.Time
	exited := h.exited
	for done := false; !done; {
		select {
		case <-exited:
			exited = nil
			timer := time.NewTimer(h.linger)
			defer timer.Stop()
			lingerC = timer.C
		case <-lingerC:
			done = true
		case <-h.release:
			done = true
		case <-sigs:
			h.hangUp()
			done = true
		}
	}
	h.shutdown()
}

// hangUp closes the PTY (the child gets SIGHUP), waits a moment for the
// child and kills its process group if it is still there. A server may
// still hold the master it was passed (until it sees this holder go), so
// the child's process group is also sent SIGHUP explicitly.
func (h *holder) hangUp() {
	_ = h.t.ptmx.Close() // best effort: already closed after the output ended
	select {
	case <-h.exited: // reaped: its pid is not its own any more
	default:
		_ = syscall.Kill(-h.t.cmd.Process.Pid, syscall.SIGHUP) // best effort: it may be exiting
	}
	select {
	case <-h.exited:
	case <-time.After(hangupGrace):
		_ = syscall.Kill(-h.t.cmd.Process.Pid, syscall.SIGKILL) // best effort: escalation
		<-h.exited
	}
}

// shutdown removes the socket and the key, disconnects every client and
// waits for the holder's goroutines.
func (h *holder) shutdown() {
	_ = h.ln.Close() // best effort: unlinks the socket; the accept loop ends
	_ = os.Remove(h.keyPath)
	h.mu.Lock()
	h.closing = true
	for c := range h.clients {
		h.dropLocked(c)
		_ = c.conn.Close() // best effort: ends serve's read and the writer's write
	}
	h.data.Broadcast()
	h.space.Broadcast()
	h.mu.Unlock()
	h.hangUp()
	h.wg.Wait()
}

// readLoop copies the PTY's output into the ring until the output ends.
func (h *holder) readLoop() {
	defer close(h.outputEnds)
	// Never read more than the ring holds, or a server's position could
	// never leave room for a read.
	buf := make([]byte, min(readSize, h.ring.Limit()))
	for {
		h.mu.Lock()
		for h.mustWaitLocked(len(buf)) {
			h.space.Wait()
		}
		h.mu.Unlock()
		n, err := h.t.read(buf)
		h.mu.Lock()
		h.ring.Write(buf[:n])
		if err != nil {
			h.outputDone = true
		}
		h.data.Broadcast()
		h.mu.Unlock()
		if err != nil {
			_ = h.t.ptmx.Close() // best effort: release the fd
			return
		}
	}
}

// mustWaitLocked reports whether reading n more bytes could overrun the
// position of a connected server.
func (h *holder) mustWaitLocked(n int) bool {
	if h.closing {
		return false
	}
	if h.awaitServer && h.ring.End()+int64(n)-h.base > int64(h.ring.Limit()) {
		return true
	}
	for c := range h.clients {
		if c.role == roleServer && h.ring.End()+int64(n)-c.pos > int64(h.ring.Limit()) {
			return true
		}
	}
	return false
}

// reap waits for the child, records its exit and gives its output a moment
// to end.
func (h *holder) reap() {
	exit := h.t.wait()
	h.mu.Lock()
	h.exit, h.exitKnown = exit, true
	h.data.Broadcast()
	h.mu.Unlock()
	close(h.exited)
	select {
	case <-h.outputEnds:
	case <-time.After(outputGrace):
		_ = h.t.ptmx.Close() // best effort: ends the read loop
	}
}

// finishedLocked reports whether the output ended and the exit is known:
// clients are then sent the exit after the last byte.
func (h *holder) finishedLocked() bool { return h.outputDone && h.exitKnown }

func (h *holder) acceptLoop() {
	for {
		conn, err := h.ln.AcceptUnix()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // EMFILE and friends: try again
			continue
		}
		h.wg.Go(func() { h.serve(conn) })
	}
}

// checkSecret compares a presented secret in constant time.
func (h *holder) checkSecret(s []byte) bool {
	return subtle.ConstantTimeCompare(h.secret, s) == 1
}

// validID refuses ids that could name a file outside the run dir.
func validID(id string) error {
	if id == "" || len(id) > 64 || id[0] == '.' {
		return fmt.Errorf("invalid session id %q", id)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("invalid session id %q", id)
		}
	}
	return nil
}
