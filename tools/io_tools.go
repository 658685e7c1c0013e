package tools

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/console-mcp/console-mcp/keys"
	"github.com/console-mcp/console-mcp/sessions"
)

// SendInputIn is console_send_input's input.
type SendInputIn struct {
	SessionID string `json:"session_id"`
	Input     string `json:"input,omitempty" jsonschema:"text typed verbatim (escape sequences included); at most 1 MiB"`
	Submit    bool   `json:"submit,omitempty" jsonschema:"press Enter after the input"`
	SecretEnv string `json:"secret_env,omitempty" jsonschema:"NAME of a server environment variable whose value is typed instead of input (passwords, tokens); never shown, logged or stored"`
}

// SendInputOut is console_send_input's output.
type SendInputOut struct {
	BytesWritten int   `json:"bytes_written"`
	Cursor       int64 `json:"cursor" jsonschema:"output cursor at the moment of sending: wait or read from here"`
}

func (t *Tools) sendInput(ctx context.Context, in SendInputIn) (SendInputOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return SendInputOut{}, "", err
	}
	data := in.Input
	if in.SecretEnv != "" {
		if in.Input != "" {
			return SendInputOut{}, "", errors.New("input and secret_env are both set: secret_env types the variable's value instead of input, so leave input empty")
		}
		v := t.opt.Getenv(in.SecretEnv)
		if v == "" {
			return SendInputOut{}, "", fmt.Errorf("secret_env: environment variable %q is not set (or empty) in the server's environment; set it where the server is started", in.SecretEnv)
		}
		data = v
	} else if in.Input == "" && !in.Submit {
		return SendInputOut{}, "", errors.New("input is empty: give the text to type (or submit=true to press Enter)")
	}
	if in.Submit {
		data += "\r"
	}
	cursor, err := s.Write([]byte(data), in.SecretEnv)
	if err != nil {
		return SendInputOut{}, "", err
	}
	what := fmt.Sprintf("%d bytes", len(data))
	if in.SecretEnv != "" {
		what = "the value of $" + in.SecretEnv
	}
	return SendInputOut{BytesWritten: len(data), Cursor: cursor},
		fmt.Sprintf("Typed %s into %s. cursor=%d (pass it to console_wait_for_output).", what, s.ID(), cursor), nil
}

// SendKeysIn is console_send_keys' input.
type SendKeysIn struct {
	SessionID string   `json:"session_id"`
	Keys      []string `json:"keys" jsonschema:"keys in order, e.g. [\"ctrl+c\"], [\"esc\", \":wq\", \"enter\"], [\"up\", \"enter\"]"`
}

// SendKeysOut is console_send_keys' output.
type SendKeysOut struct {
	BytesWritten int   `json:"bytes_written"`
	Cursor       int64 `json:"cursor"`
}

func (t *Tools) sendKeys(ctx context.Context, in SendKeysIn) (SendKeysOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return SendKeysOut{}, "", err
	}
	if len(in.Keys) == 0 {
		return SendKeysOut{}, "", errors.New("keys is empty: give a list such as [\"ctrl+c\"] or [\"up\", \"enter\"]")
	}
	data, err := keys.Encode(in.Keys, keys.Options{AppCursor: s.AppCursor()})
	if err != nil {
		return SendKeysOut{}, "", fmt.Errorf("keys: %w", err)
	}
	cursor, err := s.Write(data, "")
	if err != nil {
		return SendKeysOut{}, "", err
	}
	return SendKeysOut{BytesWritten: len(data), Cursor: cursor},
		fmt.Sprintf("Pressed %s in %s. cursor=%d.", strings.Join(in.Keys, " "), s.ID(), cursor), nil
}

// GetOutputIn is console_get_output's input.
type GetOutputIn struct {
	SessionID string `json:"session_id"`
	Cursor    *int64 `json:"cursor,omitempty" jsonschema:"read from this cursor (from an earlier call); absent: the last max_bytes"`
	MaxBytes  int    `json:"max_bytes,omitempty" jsonschema:"at most this many bytes of output, 1..1048576; default 16384"`
	Format    string `json:"format,omitempty" jsonschema:"text (default: ANSI/OSC stripped, CRLF folded) or raw (bytes as the program wrote them)"`
	TailLines int    `json:"tail_lines,omitempty" jsonschema:"only the last N lines"`
}

// GetOutputOut is console_get_output's output.
type GetOutputOut struct {
	Output      string `json:"output"`
	Encoding    string `json:"encoding,omitempty" jsonschema:"base64 when raw output is not valid UTF-8"`
	Cursor      int64  `json:"cursor" jsonschema:"next cursor: pass it to read what follows"`
	StartCursor int64  `json:"start_cursor" jsonschema:"cursor of the first byte returned"`
	HasMore     bool   `json:"has_more" jsonschema:"more output is available after cursor"`
	LostBytes   int64  `json:"lost_bytes" jsonschema:"bytes asked for that are no longer retained"`
	Status      string `json:"status"`
	ExitCode    *int   `json:"exit_code"`
}

func (t *Tools) getOutput(ctx context.Context, in GetOutputIn) (GetOutputOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return GetOutputOut{}, "", err
	}
	raw := false
	switch in.Format {
	case "", "text":
	case "raw":
		raw = true
	default:
		return GetOutputOut{}, "", fmt.Errorf("format %q is not a format: use text or raw", in.Format)
	}
	r, err := s.Read(sessions.ReadRequest{Cursor: in.Cursor, MaxBytes: in.MaxBytes, Raw: raw, TailLines: in.TailLines})
	if err != nil {
		return GetOutputOut{}, "", err
	}
	out := GetOutputOut{
		Output: r.Output, Encoding: r.Encoding, Cursor: r.Cursor, StartCursor: r.StartCursor,
		HasMore: r.HasMore, LostBytes: r.LostBytes, Status: string(r.Status), ExitCode: exitCode(r.Exit),
	}
	head := fmt.Sprintf("[%s %s; bytes %d..%d", s.ID(), r.Status, r.StartCursor, r.Cursor)
	if r.HasMore {
		head += "; has_more: read again with cursor=" + fmt.Sprint(r.Cursor)
	}
	if r.LostBytes > 0 {
		head += fmt.Sprintf("; %d bytes before this were lost", r.LostBytes)
	}
	if r.Exit != nil {
		head += "; " + r.Exit.String()
	}
	return out, withOutput(head+"]", r.Output), nil
}

// WaitIn is console_wait_for_output's input.
type WaitIn struct {
	SessionID string `json:"session_id"`
	Pattern   string `json:"pattern,omitempty" jsonschema:"RE2 regex matched against the text output, in multi-line mode (^ and $ match at line starts and ends); absent: wait for idle, exit or timeout"`
	Cursor    *int64 `json:"cursor,omitempty" jsonschema:"look at output after this cursor; absent: the cursor of the last input sent"`
	TimeoutMs int    `json:"timeout_ms,omitempty" jsonschema:"give up after this long, returning what arrived; default 30000, max 600000"`
	IdleMs    int    `json:"idle_ms,omitempty" jsonschema:"return once no output arrived for this long"`
}

// WaitOut is console_wait_for_output's output.
type WaitOut struct {
	Matched         bool   `json:"matched"`
	Match           string `json:"match"`
	Reason          string `json:"reason" jsonschema:"matched, idle, exited or timeout"`
	Output          string `json:"output" jsonschema:"text from the cursor up to the match (or now), its last 16 KiB"`
	Cursor          int64  `json:"cursor" jsonschema:"just after the match, or the end of output"`
	Status          string `json:"status"`
	ExitCode        *int   `json:"exit_code" jsonschema:"the program's exit code once it has exited"`
	CommandExitCode *int   `json:"command_exit_code,omitempty" jsonschema:"exit code of an earlier console_execute_command that timed out and has finished since"`
}

func (t *Tools) wait(ctx context.Context, in WaitIn) (WaitOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return WaitOut{}, "", err
	}
	req := sessions.WaitRequest{Cursor: in.Cursor}
	if in.Pattern != "" {
		// Multi-line mode: ^ and $ match at line boundaries, as a model
		// reading terminal output means them.
		re, err := regexp.Compile("(?m)" + in.Pattern)
		if err != nil {
			return WaitOut{}, "", fmt.Errorf("pattern %q is not a valid RE2 regex: %v", in.Pattern, err)
		}
		req.Pattern = re
	}
	if req.Timeout, err = millis("timeout_ms", in.TimeoutMs, 30000, 600000); err != nil {
		return WaitOut{}, "", err
	}
	if req.Idle, err = millis("idle_ms", in.IdleMs, 0, 600000); err != nil {
		return WaitOut{}, "", err
	}
	if in.Cursor != nil && (*in.Cursor < 0 || *in.Cursor > s.Cursor()) {
		return WaitOut{}, "", fmt.Errorf("cursor %d is out of range: use 0..%d (a cursor a tool returned)", *in.Cursor, s.Cursor())
	}
	r := s.Wait(ctx, req)
	out := WaitOut{
		Matched: r.Matched, Match: r.Match, Reason: r.Reason, Output: r.Output, Cursor: r.Cursor,
		Status: string(r.Status), ExitCode: exitCode(r.Exit), CommandExitCode: r.CommandExitCode,
	}
	head := fmt.Sprintf("[%s: %s", s.ID(), r.Reason)
	if r.Matched {
		head += fmt.Sprintf(" %q", r.Match)
	}
	head += fmt.Sprintf("; cursor=%d; status %s", r.Cursor, r.Status)
	if r.Exit != nil {
		head += "; " + r.Exit.String()
	}
	if r.CommandExitCode != nil {
		head += fmt.Sprintf("; the earlier command finished with exit code %d", *r.CommandExitCode)
	}
	return out, withOutput(head+"]", r.Output), nil
}

// inlineText is how much output the text content repeats. structuredContent
// always carries all of it; the text, which some clients show instead,
// carries small outputs whole and the tail of large ones, so a large read
// is not encoded (and decoded by the client) twice.
const inlineText = 4 << 10

// withOutput is a result's text: its head line and the output, or the
// output's tail when it is large.
func withOutput(head, output string) string {
	if len(output) <= inlineText {
		return head + "\n" + output
	}
	tail := output[len(output)-1024:]
	for i := 0; i < 3 && len(tail) > 0 && tail[0]&0xC0 == 0x80; i++ {
		tail = tail[1:] // start on a rune boundary
	}
	return fmt.Sprintf("%s\n[%d bytes of output: all of it is in structuredContent.output; the last %d bytes follow]\n%s", head, len(output), len(tail), tail)
}

// millis checks a millisecond argument and applies its default.
func millis(field string, v, def, limit int) (time.Duration, error) {
	if v < 0 || v > limit {
		return 0, fmt.Errorf("%s %d is out of range: use 0..%d", field, v, limit)
	}
	if v == 0 {
		v = def
	}
	return time.Duration(v) * time.Millisecond, nil
}

// ExecuteIn is console_execute_command's input.
type ExecuteIn struct {
	Command   string            `json:"command" jsonschema:"shell command line to run"`
	SessionID string            `json:"session_id,omitempty" jsonschema:"shell session to run it in; absent: a fresh one-shot shell"`
	TimeoutMs int               `json:"timeout_ms,omitempty" jsonschema:"return after this long even if the command still runs; default 30000, max 600000"`
	Cwd       string            `json:"cwd,omitempty" jsonschema:"run in this directory (in a session: for this command only)"`
	Env       map[string]string `json:"env,omitempty" jsonschema:"extra environment variables (in a session: for this command only)"`
}

// ExecuteOut is console_execute_command's output.
type ExecuteOut struct {
	SessionID    string `json:"session_id"`
	Output       string `json:"output" jsonschema:"the command's own output (text form), its last 16 KiB"`
	Truncated    bool   `json:"truncated" jsonschema:"output is a tail; read all from output_cursor with console_get_output"`
	OutputCursor int64  `json:"output_cursor" jsonschema:"cursor where the command's output begins"`
	ExitCode     *int   `json:"exit_code" jsonschema:"the command's exit status; null while it still runs"`
	Cwd          string `json:"cwd" jsonschema:"working directory after the command"`
	DurationMs   int64  `json:"duration_ms"`
	TimedOut     bool   `json:"timed_out"`
	StillRunning bool   `json:"still_running"`
	Cursor       int64  `json:"cursor" jsonschema:"output cursor after the command (or now, if it still runs)"`
	Status       string `json:"status" jsonschema:"the session's status"`
}

func (t *Tools) execute(ctx context.Context, in ExecuteIn) (ExecuteOut, string, error) {
	if err := required("command", in.Command, "give the shell command line to run"); err != nil {
		return ExecuteOut{}, "", err
	}
	timeout, err := millis("timeout_ms", in.TimeoutMs, 30000, 600000)
	if err != nil {
		return ExecuteOut{}, "", err
	}
	req := sessions.ExecRequest{Command: in.Command, Cwd: in.Cwd, Env: in.Env, Timeout: timeout, Creator: mcpSession(ctx)}
	var r sessions.ExecResult
	if in.SessionID == "" {
		r, err = t.m.ExecuteOneShot(ctx, req)
	} else {
		var s *sessions.Session
		if s, err = t.session(ctx, in.SessionID); err == nil {
			r, err = s.Execute(ctx, req)
		}
	}
	if err != nil {
		return ExecuteOut{}, "", err
	}
	out := ExecuteOut{
		SessionID: string(r.Session), Output: r.Output, Truncated: r.Truncated, OutputCursor: r.OutputCursor,
		ExitCode: r.ExitCode, Cwd: r.Cwd, DurationMs: r.Duration.Milliseconds(), TimedOut: r.TimedOut,
		StillRunning: r.StillRunning, Cursor: r.Cursor, Status: string(r.Status),
	}
	var head string
	switch {
	case r.StillRunning:
		head = fmt.Sprintf("[still running after %dms in %s; continue with console_wait_for_output session_id=%s cursor=%d, or console_send_keys [\"ctrl+c\"]]",
			out.DurationMs, r.Session, r.Session, r.Cursor)
	case r.ExitCode != nil:
		head = fmt.Sprintf("[exit_code=%d cwd=%s duration=%dms session=%s]", *r.ExitCode, orDash(r.Cwd), out.DurationMs, r.Session)
	default:
		head = fmt.Sprintf("[no exit code: session %s is %s]", r.Session, r.Status)
	}
	if r.Truncated {
		head += fmt.Sprintf("\n[output truncated to its last 16 KiB; all of it: console_get_output cursor=%d]", r.OutputCursor)
	}
	return out, withOutput(head, r.Output), nil
}

// ScreenIn is console_get_screen's input.
type ScreenIn struct {
	SessionID       string `json:"session_id"`
	ScrollbackLines int    `json:"scrollback_lines,omitempty" jsonschema:"also return up to this many lines that scrolled off the top"`
}

// ScreenOut is console_get_screen's output.
type ScreenOut struct {
	Screen     string   `json:"screen" jsonschema:"the rendered rows, joined by newlines"`
	Scrollback []string `json:"scrollback,omitempty"`
	Cols       int      `json:"cols"`
	Rows       int      `json:"rows"`
	CursorRow  int      `json:"cursor_row" jsonschema:"0-based"`
	CursorCol  int      `json:"cursor_col" jsonschema:"0-based"`
	AltScreen  bool     `json:"alt_screen" jsonschema:"a full-screen program (vim, less, top) is showing"`
	Title      string   `json:"title"`
	Status     string   `json:"status"`
}

func (t *Tools) screen(ctx context.Context, in ScreenIn) (ScreenOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return ScreenOut{}, "", err
	}
	if in.ScrollbackLines < 0 || in.ScrollbackLines > 10000 {
		return ScreenOut{}, "", fmt.Errorf("scrollback_lines %d is out of range: use 0..10000", in.ScrollbackLines)
	}
	snap := s.Screen(in.ScrollbackLines)
	out := ScreenOut{
		Screen: strings.Join(snap.Lines, "\n"), Scrollback: snap.Scrollback, Cols: snap.Cols, Rows: snap.Rows,
		CursorRow: snap.CursorRow, CursorCol: snap.CursorCol, AltScreen: snap.AltScreen, Title: snap.Title,
		Status: string(s.Info().Status),
	}
	head := fmt.Sprintf("[%s %dx%d cursor %d,%d", s.ID(), out.Cols, out.Rows, out.CursorRow, out.CursorCol)
	if out.AltScreen {
		head += " alt-screen"
	}
	if out.Title != "" {
		head += fmt.Sprintf(" title %q", out.Title)
	}
	var sb string
	if len(out.Scrollback) > 0 {
		sb = strings.Join(out.Scrollback, "\n") + "\n--- screen ---\n"
	}
	return out, head + "]\n" + sb + out.Screen, nil
}
