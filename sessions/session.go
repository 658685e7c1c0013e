package sessions

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/console-mcp/console-mcp/offring"
)

// Session is one terminal: the program of its current generation, its output
// stream and its exit state. All methods are safe for concurrent use.
//
// A Session owns the goroutines of its current generation (the pump that
// reads output, the waiter that reaps the exit); the Manager's WaitGroup
// waits for them.
type Session struct {
	id    ID
	m     *Manager
	shell shellFamily

	mu           sync.Mutex
	spec         Spec
	status       Status
	reason       string
	gen          int
	proc         Process
	pid          int
	exit         *Exit
	cwd          string
	createdAt    time.Time
	lastActivity time.Time
	lastOutput   time.Time
	endedAt      time.Time
	out          offring.Ring
	lost         int64
	changed      chan struct{} // closed and replaced on output or status change
	watched      bool          // someone holds changed
	genDone      chan struct{} // closed when the current generation has ended
	lastInput    int64         // output cursor at the last input
	stopping     bool          // console_stop_session asked for the end
	detaching    bool          // the server is going away; the program may stay
	storeErr     error         // the first persistence failure, shown in status
	pending      *pendingExec  // an execute that timed out and may still run
	secrets      [][]byte      // values typed by secret_env: redacted from output, never stored

	execMu sync.Mutex // one console_execute_command at a time

	screenMu sync.Mutex
	screen   *screenState
}

// Info is a snapshot of a session for listing.
type Info struct {
	ID             ID
	Spec           Spec
	Status         Status
	Reason         string
	Generation     int
	Pid            int
	Exit           *Exit
	Cwd            string
	CreatedAt      time.Time
	LastActivityAt time.Time
	EndedAt        time.Time
	OutputEnd      int64
	LostBytes      int64
}

// ID returns the session's id.
func (s *Session) ID() ID { return s.id }

// Info returns a snapshot of the session's state.
func (s *Session) Info() Info {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.infoLocked()
}

func (s *Session) infoLocked() Info {
	reason := s.reason
	if s.storeErr != nil && s.status.Live() {
		reason = strings.TrimPrefix(reason+"; ", "; ") + "history is not being saved: " + s.storeErr.Error()
	}
	return Info{
		ID: s.id, Spec: s.spec, Status: s.status, Reason: reason, Generation: s.gen,
		Pid: s.pid, Exit: s.exit, Cwd: s.cwd, CreatedAt: s.createdAt,
		LastActivityAt: s.lastActivity, EndedAt: s.endedAt,
		OutputEnd: s.out.End(), LostBytes: s.lost,
	}
}

func (s *Session) record() Record {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Record{
		ID: s.id, Spec: s.spec, Status: s.status, StatusReason: s.reason,
		Generation: s.gen, Pid: s.pid, Cwd: s.cwd, Exit: s.exit,
		OutputEnd: s.out.End(), LostBytes: s.lost, Owner: s.m.owner,
		CreatedAt: s.createdAt, UpdatedAt: s.m.now(), LastActivityAt: s.lastActivity,
		EndedAt: s.endedAt,
	}
}

// Cursor is the offset just past the newest output byte.
func (s *Session) Cursor() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.End()
}

// notifyLocked wakes everyone waiting for output or a status change. The
// channel is replaced only if someone took it (changedLocked), so output
// nobody waits for costs no allocation.
func (s *Session) notifyLocked() {
	if !s.watched {
		return
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.watched = false
}

// changedLocked returns the channel closed at the next change.
func (s *Session) changedLocked() <-chan struct{} {
	s.watched = true
	return s.changed
}

// startGeneration makes p the session's program and starts the goroutines
// that read its output and reap its exit.
func (s *Session) startGeneration(p Process, gen int) {
	s.mu.Lock()
	s.proc = p
	s.gen = gen
	s.pid = p.Pid()
	s.status = StatusRunning
	s.reason = ""
	s.exit = nil
	done := make(chan struct{})
	s.genDone = done
	s.notifyLocked()
	s.mu.Unlock()
	s.m.wg.Go(func() { s.run(p, gen, done) })
}

// drainGrace is how long the waiter lets the pump read what is left after
// the program exited before it closes the terminal: a background job that
// keeps the terminal open must not keep the session alive.
const drainGrace = 500 * time.Millisecond

// run owns one generation: it pumps output, waits for the exit and records
// how the generation ended.
func (s *Session) run(p Process, gen int, done chan struct{}) {
	defer close(done)
	pumped := make(chan struct{})
	s.m.wg.Go(func() {
		defer close(pumped)
		s.pump(p, gen)
	})
	exit, err := p.Wait()
	select {
	case <-pumped:
	case <-time.After(drainGrace):
		_ = p.Close() // best effort: unblocks the pump's Read
		<-pumped
	}

	s.mu.Lock()
	detaching, stopping := s.detaching, s.stopping
	s.mu.Unlock()
	switch {
	case detaching:
		// The server is going away; the program's fate is the backend's.
		return
	case errors.Is(err, ErrDisconnected) && !stopping:
		_ = p.Close() // best effort: release what is left of the connection
		why := "after a dropped connection"
		if s.Info().Spec.Kind == KindLocal {
			why = "after its holder was lost"
		}
		s.reconnect(gen, why) // here, so that Stop waiting on done waits for it
		return
	case err != nil && !errors.Is(err, ErrDisconnected):
		s.finish(nil, StatusFailed, fmt.Sprintf("lost the program: %v", err))
	default:
		status, reason := StatusExited, ""
		if stopping {
			status, reason = StatusStopped, "stopped by console_stop_session"
		}
		var e *Exit
		if err == nil {
			e = &exit
		} else {
			reason = strings.TrimPrefix(reason+"; ", "; ") + "connection closed before an exit status arrived"
		}
		s.finish(e, status, reason)
	}
	if err := p.Close(); err != nil {
		s.m.log.Warn("release program", "session", s.id, "err", err)
	}
}

// pump copies the program's output into the stream until it ends.
func (s *Session) pump(p Process, gen int) {
	buf := make([]byte, 32<<10)
	for {
		n, err := p.Read(buf)
		if n > 0 {
			s.appendOutput(buf[:n], gen)
		}
		if err != nil {
			var lost *LostError
			if errors.As(err, &lost) {
				s.skipLost(lost.N, gen)
				continue
			}
			if !errors.Is(err, io.EOF) {
				s.m.log.Debug("output ended", "session", s.id, "err", err)
			}
			return
		}
	}
}

// minRedact is the shortest secret redacted from output: shorter values
// would mask ordinary text.
const minRedact = 4

// checkSecretSafe refuses to type a secret into a local terminal that
// echoes input (no password prompt is active).
func (s *Session) checkSecretSafe(proc Process) error {
	if s.m.opt.Echoes == nil || s.spec.Kind != KindLocal || proc.Pid() <= 0 {
		return nil
	}
	echo, err := s.m.opt.Echoes(proc.Pid())
	if err != nil {
		return nil // unknown: the redaction still masks an echo
	}
	if echo {
		return fmt.Errorf("secret_env: refusing to type a secret: the terminal of %s echoes input, so it would appear in the output; wait for the password prompt (console_wait_for_output pattern \"[Pp]assword\") and send it then", s.id)
	}
	return nil
}

// redact masks secret values typed into this session wherever they appear
// in data (a program or a line editor echoing them).
func (s *Session) redact(data []byte) []byte {
	s.mu.Lock()
	secrets := s.secrets
	s.mu.Unlock()
	for _, sec := range secrets {
		if bytes.Contains(data, sec) {
			data = bytes.ReplaceAll(data, sec, bytes.Repeat([]byte{'*'}, len(sec)))
		}
	}
	return data
}

// appendOutput adds data to the stream, in memory and in the store.
func (s *Session) appendOutput(data []byte, gen int) {
	data = s.redact(data)
	now := s.m.now()
	s.mu.Lock()
	off := s.out.End()
	s.out.Write(data)
	s.lastActivity = now
	s.lastOutput = now
	end := s.out.End()
	s.notifyLocked()
	s.mu.Unlock()
	if st := s.m.store; st != nil {
		if err := st.AppendOutput(s.id, gen, Chunk{Offset: off, At: now, Data: data}); err != nil {
			s.storeFailed(err)
		}
		st.Touch(s.id, end, now)
	}
}

// skipLost advances the stream over n bytes a backend could not deliver.
func (s *Session) skipLost(n int64, gen int) {
	s.mu.Lock()
	s.out.Skip(n)
	s.lost += n
	s.notifyLocked()
	s.mu.Unlock()
	s.m.log.Warn("output lost", "session", s.id, "generation", gen, "bytes", n)
}

func (s *Session) storeFailed(err error) {
	s.mu.Lock()
	first := s.storeErr == nil
	if first {
		s.storeErr = err
	}
	s.mu.Unlock()
	if first {
		s.m.log.Error("persist output", "session", s.id, "err", err)
	}
}

// markerLine is the visible line that marks a restart or reconnect
// boundary in the output.
func markerLine(text string) []byte {
	return []byte("\r\n[console-mcp] " + text + "\r\n")
}

// finish records how the current generation ended.
func (s *Session) finish(exit *Exit, status Status, reason string) {
	s.mu.Lock()
	s.status = status
	s.reason = reason
	s.exit = exit
	s.endedAt = s.m.now()
	if s.pending != nil {
		s.pending = nil
	}
	s.notifyLocked()
	gen, off := s.gen, s.out.End()
	s.mu.Unlock()
	data := string(status)
	if exit != nil {
		data += ": " + exit.String()
	}
	if reason != "" {
		data += ": " + reason
	}
	s.event(Event{Generation: gen, Offset: off, Kind: EventStatus, Data: data})
	s.m.save(s)
	s.m.retire(s)
}

func (s *Session) event(ev Event) {
	st := s.m.store
	if st == nil {
		return
	}
	ev.Session = s.id
	if ev.At.IsZero() {
		ev.At = s.m.now()
	}
	if err := st.AppendEvent(ev); err != nil {
		s.storeFailed(err)
	}
}

// live returns the current program, or an error that says why there is none.
func (s *Session) live() (Process, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.status.Live() || s.proc == nil {
		return nil, fmt.Errorf("%w: %s is %s", ErrNotLive, s.id, s.status)
	}
	if s.status == StatusReconnecting {
		return nil, fmt.Errorf("%w: %s is reconnecting (%s)", ErrNotLive, s.id, s.reason)
	}
	return s.proc, nil
}

// MaxInput is the most bytes one input may carry.
const MaxInput = 1 << 20

// Write types p into the terminal and returns the output cursor at the
// moment of sending. The input is recorded as an event unless secretEnv
// names the environment variable it came from, in which case only that
// name is recorded.
func (s *Session) Write(p []byte, secretEnv string) (int64, error) {
	if len(p) > MaxInput {
		return 0, fmt.Errorf("input is %d bytes; the limit is %d (1 MiB): send it in parts", len(p), MaxInput)
	}
	proc, err := s.live()
	if err != nil {
		return 0, err
	}
	if secretEnv != "" {
		if err := s.checkSecretSafe(proc); err != nil {
			return 0, err
		}
	}
	s.mu.Lock()
	if secretEnv != "" && len(p) >= minRedact {
		s.secrets = append(s.secrets, bytes.Clone(p))
	}
	cursor, gen := s.out.End(), s.gen
	s.lastInput = cursor
	s.lastActivity = s.m.now()
	if s.pending != nil && bytes.ContainsAny(p, "\x03\x1c\x1a") {
		s.pending.interrupted = true // Ctrl-C, Ctrl-\\ or Ctrl-Z
	}
	s.mu.Unlock()
	if _, err := proc.Write(p); err != nil {
		return cursor, fmt.Errorf("write to %s: %w", s.id, err)
	}
	if secretEnv != "" {
		s.event(Event{Generation: gen, Offset: cursor, Kind: EventSecret, Data: secretEnv})
	} else {
		s.event(Event{Generation: gen, Offset: cursor, Kind: EventInput, Data: string(p)})
	}
	return cursor, nil
}

// LastInputCursor is the output cursor at the last input sent.
func (s *Session) LastInputCursor() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastInput
}

// Resize sets the terminal size.
func (s *Session) Resize(cols, rows int) error {
	if err := checkSize(cols, rows); err != nil {
		return err
	}
	proc, err := s.live()
	if err != nil {
		return err
	}
	if err := proc.Resize(cols, rows); err != nil {
		return fmt.Errorf("resize %s: %w", s.id, err)
	}
	s.mu.Lock()
	s.spec.Cols, s.spec.Rows = cols, rows
	gen, off := s.gen, s.out.End()
	s.mu.Unlock()
	s.event(Event{Generation: gen, Offset: off, Kind: EventResize, Data: fmt.Sprintf("%dx%d", cols, rows)})
	s.m.save(s)
	return nil
}

func checkSize(cols, rows int) error {
	if cols < 1 || cols > 1000 {
		return fmt.Errorf("cols %d is out of range: use 1..1000", cols)
	}
	if rows < 1 || rows > 1000 {
		return fmt.Errorf("rows %d is out of range: use 1..1000", rows)
	}
	return nil
}

// StopResult is how a stop ended.
type StopResult struct {
	Status Status
	Exit   *Exit
}

// Stop ends the program: sig (SIGTERM by default, with SIGHUP as a
// terminal's hang-up would send), then SIGKILL after grace, then a
// hang-up of the terminal itself. Stopping an ended session reports its
// final state.
func (s *Session) Stop(ctx context.Context, sig syscall.Signal, grace time.Duration) (StopResult, error) {
	s.mu.Lock()
	if !s.status.Live() {
		r := StopResult{Status: s.status, Exit: s.exit}
		s.mu.Unlock()
		return r, nil
	}
	s.stopping = true
	s.notifyLocked() // wakes a reconnect loop's backoff
	proc, done := s.proc, s.genDone
	reconnecting := s.status == StatusReconnecting
	s.mu.Unlock()

	if reconnecting || proc == nil {
		// The reconnect loop sees stopping and gives up.
		s.finishStopWait(ctx, done)
	} else {
		s.escalate(ctx, proc, sig, grace, done)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return StopResult{Status: s.status, Exit: s.exit}, nil
}

func (s *Session) escalate(ctx context.Context, proc Process, sig syscall.Signal, grace time.Duration, done chan struct{}) {
	if sig == 0 {
		sig = syscall.SIGTERM
	}
	if err := proc.Signal(sig); err != nil {
		s.m.log.Warn("signal", "session", s.id, "signal", sig, "err", err)
	}
	if sig == syscall.SIGTERM {
		_ = proc.Signal(syscall.SIGHUP) // best effort: interactive shells ignore TERM
	}
	if waitDone(ctx, done, grace) {
		return
	}
	_ = proc.Signal(syscall.SIGKILL) // best effort: escalation
	if waitDone(ctx, done, 2*time.Second) {
		return
	}
	_ = proc.Close() // best effort: hang up / close the channel
	waitDone(ctx, done, 5*time.Second)
}

func (s *Session) finishStopWait(ctx context.Context, done chan struct{}) {
	if done != nil {
		waitDone(ctx, done, 5*time.Second)
	}
}

func waitDone(ctx context.Context, done <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// detach lets go of the program without ending it (server shutdown); an
// in-process program ends with the server.
func (s *Session) detach() {
	s.mu.Lock()
	proc, done := s.proc, s.genDone
	live := s.status.Live()
	s.detaching = true
	s.notifyLocked()
	s.mu.Unlock()
	if !live || proc == nil {
		return
	}
	if err := proc.Close(); err != nil {
		s.m.log.Warn("detach", "session", s.id, "err", err)
	}
	if done != nil {
		waitDone(context.Background(), done, 5*time.Second)
	}
}
