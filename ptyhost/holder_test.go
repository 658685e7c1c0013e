package ptyhost

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

func TestHolderShellInputOutputResize(t *testing.T) {
	t.Parallel()
	// The server runs the holder-only image with its own path as argv[0].
	const argv0 = "/opt/console-mcp/bin/console-mcp"
	h := newTestHolders(t, HolderOptions{Argv0: argv0})
	dir, _ := filepath.EvalSymlinks(t.TempDir())
	id := newID()
	p := start(t, h, shellReq(id, dir))
	s := newStream(t, p)

	p.Write([]byte("echo $((40+2))\n"))
	s.until("42\r\n")
	if err := p.Resize(91, 27); err != nil {
		t.Fatal(err)
	}
	p.Write([]byte("stty size\n"))
	s.until("27 91\r\n")
	if p.Pid() <= 0 || p.Pid() == p.HolderPid() {
		t.Errorf("Pid() = %d, HolderPid() = %d", p.Pid(), p.HolderPid())
	}
	if got := p.Cwd(); got != dir {
		t.Errorf("Cwd() = %q, want %q", got, dir)
	}
	// Neither argv nor the holder's own environment carries the request.
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.HolderPid()))
	if got, want := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00"), []string{argv0, "ptyhost", "-dir", h.opt.RunDir, string(id)}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("holder argv = %q, want %q", got, want)
	}
	if exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", p.HolderPid())); err != nil || exe != testExe(t) {
		t.Errorf("holder image = %q (%v), want %q", exe, err, testExe(t))
	}
	environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", p.HolderPid()))
	if got := string(environ); got != "PATH="+os.Getenv("PATH")+"\x00" {
		t.Errorf("holder environment = %q, want PATH only", got)
	}
	if _, err := h.Attach(context.Background(), id, 1<<40); err == nil || !strings.Contains(err.Error(), "past the end of output") {
		t.Errorf("Attach past the end: %v", err)
	}

	// A second client replays from 0, follows live, and may type too.
	q := attach(t, h, id, 0)
	qs := newStream(t, q)
	qs.until("27 91\r\n")
	q.Write([]byte("echo $((50+5))\n"))
	s.until("55\r\n")
	qs.until("55\r\n")
	if !bytes.Equal(qs.buf[:s.mark], s.buf[:s.mark]) {
		t.Errorf("the two clients saw different streams:\n%q\n%q", qs.buf[:s.mark], s.buf[:s.mark])
	}
}

func TestHolderInterrupt(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	t.Run("Ctrl-C typed", func(t *testing.T) {
		p := start(t, h, shellReq(newID(), t.TempDir()))
		s := newStream(t, p)
		p.Write([]byte("sleep 30\n"))
		waitFor(t, "sleep in the foreground", func() bool { return foreground(p.Pid()) == "sleep" })
		p.Write([]byte{0x03})
		p.Write([]byte("echo rc$((1))=$?\n"))
		if got := s.until("rc1=") + s.until("\r\n"); !strings.HasSuffix(got, "rc1=130\r\n") {
			t.Errorf("got %q, want rc1=130", got)
		}
	})
	// Signal reaches the program's process group. (Not tried on an
	// interactive bash: bash is signalled too, and whether its readline
	// then eats the next line depends on timing.)
	t.Run("Signal", func(t *testing.T) {
		// sleep itself, not a shell that could catch the signal between
		// its fork and exec.
		req := shReq(newID(), "")
		req.Spec.Command, req.Spec.Args = "sleep", []string{"30"}
		p := start(t, h, req)
		if err := p.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		newStream(t, p).toEnd()
		exit, err := p.Wait()
		if want := (sessions.Exit{Code: 130, Signal: "SIGINT"}); err != nil || exit != want {
			t.Errorf("Wait() = %+v, %v; want %+v", exit, err, want)
		}
	})
}

// The server is killed (its connection just goes, no release) while a loop
// runs; output produced meanwhile is replayed from the last offset, in
// order and complete, and the shell is the same process.
func TestHolderReplayAfterServerLoss(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	req := shellReq(id, t.TempDir())
	req.Offset = 5000
	p := start(t, h, req)
	s := newStream(t, p)
	p.Write([]byte("V=kept$((6*7)); echo ready$((1+1))\n"))
	s.until("ready2\r\n")
	p.Write([]byte("for i in $(seq 1 30); do echo n$i; sleep 0.01; done; echo fin$((2+2))\n"))
	pid := p.Pid()
	p.Close() // the server is gone
	off := req.Offset + int64(len(s.buf))

	q := attach(t, h, id, off)
	qs := newStream(t, q)
	got := qs.until("fin4\r\n")
	var nums []string
	for _, line := range strings.Split(got, "\r\n") {
		if strings.HasPrefix(line, "n") {
			nums = append(nums, line)
		}
	}
	var want []string
	for i := 1; i <= 30; i++ {
		want = append(want, fmt.Sprintf("n%d", i))
	}
	if strings.Join(nums, " ") != strings.Join(want, " ") {
		t.Errorf("replayed lines = %v, want %v", nums, want)
	}
	if qs.lost != 0 {
		t.Errorf("lost %d bytes", qs.lost)
	}

	// Complete: what the first client read plus the replay is the stream.
	r := attach(t, h, id, req.Offset)
	rs := newStream(t, r)
	rs.until("fin4\r\n")
	whole := append(append([]byte(nil), s.buf...), qs.buf[:qs.mark]...)
	if !bytes.Equal(rs.buf[:rs.mark], whole) {
		t.Errorf("stream from the start differs from read + replay:\n%q\n%q", rs.buf[:rs.mark], whole)
	}

	q.Write([]byte("echo $V pid=$$\n"))
	if got, want := qs.until("\r\n"+"kept42 pid="+fmt.Sprint(pid)), fmt.Sprint(pid); !strings.HasSuffix(got, want) {
		t.Errorf("got %q", got)
	}
	if q.Pid() != pid {
		t.Errorf("pid after reattach = %d, want %d", q.Pid(), pid)
	}
}

// A program that exits while no client is connected: the holder keeps the
// exit and the tail for the next client, then release ends the holder.
func TestHolderExitWhileDetachedThenRelease(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	p := start(t, h, shellReq(id, t.TempDir()))
	pid, holder := p.Pid(), p.HolderPid()
	p.Close()

	q := attach(t, h, id, 0)
	q.Write([]byte("echo bye$((3*3)); sleep 0.2; exit 7\n"))
	q.Close()
	waitFor(t, "the shell to exit", func() bool { return gone(pid) })

	r := attach(t, h, id, 0)
	if !r.w.Exited {
		t.Errorf("welcome says the program runs")
	}
	rs := newStream(t, r)
	if err := rs.toEnd(); err != io.EOF {
		t.Fatalf("read to the end: %v", err)
	}
	if !bytes.Contains(rs.buf, []byte("bye9\r\n")) {
		t.Errorf("tail %q lacks bye9", tail(rs.buf))
	}
	exit, err := r.Wait()
	if err != nil || exit.Code != 7 {
		t.Errorf("Wait() = %v, %v; want exit code 7", exit, err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	waitReaped(t, h, holder)
	for _, f := range []string{sockPath(h.opt.RunDir, id), keyPath(h.opt.RunDir, id)} {
		if exists(f) {
			t.Errorf("%s still exists after release", f)
		}
	}
}

func TestHolderReleaseAfterExit(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	p := start(t, h, shReq(id, "echo bye; kill -TERM $$"))
	s := newStream(t, p)
	if err := s.toEnd(); err != io.EOF {
		t.Fatalf("read: %v", err)
	}
	exit, err := p.Wait()
	if want := (sessions.Exit{Code: 128 + 15, Signal: "SIGTERM"}); err != nil || exit != want {
		t.Errorf("Wait() = %+v, %v; want %+v", exit, err, want)
	}
	if got := string(s.buf); got != "bye\r\n" {
		t.Errorf("output %q", got)
	}
	p.Close()
	waitReaped(t, h, p.HolderPid())
	if exists(sockPath(h.opt.RunDir, id)) || exists(keyPath(h.opt.RunDir, id)) {
		t.Errorf("socket or key left behind")
	}
}

func TestHolderLingerExpires(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{Linger: 100 * time.Millisecond})
	id := newID()
	p := start(t, h, shReq(id, "exit 5"))
	p.Close() // without having seen the exit: no release
	waitReaped(t, h, p.HolderPid())
	if exists(sockPath(h.opt.RunDir, id)) || exists(keyPath(h.opt.RunDir, id)) {
		t.Errorf("socket or key left behind")
	}
}

func TestHolderRingOverrun(t *testing.T) {
	t.Parallel()
	const ringBytes = 64 << 10
	h := newTestHolders(t, HolderOptions{RingBytes: ringBytes})
	id := newID()
	req := shReq(id, `head -c 200000 /dev/zero | tr '\0' a; echo; echo end; exit 3`)
	req.Offset = 1000
	p := start(t, h, req) // output waits for this client, which never reads
	p.Close()
	const total = 200000 + 7 // and "\r\nend\r\n"
	waitFor(t, "the holder to have all output", func() bool {
		v, err := dialHolder(context.Background(), h.opt.RunDir, id, -1, roleViewer, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close()
		return v.w.End == req.Offset+total
	})

	q := attach(t, h, id, req.Offset)
	buf := make([]byte, 1<<20)
	_, err := q.Read(buf)
	var lost *sessions.LostError
	if !errors.As(err, &lost) || lost.N != total-ringBytes {
		t.Fatalf("first Read: %v, want %d bytes lost", err, total-ringBytes)
	}
	s := newStream(t, q)
	if err := s.toEnd(); err != io.EOF {
		t.Fatal(err)
	}
	if len(s.buf) != ringBytes || !bytes.HasSuffix(s.buf, []byte("aaa\r\nend\r\n")) || s.lost != 0 {
		t.Errorf("after the gap: %d bytes ending %q, lost %d; want %d", len(s.buf), tail(s.buf), s.lost, ringBytes)
	}
	if exit, err := q.Wait(); err != nil || exit.Code != 3 {
		t.Errorf("Wait() = %v, %v", exit, err)
	}
}

func TestHolderStartFailures(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	for _, tc := range []struct {
		name string
		edit func(*sessions.StartRequest)
		want string
	}{
		{"program", func(r *sessions.StartRequest) { r.Spec.Command = "no-such-program-4711" }, `program "no-such-program-4711" not found`},
		{"cwd", func(r *sessions.StartRequest) { r.Cwd = "/no/such/dir" }, `cwd "/no/such/dir": no such file or directory`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := shellReq(newID(), t.TempDir())
			tc.edit(&req)
			_, err := h.Start(context.Background(), req)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Start() error = %v, want it to contain %q", err, tc.want)
			}
			left, _ := os.ReadDir(h.opt.RunDir)
			if len(left) != 0 {
				t.Errorf("run dir has %v", left)
			}
		})
	}
	t.Run("not a holder", func(t *testing.T) {
		h := newTestHolders(t, HolderOptions{})
		h.opt.Exe, h.opt.Args = "/bin/sh", []string{"-c", "exit 3"}
		_, err := h.Start(context.Background(), shellReq(newID(), t.TempDir()))
		if err == nil || !strings.Contains(err.Error(), "(exit status 3)") {
			t.Fatalf("Start() error = %v, want the holder's exit status", err)
		}
	})
}

func TestHolderRefusesWrongSecret(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	p := start(t, h, shellReq(id, t.TempDir()))
	key := keyPath(h.opt.RunDir, id)
	good, _ := os.ReadFile(key)
	other := make([]byte, secretSize)
	rand.Read(other)
	os.WriteFile(key, []byte(hex.EncodeToString(other)), 0o600)

	_, err := h.Attach(context.Background(), id, 0)
	if err == nil || !strings.Contains(err.Error(), "wrong secret") {
		t.Fatalf("Attach with a wrong secret: %v", err)
	}
	os.WriteFile(key, good, 0o600)
	q := attach(t, h, id, 0)
	if q.Pid() != p.Pid() {
		t.Errorf("pid %d, want %d", q.Pid(), p.Pid())
	}
}

func TestHolderSocketChecks(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	start(t, h, shellReq(id, t.TempDir()))
	sock := sockPath(h.opt.RunDir, id)

	os.Chmod(sock, 0o660)
	_, err := h.Attach(context.Background(), id, 0)
	if err == nil || !strings.Contains(err.Error(), "has mode 0660, want 0600") {
		t.Errorf("Attach to a 0660 socket: %v", err)
	}
	os.Chmod(sock, 0o600)

	if os.Getuid() == 0 {
		os.Lchown(sock, 65534, 65534)
		_, err := h.Attach(context.Background(), id, 0)
		if err == nil || !strings.Contains(err.Error(), "owned by uid 65534") {
			t.Errorf("Attach to another user's socket: %v", err)
		}
		os.Lchown(sock, 0, 0)
	}
	attach(t, h, id, 0) // and all is well again
}

func TestHolderStaleSocket(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	p := start(t, h, shellReq(id, t.TempDir()))
	syscall.Kill(p.HolderPid(), syscall.SIGKILL)
	waitReaped(t, h, p.HolderPid())

	_, err := h.Attach(context.Background(), id, 0)
	if err == nil || !strings.Contains(err.Error(), "holder is gone (stale socket") {
		t.Fatalf("Attach to a dead holder: %v", err)
	}
	if exists(sockPath(h.opt.RunDir, id)) || exists(keyPath(h.opt.RunDir, id)) {
		t.Errorf("stale files not removed")
	}
	_, err = h.Attach(context.Background(), id, 0)
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second Attach: %v", err)
	}
	// The session can be started again under the same id.
	q := start(t, h, shellReq(id, t.TempDir()))
	q.Write([]byte("echo $((2+2))\n"))
	newStream(t, q).until("4\r\n")
}

// A "holder" that accepts and never answers is given up after HelloTimeout.
func TestHolderHangingHolder(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{HelloTimeout: 200 * time.Millisecond})
	id := newID()
	ln, err := net.Listen("unix", sockPath(h.opt.RunDir, id))
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(sockPath(h.opt.RunDir, id), 0o600)
	secret := make([]byte, secretSize)
	if err := writeKey(keyPath(h.opt.RunDir, id), secret); err != nil {
		t.Fatal(err)
	}
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	_, err = h.Attach(context.Background(), id, 0)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 200ms") {
		t.Errorf("Attach to a silent holder: %v", err)
	}
	ln.Close()
	for c := range accepted {
		c.Close()
	}
}

func TestHolderAttachHonoursContext(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{HelloTimeout: time.Hour})
	id := newID()
	ln, err := net.Listen("unix", sockPath(h.opt.RunDir, id))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	os.Chmod(sockPath(h.opt.RunDir, id), 0o600)
	writeKey(keyPath(h.opt.RunDir, id), make([]byte, secretSize))
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan struct{})
	go func() { // cancel once the hello arrived, then never answer
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.ReadFull(c, make([]byte, headerSize+2+8+secretSize))
		cancel(errors.New("server stopping"))
		io.Copy(io.Discard, c)
	}()
	defer func() { <-done }()
	_, err = h.Attach(ctx, id, 0)
	if err == nil || !strings.Contains(err.Error(), "server stopping") {
		t.Errorf("Attach with a cancelled context: %v", err)
	}
}

// A person's terminal that does not keep up never slows the program: it is
// told how much it missed, while the server gets everything.
func TestHolderViewerFallsBehind(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{RingBytes: 64 << 10})
	id := newID()
	p := start(t, h, shReq(id, `read x; head -c 2000000 /dev/zero | tr '\0' a; echo; echo end; read y`))
	v, err := dialHolder(context.Background(), h.opt.RunDir, id, 0, roleViewer, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	p.Write([]byte("\n"))
	s := newStream(t, p)
	s.until("end\r\n") // the server reads it all while the viewer reads nothing
	if s.lost != 0 {
		t.Errorf("server lost %d bytes", s.lost)
	}

	vs := newStream(t, v)
	vs.until("end\r\n")
	if vs.lost == 0 {
		t.Errorf("the viewer lost nothing; the program must have waited for it")
	}
	if got, want := int64(len(vs.buf))+vs.lost, int64(len(s.buf)); got != want {
		t.Errorf("viewer: %d bytes + %d lost = %d, want %d", len(vs.buf), vs.lost, got, want)
	}
	p.Write([]byte("\n"))
	if err := s.toEnd(); err != io.EOF {
		t.Fatal(err)
	}
	if err := vs.toEnd(); err != io.EOF {
		t.Fatal(err)
	}
}

// A server is passed the PTY master with its welcome and types straight
// into the terminal; input the terminal cannot take at once goes through
// the holder, and so does all input after it: every line arrives once, in
// order. A person's terminal (a viewer) is not passed the master.
func TestHolderInputStraightToTheTerminal(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	id := newID()
	// The program does not read for a while, so the terminal's input
	// queue (4 KiB) fills.
	p := start(t, h, shReq(id, `stty -echo; echo READY; sleep 0.5; awk '$1 != NR { print "BAD", NR, $1; exit 1 } END { print "LINES", NR }'`))
	s := newStream(t, p)
	s.until("READY")
	p.wmu.Lock()
	direct := p.hasMaster
	p.wmu.Unlock()
	if !direct {
		t.Fatal("the server's connection was not passed the PTY master")
	}
	v, err := dialHolder(context.Background(), h.opt.RunDir, id, 0, roleViewer, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if v.hasMaster {
		t.Errorf("a viewer was passed the PTY master")
	}
	v.Close()
	var in bytes.Buffer
	for i := 1; i <= 2000; i++ {
		fmt.Fprintf(&in, "%d %s\n", i, strings.Repeat("x", 50))
	}
	for b := in.Bytes(); len(b) > 0; b = b[min(len(b), 3000):] {
		if _, err := p.Write(b[:min(len(b), 3000)]); err != nil {
			t.Fatal(err)
		}
	}
	p.Write([]byte{4}) // Ctrl-D: end of input
	if got := s.until("LINES "); strings.Contains(got, "BAD") {
		t.Fatalf("lines out of order: %q", got)
	}
	if got := s.until("\n"); strings.TrimSpace(got) != "2000" {
		t.Errorf("awk read %q lines, want 2000 in order", got)
	}
	p.wmu.Lock()
	direct = p.hasMaster
	p.wmu.Unlock()
	if direct {
		t.Errorf("110 KB typed at a program that does not read: all of it went straight to the terminal, none through the holder")
	}
}

// When the holder dies, the server's connection closes the master it was
// passed, so the program is hung up rather than left on a terminal nobody
// reads.
func TestHolderGoneHangsUpTheProgram(t *testing.T) {
	t.Parallel()
	h := newTestHolders(t, HolderOptions{})
	p := start(t, h, shellReq(newID(), t.TempDir()))
	s := newStream(t, p)
	p.Write([]byte("echo $((6*7))\n"))
	s.until("42\r\n")
	pid := p.Pid()
	syscall.Kill(p.HolderPid(), syscall.SIGKILL)
	if err := s.toEnd(); !errors.Is(err, sessions.ErrDisconnected) {
		t.Fatalf("output ended with %v, want a lost connection", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil && strings.Contains(string(st), ") Z ") {
			break // exited, not yet reaped by its new parent
		}
		if time.Now().After(deadline) {
			t.Fatalf("the shell (pid %d) still runs after its holder died", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
