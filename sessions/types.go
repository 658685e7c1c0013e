// Package sessions is console-mcp's domain: a Session is one terminal (a local
// PTY program or a remote SSH shell) with one output stream addressed by
// absolute byte offset; the Manager holds the sessions of this server.
//
// The package declares what it needs from the outside world as small
// interfaces: a Backend starts the program behind a session (ptyhost, sshhost),
// a Store keeps records and output history (persist). It imports nothing of
// ours but leaf packages (termtext, keys, vtscreen).
package sessions

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ID names a session. IDs are random ("s-" and 10 base32 letters), never
// reused, and stay the same across server restarts and re-spawns.
type ID string

// Kind is where a session's program runs.
type Kind string

const (
	KindLocal Kind = "local"
	KindSSH   Kind = "ssh"
)

// Status is a session's lifecycle state.
type Status string

const (
	StatusStarting     Status = "starting"
	StatusRunning      Status = "running"
	StatusReconnecting Status = "reconnecting" // SSH connection lost; re-dialing
	StatusExited       Status = "exited"       // the program ended by itself
	StatusStopped      Status = "stopped"      // ended by console_stop_session
	StatusFailed       Status = "failed"       // could not be started or recovered; history kept
	StatusRestored     Status = "restored"     // read-only history: policy forbade a re-spawn
)

// Live reports whether a session in status s has (or is getting) a program.
func (s Status) Live() bool {
	return s == StatusStarting || s == StatusRunning || s == StatusReconnecting
}

// RestartPolicy says what recovery may do with a session whose program is gone.
type RestartPolicy string

const (
	// ReattachOrRestart reattaches to the surviving program, else re-spawns it.
	ReattachOrRestart RestartPolicy = "reattach-or-restart"
	// ReattachOnly reattaches, else keeps the session as read-only history.
	ReattachOnly RestartPolicy = "reattach-only"
	// Never keeps the session as read-only history after a server restart.
	Never RestartPolicy = "never"
)

// Spec is how a session was asked to be started. It is stored, and a restart
// re-spawns from it.
type Spec struct {
	Kind    Kind              `json:"kind"`
	Command string            `json:"command"`
	Args    []string          `json:"args,omitempty"`
	Cwd     string            `json:"cwd,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	// EnvRefs names environment variables whose values were not stored
	// because their names look secret; a re-spawn takes their values from the
	// server's own environment.
	EnvRefs   []string      `json:"env_refs,omitempty"`
	Cols      int           `json:"cols"`
	Rows      int           `json:"rows"`
	Name      string        `json:"name,omitempty"`
	OnRestart RestartPolicy `json:"on_restart,omitempty"`
	SSH       *SSHSpec      `json:"ssh,omitempty"`
	// OneShot marks the fresh session of a console_execute_command call
	// without a session_id.
	OneShot bool `json:"one_shot,omitempty"`
	// Creator is the MCP session that created it (for --scope-sessions).
	Creator string `json:"creator,omitempty"`
}

// CommandLine renders how the session runs, for people: the program and its
// arguments, "ssh user@host [command]" for SSH, and a one-shot run's shell
// without its marker script.
func (s Spec) CommandLine() string {
	if s.Kind == KindSSH && s.SSH != nil {
		target := s.SSH.Host
		if s.SSH.User != "" {
			target = s.SSH.User + "@" + target
		}
		return strings.Join(append([]string{"ssh", target}, append(nonEmpty(s.Command), s.Args...)...), " ")
	}
	if s.OneShot && len(s.Args) > 0 {
		return s.Command + " -c …"
	}
	return strings.Join(append([]string{s.Command}, s.Args...), " ")
}

func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}

// SSHSpec is the ssh object of console_create_session. Secrets are named by
// environment variable, never carried as values.
type SSHSpec struct {
	Host          string   `json:"host"`
	Port          int      `json:"port,omitempty"`
	User          string   `json:"user,omitempty"`
	IdentityFile  string   `json:"identity_file,omitempty"`
	PassphraseEnv string   `json:"passphrase_env,omitempty"`
	PasswordEnv   string   `json:"password_env,omitempty"`
	UseAgent      *bool    `json:"use_agent,omitempty"`
	Jump          []string `json:"jump,omitempty"`
	// KnownHosts is the host-key policy: "strict" (default), "accept-new"
	// or "insecure" (only when the server allows it).
	KnownHosts     string `json:"known_hosts,omitempty"`
	KnownHostsFile string `json:"known_hosts_file,omitempty"`
}

// Exit is how a program ended.
type Exit struct {
	// Code is the exit status; for a program killed by a signal it is 128
	// plus the signal number, as shells report it.
	Code int `json:"code"`
	// Signal names the signal that killed the program ("SIGTERM"), if any.
	Signal string `json:"signal,omitempty"`
}

func (e Exit) String() string {
	if e.Signal != "" {
		return fmt.Sprintf("killed by %s (exit code %d)", e.Signal, e.Code)
	}
	return fmt.Sprintf("exit code %d", e.Code)
}

// Record is a session as stored.
type Record struct {
	ID           ID     `json:"session_id"`
	Spec         Spec   `json:"spec"`
	Status       Status `json:"status"`
	StatusReason string `json:"status_reason,omitempty"`
	Generation   int    `json:"generation"`
	Pid          int    `json:"pid,omitempty"`
	Cwd          string `json:"cwd,omitempty"` // last known working directory
	Exit         *Exit  `json:"exit,omitempty"`
	// OutputEnd is the offset just past the last output byte known.
	OutputEnd int64 `json:"output_end"`
	// LostBytes counts output bytes that were never retained (ring overrun
	// while no server read it, retention cuts).
	LostBytes      int64     `json:"lost_bytes"`
	Owner          string    `json:"owner,omitempty"`
	CreatedAt      time.Time `json:"created_at"`
	UpdatedAt      time.Time `json:"updated_at"`
	LastActivityAt time.Time `json:"last_activity_at"`
	EndedAt        time.Time `json:"ended_at,omitzero"`
}

// EventKind is the kind of a non-output event in a session's history.
type EventKind string

const (
	EventInput  EventKind = "input"  // bytes typed (Data)
	EventSecret EventKind = "secret" // a secret was typed; Data names the env var, never the value
	EventResize EventKind = "resize" // Data is "COLSxROWS"
	EventMarker EventKind = "marker" // a restart/reconnect boundary; Data is the visible line
	EventStatus EventKind = "status" // a status transition; Data is "status: reason"
	EventExec   EventKind = "exec"   // console_execute_command typed a command; Data is its marker token
)

// Event is one input, resize, marker or status transition, placed in the
// output stream by the output offset at the moment it happened.
type Event struct {
	Session    ID        `json:"session_id"`
	Generation int       `json:"generation"`
	Offset     int64     `json:"offset"`
	At         time.Time `json:"at"`
	Kind       EventKind `json:"kind"`
	Data       string    `json:"data"`
}

// Chunk is a piece of output at an absolute offset.
type Chunk struct {
	Offset int64
	At     time.Time
	Data   []byte
}

// RecoveryAttempt is one try of one strategy to bring a session back.
type RecoveryAttempt struct {
	Session  ID        `json:"session_id"`
	Strategy string    `json:"strategy"` // reattach, reconnect, restart, restore, fallback
	Started  time.Time `json:"started"`
	Ended    time.Time `json:"ended"`
	Outcome  string    `json:"outcome"` // "ok" or "failed"
	Error    string    `json:"error,omitempty"`
}

// Errors callers branch on.
var (
	ErrNotFound     = errors.New("session not found")
	ErrNotLive      = errors.New("session is not running")
	ErrTooMany      = errors.New("too many live sessions")
	ErrBusy         = errors.New("session is running another command")
	ErrNotShell     = errors.New("session does not run a shell")
	ErrDisconnected = errors.New("connection lost")
	ErrClosed       = errors.New("manager is closed")
)
