package sshhost_test

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/sshhost"
	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

// openSSHFixture starts sshd and returns a fixture trusting it and a spec
// logging in with its key.
func openSSHFixture(t *testing.T, opt sshhost.Options) (*sshtest.OpenSSH, *fixture, *sessions.SSHSpec) {
	t.Helper()
	o := sshtest.StartOpenSSH(t)
	f := newFixture(t, opt)
	return o, f, &sessions.SSHSpec{
		Host: "127.0.0.1", Port: o.Port(), User: o.User(),
		IdentityFile: o.KeyFile(), KnownHostsFile: o.KnownHostsFile(),
	}
}

func TestOpenSSH(t *testing.T) {
	o, f, spec := openSSHFixture(t, sshhost.Options{})

	t.Run("shell, size, resize, environment", func(t *testing.T) {
		s := sessions.Spec{SSH: spec, Cols: 91, Rows: 27, Env: map[string]string{"SSHTEST_GREETING": ""}}
		tm := f.start(t, s, "", "SSHTEST_GREETING=hello there", "LANG=C.UTF-8", "HOME=/local/home")
		tm.typ(t, "echo \"size=$(stty size) env=$SSHTEST_GREETING\"\r")
		tm.expect(t, `size=27 91 env=hello there\r`)
		if err := tm.p.Resize(132, 43); err != nil {
			t.Fatal(err)
		}
		tm.typ(t, "echo \"size=$(stty size)\"\r")
		tm.expect(t, `size=43 132\r`)
	})
	t.Run("command exit code", func(t *testing.T) {
		tm := f.start(t, sessions.Spec{SSH: spec, Command: "echo hi; exit 3"}, "")
		if out := tm.readAll(t); !strings.Contains(out, "hi") {
			t.Errorf("output %q", out)
		}
		if exit, err := tm.wait(t); err != nil || exit != (sessions.Exit{Code: 3}) {
			t.Errorf("Wait = %+v, %v; want exit code 3", exit, err)
		}
	})
	t.Run("command killed by a signal", func(t *testing.T) {
		tm := f.start(t, sessions.Spec{SSH: spec, Command: "kill -TERM $$"}, "")
		tm.readAll(t)
		if exit, err := tm.wait(t); err != nil || exit != (sessions.Exit{Code: 143, Signal: "SIGTERM"}) {
			t.Errorf("Wait = %+v, %v; want killed by SIGTERM", exit, err)
		}
	})
	t.Run("ctrl-c interrupts sleep", func(t *testing.T) {
		tm := f.start(t, sessions.Spec{SSH: spec}, "")
		tm.typ(t, "sh -c 'echo sleeping-$((1+2)); exec sleep 100'\r")
		tm.expect(t, "sleeping-3")
		if err := tm.p.Signal(syscall.SIGINT); err != nil {
			t.Fatalf("Signal: %v", err)
		}
		tm.typ(t, "echo rc=$?\r")
		tm.expect(t, "rc=130")
	})
	t.Run("start directory", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "it's here")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		tm := f.start(t, sessions.Spec{SSH: spec}, dir)
		expectCwd(t, tm, dir)
	})
	t.Run("unknown host key refused", func(t *testing.T) {
		s := *spec
		s.KnownHostsFile = filepath.Join(t.TempDir(), "empty")
		_, err := f.try(sessions.Spec{SSH: &s}, "")
		var he *sshhost.HostKeyError
		if !errors.As(err, &he) || !he.Unknown {
			t.Fatalf("err = %v, want unknown host key", err)
		}
	})
	t.Run("drop, then reconnect in the last directory", func(t *testing.T) {
		dir := t.TempDir()
		before := o.ChildPIDs()
		tm := f.start(t, sessions.Spec{SSH: spec}, dir)
		tm.typ(t, "echo up-$((1+1))\r")
		tm.expect(t, "up-2")
		children := newPIDs(before, o.ChildPIDs())
		if len(children) != 1 {
			t.Fatalf("new sshd children = %v, want the one connection", children)
		}
		// The child leads the connection's process group (with its
		// unprivileged child): kill both, as a crash would.
		if err := syscall.Kill(-children[0], syscall.SIGKILL); err != nil {
			t.Fatalf("kill sshd child: %v", err)
		}
		_, err := tm.wait(t)
		if !errors.Is(err, sessions.ErrDisconnected) {
			t.Fatalf("Wait = %v, want ErrDisconnected", err)
		}
		again := f.start(t, sessions.Spec{SSH: spec}, dir)
		expectCwd(t, again, dir)
	})
}

// Without sshd's replies a stalled connection is found by keepalive; here
// sshd is stopped (SIGSTOP) instead of killed.
func TestOpenSSHKeepalive(t *testing.T) {
	o, f, spec := openSSHFixture(t, sshhost.Options{KeepaliveInterval: 50 * time.Millisecond, KeepaliveTimeout: 200 * time.Millisecond})
	before := o.ChildPIDs()
	tm := f.start(t, sessions.Spec{SSH: spec}, "")
	tm.typ(t, "echo up-$((1+1))\r")
	tm.expect(t, "up-2")
	children := newPIDs(before, o.ChildPIDs())
	if len(children) != 1 {
		t.Fatalf("sshd children = %v, want the one connection", children)
	}
	if err := syscall.Kill(-children[0], syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(-children[0], syscall.SIGKILL) })
	_, err := tm.wait(t)
	if !errors.Is(err, sessions.ErrDisconnected) || !strings.Contains(err.Error(), "keepalive") {
		t.Fatalf("Wait = %v, want ErrDisconnected by keepalive", err)
	}
}

// newPIDs lists the pids of after that are not in before.
func newPIDs(before, after []int) []int {
	var out []int
	for _, p := range after {
		if !slices.Contains(before, p) {
			out = append(out, p)
		}
	}
	return out
}
