package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"syscall"
	"time"

	"github.com/creack/pty"
	"github.com/mark3labs/mcp-go/client"
)

// captureCommand writes n bytes as fast as a pipe goes, without newlines.
func captureCommand(n int64) string {
	return fmt.Sprintf(`head -c %d /dev/zero | tr '\0' a`, n)
}

// barePTY runs command with sh -c in a new 120x40 PTY (creack/pty, the
// terminal settings a session gets) and reads it to the end, discarding:
// what the program costs with nothing but a reader behind it.
func barePTY(ctx context.Context, command string) (time.Duration, int64, error) {
	t0 := time.Now()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
	f, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 120, Rows: 40})
	if err != nil {
		return 0, 0, fmt.Errorf("start pty: %w", err)
	}
	defer f.Close()
	var n int64
	buf := make([]byte, 32<<10)
	for {
		k, err := f.Read(buf)
		n += int64(k)
		if err != nil { // EIO on Linux once the child side is closed
			if !errors.Is(err, syscall.EIO) && !errors.Is(err, io.EOF) {
				_ = cmd.Wait() // best effort: reap
				return 0, n, fmt.Errorf("read pty: %w", err)
			}
			break
		}
	}
	if err := cmd.Wait(); err != nil {
		return 0, n, fmt.Errorf("bare pty %q: %w", command, err)
	}
	return time.Since(t0), n, nil
}

// captureIn runs the capture command in a session through
// console_execute_command and checks that all its output was captured.
func captureIn(ctx context.Context, c *client.Client, id string, n int64) (time.Duration, error) {
	return timed(func() error {
		res, err := execute(ctx, c, id, captureCommand(n), 10*time.Minute)
		if err != nil {
			return err
		}
		if got := res.num("cursor") - res.num("output_cursor"); got < n {
			return fmt.Errorf("capture in %s: %d bytes of output, want %d", id, got, n)
		}
		return nil
	})
}

// benchCapture: the capture command in a session of the default server
// (holders, SQLite), of a --no-holder server and over SSH, against a bare
// PTY read loop; the four take turns in every round, in a rotating order,
// and each figure is the best of its rounds (a shared machine's noise
// only ever adds).
func (r *runner) benchCapture() error {
	std, err := r.sharedServer("stdio")
	if err != nil {
		return err
	}
	noh, err := r.sharedServer("stdio-noholder")
	if err != nil {
		return err
	}
	idStd, err := createShell(r.ctx, std.c)
	if err != nil {
		return err
	}
	idNoh, err := createShell(r.ctx, noh.c)
	if err != nil {
		return err
	}
	idSSH, sshErr := r.sshShell(std)
	if sshErr != nil {
		r.logf("  no SSH figures: %v", sshErr)
	}
	defer func() {
		// best effort: the sessions hold 100 MB histories; Close stops any left
		_ = stopSession(r.ctx, std.c, idStd)
		_ = stopSession(r.ctx, noh.c, idNoh)
		if sshErr == nil {
			_ = stopSession(r.ctx, std.c, idSSH)
		}
	}()
	n := r.cfg.captureBytes
	type variant struct {
		name string
		run  func() (time.Duration, error)
		best []time.Duration
	}
	vs := []*variant{
		{name: "bare", run: func() (time.Duration, error) {
			d, got, err := barePTY(r.ctx, captureCommand(n))
			if err == nil && got < n {
				err = fmt.Errorf("bare pty: %d bytes, want %d", got, n)
			}
			return d, err
		}},
		{name: "server", run: func() (time.Duration, error) { return captureIn(r.ctx, std.c, idStd, n) }},
		{name: "noholder", run: func() (time.Duration, error) { return captureIn(r.ctx, noh.c, idNoh, n) }},
	}
	if sshErr == nil {
		vs = append(vs, &variant{name: "ssh", run: func() (time.Duration, error) { return captureIn(r.ctx, std.c, idSSH, n) }})
	}
	for round := range r.cfg.captureRounds {
		for i := range vs {
			v := vs[(i+round)%len(vs)]
			d, err := v.run()
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			v.best = append(v.best, d)
		}
	}
	best := func(i int) float64 { return slices.Min(vs[i].best).Seconds() }
	bare, server, noholder := best(0), best(1), best(2)
	cmd := captureCommand(n)
	rounds := fmt.Sprintf("best of %d rounds; the variants take turns in a rotating order", r.cfg.captureRounds)
	label := fmt.Sprintf("capture %d MB", n/1_000_000)
	r.add(newRow(label+": default server vs bare PTY", server, "s", bare, "bare PTY read loop", ratioAtMost(1.3),
		fmt.Sprintf("`%s` through console_execute_command (stdio, warm bash session, holders + SQLite on: the default) until it returns with exit 0 and %d bytes between output_cursor and cursor, vs the same command under sh -c in a creack/pty 120x40 PTY read to EOF; %s", cmd, n, rounds)))
	r.add(newRow(label+": --no-holder server vs bare PTY", noholder, "s", bare, "bare PTY read loop", nil,
		"the same through a server started with --no-holder (PTY in the server process, SQLite on); "+rounds))
	r.add(newRow("holder hop on capture", server, "s", noholder, "--no-holder", ratioAtMost(1.15),
		"the default server's capture time over the --no-holder server's (both SQLite on); "+rounds))
	if sshErr == nil {
		mbps := func(s float64) float64 { return float64(n) / s / 1e6 }
		r.add(newRow("SSH capture throughput vs local", mbps(best(3)), "MB/s", mbps(server), "local session, default server", ratioAtLeast(0.5),
			fmt.Sprintf("`%s` through console_execute_command in an SSH session to OpenSSH on 127.0.0.1 vs in a local session of the same server; %s", cmd, rounds)))
	}
	return nil
}
