package tools

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/console-mcp/console-mcp/sessions"
)

// maxInlineExport bounds an export returned in the tool result.
const maxInlineExport = 1 << 20

func (t *Tools) registerHistory(s *server.MCPServer) {
	s.AddTool(tool[ExportIn, ExportOut]("console_export_session", "Export a session's history",
		"Export a session's whole history (also of ended sessions and earlier server runs): asciicast v2 (plays in asciinema; input, resizes and restarts included) or text. With path the file is written there; without, it is returned inline (at most 1 MiB).",
		hints{readOnly: true, idempotent: true}), handler(t, t.export))
	s.AddTool(tool[InfoIn, InfoOut]("console_session_info", "Describe a session",
		"Everything known about one session: its spec, status, generation, cwd, pid, exit, recovery attempts, output size and lost bytes.",
		hints{readOnly: true, idempotent: true}), handler(t, t.info))
	s.AddTool(tool[RecoverIn, RecoverOut]("console_recover_session", "Recover a session",
		"Bring back a session whose program is gone or unreachable: reattach to its surviving process, reconnect (SSH), restart it from its spec in its last directory, or keep it as read-only history, in that order (or only the given strategy). Each attempt is recorded.",
		hints{destructive: false, openWorld: true}), handler(t, t.recover))
}

// ExportIn is console_export_session's input.
type ExportIn struct {
	SessionID string `json:"session_id"`
	Format    string `json:"format,omitempty" jsonschema:"asciicast (default) or text"`
	Path      string `json:"path,omitempty" jsonschema:"absolute file path to write; absent: return the export inline"`
}

// ExportOut is console_export_session's output.
type ExportOut struct {
	Format  string `json:"format"`
	Path    string `json:"path,omitempty"`
	Bytes   int    `json:"bytes"`
	Content string `json:"content,omitempty" jsonschema:"the export, when no path was given"`
}

func (t *Tools) export(ctx context.Context, in ExportIn) (ExportOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return ExportOut{}, "", err
	}
	format := in.Format
	if format == "" {
		format = sessions.FormatAsciicast
	}
	var buf bytes.Buffer
	if err := t.m.Export(s.ID(), format, &buf); err != nil {
		return ExportOut{}, "", err
	}
	out := ExportOut{Format: format, Bytes: buf.Len()}
	if in.Path == "" {
		if buf.Len() > maxInlineExport {
			return ExportOut{}, "", fmt.Errorf("the export is %d bytes, more than %d inline: give path to write it to a file", buf.Len(), maxInlineExport)
		}
		out.Content = buf.String()
		return out, withOutput(fmt.Sprintf("[%s export of %s, %d bytes]", format, s.ID(), out.Bytes), out.Content), nil
	}
	if !filepath.IsAbs(in.Path) {
		return ExportOut{}, "", fmt.Errorf("path %q is not absolute: give an absolute file path", in.Path)
	}
	if st, err := os.Stat(filepath.Dir(in.Path)); err != nil || !st.IsDir() {
		return ExportOut{}, "", fmt.Errorf("path %q: directory %s does not exist", in.Path, filepath.Dir(in.Path))
	}
	if err := os.WriteFile(in.Path, buf.Bytes(), 0o600); err != nil {
		return ExportOut{}, "", fmt.Errorf("path: %w", err)
	}
	out.Path = in.Path
	hint := ""
	if format == sessions.FormatAsciicast {
		hint = " Play it with: asciinema play " + in.Path
	}
	return out, fmt.Sprintf("Wrote %d bytes of %s to %s.%s", out.Bytes, format, in.Path, hint), nil
}

// InfoIn is console_session_info's input.
type InfoIn struct {
	SessionID string `json:"session_id"`
}

// SpecOut is how a session was started.
type SpecOut struct {
	Kind      string            `json:"kind"`
	Command   string            `json:"command"`
	Args      []string          `json:"args,omitempty"`
	Cwd       string            `json:"cwd,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	EnvRefs   []string          `json:"env_refs,omitempty" jsonschema:"variables whose values were not stored (secret-looking names); a restart takes them from the server's environment"`
	Cols      int               `json:"cols"`
	Rows      int               `json:"rows"`
	Name      string            `json:"name,omitempty"`
	OnRestart string            `json:"on_restart"`
	SSHHost   string            `json:"ssh_host,omitempty"`
	SSHUser   string            `json:"ssh_user,omitempty"`
	OneShot   bool              `json:"one_shot,omitempty"`
}

// InfoOut is console_session_info's output.
type InfoOut struct {
	SessionID      string            `json:"session_id"`
	Spec           SpecOut           `json:"spec"`
	Status         string            `json:"status"`
	StatusReason   string            `json:"status_reason,omitempty"`
	Generation     int               `json:"generation"`
	Cwd            string            `json:"cwd"`
	Pid            int               `json:"pid"`
	ExitCode       *int              `json:"exit_code"`
	ExitSignal     string            `json:"exit_signal,omitempty"`
	CreatedAt      time.Time         `json:"created_at"`
	LastActivityAt time.Time         `json:"last_activity_at"`
	EndedAt        *time.Time        `json:"ended_at,omitempty"`
	OutputBytes    int64             `json:"output_bytes" jsonschema:"size of the output stream (the cursor at its end)"`
	LostBytes      int64             `json:"lost_bytes" jsonschema:"output bytes that were never retained"`
	Recovery       []RecoveryAttempt `json:"recovery"`
}

func (t *Tools) info(ctx context.Context, in InfoIn) (InfoOut, string, error) {
	s, err := t.session(ctx, in.SessionID)
	if err != nil {
		return InfoOut{}, "", err
	}
	i := s.Info()
	out := InfoOut{
		SessionID: string(i.ID), Status: string(i.Status), StatusReason: i.Reason, Generation: i.Generation,
		Cwd: i.Cwd, Pid: i.Pid, ExitCode: exitCode(i.Exit), CreatedAt: i.CreatedAt, LastActivityAt: i.LastActivityAt,
		OutputBytes: i.OutputEnd, LostBytes: i.LostBytes, Recovery: recoveryItems(t.m.Recoveries(i.ID)),
		Spec: SpecOut{
			Kind: string(i.Spec.Kind), Command: i.Spec.Command, Args: i.Spec.Args, Cwd: i.Spec.Cwd,
			Env: i.Spec.Env, EnvRefs: i.Spec.EnvRefs, Cols: i.Spec.Cols, Rows: i.Spec.Rows, Name: i.Spec.Name,
			OnRestart: string(i.Spec.OnRestart), OneShot: i.Spec.OneShot,
		},
	}
	if out.Recovery == nil {
		out.Recovery = []RecoveryAttempt{}
	}
	if i.Spec.SSH != nil {
		out.Spec.SSHHost, out.Spec.SSHUser = i.Spec.SSH.Host, i.Spec.SSH.User
	}
	if i.Exit != nil {
		out.ExitSignal = i.Exit.Signal
	}
	if !i.EndedAt.IsZero() {
		e := i.EndedAt
		out.EndedAt = &e
	}
	text := fmt.Sprintf("%s: %s %s, status %s", out.SessionID, out.Spec.Kind, i.Spec.CommandLine(), out.Status)
	if out.StatusReason != "" {
		text += " (" + out.StatusReason + ")"
	}
	text += fmt.Sprintf(", generation %d, pid %d, cwd %s, %d output bytes", out.Generation, out.Pid, orDash(out.Cwd), out.OutputBytes)
	if out.LostBytes > 0 {
		text += fmt.Sprintf(" (%d lost)", out.LostBytes)
	}
	if i.Exit != nil {
		text += ", " + i.Exit.String()
	}
	for _, a := range out.Recovery {
		text += fmt.Sprintf("\n  recovery %s at %s: %s %s", a.Strategy, a.Started.Format(time.RFC3339), a.Outcome, a.Error)
	}
	return out, text, nil
}

// RecoverIn is console_recover_session's input.
type RecoverIn struct {
	SessionID string `json:"session_id"`
	Strategy  string `json:"strategy,omitempty" jsonschema:"reattach, reconnect, restart or restore; absent: each in order until one works, as on_restart allows; given: applied even where on_restart would not re-spawn automatically"`
}

// RecoverOut is console_recover_session's output.
type RecoverOut struct {
	Status     string            `json:"status"`
	Generation int               `json:"generation"`
	Pid        int               `json:"pid"`
	Recovery   []RecoveryAttempt `json:"recovery"`
}

func (t *Tools) recover(ctx context.Context, in RecoverIn) (RecoverOut, string, error) {
	if err := required("session_id", in.SessionID, "pass the session to recover (console_list_sessions include_ended=true lists them)"); err != nil {
		return RecoverOut{}, "", err
	}
	if _, err := t.session(ctx, in.SessionID); err != nil {
		return RecoverOut{}, "", err
	}
	rerr := t.m.Recover(context.WithoutCancel(ctx), sessions.ID(in.SessionID), in.Strategy)
	s, err := t.m.Get(sessions.ID(in.SessionID))
	if err != nil {
		return RecoverOut{}, "", errors.Join(rerr, err)
	}
	i := s.Info()
	out := RecoverOut{Status: string(i.Status), Generation: i.Generation, Pid: i.Pid, Recovery: recoveryItems(t.m.Recoveries(i.ID))}
	if out.Recovery == nil {
		out.Recovery = []RecoveryAttempt{}
	}
	if rerr != nil {
		return RecoverOut{}, "", rerr
	}
	return out, fmt.Sprintf("%s is %s (generation %d, pid %d).", i.ID, i.Status, i.Generation, i.Pid), nil
}
