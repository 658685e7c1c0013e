package sessions_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/ptyhost"
	"github.com/console-mcp/console-mcp/sessions"
)

// newManager returns a memory-only Manager with the in-process PTY backend
// and bash as the default shell, closed at the end of the test.
func newManager(t *testing.T, opt sessions.Options) *sessions.Manager {
	t.Helper()
	if opt.DefaultShell == "" {
		opt.DefaultShell = "/bin/bash"
	}
	if opt.Environ == nil {
		opt.Environ = func() []string {
			return []string{"PATH=/usr/local/bin:/usr/bin:/bin", "HOME=" + t.TempDir(), "PS1=$ ", "LANG=C.UTF-8"}
		}
	}
	m := sessions.NewManager(map[sessions.Kind]sessions.Backend{sessions.KindLocal: &ptyhost.Local{}}, nil, opt)
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Errorf("close manager: %v", err)
		}
	})
	return m
}

func newShell(t *testing.T, m *sessions.Manager) *sessions.Session {
	t.Helper()
	s, err := m.Create(context.Background(), sessions.Spec{Args: []string{"--norc", "--noprofile"}, Command: "/bin/bash"})
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	return s
}

func execute(t *testing.T, s *sessions.Session, cmd string) sessions.ExecResult {
	t.Helper()
	r, err := s.Execute(context.Background(), sessions.ExecRequest{Command: cmd, Timeout: 20 * time.Second})
	if err != nil {
		t.Fatalf("execute %q: %v", cmd, err)
	}
	if r.TimedOut {
		t.Fatalf("execute %q timed out; output %q", cmd, r.Output)
	}
	return r
}

func TestExecuteExitCodesAndCwd(t *testing.T) {
	m := newManager(t, sessions.Options{})
	s := newShell(t, m)
	tests := []struct {
		cmd      string
		wantOut  string
		wantCode int
	}{
		{"echo hello", "hello\n", 0},
		{"false", "", 1},
		{"exit_code() { return 42; }; exit_code", "", 42},
		{"printf 'a\\nb\\n'", "a\nb\n", 0},
		{"echo \"it's quoted\"", "it's quoted\n", 0},
		{"for i in 1 2 3; do\necho $i\ndone", "1\n2\n3\n", 0},
		{"tty | grep -c /dev/pts", "1\n", 0},
		{"cd /tmp", "", 0},
		{"pwd", "/tmp\n", 0},
	}
	for _, tt := range tests {
		r := execute(t, s, tt.cmd)
		if r.Output != tt.wantOut || r.ExitCode == nil || *r.ExitCode != tt.wantCode {
			t.Errorf("%q: output %q code %v, want %q code %d", tt.cmd, r.Output, deref(r.ExitCode), tt.wantOut, tt.wantCode)
		}
		if strings.Contains(r.Output, "6973") || strings.Contains(r.Output, "\x1b") {
			t.Errorf("%q: marker leaked into output %q", tt.cmd, r.Output)
		}
	}
	if r := execute(t, s, "true"); r.Cwd != "/tmp" {
		t.Errorf("cwd after cd /tmp = %q", r.Cwd)
	}
}

func deref(p *int) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestCtrlCInterrupts(t *testing.T) {
	m := newManager(t, sessions.Options{})
	s := newShell(t, m)
	r, err := s.Execute(context.Background(), sessions.ExecRequest{Command: "sleep 100", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if !r.TimedOut || !r.StillRunning {
		t.Fatalf("sleep 100 did not time out: %+v", r)
	}
	if _, err := s.Execute(context.Background(), sessions.ExecRequest{Command: "true"}); err == nil {
		t.Fatal("a second command while sleep runs was accepted")
	}
	if _, err := s.Write([]byte{3}, ""); err != nil {
		t.Fatal(err)
	}
	s.Wait(context.Background(), sessions.WaitRequest{Cursor: &r.Cursor, Idle: 300 * time.Millisecond, Timeout: 10 * time.Second})
	if r := execute(t, s, "echo $?"); r.Output != "130\n" {
		t.Errorf("$? after ctrl-c = %q, want 130", r.Output)
	}
}

func TestWaitForPattern(t *testing.T) {
	m := newManager(t, sessions.Options{})
	s := newShell(t, m)
	cur, err := s.Write([]byte("echo one; sleep 0.2; echo READY-$((40+2))\r"), "")
	if err != nil {
		t.Fatal(err)
	}
	w := s.Wait(context.Background(), sessions.WaitRequest{Pattern: regexp.MustCompile(`READY-\d+`), Cursor: &cur, Timeout: 10 * time.Second})
	if !w.Matched || w.Match != "READY-42" || w.Reason != sessions.ReasonMatched {
		t.Fatalf("wait = %+v", w)
	}
	// The cursor is right after the match: what follows is still readable.
	rest, err := s.Read(sessions.ReadRequest{Cursor: &w.Cursor})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(rest.Output, "READY-42") {
		t.Errorf("read after the match repeats it: %q", rest.Output)
	}
	tw := s.Wait(context.Background(), sessions.WaitRequest{Pattern: regexp.MustCompile(`never-appears`), Cursor: &w.Cursor, Timeout: 200 * time.Millisecond})
	if tw.Matched || tw.Reason != sessions.ReasonTimeout {
		t.Errorf("wait for absent pattern = %+v", tw)
	}
}

func TestSeqPagingComplete(t *testing.T) {
	m := newManager(t, sessions.Options{})
	s := newShell(t, m)
	execute(t, s, "seq 1 200000")
	var cur int64
	var all strings.Builder
	for {
		r, err := s.Read(sessions.ReadRequest{Cursor: &cur, MaxBytes: 65536})
		if err != nil {
			t.Fatal(err)
		}
		if r.LostBytes != 0 {
			t.Fatalf("lost %d bytes", r.LostBytes)
		}
		all.WriteString(r.Output)
		cur = r.Cursor
		if !r.HasMore {
			break
		}
	}
	text := all.String()
	i := strings.Index(text, "\n1\n2\n3\n")
	if i < 0 {
		t.Fatalf("start of seq output not found")
	}
	lines := strings.Split(text[i+1:], "\n")
	for n := 1; n <= 200000; n++ {
		if lines[n-1] != fmt.Sprint(n) {
			t.Fatalf("line %d = %q", n, lines[n-1])
		}
	}
}

func TestExitAndStop(t *testing.T) {
	m := newManager(t, sessions.Options{})
	s := newShell(t, m)
	r, err := s.Execute(context.Background(), sessions.ExecRequest{Command: "exit 7", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != sessions.StatusExited || r.ExitCode == nil || *r.ExitCode != 7 {
		t.Fatalf("exit 7: %+v", r)
	}
	s2 := newShell(t, m)
	res, err := s2.Stop(context.Background(), 0, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != sessions.StatusStopped || res.Exit == nil {
		t.Fatalf("stop: %+v", res)
	}
}
