package tools

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"golang.org/x/sys/unix"

	"github.com/console-mcp/console-mcp/sessions"
)

var osGetenv = os.Getenv

func (t *Tools) register(s *server.MCPServer) {
	s.AddTool(tool[CreateIn, CreateOut]("console_create_session", "Create a terminal session",
		"Start a terminal session: a shell (default: the user's login shell) or any program in a real PTY, locally or over SSH (ssh object). Returns session_id; the session keeps running across calls and server restarts.",
		hints{openWorld: true}), handler(t, t.create))
	s.AddTool(tool[SendInputIn, SendInputOut]("console_send_input", "Type text into a session",
		"Type text verbatim into a session (submit=true presses Enter after it). For passwords use secret_env: the name of a server environment variable whose value is typed, never shown or stored. Returns the output cursor at the moment of sending: pass it to console_wait_for_output.",
		hints{destructive: true, openWorld: true}), handler(t, t.sendInput))
	s.AddTool(tool[SendKeysIn, SendKeysOut]("console_send_keys", "Press keys in a session",
		"Press keys: enter, tab, esc, backspace, up/down/left/right, home/end/pgup/pgdn/insert/delete, f1..f12, ctrl+a..ctrl+z, ctrl+\\, ctrl+], alt+<key>, shift+tab; other elements are typed as text (\"text:ls\" types a word that looks like a key name).",
		hints{destructive: true, openWorld: true}), handler(t, t.sendKeys))
	s.AddTool(tool[GetOutputIn, GetOutputOut]("console_get_output", "Read a session's output",
		"Read output by cursor: pass the cursor a previous call returned to get only what came after (nothing is consumed). Without cursor: the last max_bytes. format text (default) strips ANSI sequences; raw keeps bytes. tail_lines keeps only the last N lines.",
		hints{readOnly: true, idempotent: true}), handler(t, t.getOutput))
	s.AddTool(tool[WaitIn, WaitOut]("console_wait_for_output", "Wait for output",
		"Block until a regex (RE2) matches the session's text output after the cursor (default: the cursor of your last input), output stays idle for idle_ms, the program exits, or timeout_ms passes. Returns the output up to the match and the cursor just after it.",
		hints{readOnly: true, idempotent: true}), handler(t, t.wait))
	s.AddTool(tool[ExecuteIn, ExecuteOut]("console_execute_command", "Run a shell command",
		"Run one shell command and return only its output, its real exit_code and the cwd after it (completion is detected by markers the shell prints, not by prompts). With session_id it runs in that shell session (state such as cd and variables persists); without, in a fresh one-shot shell. On timeout the command keeps running: continue with console_wait_for_output from the returned cursor.",
		hints{destructive: true, openWorld: true}), handler(t, t.execute))
	s.AddTool(tool[ScreenIn, ScreenOut]("console_get_screen", "Show the rendered screen",
		"Render the terminal screen as a person sees it (for vim, less, top and other full-screen programs): rows of text, cursor position, alternate-screen flag and title.",
		hints{readOnly: true, idempotent: true}), handler(t, t.screen))
	s.AddTool(tool[ResizeIn, ResizeOut]("console_resize", "Resize a terminal",
		"Set a session's terminal size (cols and rows, 1..1000); the program gets SIGWINCH.",
		hints{idempotent: true}), handler(t, t.resize))
	s.AddTool(tool[ListIn, ListOut]("console_list_sessions", "List sessions",
		"List terminal sessions, including those from earlier server runs (ended ones with include_ended=true).",
		hints{readOnly: true, idempotent: true}), handler(t, t.list))
	s.AddTool(tool[StopIn, StopOut]("console_stop_session", "Stop a session",
		"End a session's program: signal (default TERM, with a hang-up), then KILL after grace_ms (default 2000). Its history stays readable.",
		hints{destructive: true, idempotent: true}), handler(t, t.stop))
	t.registerHistory(s)
}

// session finds a session this MCP session may see.
func (t *Tools) session(ctx context.Context, id string) (*sessions.Session, error) {
	if err := required("session_id", id, "pass the session_id console_create_session returned, or call console_list_sessions"); err != nil {
		return nil, err
	}
	s, err := t.m.Get(sessions.ID(id))
	if err != nil {
		return nil, err
	}
	if !t.visible(ctx, s.Info().Spec) {
		return nil, fmt.Errorf("%w: no session %q", sessions.ErrNotFound, id)
	}
	return s, nil
}

// mcpSession is the MCP session id of the request, if the transport has one.
func mcpSession(ctx context.Context) string {
	if cs := server.ClientSessionFromContext(ctx); cs != nil {
		return cs.SessionID()
	}
	return ""
}

// visible applies --scope-sessions.
func (t *Tools) visible(ctx context.Context, spec sessions.Spec) bool {
	return !t.opt.ScopeSessions || spec.Creator == mcpSession(ctx)
}

// CreateIn is console_create_session's input.
type CreateIn struct {
	Command   string            `json:"command,omitempty" jsonschema:"program to run; default: the user's login shell (SSH: the remote login shell)"`
	Args      []string          `json:"args,omitempty" jsonschema:"arguments of command"`
	Cwd       string            `json:"cwd,omitempty" jsonschema:"working directory; default: the server's"`
	Env       map[string]string `json:"env,omitempty" jsonschema:"extra environment variables"`
	Cols      int               `json:"cols,omitempty" jsonschema:"terminal width, 1..1000; default 120"`
	Rows      int               `json:"rows,omitempty" jsonschema:"terminal height, 1..1000; default 40"`
	Name      string            `json:"name,omitempty" jsonschema:"a name to recognise the session by"`
	OnRestart string            `json:"on_restart,omitempty" jsonschema:"after a server restart: reattach-or-restart (default), reattach-only, never"`
	SSH       *SSHIn            `json:"ssh,omitempty" jsonschema:"connect over SSH instead of running locally"`
}

// SSHIn is the ssh object of console_create_session.
type SSHIn struct {
	Host           string   `json:"host" jsonschema:"host name or an alias from ~/.ssh/config"`
	Port           int      `json:"port,omitempty" jsonschema:"default 22 or the config's Port"`
	User           string   `json:"user,omitempty" jsonschema:"default: the config's User, else the local user"`
	IdentityFile   string   `json:"identity_file,omitempty" jsonschema:"private key file"`
	PassphraseEnv  string   `json:"passphrase_env,omitempty" jsonschema:"NAME of a server env var holding the key's passphrase"`
	PasswordEnv    string   `json:"password_env,omitempty" jsonschema:"NAME of a server env var holding the password (also answers keyboard-interactive)"`
	UseAgent       *bool    `json:"use_agent,omitempty" jsonschema:"use ssh-agent; default: when SSH_AUTH_SOCK is set"`
	Jump           []string `json:"jump,omitempty" jsonschema:"jump hosts (ProxyJump), in order: user@host:port or aliases"`
	KnownHosts     string   `json:"known_hosts,omitempty" jsonschema:"host key policy: strict (default), accept-new, insecure (only if the server allows it)"`
	KnownHostsFile string   `json:"known_hosts_file,omitempty" jsonschema:"known_hosts file to check and (accept-new) update; default: the config's UserKnownHostsFile, else ~/.ssh/known_hosts"`
}

// CreateOut is console_create_session's output.
type CreateOut struct {
	SessionID string `json:"session_id"`
	Name      string `json:"name"`
	Kind      string `json:"kind"`
	Command   string `json:"command"`
	Cwd       string `json:"cwd"`
	Pid       int    `json:"pid"`
	Status    string `json:"status"`
	Cursor    int64  `json:"cursor" jsonschema:"output cursor now: pass it to console_get_output or console_wait_for_output"`
}

func (t *Tools) create(ctx context.Context, in CreateIn) (CreateOut, string, error) {
	spec := sessions.Spec{
		Command: in.Command, Args: in.Args, Cwd: in.Cwd, Env: in.Env,
		Cols: in.Cols, Rows: in.Rows, Name: in.Name, OnRestart: sessions.RestartPolicy(in.OnRestart),
		Creator: mcpSession(ctx),
	}
	if in.SSH != nil {
		spec.Kind = sessions.KindSSH
		spec.SSH = &sessions.SSHSpec{
			Host: in.SSH.Host, Port: in.SSH.Port, User: in.SSH.User, IdentityFile: in.SSH.IdentityFile,
			PassphraseEnv: in.SSH.PassphraseEnv, PasswordEnv: in.SSH.PasswordEnv, UseAgent: in.SSH.UseAgent,
			Jump: in.SSH.Jump, KnownHosts: in.SSH.KnownHosts, KnownHostsFile: in.SSH.KnownHostsFile,
		}
	}
	s, err := t.m.Create(ctx, spec)
	if err != nil {
		return CreateOut{}, "", err
	}
	info := s.Info()
	out := CreateOut{
		SessionID: string(info.ID), Name: info.Spec.Name, Kind: string(info.Spec.Kind),
		Command: info.Spec.CommandLine(), Cwd: info.Cwd, Pid: info.Pid, Status: string(info.Status),
		Cursor: info.OutputEnd,
	}
	next := "console_execute_command session_id=" + out.SessionID + " runs shell commands"
	if !sessions.IsShell(info.Spec) {
		next = "console_send_input / console_send_keys, then console_wait_for_output"
	}
	text := fmt.Sprintf("Created %s (%s %s, pid %d) in %s, status %s. Next: %s.",
		out.SessionID, out.Kind, out.Command, out.Pid, orDash(out.Cwd), out.Status, next)
	return out, text, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ListIn is console_list_sessions' input.
type ListIn struct {
	IncludeEnded bool `json:"include_ended,omitempty" jsonschema:"also list ended sessions (exited, stopped, failed)"`
}

// SessionItem is one session in console_list_sessions.
type SessionItem struct {
	SessionID      string            `json:"session_id"`
	Name           string            `json:"name"`
	Kind           string            `json:"kind"`
	Command        string            `json:"command"`
	Cwd            string            `json:"cwd"`
	Status         string            `json:"status"`
	StatusReason   string            `json:"status_reason,omitempty"`
	Pid            int               `json:"pid"`
	ExitCode       *int              `json:"exit_code"`
	Generation     int               `json:"generation"`
	Cursor         int64             `json:"cursor"`
	CreatedAt      time.Time         `json:"created_at"`
	LastActivityAt time.Time         `json:"last_activity_at"`
	Recovery       []RecoveryAttempt `json:"recovery,omitempty"`
}

// RecoveryAttempt is one try to bring a session back after a restart or drop.
type RecoveryAttempt struct {
	Strategy string    `json:"strategy"`
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	Outcome  string    `json:"outcome"`
	Error    string    `json:"error,omitempty"`
}

// ListOut is console_list_sessions' output.
type ListOut struct {
	Sessions []SessionItem `json:"sessions"`
}

func (t *Tools) list(ctx context.Context, in ListIn) (ListOut, string, error) {
	infos, err := t.m.List(in.IncludeEnded)
	if err != nil {
		return ListOut{}, "", err
	}
	out := ListOut{Sessions: []SessionItem{}}
	var b strings.Builder
	for _, in := range infos {
		if !t.visible(ctx, in.Spec) {
			continue
		}
		item := SessionItem{
			SessionID: string(in.ID), Name: in.Spec.Name, Kind: string(in.Spec.Kind),
			Command: in.Spec.CommandLine(), Cwd: in.Cwd, Status: string(in.Status), StatusReason: in.Reason,
			Pid: in.Pid, ExitCode: exitCode(in.Exit), Generation: in.Generation, Cursor: in.OutputEnd,
			CreatedAt: in.CreatedAt, LastActivityAt: in.LastActivityAt,
			Recovery: recoveryItems(t.m.Recoveries(in.ID)),
		}
		out.Sessions = append(out.Sessions, item)
		fmt.Fprintf(&b, "%s  %-12s %-5s %-8s pid %-7d %s  cwd %s", item.SessionID, orDash(item.Name), item.Kind, item.Status, item.Pid, item.Command, orDash(item.Cwd))
		if item.ExitCode != nil {
			fmt.Fprintf(&b, "  exit %d", *item.ExitCode)
		}
		if item.StatusReason != "" {
			fmt.Fprintf(&b, "  (%s)", item.StatusReason)
		}
		b.WriteByte('\n')
	}
	if len(out.Sessions) == 0 {
		return out, "No sessions. Create one with console_create_session.", nil
	}
	return out, fmt.Sprintf("%d session(s):\n%s", len(out.Sessions), b.String()), nil
}

func recoveryItems(as []sessions.RecoveryAttempt) []RecoveryAttempt {
	if len(as) == 0 {
		return nil
	}
	out := make([]RecoveryAttempt, len(as))
	for i, a := range as {
		out[i] = RecoveryAttempt{Strategy: a.Strategy, Started: a.Started, Ended: a.Ended, Outcome: a.Outcome, Error: a.Error}
	}
	return out
}

func exitCode(e *sessions.Exit) *int {
	if e == nil {
		return nil
	}
	c := e.Code
	return &c
}

// StopIn is console_stop_session's input.
type StopIn struct {
	SessionID string `json:"session_id"`
	Signal    string `json:"signal,omitempty" jsonschema:"signal to send first: TERM (default), HUP, INT, QUIT, KILL, USR1, USR2"`
	GraceMs   int    `json:"grace_ms,omitempty" jsonschema:"how long to wait before KILL; default 2000"`
}

// StopOut is console_stop_session's output.
type StopOut struct {
	Status   string `json:"status"`
	ExitCode *int   `json:"exit_code"`
	Signal   string `json:"signal,omitempty" jsonschema:"the signal that ended the program, if one did"`
}

func (t *Tools) stop(ctx context.Context, in StopIn) (StopOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return StopOut{}, "", err
	}
	sig := syscall.SIGTERM
	if in.Signal != "" {
		name := strings.ToUpper(strings.TrimPrefix(strings.ToUpper(in.Signal), "SIG"))
		n := unix.SignalNum("SIG" + name)
		if n == 0 {
			return StopOut{}, "", fmt.Errorf("signal %q is not a signal: use TERM, HUP, INT, QUIT, KILL, USR1 or USR2", in.Signal)
		}
		sig = n
	}
	if in.GraceMs < 0 || in.GraceMs > 600000 {
		return StopOut{}, "", fmt.Errorf("grace_ms %d is out of range: use 0..600000", in.GraceMs)
	}
	grace := 2 * time.Second
	if in.GraceMs > 0 {
		grace = time.Duration(in.GraceMs) * time.Millisecond
	}
	// The stop outlives a client that disconnects mid-call.
	r, err := s.Stop(context.WithoutCancel(ctx), sig, grace)
	if err != nil {
		return StopOut{}, "", err
	}
	out := StopOut{Status: string(r.Status), ExitCode: exitCode(r.Exit)}
	text := fmt.Sprintf("%s is %s", s.ID(), r.Status)
	if r.Exit != nil {
		out.Signal = r.Exit.Signal
		text += " (" + r.Exit.String() + ")"
	}
	return out, text + ".", nil
}

// ResizeIn is console_resize's input.
type ResizeIn struct {
	SessionID string `json:"session_id"`
	Cols      int    `json:"cols" jsonschema:"columns, 1..1000"`
	Rows      int    `json:"rows" jsonschema:"rows, 1..1000"`
}

// ResizeOut is console_resize's output.
type ResizeOut struct {
	Cols   int    `json:"cols"`
	Rows   int    `json:"rows"`
	Status string `json:"status"`
}

func (t *Tools) resize(ctx context.Context, in ResizeIn) (ResizeOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return ResizeOut{}, "", err
	}
	if err := s.Resize(in.Cols, in.Rows); err != nil {
		return ResizeOut{}, "", err
	}
	info := s.Info()
	return ResizeOut{Cols: in.Cols, Rows: in.Rows, Status: string(info.Status)},
		fmt.Sprintf("%s resized to %dx%d.", s.ID(), in.Cols, in.Rows), nil
}
