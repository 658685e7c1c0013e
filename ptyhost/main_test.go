package ptyhost

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// TestMain lets the test binary be the holder (`ptyhost ...`, as
// `console-mcp ptyhost ...` is) and a person's attach (`attach RUNDIR ID`,
// driven inside tmux).
func TestMain(m *testing.M) {
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "ptyhost":
			os.Exit(Main(os.Args[2:]))
		case "attach":
			if len(os.Args) != 4 {
				os.Exit(2)
			}
			if err := AttachTerminal(context.Background(), os.Args[2], os.Args[3], os.Stdin, os.Stdout); err != nil {
				fmt.Fprintln(os.Stderr, err)
				os.Exit(1)
			}
			os.Exit(0)
		}
	}
	os.Exit(m.Run())
}

// testExe is the test binary, absolute, to run as holder.
func testExe(t testing.TB) string {
	exe, err := filepath.Abs(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// newTestHolders returns Holders over a fresh short run dir (socket paths
// are limited to about 100 bytes) with the test binary as the holder.
func newTestHolders(t testing.TB, opt HolderOptions) *Holders {
	t.Helper()
	dir, err := os.MkdirTemp("", "ph")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	opt.RunDir = filepath.Join(dir, "run")
	opt.Exe = testExe(t)
	opt.Args = []string{"ptyhost"}
	h, err := NewHolders(opt)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

var testIDs atomic.Int64

// newID returns a fresh session id.
func newID() sessions.ID {
	return sessions.ID(fmt.Sprintf("s-test%d-%d", os.Getpid()%1000, testIDs.Add(1)))
}

// shellReq starts bash without rc files and with a plain prompt.
func shellReq(id sessions.ID, dir string) sessions.StartRequest {
	return sessions.StartRequest{
		ID:   id,
		Spec: sessions.Spec{Kind: sessions.KindLocal, Command: "bash", Args: []string{"--norc", "--noprofile"}, Cols: 80, Rows: 24},
		Cwd:  dir,
		Env:  []string{"PATH=" + os.Getenv("PATH"), "TERM=dumb", "PS1=$ ", "HOME=" + dir},
	}
}

// shReq runs script with sh -c.
func shReq(id sessions.ID, script string) sessions.StartRequest {
	return sessions.StartRequest{
		ID:   id,
		Spec: sessions.Spec{Kind: sessions.KindLocal, Command: "sh", Args: []string{"-c", script}, Cols: 80, Rows: 24},
		Env:  []string{"PATH=" + os.Getenv("PATH")},
	}
}

// start starts req and makes sure the holder is gone when the test ends.
func start(t *testing.T, h *Holders, req sessions.StartRequest) *holderProcess {
	t.Helper()
	proc, err := h.Start(context.Background(), req)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	p := proc.(*holderProcess)
	cleanupHolder(t, h, p.HolderPid())
	t.Cleanup(func() { p.Close() })
	return p
}

// attach attaches to id from offset from.
func attach(t *testing.T, h *Holders, id sessions.ID, from int64) *holderProcess {
	t.Helper()
	proc, err := h.Attach(context.Background(), id, from)
	if err != nil {
		t.Fatalf("Attach: %v", err)
	}
	p := proc.(*holderProcess)
	t.Cleanup(func() { p.Close() })
	return p
}

// cleanupHolder kills the holder at the end of the test unless it exited.
func cleanupHolder(t *testing.T, h *Holders, pid int) {
	reaped := h.holderReaped(pid)
	t.Cleanup(func() {
		select {
		case <-reaped:
			return
		default:
		}
		syscall.Kill(pid, syscall.SIGKILL) // not yet reaped: pid is still the holder's
		<-reaped
	})
}

// waitReaped waits for the holder with pid (started by h) to exit.
func waitReaped(t *testing.T, h *Holders, pid int) {
	t.Helper()
	select {
	case <-h.holderReaped(pid):
	case <-time.After(30 * time.Second):
		t.Fatalf("holder %d did not exit", pid)
	}
}

// stream reads a process's output into one buffer; until searches it.
type stream struct {
	t    testing.TB
	p    sessions.Process
	buf  []byte
	mark int   // until searches from here
	lost int64 // sum of LostErrors
	err  error // the error that ended the output
}

func newStream(t testing.TB, p sessions.Process) *stream { return &stream{t: t, p: p} }

// fill reads once; it reports false once the output has ended.
func (s *stream) fill() bool {
	if s.err != nil {
		return false
	}
	if hp, ok := s.p.(*holderProcess); ok {
		// A test that waits for output that never comes fails, not hangs.
		hp.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	}
	var chunk [32 << 10]byte
	n, err := s.p.Read(chunk[:])
	s.buf = append(s.buf, chunk[:n]...)
	var lost *sessions.LostError
	switch {
	case errors.As(err, &lost):
		s.lost += lost.N
	case err != nil:
		s.err = err
	}
	return true
}

// until reads until want appears after the last match and returns
// everything from the last match through this one.
func (s *stream) until(want string) string {
	s.t.Helper()
	for {
		if i := bytes.Index(s.buf[s.mark:], []byte(want)); i >= 0 {
			got := string(s.buf[s.mark : s.mark+i+len(want)])
			s.mark += i + len(want)
			return got
		}
		if !s.fill() {
			s.t.Fatalf("output ended (%v) before %q; got %q", s.err, want, tail(s.buf))
		}
	}
}

// toEnd reads until the output ends and returns the error that ended it.
func (s *stream) toEnd() error {
	for s.fill() {
	}
	return s.err
}

func tail(b []byte) string {
	if len(b) > 400 {
		b = b[len(b)-400:]
	}
	return string(b)
}

// waitFor polls cond until it holds; the deadline only keeps a broken test
// from hanging.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gone reports whether pid no longer exists (reaped).
func gone(pid int) bool { return errors.Is(syscall.Kill(pid, 0), syscall.ESRCH) }

// foreground reports the command name of the terminal's foreground process
// group of the session led by pid, from /proc.
func foreground(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// Fields after "(comm) ": state ppid pgrp session tty_nr tpgid.
	f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
	if len(f) < 6 || f[5] == fmt.Sprint(pid) {
		return ""
	}
	comm, _ := os.ReadFile("/proc/" + f[5] + "/comm")
	return strings.TrimSpace(string(comm))
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}
