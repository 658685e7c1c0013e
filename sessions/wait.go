package sessions

import (
	"context"
	"regexp"
	"time"

	"github.com/console-mcp/console-mcp/termtext"
)

// WaitRequest is one console_wait_for_output.
type WaitRequest struct {
	// Pattern is matched against the text form of the output after
	// Cursor; nil waits for idle, exit or timeout only.
	Pattern *regexp.Regexp
	// Cursor is where to look from; nil means the cursor of the last input.
	Cursor *int64
	// Timeout bounds the wait; zero means 30s.
	Timeout time.Duration
	// Idle returns once no output arrived for this long; zero disables.
	Idle time.Duration
	// MaxOutput bounds Output (bytes of text); zero means 16 KiB.
	MaxOutput int
}

// Why a wait returned.
const (
	ReasonMatched = "matched"
	ReasonIdle    = "idle"
	ReasonExited  = "exited"
	ReasonTimeout = "timeout"
)

// WaitResult is how a wait ended.
type WaitResult struct {
	Matched bool
	Match   string
	Reason  string
	// Output is the text from the cursor to the match (or to now), its tail
	// when longer than the bound.
	Output string
	// Cursor is just past the match, or the end of output.
	Cursor int64
	Status Status
	Exit   *Exit
	// CommandExitCode is set when a console_execute_command that timed out
	// has finished by now: its exit code (and CommandCwd its directory).
	CommandExitCode *int
	CommandCwd      string
}

// scanWindow bounds how much output one pattern search looks at; a search
// moves on through longer output window by window.
const scanWindow = 1 << 20

// Wait blocks until the pattern matches output after the cursor, output
// has been idle for req.Idle, the program has exited, or req.Timeout passed.
func (s *Session) Wait(ctx context.Context, req WaitRequest) WaitResult {
	if req.Timeout <= 0 {
		req.Timeout = 30 * time.Second
	}
	maxOut := req.MaxOutput
	if maxOut <= 0 {
		maxOut = DefaultReadBytes
	}
	from := s.LastInputCursor()
	if req.Cursor != nil {
		from = *req.Cursor
	}
	began := time.Now()
	deadline := time.NewTimer(req.Timeout)
	defer deadline.Stop()
	var idleTimer *time.Timer
	if req.Idle > 0 {
		idleTimer = time.NewTimer(req.Idle)
		defer idleTimer.Stop()
	}
	scan := from
	for {
		s.mu.Lock()
		changed, status, exit, end := s.changedLocked(), s.status, s.exit, s.out.End()
		lastOut := s.lastOutput
		s.mu.Unlock()

		if req.Pattern != nil && scan < end {
			data, start, _ := s.readRaw(scan, scanWindow)
			text, idx := termtext.StripMap(data)
			if loc := req.Pattern.FindIndex(text); loc != nil {
				cursor := start
				if loc[1] > 0 {
					cursor = start + int64(idx[loc[1]-1]) + 1
				}
				out, _ := s.commandOutput(from, cursor, maxOut)
				r := WaitResult{
					Matched: true, Match: string(text[loc[0]:loc[1]]), Reason: ReasonMatched,
					Output: out, Cursor: cursor, Status: status, Exit: exit,
				}
				r.CommandExitCode, r.CommandCwd = s.resolvePending()
				return r
			}
			if len(data) == scanWindow { // look further on, keeping an overlap
				scan = start + int64(len(data)) - 64<<10
				continue
			}
		}
		result := func(reason string) WaitResult {
			s.mu.Lock()
			status, exit, end := s.status, s.exit, s.out.End()
			s.mu.Unlock()
			out, _ := s.commandOutput(from, end, maxOut)
			r := WaitResult{Reason: reason, Output: out, Cursor: end, Status: status, Exit: exit}
			r.CommandExitCode, r.CommandCwd = s.resolvePending()
			return r
		}
		if !status.Live() {
			return result(ReasonExited)
		}
		var idleC <-chan time.Time
		if idleTimer != nil {
			quiet := time.Since(maxTime(lastOut, began))
			if quiet >= req.Idle {
				return result(ReasonIdle)
			}
			idleTimer.Reset(req.Idle - quiet)
			idleC = idleTimer.C
		}
		select {
		case <-changed:
		case <-idleC:
		case <-deadline.C:
			return result(ReasonTimeout)
		case <-ctx.Done():
			return result(ReasonTimeout)
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
