package sessions

import (
	"context"
	"fmt"
	"syscall"
)

// Process is one generation of a session's program: a child in a local PTY
// (in-process or held by a ptyhost holder) or a shell on an SSH channel.
//
// One goroutine calls Read; Write, Resize and Signal may be called from other
// goroutines concurrently with it and with each other. Close may be called
// from any goroutine and unblocks a pending Read.
type Process interface {
	// Read reads the program's next output. It returns io.EOF once the
	// program's output has ended (after it exited). A backend that lost
	// output before p could be filled (a holder's ring overrun while no
	// server was attached) returns a *LostError first; Read may then be
	// called again.
	Read(p []byte) (int, error)
	// Write types p into the terminal.
	Write(p []byte) (int, error)
	// Resize sets the terminal size.
	Resize(cols, rows int) error
	// Signal delivers sig to the program (its process group and the
	// terminal's foreground process group where the backend can).
	Signal(sig syscall.Signal) error
	// Wait blocks until the program has exited and returns how it ended.
	// It returns ErrDisconnected when the program's connection was lost
	// without an exit status (an SSH drop): the program may still run.
	// Wait may be called more than once and from several goroutines.
	Wait() (Exit, error)
	// Pid is the program's process id where there is one, else 0.
	Pid() int
	// Cwd reports the program's current directory where the backend can
	// see it (/proc/PID/cwd on Linux), else "".
	Cwd() string
	// Close releases the server's hold on the program. An in-process
	// program is hung up (and reaped); a held or remote program is detached
	// from unless it has exited, in which case its holder may go.
	Close() error
}

// LostError reports output bytes a backend could not deliver.
type LostError struct {
	N int64 // how many bytes were lost
}

func (e *LostError) Error() string { return fmt.Sprintf("%d bytes of output lost", e.N) }

// StartRequest is what a Backend needs to start one generation.
type StartRequest struct {
	ID         ID
	Generation int
	// Offset is where this generation's output begins in the session's
	// stream; durable backends address their own buffers by it.
	Offset int64
	Spec   Spec
	// Cwd is where to start; it overrides Spec.Cwd on a re-spawn
	// (the last known directory).
	Cwd string
	// Env is the complete environment of the program ("K=V"), secrets
	// resolved; backends must not put it in argv or logs.
	Env []string
}

// Backend starts programs of one Kind.
type Backend interface {
	Start(ctx context.Context, req StartRequest) (Process, error)
}

// Attacher is a Backend whose programs outlive the server process.
type Attacher interface {
	// Attach reconnects to the program of session id started earlier and
	// replays its output from offset from. It returns an error unless it
	// reached the holder and proved it is the session's (secret matched).
	Attach(ctx context.Context, id ID, from int64) (Process, error)
}
