package ptyhost

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
	"golang.org/x/sys/unix"
)

// defaultHelloTimeout bounds a connection's hello when HolderOptions says 0.
const defaultHelloTimeout = 2 * time.Second

// holderProcess is a session's program as seen through a connection to its
// holder. One goroutine calls Read; the other methods are safe for
// concurrent use.
type holderProcess struct {
	id   sessions.ID
	conn net.Conn
	raw  rawFD // conn, for the frames of the round trip
	br   *bufio.Reader
	w    welcome
	// viewer is a person's terminal: its Close never releases the holder,
	// whose exit and tail are the server's to persist.
	viewer bool

	// Read's state; only the reading goroutine touches it.
	pending int   // bytes of the current output frame not yet returned
	next    int64 // offset of the next output byte
	eof     bool
	small   []byte

	wmu  sync.Mutex // serializes frames written to conn, and input
	wbuf []byte
	// master is the PTY master (a non-blocking descriptor, when
	// hasMaster) the holder passed with its welcome, to a server only:
	// input is written to it directly, sparing the round trip a wake-up
	// of the holder. It is not in the poller, which would wake this
	// process at each of the program's outputs; a write it cannot take at
	// once, and every input after it, goes through the holder, in order.
	// Under wmu.
	master    int
	hasMaster bool

	mu       sync.Mutex
	exit     sessions.Exit
	exitSeen bool // Read reached the exit after the last byte
	closed   bool
	done     chan struct{} // closed on exit seen, connection lost or Close
	doneOnce sync.Once
}

var _ sessions.Process = (*holderProcess)(nil)

// dialHolder connects to the holder of session id in runDir, proves it is
// ours and the holder is the session's (the socket is our uid's and 0600,
// the secret is accepted) and asks for output from offset from (negative:
// the last -from bytes). Every step is bounded by timeout.
func dialHolder(ctx context.Context, runDir string, id sessions.ID, from int64, r role, timeout time.Duration) (*holderProcess, error) {
	if err := validID(string(id)); err != nil {
		return nil, err
	}
	sock, key := sockPath(runDir, id), keyPath(runDir, id)
	if err := checkOwned(sock, os.ModeSocket, "socket"); err != nil {
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	if err := checkOwned(key, 0, "regular file"); err != nil {
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	secret, err := readKey(key)
	if err != nil {
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		if errors.Is(err, syscall.ECONNREFUSED) {
			// Nothing listens: the holder is gone. Its files are of no
			// use to anyone (one server owns a session at a time).
			_ = os.Remove(sock) // best effort
			_ = os.Remove(key)  // best effort
			return nil, fmt.Errorf("attach %s: holder is gone (stale socket %s removed): %w", id, sock, err)
		}
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	conn := c.(*net.UnixConn)
	p, err := handshake(ctx, conn, id, hello{Version: protocolVersion, Role: r, From: from, Secret: secret}, timeout)
	if err != nil {
		_ = conn.Close() // best effort
		return nil, fmt.Errorf("attach %s: %w", id, err)
	}
	return p, nil
}

// handshake sends m and reads the holder's welcome within timeout.
func handshake(ctx context.Context, conn *net.UnixConn, id sessions.ID, m hello, timeout time.Duration) (*holderProcess, error) {
	_ = conn.SetDeadline(time.Now().Add(timeout)) // best effort: unix sockets support deadlines
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := conn.Write(m.append(nil)); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("wait for holder: %w", context.Cause(ctx))
		}
		return nil, fmt.Errorf("send hello: %w", err)
	}
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	raw := rawFD{rc}
	// The welcome is the holder's first message; a server's comes with
	// the PTY master attached, which only a recvmsg of its bytes gets.
	first, master, err := readFirst(conn)
	defer func() {
		if master >= 0 {
			_ = unix.Close(master) // best effort: not handed to a holderProcess
		}
	}()
	var t msgType
	var payload []byte
	var br *bufio.Reader
	if err == nil {
		br = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(first), raw), 16<<10)
		t, payload, err = readFrame(br, nil)
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		if ctx.Err() != nil {
			return nil, fmt.Errorf("wait for holder: %w", context.Cause(ctx))
		}
		return nil, fmt.Errorf("holder did not answer within %v", timeout)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, syscall.ECONNRESET):
		return nil, errors.New("holder closed the connection without answering")
	case err != nil:
		return nil, fmt.Errorf("read welcome: %w", err)
	case t == msgError:
		return nil, fmt.Errorf("holder refused: %s", payload)
	case t != msgWelcome:
		return nil, fmt.Errorf("holder answered with %v: %w", t, errMalformed)
	}
	w, err := parseWelcome(payload)
	if err != nil {
		return nil, err
	}
	if w.Version != protocolVersion {
		return nil, fmt.Errorf("holder speaks protocol %d, want %d", w.Version, protocolVersion)
	}
	if !stop() {
		return nil, fmt.Errorf("wait for holder: %w", context.Cause(ctx))
	}
	_ = conn.SetDeadline(time.Time{}) // best effort
	next := m.From
	if next < 0 {
		next = max(w.RingStart, w.End+next)
	}
	p := &holderProcess{id: id, conn: conn, raw: raw, br: br, w: w, next: next, done: make(chan struct{})}
	if master >= 0 && unix.SetNonblock(master, true) == nil {
		p.master, p.hasMaster, master = master, true, -1
	}
	return p, nil
}

// readFirst reads what the holder sent first, with the descriptor passed
// along with it (-1 when none was).
func readFirst(conn *net.UnixConn) ([]byte, int, error) {
	buf := make([]byte, 4<<10)
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, _, _, err := conn.ReadMsgUnix(buf, oob) // close-on-exec: Go asks for it
	n, oobn = max(n, 0), max(oobn, 0)
	if err == nil && n == 0 {
		err = io.EOF
	}
	master := -1
	if oobn > 0 {
		fds := passedFDs(oob[:oobn])
		for i, fd := range fds {
			if i == 0 && err == nil {
				master = fd
				continue
			}
			_ = unix.Close(fd) // best effort: not ours to keep
		}
	}
	return buf[:n], master, err
}

// passedFDs are the descriptors in the control messages oob.
func passedFDs(oob []byte) []int {
	msgs, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil
	}
	var fds []int
	for _, m := range msgs {
		if rights, err := unix.ParseUnixRights(&m); err == nil {
			fds = append(fds, rights...)
		}
	}
	return fds
}

// checkOwned checks that path is a file of type typ (a what) owned by this
// user and readable by nobody else (mode 0600).
func checkOwned(path string, typ os.FileMode, what string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return err // "lstat PATH: no such file or directory"
	}
	if st.Mode().Type() != typ {
		return fmt.Errorf("%s is not a %s", path, what)
	}
	if uid, ok := fileUID(st); ok && uid != os.Getuid() {
		return fmt.Errorf("%s is owned by uid %d, not by this user (uid %d)", path, uid, os.Getuid())
	}
	if perm := st.Mode().Perm(); perm != 0o600 {
		return fmt.Errorf("%s has mode %#o, want 0600", path, perm)
	}
	return nil
}

func fileUID(st os.FileInfo) (int, bool) {
	if s, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(s.Uid), true
	}
	return 0, false
}

func readKey(path string) ([secretSize]byte, error) {
	var s [secretSize]byte
	b, err := os.ReadFile(path)
	if err != nil {
		return s, fmt.Errorf("read key: %w", err)
	}
	b = trimNewline(b)
	if len(b) != hex.EncodedLen(secretSize) {
		return s, fmt.Errorf("key file %s is malformed", path)
	}
	if _, err := hex.Decode(s[:], b); err != nil {
		return s, fmt.Errorf("key file %s is malformed", path)
	}
	return s, nil
}

func trimNewline(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		return b[:n-1]
	}
	return b
}

func sockPath(dir string, id sessions.ID) string { return filepath.Join(dir, string(id)+".sock") }
func keyPath(dir string, id sessions.ID) string  { return filepath.Join(dir, string(id)+".key") }

// Read returns the program's output in order: a *sessions.LostError for
// bytes the holder's ring no longer had, io.EOF after the last byte once
// the program exited (or after Close), and an error wrapping
// sessions.ErrDisconnected when the holder went away.
func (p *holderProcess) Read(b []byte) (int, error) {
	for {
		if p.pending > 0 {
			n, err := p.br.Read(b[:min(len(b), p.pending)])
			p.pending -= n
			p.next += int64(n)
			if n == 0 && err != nil {
				return 0, p.fail(err)
			}
			return n, nil
		}
		if p.eof {
			return 0, io.EOF
		}
		if len(b) == 0 {
			return 0, nil
		}
		t, n, err := readHeader(p.br)
		if err != nil {
			return 0, p.fail(err)
		}
		if t == msgOutput {
			if err := p.startOutput(n); err != nil {
				return 0, err
			}
			continue
		}
		if n > maxText+64 {
			return 0, p.fail(fmt.Errorf("%v frame of %d bytes: %w", t, n, errMalformed))
		}
		if cap(p.small) < n {
			p.small = make([]byte, n)
		}
		payload := p.small[:n]
		if _, err := io.ReadFull(p.br, payload); err != nil {
			return 0, p.fail(err)
		}
		switch t {
		case msgLost:
			cnt, err := parseCount(payload)
			if err != nil {
				return 0, p.fail(err)
			}
			p.next += cnt
			return 0, &sessions.LostError{N: cnt}
		case msgExit:
			m, err := parseExit(payload)
			if err != nil {
				return 0, p.fail(err)
			}
			p.eof = true
			p.mu.Lock()
			p.exit, p.exitSeen = m.Exit, true
			p.mu.Unlock()
			p.finish()
			return 0, io.EOF
		case msgError:
			return 0, p.fail(fmt.Errorf("holder: %s", payload))
		default:
			return 0, p.fail(fmt.Errorf("unexpected %v: %w", t, errMalformed))
		}
	}
}

// startOutput reads the offset of an output frame of n bytes.
func (p *holderProcess) startOutput(n int) error {
	if n < 8 {
		return p.fail(fmt.Errorf("output of %d bytes: %w", n, errMalformed))
	}
	var hdr [8]byte
	if _, err := io.ReadFull(p.br, hdr[:]); err != nil {
		return p.fail(err)
	}
	off, _, err := parseOutput(hdr[:])
	if err != nil || off != p.next {
		return p.fail(fmt.Errorf("output at offset %d, want %d: %w", off, p.next, errMalformed))
	}
	p.pending = n - 8
	return nil
}

// fail ends the connection's stream: io.EOF after Close, else an error
// wrapping sessions.ErrDisconnected.
func (p *holderProcess) fail(err error) error {
	p.mu.Lock()
	closed := p.closed
	p.mu.Unlock()
	p.eof = true
	p.finish()
	p.closeMaster()
	if closed {
		return io.EOF
	}
	return fmt.Errorf("read from holder of %s: %w: %w", p.id, sessions.ErrDisconnected, err)
}

func (p *holderProcess) finish() { p.doneOnce.Do(func() { close(p.done) }) }

// send writes one frame built by build.
func (p *holderProcess) send(build func([]byte) []byte) error {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	return p.sendLocked(build)
}

func (p *holderProcess) sendLocked(build func([]byte) []byte) error {
	p.wbuf = build(p.wbuf[:0])
	if _, err := p.raw.Write(p.wbuf); err != nil {
		return fmt.Errorf("write to holder of %s: %w", p.id, err)
	}
	return nil
}

// Write types b into the terminal: straight into the PTY master when the
// holder passed it and the terminal takes b at once, else through the
// holder.
func (p *holderProcess) Write(b []byte) (int, error) {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	n := 0
	if p.hasMaster {
		var err error
		n, err = tryWrite(p.master, b)
		if err == nil && n == len(b) {
			return n, nil
		}
		p.closeMasterLocked() // the rest, and all input after it, in order through the holder
	}
	for n < len(b) {
		chunk := b[n:min(len(b), n+maxInput)]
		if err := p.sendLocked(func(dst []byte) []byte { return appendFrame(dst, msgInput, chunk) }); err != nil {
			return n, err
		}
		n += len(chunk)
	}
	return n, nil
}

// closeMaster stops writing input to the PTY master and closes it, so a
// program whose holder is gone is hung up.
func (p *holderProcess) closeMaster() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	p.closeMasterLocked()
}

func (p *holderProcess) closeMasterLocked() {
	if p.hasMaster {
		_ = unix.Close(p.master) // best effort: the descriptor is ours alone
		p.hasMaster = false
	}
}

// Resize asks the holder to set the terminal size; the holder reports no
// result.
func (p *holderProcess) Resize(cols, rows int) error {
	if cols <= 0 || rows <= 0 || cols > 0xffff || rows > 0xffff {
		return fmt.Errorf("resize to %dx%d: invalid size", cols, rows)
	}
	return p.send(func(dst []byte) []byte { return appendResize(dst, cols, rows) })
}

// Signal asks the holder to deliver sig to the program's process group and
// the terminal's foreground group. After the exit it does nothing.
func (p *holderProcess) Signal(sig syscall.Signal) error {
	if sig <= 0 || sig > 64 {
		return fmt.Errorf("signal %d: invalid", int(sig))
	}
	return p.send(func(dst []byte) []byte { return appendSignal(dst, sig) })
}

// Wait blocks until Read has reached the program's exit (after the last
// byte of output) and returns it; it returns sessions.ErrDisconnected when
// the connection was lost or closed before that: the program may still run.
func (p *holderProcess) Wait() (sessions.Exit, error) {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.exitSeen {
		return p.exit, nil
	}
	return sessions.Exit{}, sessions.ErrDisconnected
}

// Pid is the program's pid (not the holder's).
func (p *holderProcess) Pid() int { return p.w.Pid }

// HolderPid is the pid of the holder process serving p.
func (p *holderProcess) HolderPid() int { return p.w.HolderPid }

// Cwd reads the program's current directory from /proc where there is one.
func (p *holderProcess) Cwd() string {
	p.mu.Lock()
	exited := p.exitSeen
	p.mu.Unlock()
	if exited {
		return ""
	}
	return processCwd(p.w.Pid)
}

// Close detaches from the holder. When Read has reached the program's exit
// (and so the server has the whole output), it first sends release: the
// holder then removes its socket and key and exits. Otherwise the program
// keeps running and can be attached to again. Close is idempotent and
// unblocks a pending Read, which then returns io.EOF.
func (p *holderProcess) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	seen := p.exitSeen && !p.viewer
	p.mu.Unlock()
	if seen {
		_ = p.send(func(dst []byte) []byte { return appendFrame(dst, msgRelease, nil) }) // best effort: linger ends it otherwise
	}
	p.closeMaster()
	err := p.conn.Close()
	p.finish()
	if err != nil {
		return fmt.Errorf("close connection to holder of %s: %w", p.id, err)
	}
	return nil
}
