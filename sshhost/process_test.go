package sshhost_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/sshhost"
	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

// keyServer is an sshtest server with user alice logging in by key, and a
// fixture that trusts it.
func keyServer(t *testing.T, sopt sshtest.ServerOptions, opt sshhost.Options) (*sshtest.Server, *fixture, *sessions.SSHSpec) {
	t.Helper()
	srv := sshtest.NewServer(t, sopt)
	key := srv.NewUserKey(t, "alice", "")
	f := newFixture(t, opt)
	spec := f.sshSpec(t, srv, "alice")
	spec.IdentityFile = key.Path
	return srv, f, spec
}

func TestCommandMode(t *testing.T) {
	_, f, spec := keyServer(t, sshtest.ServerOptions{}, sshhost.Options{})
	tests := []struct {
		name    string
		command string
		args    []string
		want    sessions.Exit
		output  string
	}{
		{"exit code", "exit 3", nil, sessions.Exit{Code: 3}, ""},
		{"killed by a signal", "kill -TERM $$", nil, sessions.Exit{Code: 143, Signal: "SIGTERM"}, ""},
		{"args are quoted", "printf", []string{"[%s]", "a b", "it's", "$HOME"}, sessions.Exit{}, "[a b][it's][$HOME]"},
		{"runs in a terminal", "test -t 0 && test -t 1 && echo tty-$TERM", nil, sessions.Exit{}, "tty-xterm-256color"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tm := f.start(t, sessions.Spec{SSH: spec, Command: tt.command, Args: tt.args}, "")
			out := tm.readAll(t)
			exit, err := tm.wait(t)
			if err != nil || exit != tt.want {
				t.Errorf("Wait = %+v, %v; want %+v", exit, err, tt.want)
			}
			if !strings.Contains(out, tt.output) {
				t.Errorf("output %q does not contain %q", out, tt.output)
			}
		})
	}
}

func TestTerminalSize(t *testing.T) {
	_, f, spec := keyServer(t, sshtest.ServerOptions{}, sshhost.Options{})
	tm := f.start(t, sessions.Spec{SSH: spec, Cols: 91, Rows: 27}, "")
	tm.typ(t, "echo size=$(stty size)\r")
	tm.expect(t, `size=27 91\r`)
	if err := tm.p.Resize(132, 43); err != nil {
		t.Fatalf("Resize: %v", err)
	}
	tm.typ(t, "echo size=$(stty size)\r")
	tm.expect(t, `size=43 132\r`)
}

func TestInterrupt(t *testing.T) {
	for _, ignore := range []bool{false, true} {
		t.Run(fmt.Sprintf("server ignores signals=%v", ignore), func(t *testing.T) {
			_, f, spec := keyServer(t, sshtest.ServerOptions{IgnoreSignals: ignore}, sshhost.Options{})
			tm := f.start(t, sessions.Spec{SSH: spec}, "")
			// The echo comes from the process that becomes sleep: once it
			// shows, sleep owns the terminal's foreground.
			tm.typ(t, "sh -c 'echo sleeping-$((1+2)); exec sleep 100'\r")
			tm.expect(t, "sleeping-3")
			if err := tm.p.Signal(syscall.SIGINT); err != nil {
				t.Fatalf("Signal: %v", err)
			}
			tm.typ(t, "echo rc=$?\r")
			tm.expect(t, `rc=130`)
		})
	}
	t.Run("command killed by SIGTERM", func(t *testing.T) {
		_, f, spec := keyServer(t, sshtest.ServerOptions{}, sshhost.Options{})
		tm := f.start(t, sessions.Spec{SSH: spec, Command: "echo started; exec sleep 100"}, "")
		tm.expect(t, "started")
		if err := tm.p.Signal(syscall.SIGTERM); err != nil {
			t.Fatalf("Signal: %v", err)
		}
		if exit, err := tm.wait(t); err != nil || exit != (sessions.Exit{Code: 143, Signal: "SIGTERM"}) {
			t.Errorf("Wait = %+v, %v; want killed by SIGTERM", exit, err)
		}
	})
}

func TestStartDirectory(t *testing.T) {
	_, f, spec := keyServer(t, sshtest.ServerOptions{}, sshhost.Options{})
	dir := filepath.Join(t.TempDir(), "a dir with 'quotes' and $dollar")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Run("shell", func(t *testing.T) {
		tm := f.start(t, sessions.Spec{SSH: spec}, dir)
		expectCwd(t, tm, dir)
	})
	t.Run("shell, spec cwd", func(t *testing.T) {
		tm := f.start(t, sessions.Spec{SSH: spec, Cwd: dir}, "")
		expectCwd(t, tm, dir)
	})
	t.Run("shell, directory gone: home", func(t *testing.T) {
		tm := f.start(t, sessions.Spec{SSH: spec}, filepath.Join(dir, "gone"))
		home := srvHome(t, tm)
		expectCwd(t, tm, home)
	})
	t.Run("command", func(t *testing.T) {
		tm := f.start(t, sessions.Spec{SSH: spec, Command: "pwd # a comment"}, dir)
		if out := tm.readAll(t); !strings.Contains(out, dir) {
			t.Errorf("output %q does not contain %q", out, dir)
		}
	})
	t.Run("command, directory gone: fails", func(t *testing.T) {
		tm := f.start(t, sessions.Spec{SSH: spec, Command: "echo ran"}, filepath.Join(dir, "gone"))
		out := tm.readAll(t)
		if exit, err := tm.wait(t); err != nil || exit.Code == 0 || strings.Contains(out, "ran") {
			t.Errorf("Wait = %+v, %v, output %q; want a failure before the command", exit, err, out)
		}
	})
}

// srvHome asks the shell for its HOME.
func srvHome(t *testing.T, tm *term) string {
	t.Helper()
	tm.typ(t, "echo home=\"$HOME\"=\r")
	m := tm.expect(t, `home=[^\r\n"]*=\r`)
	return strings.TrimSuffix(strings.TrimPrefix(m, "home="), "=\r")
}

// expectCwd asks the shell for its directory and expects dir. The output
// differs from the echoed command line, which holds "$(pwd)".
func expectCwd(t *testing.T, tm *term, dir string) {
	t.Helper()
	tm.typ(t, "echo \"pwd=$(pwd)\"\r")
	tm.expect(t, "pwd="+regexp.QuoteMeta(dir)+"\r")
}

func TestEnvironment(t *testing.T) {
	_, f, spec := keyServer(t, sshtest.ServerOptions{RefuseEnv: []string{"REFUSED"}}, sshhost.Options{})
	s := sessions.Spec{SSH: spec, Env: map[string]string{"GREETING": "x", "REFUSED": "y"}, EnvRefs: []string{"TOKEN"}}
	tm := f.start(t, s, "",
		"GREETING=hello world", "REFUSED=y", "TOKEN=t0k", "LANG=C.UTF-8", "HOME=/local/home", "PATH=/local/bin")
	tm.typ(t, `echo "env=[$GREETING|$TOKEN|$LANG|${REFUSED-unset}|$HOME|$PATH]"`+"\r")
	got := tm.expect(t, `env=\[[^\]$]*\]`) // the echoed command line has "$"
	if strings.Contains(got, "|/local/home|") || strings.Contains(got, "|/local/bin]") {
		t.Errorf("the local HOME or PATH was sent: %q", got)
	}
	if !strings.HasPrefix(got, "env=[hello world|t0k|C.UTF-8|unset|") {
		t.Errorf("environment = %q, want the named variables and LANG, REFUSED unset", got)
	}
	if strings.Contains(f.logs.String(), "t0k") || strings.Contains(f.logs.String(), "hello world") {
		t.Errorf("environment values reached the log:\n%s", f.logs.String())
	}
}

func TestJumpHosts(t *testing.T) {
	const target = "target.internal.invalid" // only the last jump host resolves it
	srvTarget := sshtest.NewServer(t, sshtest.ServerOptions{Users: []sshtest.User{{Name: "alice", Password: testPassword}}})
	jump2 := sshtest.NewServer(t, sshtest.ServerOptions{Hosts: map[string]string{target: "127.0.0.1"}})
	jump1 := sshtest.NewServer(t, sshtest.ServerOptions{})
	f := newFixture(t, sshhost.Options{})
	key := sshtest.WriteUserKey(t, filepath.Join(t.TempDir(), "id"), "")
	jump1.Authorize("bob", key.Public)
	jump2.Authorize("carol", key.Public)
	jump1.WriteKnownHosts(t, f.known)
	jump2.WriteKnownHosts(t, f.known)

	spec := &sessions.SSHSpec{
		Host: target, Port: srvTarget.Port(), User: "alice", PasswordEnv: "TEST_PASSWORD",
		IdentityFile: key.Path, // for the jump hosts; the target takes the password
		Jump:         []string{"bob@" + jump1.Addr() + ",carol@" + jump2.Addr()},
		KnownHosts:   "accept-new",
	}
	loginWorks(t, f, spec)

	if got, want := jump1.Forwards(), []string{jump2.Addr()}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("first jump host forwarded to %v, want %v", got, want)
	}
	wantTarget := fmt.Sprintf("%s:%d", target, srvTarget.Port())
	if got := jump2.Forwards(); len(got) != 1 || got[0] != wantTarget {
		t.Errorf("second jump host forwarded to %v, want [%s]", got, wantTarget)
	}
	if l := srvTarget.Logins(); len(l) != 1 || l[0].Method != "password" {
		t.Errorf("target logins = %v, want one by password", l)
	}
	// accept-new recorded the target under the name it was asked by.
	if data, _ := os.ReadFile(f.known); !strings.Contains(string(data), fmt.Sprintf("[%s]:%d ssh-ed25519", target, srvTarget.Port())) {
		t.Errorf("known_hosts lacks the target:\n%s", data)
	}

	t.Run("a jump host's key is verified too", func(t *testing.T) {
		g := newFixture(t, sshhost.Options{})
		jump1.WriteKnownHosts(t, g.known) // jump2 unknown
		s := *spec
		s.KnownHosts = "strict"
		_, err := g.try(sessions.Spec{SSH: &s}, "")
		var he *sshhost.HostKeyError
		if !errors.As(err, &he) || he.Host != jump2.Addr() || !he.Unknown {
			t.Fatalf("err = %v, want jump2's key unknown", err)
		}
	})
	t.Run("the password is not sent to jump hosts", func(t *testing.T) {
		pwJump := sshtest.NewServer(t, sshtest.ServerOptions{Users: []sshtest.User{{Name: "dave", Password: testPassword}}})
		g := newFixture(t, sshhost.Options{})
		pwJump.WriteKnownHosts(t, g.known)
		s := &sessions.SSHSpec{Host: "127.0.0.1", Port: srvTarget.Port(), User: "alice", PasswordEnv: "TEST_PASSWORD",
			Jump: []string{"dave@" + pwJump.Addr()}, KnownHosts: "accept-new"}
		_, err := g.try(sessions.Spec{SSH: s}, "")
		var ae *sshhost.AuthError
		if !errors.As(err, &ae) || ae.User != "dave" || len(pwJump.Logins()) != 0 {
			t.Fatalf("err = %v, logins %v; want dave's authentication to fail", err, pwJump.Logins())
		}
	})
}

func TestDisconnect(t *testing.T) {
	t.Run("silent connection found by keepalive", func(t *testing.T) {
		srv, f, spec := keyServer(t, sshtest.ServerOptions{},
			sshhost.Options{KeepaliveInterval: 50 * time.Millisecond, KeepaliveTimeout: 100 * time.Millisecond})
		tm := f.start(t, sessions.Spec{SSH: spec}, "")
		tm.typ(t, "echo up-$((1+1))\r")
		tm.expect(t, "up-2")
		srv.Stall()
		_, err := tm.wait(t)
		if !errors.Is(err, sessions.ErrDisconnected) || !strings.Contains(err.Error(), "keepalive") {
			t.Fatalf("Wait err = %v, want ErrDisconnected by keepalive", err)
		}
		tm.readAll(t)
	})
	t.Run("connection reset", func(t *testing.T) {
		srv, f, spec := keyServer(t, sshtest.ServerOptions{}, sshhost.Options{})
		tm := f.start(t, sessions.Spec{SSH: spec}, "")
		tm.typ(t, "echo up-$((1+1))\r")
		tm.expect(t, "up-2")
		srv.Drop()
		if _, err := tm.wait(t); !errors.Is(err, sessions.ErrDisconnected) {
			t.Fatalf("Wait err = %v, want ErrDisconnected", err)
		}
		tm.readAll(t)
	})
	t.Run("server down, then back: a new Start in the last directory", func(t *testing.T) {
		srv, f, spec := keyServer(t, sshtest.ServerOptions{}, sshhost.Options{})
		tm := f.start(t, sessions.Spec{SSH: spec}, "")
		dir := t.TempDir()
		srv.Stop()
		if _, err := tm.wait(t); !errors.Is(err, sessions.ErrDisconnected) {
			t.Fatalf("Wait err = %v, want ErrDisconnected", err)
		}
		if _, err := f.try(sessions.Spec{SSH: spec}, dir); err == nil || !strings.Contains(err.Error(), "connection refused") {
			t.Fatalf("Start while down: %v, want connection refused", err)
		}
		if err := srv.Restart(); err != nil {
			t.Fatal(err)
		}
		again := f.start(t, sessions.Spec{SSH: spec}, dir)
		expectCwd(t, again, dir)
	})
}

func TestClose(t *testing.T) {
	_, f, spec := keyServer(t, sshtest.ServerOptions{}, sshhost.Options{KeepaliveInterval: 10 * time.Millisecond})
	p, err := f.try(sessions.Spec{SSH: spec}, "")
	if err != nil {
		t.Fatal(err)
	}
	readErr := make(chan error, 1)
	prompt := make(chan struct{})
	go func() {
		buf := make([]byte, 1024)
		for i := 0; ; i++ {
			if _, err := p.Read(buf); err != nil {
				readErr <- err
				return
			}
			if i == 0 {
				close(prompt) // keepalives have been running meanwhile
			}
		}
	}()
	<-prompt
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := <-readErr; err.Error() != "EOF" {
		t.Errorf("pending Read ended with %v, want EOF", err)
	}
	if _, err := p.Wait(); !errors.Is(err, sessions.ErrDisconnected) {
		t.Errorf("Wait after Close = %v, want ErrDisconnected", err)
	}
	if _, err := p.Write([]byte("x")); err == nil {
		t.Error("Write after Close succeeded")
	}
	if p.Pid() != 0 || p.Cwd() != "" {
		t.Errorf("Pid, Cwd = %d, %q; want 0, \"\"", p.Pid(), p.Cwd())
	}
	noLeaks(t)
}
