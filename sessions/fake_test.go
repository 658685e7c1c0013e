package sessions_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// fakeProc is a program that prints what the test feeds it and ends how
// the test says.
type fakeProc struct {
	out     chan []byte
	done    chan struct{}
	once    sync.Once
	mu      sync.Mutex
	exit    sessions.Exit
	waitErr error
	input   strings.Builder
}

func newFakeProc() *fakeProc {
	return &fakeProc{out: make(chan []byte, 16), done: make(chan struct{})}
}

func (p *fakeProc) Read(b []byte) (int, error) {
	select {
	case d := <-p.out:
		return copy(b, d), nil
	case <-p.done:
		return 0, io.EOF
	}
}

func (p *fakeProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.input.Write(b)
	return len(b), nil
}

func (p *fakeProc) Resize(int, int) error { return nil }
func (p *fakeProc) Pid() int              { return 4242 }
func (p *fakeProc) Cwd() string           { return "" }

func (p *fakeProc) Signal(sig syscall.Signal) error {
	if sig == syscall.SIGKILL {
		p.end(sessions.Exit{Code: 137, Signal: "SIGKILL"}, nil)
	}
	return nil
}

func (p *fakeProc) Wait() (sessions.Exit, error) {
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit, p.waitErr
}

func (p *fakeProc) Close() error {
	p.end(sessions.Exit{Code: 129, Signal: "SIGHUP"}, nil)
	return nil
}

// end makes the program end with exit, or with err from Wait.
func (p *fakeProc) end(exit sessions.Exit, err error) {
	p.once.Do(func() {
		p.mu.Lock()
		p.exit, p.waitErr = exit, err
		p.mu.Unlock()
		close(p.done)
	})
}

// fakeBackend starts fakeProcs; failN makes the next starts fail.
type fakeBackend struct {
	mu     sync.Mutex
	procs  []*fakeProc
	reqs   []sessions.StartRequest
	failN  int
	failBy error
}

func (b *fakeBackend) Start(ctx context.Context, req sessions.StartRequest) (sessions.Process, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reqs = append(b.reqs, req)
	if b.failN > 0 {
		b.failN--
		return nil, b.failBy
	}
	p := newFakeProc()
	b.procs = append(b.procs, p)
	return p, nil
}

func (b *fakeBackend) last() *fakeProc {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.procs[len(b.procs)-1]
}

func (b *fakeBackend) starts() []sessions.StartRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.reqs)
}

func waitInfo(t *testing.T, s *sessions.Session, ok func(sessions.Info) bool) sessions.Info {
	t.Helper()
	var in sessions.Info
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if in = s.Info(); ok(in) {
			return in
		}
	}
	t.Fatalf("session never reached the state: %+v", in)
	return in
}

// TestReconnectAfterDrop: a program whose connection drops is started again
// (generation 2, in the last directory, output continuing), with a marker.
func TestReconnectAfterDrop(t *testing.T) {
	b := &fakeBackend{}
	m := sessions.NewManager(map[sessions.Kind]sessions.Backend{sessions.KindSSH: b}, nil, sessions.Options{})
	defer m.Close()
	s, err := m.Create(context.Background(), sessions.Spec{Kind: sessions.KindSSH, SSH: &sessions.SSHSpec{Host: "h"}, Cwd: "/srv"})
	if err != nil {
		t.Fatal(err)
	}
	b.last().out <- []byte("gen1\r\n")
	waitInfo(t, s, func(in sessions.Info) bool { return in.OutputEnd == 6 })
	b.last().end(sessions.Exit{}, sessions.ErrDisconnected)
	in := waitInfo(t, s, func(in sessions.Info) bool { return in.Generation == 2 && in.Status == sessions.StatusRunning })
	reqs := b.starts()
	// The new program's output begins right after the marker line.
	if got := reqs[len(reqs)-1]; got.Generation != 2 || got.Cwd != "/srv" || got.Offset != in.OutputEnd || got.Offset <= 6 {
		t.Errorf("second start: generation %d cwd %q offset %d (output end %d)", got.Generation, got.Cwd, got.Offset, in.OutputEnd)
	}
	r, _ := s.Read(sessions.ReadRequest{Cursor: new(int64)})
	if !strings.HasPrefix(r.Output, "gen1\n") || !strings.Contains(r.Output, "reconnected after a dropped connection (generation 2)") {
		t.Errorf("output across the drop: %q", r.Output)
	}
}

// TestReconnectGivesUp: bounded attempts, then failed with the last error.
func TestReconnectGivesUp(t *testing.T) {
	b := &fakeBackend{}
	m := sessions.NewManager(map[sessions.Kind]sessions.Backend{sessions.KindSSH: b}, nil,
		sessions.Options{ReconnectAttempts: 3, ReconnectMaxDelay: 10 * time.Millisecond})
	defer m.Close()
	s, err := m.Create(context.Background(), sessions.Spec{Kind: sessions.KindSSH, SSH: &sessions.SSHSpec{Host: "h"}})
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.failN, b.failBy = 100, errors.New("dial tcp: connection refused")
	b.mu.Unlock()
	b.last().end(sessions.Exit{}, sessions.ErrDisconnected)
	in := waitInfo(t, s, func(in sessions.Info) bool { return in.Status == sessions.StatusFailed })
	if !strings.Contains(in.Reason, "3 attempts") || !strings.Contains(in.Reason, "connection refused") {
		t.Errorf("reason %q", in.Reason)
	}
	if n := len(b.starts()); n != 4 {
		t.Errorf("%d starts, want 1 + 3 attempts", n)
	}
}

// TestStopWhileReconnecting ends the loop with status stopped.
func TestStopWhileReconnecting(t *testing.T) {
	b := &fakeBackend{}
	m := sessions.NewManager(map[sessions.Kind]sessions.Backend{sessions.KindSSH: b}, nil,
		sessions.Options{ReconnectAttempts: 1000, ReconnectMaxDelay: 50 * time.Millisecond})
	defer m.Close()
	s, err := m.Create(context.Background(), sessions.Spec{Kind: sessions.KindSSH, SSH: &sessions.SSHSpec{Host: "h"}})
	if err != nil {
		t.Fatal(err)
	}
	b.mu.Lock()
	b.failN, b.failBy = 1<<30, errors.New("unreachable")
	b.mu.Unlock()
	b.last().end(sessions.Exit{}, sessions.ErrDisconnected)
	waitInfo(t, s, func(in sessions.Info) bool { return in.Status == sessions.StatusReconnecting })
	r, err := s.Stop(context.Background(), 0, time.Second)
	if err != nil || r.Status != sessions.StatusStopped {
		t.Fatalf("stop while reconnecting: %+v %v", r, err)
	}
}

// TestStopEscalates: a program that ignores TERM and HUP is killed after
// the grace period.
func TestStopEscalates(t *testing.T) {
	b := &fakeBackend{}
	m := sessions.NewManager(map[sessions.Kind]sessions.Backend{sessions.KindLocal: b}, nil, sessions.Options{})
	defer m.Close()
	s, err := m.Create(context.Background(), sessions.Spec{Command: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.Stop(context.Background(), syscall.SIGTERM, 50*time.Millisecond)
	if err != nil || r.Status != sessions.StatusStopped || r.Exit == nil || r.Exit.Signal != "SIGKILL" {
		t.Fatalf("stop: %+v %v", r, err)
	}
	// Stopping again reports the same end.
	if r2, _ := s.Stop(context.Background(), 0, time.Second); r2.Status != sessions.StatusStopped {
		t.Errorf("second stop: %+v", r2)
	}
}

// TestRingLostBytes: without a store, output older than the ring is
// reported lost, and pages carry on from the oldest byte held.
func TestRingLostBytes(t *testing.T) {
	b := &fakeBackend{}
	m := sessions.NewManager(map[sessions.Kind]sessions.Backend{sessions.KindLocal: b}, nil, sessions.Options{RingBytes: 8 << 10})
	defer m.Close()
	s, err := m.Create(context.Background(), sessions.Spec{Command: "/bin/true"})
	if err != nil {
		t.Fatal(err)
	}
	chunk := []byte(strings.Repeat("x", 1000) + "\n")
	for range 20 {
		b.last().out <- chunk
	}
	waitInfo(t, s, func(in sessions.Info) bool { return in.OutputEnd == 20*1001 })
	r, err := s.Read(sessions.ReadRequest{Cursor: new(int64), MaxBytes: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if r.LostBytes != 20*1001-8192 || r.StartCursor != 20*1001-8192 || !r.HasMore {
		t.Errorf("read from 0: lost %d start %d has_more %v", r.LostBytes, r.StartCursor, r.HasMore)
	}
	tail, _ := s.Read(sessions.ReadRequest{TailLines: 2})
	if tail.Output != strings.Repeat("x", 1000)+"\n"+strings.Repeat("x", 1000)+"\n" {
		t.Errorf("tail_lines 2: %d bytes", len(tail.Output))
	}
	if _, err := s.Read(sessions.ReadRequest{Cursor: ptr(int64(1 << 40))}); err == nil {
		t.Error("a cursor past the end was accepted")
	}
}

func ptr[T any](v T) *T { return &v }

// TestRawNonUTF8 returns raw output that is not UTF-8 as base64.
func TestRawNonUTF8(t *testing.T) {
	b := &fakeBackend{}
	m := sessions.NewManager(map[sessions.Kind]sessions.Backend{sessions.KindLocal: b}, nil, sessions.Options{})
	defer m.Close()
	s, _ := m.Create(context.Background(), sessions.Spec{Command: "/bin/true"})
	b.last().out <- []byte{0xff, 0xfe, 'a', '\x1b', '[', 'm'}
	waitInfo(t, s, func(in sessions.Info) bool { return in.OutputEnd == 6 })
	r, _ := s.Read(sessions.ReadRequest{Cursor: new(int64), Raw: true})
	if r.Encoding != "base64" || r.Output != "//5hG1tt" {
		t.Errorf("raw: %q %q", r.Encoding, r.Output)
	}
}
