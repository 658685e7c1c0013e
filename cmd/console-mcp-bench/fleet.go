package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// fleetWorkers is how many sessions are created at once.
const fleetWorkers = 8

// fleet is a console server and the shell sessions created in it.
type fleet struct {
	srv  *server
	args []string // the server's flags, to start it again on its state dir
	mu   sync.Mutex
	ids  []string
	// unready are sessions created whose first `true` failed.
	unready []string
}

// grow creates n more shell sessions, fleetWorkers at a time, each ready
// (it has run `true`) before grow returns.
func (f *fleet) grow(ctx context.Context, n int) error {
	return parallel(n, fleetWorkers, func(int) error {
		r, err := call(ctx, f.srv.c, "console_create_session", shellArgs())
		if err != nil {
			return err
		}
		id := r.str("session_id")
		f.mu.Lock()
		f.ids = append(f.ids, id)
		f.mu.Unlock()
		if err := execTrue(ctx, f.srv.c, id); err != nil {
			f.mu.Lock()
			f.unready = append(f.unready, id)
			f.mu.Unlock()
			return err
		}
		return nil
	})
}

// pids lists the live sessions' program pids by session id.
func (f *fleet) pids(ctx context.Context) (map[string]int, error) {
	l, err := call(ctx, f.srv.c, "console_list_sessions", map[string]any{})
	if err != nil {
		return nil, err
	}
	items, _ := l.S["sessions"].([]any)
	out := map[string]int{}
	for _, it := range items {
		m, _ := it.(map[string]any)
		id, _ := m["session_id"].(string)
		pid, _ := m["pid"].(float64)
		if m["status"] == "running" {
			out[id] = int(pid)
		}
	}
	return out, nil
}

// bareShell is bash in a bare PTY: the baseline of session creation.
type bareShell struct {
	cmd *exec.Cmd
	f   *os.File
}

// startBareShell starts `bash --norc --noprofile` in a 120x40 PTY
// (creack/pty), types `true; echo RE"A"DY` at once and reads until READY
// comes back: what a session's create + first command costs without the
// server.
func (r *runner) startBareShell() (*bareShell, error) {
	cmd := exec.Command("/bin/bash", "--norc", "--noprofile")
	cmd.Env = append(os.Environ(), "HOME="+r.home, "PS1=$ ", "LANG=C.UTF-8", "TERM=xterm-256color")
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		return nil, fmt.Errorf("start bash in a pty: %w", err)
	}
	b := &bareShell{cmd: cmd, f: f}
	if _, err := io.WriteString(f, "true; echo RE\"A\"DY\r"); err != nil {
		b.Close()
		return nil, fmt.Errorf("type into bash: %w", err)
	}
	// The read blocks (creack/pty's fd is blocking): a stuck bash is
	// killed, which ends the read with EIO.
	stuck := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() }) // best effort
	defer stuck.Stop()
	var seen []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(seen, []byte("READY")) {
		n, err := f.Read(buf)
		if err != nil {
			b.Close()
			return nil, fmt.Errorf("bare bash: no READY: %w (read %q)", err, seen)
		}
		seen = append(seen, buf[:n]...)
	}
	return b, nil
}

// Close hangs up the terminal and reaps bash.
func (b *bareShell) Close() {
	_ = b.cmd.Process.Signal(syscall.SIGKILL) // best effort: it may have exited
	_ = b.f.Close()                           // best effort
	_ = b.cmd.Wait()                          // the kill status is expected
}

// benchCreate: create + first command of one shell session against a
// bash in a bare PTY, then create-to-ready of a fleet of sessions against
// as many bare bashes started as concurrently. The fleet stays for the
// restart section.
func (r *runner) benchCreate() error {
	f, err := r.newFleet()
	if err != nil {
		return err
	}
	var creates, bares samples
	for i := range r.cfg.createN + 2 {
		if i == 2 {
			creates, bares = nil, nil
		}
		var id string
		if err := creates.time(func() error {
			var err error
			id, err = createShell(r.ctx, f.srv.c)
			return err
		}); err != nil {
			return err
		}
		if err := stopSession(r.ctx, f.srv.c, id); err != nil {
			return err
		}
		var b *bareShell
		if err := bares.time(func() error {
			var err error
			b, err = r.startBareShell()
			return err
		}); err != nil {
			return err
		}
		b.Close()
	}
	r.add(newRow("create + first command of a shell session, median", ms(quantile(creates, 0.5)), "ms", ms(quantile(bares, 0.5)), "bash in a bare PTY", nil,
		fmt.Sprintf("console_create_session `bash --norc --noprofile` then console_execute_command `true` until it returns (stdio, holders + SQLite), %d samples, taking turns with: bash in a creack/pty PTY, `true; echo RE\"A\"DY` typed at once, read until READY", r.cfg.createN)))

	n := r.cfg.fleetN
	d, err := timed(func() error { return f.grow(r.ctx, n) })
	if err != nil {
		return err
	}
	var mu sync.Mutex
	var shells []*bareShell
	bd, err := timed(func() error {
		return parallel(n, fleetWorkers, func(int) error {
			b, err := r.startBareShell()
			if err == nil {
				mu.Lock()
				shells = append(shells, b)
				mu.Unlock()
			}
			return err
		})
	})
	for _, b := range shells {
		b.Close()
	}
	if err != nil {
		return err
	}
	r.add(newRow(fmt.Sprintf("create-to-ready of %d sessions", n), d.Seconds(), "s", bd.Seconds(), fmt.Sprintf("%d bare PTY bashes", n), nil,
		fmt.Sprintf("%d console_create_session + console_execute_command `true` from %d goroutines over one stdio client, until all returned; baseline: %d bare PTY bashes to READY, %d at a time", n, fleetWorkers, n, fleetWorkers)))
	return nil
}

// newFleet starts the server of the create and restart sections; Close
// stops it and its sessions.
func (r *runner) newFleet() (*fleet, error) {
	args := []string{"--max-sessions", strconv.Itoa(r.cfg.fleetN + 50)}
	srv, err := r.startConsole("fleet", r.stateDir("fleet"), args...)
	if err != nil {
		return nil, err
	}
	r.fleet = &fleet{srv: srv, args: args}
	return r.fleet, nil
}

// benchRestart: kill -9 the fleet's server, start it again on the same
// state dir and time until every session is reattached and has answered
// console_execute_command.
func (r *runner) benchRestart() error {
	f := r.fleet
	if f == nil {
		var err error
		if f, err = r.newFleet(); err != nil {
			return err
		}
	}
	if missing := r.cfg.fleetN - len(f.ids); missing > 0 {
		if err := f.grow(r.ctx, missing); err != nil {
			return err
		}
	}
	before, err := f.pids(r.ctx)
	if err != nil {
		return err
	}
	if len(before) != len(f.ids) {
		return fmt.Errorf("%d live sessions before the restart, want %d", len(before), len(f.ids))
	}
	var bases samples
	for range 3 {
		if err := bases.time(func() error {
			s, err := r.startBaseline()
			if err != nil {
				return err
			}
			defer s.Close()
			return noop(r.ctx, s.c)
		}); err != nil {
			return err
		}
	}

	if err := f.srv.Kill9(); err != nil {
		return err
	}
	t0 := time.Now()
	srv, err := r.startConsole("fleet", f.srv.stateDir, f.args...)
	if err != nil {
		return err
	}
	f.srv = srv
	initialized := time.Since(t0)
	after, err := f.pids(r.ctx)
	if err != nil {
		return err
	}
	if err := parallel(len(f.ids), fleetWorkers, func(i int) error { return execTrue(r.ctx, srv.c, f.ids[i]) }); err != nil {
		return err
	}
	d := time.Since(t0)
	same := 0
	for id, pid := range before {
		if after[id] == pid {
			same++
		}
	}
	if same != len(before) {
		return fmt.Errorf("%d of %d sessions reattached to the same process", same, len(before))
	}
	r.add(newRow(fmt.Sprintf("restart-to-ready over %d live sessions", len(before)), d.Seconds(), "s", quantile(bases, 0.5).Seconds(), "mcpbaseline start to first noop", valueBelow(1, "s"),
		fmt.Sprintf("kill -9 the stdio server, start it on the same state dir, initialize (returned after %s: recovery runs before serving), console_list_sessions, then console_execute_command `true` in every session from %d goroutines; %d/%d reattached to the same pid; baseline: mcpbaseline process start + initialize + noop, median of 3",
			initialized.Round(time.Millisecond), fleetWorkers, same, len(before))))
	return nil
}
