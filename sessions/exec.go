package sessions

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Command completion is a protocol, not a prompt regex: the shell itself
// prints a start marker before the command and an end marker after it,
// carrying $? and $PWD. Markers are OSC sequences (ESC ] 6973 ; ... BEL),
// which terminals and the screen emulator ignore and the text form strips.
// The wrapper types them as printf format escapes (\033), so the echo of
// the command line can never contain the marker bytes, and each command
// has its own random token.

type shellFamily int

const (
	notShell shellFamily = iota
	posixShell
	fishShell
)

var posixShells = []string{"sh", "bash", "zsh", "dash", "ksh", "mksh", "ash", "yash", "oksh", "loksh"}

// shellOf tells whether a spec runs an interactive shell the marker protocol
// can drive.
func shellOf(spec Spec) shellFamily {
	if spec.Kind == KindSSH && spec.Command == "" {
		return posixShell // the remote login shell
	}
	for _, a := range spec.Args {
		if !strings.HasPrefix(a, "-") || a == "-c" {
			return notShell
		}
	}
	return shellByName(spec.Command)
}

// IsShell reports whether console_execute_command can drive spec's program.
func IsShell(spec Spec) bool { return shellOf(spec) != notShell }

func shellByName(command string) shellFamily {
	base := strings.TrimPrefix(filepath.Base(command), "-")
	switch {
	case slices.Contains(posixShells, base):
		return posixShell
	case base == "fish":
		return fishShell
	}
	return notShell
}

const (
	markerStart = "\x1b]6973;S;"
	markerEnd   = "\x1b]6973;E;"
)

func newToken() string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}

// quote returns s as one single-quoted word of the shell family.
func (f shellFamily) quote(s string) string {
	if f == fishShell {
		s = strings.ReplaceAll(s, `\`, `\\`)
		return "'" + strings.ReplaceAll(s, `'`, `\'`) + "'"
	}
	return "'" + strings.ReplaceAll(s, `'`, `'\''`) + "'"
}

// scoped wraps command so that it runs in dir with env, in a subshell, so
// the session's own directory and environment stay as they were.
func (f shellFamily) scoped(command, dir string, env map[string]string) string {
	if dir == "" && len(env) == 0 {
		return command
	}
	var b strings.Builder
	if f == fishShell {
		b.WriteString("begin; ")
		if dir != "" {
			b.WriteString("cd " + f.quote(dir) + "; or exit 1; ")
		}
		for _, k := range sortedKeys(env) {
			b.WriteString("set -lx " + k + " " + f.quote(env[k]) + "; ")
		}
		b.WriteString("eval " + f.quote(command) + "; end")
		return b.String()
	}
	b.WriteString("( ")
	if dir != "" {
		b.WriteString("cd -- " + f.quote(dir) + " || exit 1; ")
	}
	for _, k := range sortedKeys(env) {
		b.WriteString("export " + k + "=" + f.quote(env[k]) + "; ")
	}
	b.WriteString("eval " + f.quote(command) + " )")
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// wrap returns the line typed into an interactive shell to run command
// between markers. The leading space keeps it out of most shells' history.
func (f shellFamily) wrap(token, command string) string {
	if f == fishShell {
		return " printf '\\x1b]6973;S;%s\\x07' " + token + "; eval " + f.quote(command) +
			"; printf '\\x1b]6973;E;%s;%s;%s\\x07' " + token + " $status \"$PWD\"\r"
	}
	// $? is carried across the markers (through a function's return, no
	// fork), so the command sees the previous command's status and the
	// next prompt sees this one's.
	return " __cm_rc=$?; __cm_r() { return \"$1\"; }; printf '\\033]6973;S;%s\\007' " + token +
		"; __cm_r \"$__cm_rc\"; eval " + f.quote(command) +
		"; __cm_rc=$?; printf '\\033]6973;E;%s;%s;%s\\007' " + token + " \"$__cm_rc\" \"$PWD\"; __cm_r \"$__cm_rc\"\r"
}

// script returns the -c script of a one-shot run: the same markers, and the
// shell exits with the command's status.
func (f shellFamily) script(token, command string) string {
	if f == fishShell {
		return "printf '\\x1b]6973;S;%s\\x07' " + token + "; eval " + f.quote(command) +
			"; set -l __cm_rc $status; printf '\\x1b]6973;E;%s;%s;%s\\x07' " + token + " $__cm_rc \"$PWD\"; exit $__cm_rc"
	}
	return "printf '\\033]6973;S;%s\\007' " + token + "; eval " + f.quote(command) +
		"; __cm_rc=$?; printf '\\033]6973;E;%s;%s;%s\\007' " + token + " \"$__cm_rc\" \"$PWD\"; exit \"$__cm_rc\""
}

// endMarker is a parsed end marker.
type endMarker struct {
	code int
	cwd  string
	end  int // index just past the marker's BEL
}

// findEnd looks for token's end marker in b from index 0; pos is the index
// of the marker's ESC, or -1.
func findEnd(b []byte, token string) (m endMarker, pos int) {
	prefix := markerEnd + token + ";"
	pos = bytes.Index(b, []byte(prefix))
	if pos < 0 {
		return endMarker{}, -1
	}
	rest := b[pos+len(prefix):]
	bel := bytes.IndexByte(rest, '\a')
	if bel < 0 {
		return endMarker{}, -1 // not complete yet
	}
	codeStr, cwd, ok := strings.Cut(string(rest[:bel]), ";")
	if !ok {
		return endMarker{}, -1
	}
	code, err := strconv.Atoi(codeStr)
	if err != nil {
		code = -1
	}
	return endMarker{code: code, cwd: cwd, end: pos + len(prefix) + bel + 1}, pos
}

// pendingExec is a command that outlived its execute call.
type pendingExec struct {
	token       string
	from        int64 // output cursor when it was typed
	interrupted bool  // an interrupt key was typed since
}

// idleReporter is a Process that can tell whether its shell is back in the
// foreground of its terminal (no job running), as local PTYs can.
type idleReporter interface {
	ShellIdle() bool
}

// ExecRequest is one console_execute_command.
type ExecRequest struct {
	Command string
	Cwd     string
	Env     map[string]string
	Timeout time.Duration
	// MaxOutput bounds Output (bytes of text); zero means 16 KiB.
	MaxOutput int
	// Creator is the MCP session of a one-shot run's new session.
	Creator string
}

// ExecResult is what a command did.
type ExecResult struct {
	Session ID
	// Output is the command's own output in text form (no echo, no
	// markers); when longer than the bound, its tail.
	Output string
	// Truncated is true when Output is a tail; OutputCursor is where the
	// whole output begins, for console_get_output.
	Truncated    bool
	OutputCursor int64
	ExitCode     *int
	Cwd          string
	Duration     time.Duration
	TimedOut     bool
	StillRunning bool
	// Cursor is the output cursor after the command (or now, if it runs on).
	Cursor int64
	Status Status
}

// Execute runs req.Command in the session's shell and waits for its end
// marker, at most req.Timeout. On timeout the command keeps running.
func (s *Session) Execute(ctx context.Context, req ExecRequest) (ExecResult, error) {
	if strings.TrimSpace(req.Command) == "" {
		return ExecResult{}, errors.New("command is empty: give the shell command to run")
	}
	if len(req.Command) > MaxInput {
		return ExecResult{}, fmt.Errorf("command is %d bytes; the limit is %d", len(req.Command), MaxInput)
	}
	if s.shell == notShell {
		return ExecResult{}, fmt.Errorf("%w: %s runs %q; use console_send_input and console_wait_for_output for programs that are not shells", ErrNotShell, s.id, s.spec.Command)
	}
	if !s.execMu.TryLock() {
		return ExecResult{}, fmt.Errorf("%w: %s; wait for it to finish or call console_wait_for_output", ErrBusy, s.id)
	}
	defer s.execMu.Unlock()
	if err := s.checkPending(); err != nil {
		return ExecResult{}, err
	}
	s.awaitFirstOutput(ctx, min(req.Timeout, shellStartWait))
	token := newToken()
	line := s.shell.wrap(token, s.shell.scoped(req.Command, req.Cwd, req.Env))
	started := time.Now()
	cursor, err := s.Write([]byte(line), "")
	if err != nil {
		return ExecResult{}, err
	}
	// The token outlives this server: after a restart, a command that was
	// still running is known by it (see restorePending).
	s.event(Event{Generation: s.Info().Generation, Offset: cursor, Kind: EventExec, Data: token})
	return s.awaitMarkers(ctx, token, cursor, started, req)
}

// shellStartWait bounds how long the first command waits for a new shell.
const shellStartWait = 5 * time.Second

// awaitFirstOutput waits, at most d, until the session has printed
// something (a new shell's prompt). A shell that is still starting may
// discard what is typed ahead of its line editor, and the command would
// never run.
func (s *Session) awaitFirstOutput(ctx context.Context, d time.Duration) {
	if d <= 0 {
		d = shellStartWait
	}
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		s.mu.Lock()
		started := s.out.End() > 0 || !s.status.Live()
		changed := s.changedLocked()
		s.mu.Unlock()
		if started {
			return
		}
		select {
		case <-changed:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// checkPending refuses a new command while an earlier one that timed out
// is still running (its end marker has not appeared).
func (s *Session) checkPending() error {
	s.mu.Lock()
	p := s.pending
	s.mu.Unlock()
	if p == nil {
		return nil
	}
	if code, _ := s.resolvePending(); code != nil {
		return nil
	}
	// A shell aborts the rest of a command line when its job dies of
	// Ctrl-C, so an interrupted command prints no end marker: an interrupt
	// typed since, or a shell seen back in the foreground, ends the wait.
	s.mu.Lock()
	idle := p.interrupted
	proc := s.proc
	s.mu.Unlock()
	if ir, ok := proc.(idleReporter); ok && !idle {
		idle = ir.ShellIdle()
	}
	if idle {
		s.mu.Lock()
		if s.pending == p {
			s.pending = nil
		}
		s.mu.Unlock()
		return nil
	}
	return fmt.Errorf("%w: %s still runs the command started at cursor %d; wait for it with console_wait_for_output, or interrupt it with console_send_keys [\"ctrl+c\"]", ErrBusy, s.id, p.from)
}

// resolvePending reports the exit code and directory of a timed-out
// command that has finished since, and forgets it.
func (s *Session) resolvePending() (*int, string) {
	s.mu.Lock()
	p := s.pending
	s.mu.Unlock()
	if p == nil {
		return nil, ""
	}
	m, _, _, found := s.scanFor(p.from, p.token)
	if !found {
		return nil, ""
	}
	s.mu.Lock()
	if s.pending == p {
		s.pending = nil
	}
	if m.cwd != "" {
		s.cwd = m.cwd
	}
	s.mu.Unlock()
	return &m.code, m.cwd
}

// restorePending finds, after a restart, a command typed by an earlier
// server whose end marker has not appeared yet, so that its exit code is
// still reported (by console_wait_for_output) and no second command is
// typed into it.
func (s *Session) restorePending() {
	if s.m.store == nil {
		return
	}
	events, err := s.m.store.Events(s.id)
	if err != nil {
		s.m.log.Warn("load events", "session", s.id, "err", err)
		return
	}
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		if ev.Kind != EventExec {
			continue
		}
		if _, _, _, found := s.scanFor(ev.Offset, ev.Data); !found {
			s.mu.Lock()
			s.pending = &pendingExec{token: ev.Data, from: ev.Offset}
			s.mu.Unlock()
		}
		return
	}
}

// scanFor looks for token's end marker in the output from offset from and
// returns it with the offsets of its first byte and just past its last.
func (s *Session) scanFor(from int64, token string) (m endMarker, pos, end int64, found bool) {
	const window = 1 << 20
	for {
		data, start, _ := s.readRaw(from, window)
		if len(data) == 0 {
			return endMarker{}, 0, 0, false
		}
		if m, i := findEnd(data, token); i >= 0 {
			return m, start + int64(i), start + int64(m.end), true
		}
		if len(data) < window {
			return endMarker{}, 0, 0, false
		}
		from = start + int64(len(data)) - 8192 // overlap: a marker may straddle
	}
}

// awaitMarkers waits for the end marker of token in the output after cursor.
func (s *Session) awaitMarkers(ctx context.Context, token string, cursor int64, started time.Time, req ExecRequest) (ExecResult, error) {
	if req.Timeout <= 0 {
		req.Timeout = 30 * time.Second
	}
	maxOut := req.MaxOutput
	if maxOut <= 0 {
		maxOut = 16 << 10
	}
	deadline := time.NewTimer(req.Timeout)
	defer deadline.Stop()

	startMark := []byte(markerStart + token + "\a")
	outStart := int64(-1) // offset just past the start marker
	scan := cursor
	for {
		s.mu.Lock()
		changed := s.changedLocked()
		status := s.status
		end := s.out.End()
		s.mu.Unlock()

		if outStart < 0 {
			data, start, _ := s.readRaw(scan, int(end-scan))
			if i := bytes.Index(data, startMark); i >= 0 {
				outStart = start + int64(i+len(startMark))
				scan = outStart
			} else if len(data) > len(startMark) {
				scan = start + int64(len(data)-len(startMark))
			}
		}
		if outStart >= 0 {
			if m, pos, mend, found := s.scanFor(scan, token); found {
				return s.execDone(outStart, pos, mend, m, started, maxOut), nil
			}
			if end-scan > 8192 {
				scan = end - 8192
			}
		}
		if !status.Live() {
			return s.execEnded(outStart, cursor, started, maxOut), nil
		}
		select {
		case <-changed:
		case <-deadline.C:
			return s.execTimeout(token, outStart, cursor, started, maxOut), nil
		case <-ctx.Done():
			r := s.execTimeout(token, outStart, cursor, started, maxOut)
			return r, nil
		}
	}
}

// commandOutput returns the text form of the output between from and to,
// its tail when longer than maxOut.
func (s *Session) commandOutput(from, to int64, maxOut int) (string, bool) {
	if from < 0 || to <= from {
		return "", false
	}
	rawFrom := max(from, to-int64(maxOut)*4)
	raw, _, _ := s.readRaw(rawFrom, int(to-rawFrom))
	text := cleanText(raw)
	truncated := rawFrom > from
	if len(text) > maxOut {
		text = text[len(text)-maxOut:]
		truncated = true
	}
	return string(validUTF8Tail(text)), truncated
}

func (s *Session) execDone(outStart, markerPos, markerEnd int64, m endMarker, started time.Time, maxOut int) ExecResult {
	out, trunc := s.commandOutput(outStart, markerPos, maxOut)
	s.mu.Lock()
	cwdChanged := m.cwd != "" && m.cwd != s.cwd
	if m.cwd != "" {
		s.cwd = m.cwd
	}
	status := s.status
	s.mu.Unlock()
	if cwdChanged {
		s.m.save(s)
	}
	code := m.code
	return ExecResult{
		Session: s.id, Output: out, Truncated: trunc, OutputCursor: outStart,
		ExitCode: &code, Cwd: m.cwd, Duration: time.Since(started),
		Cursor: markerEnd, Status: status,
	}
}

// execEnded reports a command whose session ended before its end marker
// (the command was `exit`, or the program died).
func (s *Session) execEnded(outStart, cursor int64, started time.Time, maxOut int) ExecResult {
	s.mu.Lock()
	end, status, exit, cwd := s.out.End(), s.status, s.exit, s.cwd
	s.mu.Unlock()
	from := outStart
	if from < 0 {
		from = cursor
	}
	out, trunc := s.commandOutput(from, end, maxOut)
	r := ExecResult{
		Session: s.id, Output: out, Truncated: trunc, OutputCursor: from,
		Cwd: cwd, Duration: time.Since(started), Cursor: end, Status: status,
	}
	if exit != nil {
		code := exit.Code
		r.ExitCode = &code
	}
	return r
}

func (s *Session) execTimeout(token string, outStart, cursor int64, started time.Time, maxOut int) ExecResult {
	s.mu.Lock()
	end, status, cwd := s.out.End(), s.status, s.cwd
	s.pending = &pendingExec{token: token, from: cursor}
	s.mu.Unlock()
	from := outStart
	if from < 0 {
		from = cursor
	}
	out, trunc := s.commandOutput(from, end, maxOut)
	return ExecResult{
		Session: s.id, Output: out, Truncated: trunc, OutputCursor: from,
		Cwd: cwd, Duration: time.Since(started), TimedOut: true, StillRunning: status.Live(),
		Cursor: end, Status: status,
	}
}

// ExecuteOneShot runs command in a fresh session of the default shell that
// ends with it; the session stays in the history.
func (m *Manager) ExecuteOneShot(ctx context.Context, req ExecRequest) (ExecResult, error) {
	if strings.TrimSpace(req.Command) == "" {
		return ExecResult{}, errors.New("command is empty: give the shell command to run")
	}
	shell := m.opt.DefaultShell
	fam := shellByName(shell)
	if fam == notShell {
		shell, fam = "/bin/sh", posixShell
	}
	token := newToken()
	spec := Spec{
		Kind: KindLocal, Command: shell, Args: []string{"-c", fam.script(token, req.Command)},
		Cwd: req.Cwd, Env: req.Env, OneShot: true, Creator: req.Creator,
	}
	started := time.Now()
	s, err := m.Create(ctx, spec)
	if err != nil {
		return ExecResult{}, err
	}
	s.execMu.Lock()
	defer s.execMu.Unlock()
	return s.awaitMarkers(ctx, token, 0, started, req)
}
