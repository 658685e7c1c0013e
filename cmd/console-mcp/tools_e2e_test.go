package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
)

// TestEveryToolOverStdio drives each tool of the contract through the
// mcp-go stdio client against the real binary, checking the PTY facts.
func TestEveryToolOverStdio(t *testing.T) {
	c := stdioClient(t, testEnv(t, t.TempDir()))
	toolsEveryTool(t, c, createShell(t, c, map[string]any{"name": "main", "cols": 100, "rows": 30}))
}

// toolsEveryTool checks every tool on session id, a bash shell (local or
// over SSH).
func toolsEveryTool(t *testing.T, c *client.Client, id string) {

	t.Run("execute", func(t *testing.T) {
		r := execIn(t, c, id, "echo hello")
		if r.str("output") != "hello\n" || *r.intp("exit_code") != 0 {
			t.Errorf("echo hello: %q exit %v", r.str("output"), r.intp("exit_code"))
		}
		if r := execIn(t, c, id, "false"); *r.intp("exit_code") != 1 {
			t.Errorf("false: exit %v", r.intp("exit_code"))
		}
		if r := execIn(t, c, id, "tty"); !strings.HasPrefix(r.str("output"), "/dev/pts/") {
			t.Errorf("tty: %q, want a terminal", r.str("output"))
		}
		execIn(t, c, id, "cd /tmp")
		r = execIn(t, c, id, "pwd")
		if r.str("output") != "/tmp\n" || r.str("cwd") != "/tmp" {
			t.Errorf("pwd after cd /tmp: %q cwd %q", r.str("output"), r.str("cwd"))
		}
		if strings.Contains(r.Text, "6973") || strings.Contains(r.str("output"), "\x1b") {
			t.Errorf("marker leaked: %q", r.Text)
		}
	})

	t.Run("ctrl-c", func(t *testing.T) {
		// Ctrl-C must reach sleep, not bash while it is still starting the
		// job (bash then drops what was typed ahead): the job announces
		// itself from inside the foreground process group first.
		in := mustCall(t, c, "console_send_input", map[string]any{"session_id": id, "input": "sh -c 'echo STARTED-$$; exec sleep 100'", "submit": true})
		cur := in.num("cursor")
		mustCall(t, c, "console_wait_for_output", map[string]any{"session_id": id, "cursor": cur, "pattern": `STARTED-\d+`, "timeout_ms": 5000})
		mustCall(t, c, "console_send_keys", map[string]any{"session_id": id, "keys": []string{"ctrl+c"}})
		r := execIn(t, c, id, "echo $?")
		if r.str("output") != "130\n" {
			t.Errorf("$? after ctrl+c = %q, want 130", r.str("output"))
		}
	})

	t.Run("resize", func(t *testing.T) {
		mustCall(t, c, "console_resize", map[string]any{"session_id": id, "cols": 77, "rows": 22})
		if r := execIn(t, c, id, "stty size"); r.str("output") != "22 77\n" {
			t.Errorf("stty size after resize = %q", r.str("output"))
		}
	})

	t.Run("wait", func(t *testing.T) {
		in := mustCall(t, c, "console_send_input", map[string]any{"session_id": id, "input": "sleep 0.3; echo DONE-$((6*7))", "submit": true})
		r := mustCall(t, c, "console_wait_for_output", map[string]any{"session_id": id, "pattern": `DONE-\d+`, "timeout_ms": 10000})
		if !r.boolean("matched") || r.str("match") != "DONE-42" || r.str("reason") != "matched" {
			t.Errorf("wait: %s", r.Text)
		}
		if r.num("cursor") <= in.num("cursor") {
			t.Errorf("cursor did not advance: %d -> %d", in.num("cursor"), r.num("cursor"))
		}
		idle := mustCall(t, c, "console_wait_for_output", map[string]any{"session_id": id, "cursor": r.num("cursor"), "idle_ms": 200, "timeout_ms": 5000})
		if idle.str("reason") != "idle" {
			t.Errorf("idle wait: %s", idle.Text)
		}
	})

	t.Run("paging", func(t *testing.T) {
		start := execIn(t, c, id, "seq 1 200000")
		if !start.boolean("truncated") {
			t.Errorf("seq 1 200000 output not marked truncated")
		}
		cur := start.num("output_cursor")
		end := start.num("cursor")
		var all strings.Builder
		for pages := 0; ; pages++ {
			r := mustCall(t, c, "console_get_output", map[string]any{"session_id": id, "cursor": cur, "max_bytes": 262144})
			if r.num("lost_bytes") != 0 {
				t.Fatalf("lost %d bytes", r.num("lost_bytes"))
			}
			all.WriteString(r.str("output"))
			cur = r.num("cursor")
			if cur >= end || !r.boolean("has_more") || pages > 100 {
				break
			}
		}
		lines := strings.Split(all.String(), "\n")
		for n := 1; n <= 200000; n++ {
			if lines[n-1] != fmt.Sprint(n) {
				t.Fatalf("line %d = %q", n, lines[n-1])
			}
		}
	})

	t.Run("get_output", func(t *testing.T) {
		r := mustCall(t, c, "console_get_output", map[string]any{"session_id": id, "tail_lines": 3})
		if n := strings.Count(strings.TrimRight(r.str("output"), "\n"), "\n"); n > 2 {
			t.Errorf("tail_lines 3 gave %d lines: %q", n+1, r.str("output"))
		}
		raw := mustCall(t, c, "console_get_output", map[string]any{"session_id": id, "format": "raw", "max_bytes": 4096})
		if strings.Contains(raw.str("output"), "\x1b]6973;") {
			t.Errorf("raw output carries command markers")
		}
	})

	t.Run("screen", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "poem.txt")
		if err := os.WriteFile(file, []byte("The quick brown fox\njumps over the lazy dog\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		in := mustCall(t, c, "console_send_input", map[string]any{"session_id": id, "input": "less " + file, "submit": true})
		mustCall(t, c, "console_wait_for_output", map[string]any{"session_id": id, "cursor": in.num("cursor"), "pattern": "lazy dog", "timeout_ms": 10000})
		s := mustCall(t, c, "console_get_screen", map[string]any{"session_id": id})
		if !strings.Contains(s.str("screen"), "jumps over the lazy dog") || !s.boolean("alt_screen") {
			t.Errorf("less screen: alt=%v\n%s", s.boolean("alt_screen"), s.str("screen"))
		}
		if s.num("cols") != 77 || s.num("rows") != 22 {
			t.Errorf("screen size %dx%d, want 77x22", s.num("cols"), s.num("rows"))
		}
		mustCall(t, c, "console_send_keys", map[string]any{"session_id": id, "keys": []string{"q"}})
		if r := execIn(t, c, id, "echo back"); r.str("output") != "back\n" {
			t.Errorf("after less: %q", r.str("output"))
		}
	})

	t.Run("list and stop", func(t *testing.T) {
		l := mustCall(t, c, "console_list_sessions", map[string]any{})
		if !strings.Contains(l.Text, id) {
			t.Errorf("list does not show %s: %s", id, l.Text)
		}
		s := mustCall(t, c, "console_stop_session", map[string]any{"session_id": id})
		if s.str("status") != "stopped" {
			t.Errorf("stop: %s", s.Text)
		}
		l = mustCall(t, c, "console_list_sessions", map[string]any{})
		if strings.Contains(l.Text, id) {
			t.Errorf("stopped session listed without include_ended: %s", l.Text)
		}
		l = mustCall(t, c, "console_list_sessions", map[string]any{"include_ended": true})
		if !strings.Contains(l.Text, id) {
			t.Errorf("include_ended does not show %s: %s", id, l.Text)
		}
		r := mustCall(t, c, "console_get_output", map[string]any{"session_id": id, "tail_lines": 5})
		if r.str("status") != "stopped" {
			t.Errorf("history of stopped session: %s", r.Text)
		}
	})
}

func TestOneShotExecute(t *testing.T) {
	c := stdioClient(t, testEnv(t, t.TempDir()))
	dir := t.TempDir()
	r := mustCall(t, c, "console_execute_command", map[string]any{"command": "pwd; echo $GREETING; exit 3", "cwd": dir, "env": map[string]any{"GREETING": "hi"}})
	if got, want := r.str("output"), dir+"\nhi\n"; got != want {
		t.Errorf("output %q, want %q", got, want)
	}
	if code := r.intp("exit_code"); code == nil || *code != 3 {
		t.Errorf("exit_code %v, want 3", code)
	}
	l := mustCall(t, c, "console_list_sessions", map[string]any{"include_ended": true})
	if !strings.Contains(l.Text, r.str("session_id")) {
		t.Errorf("one-shot session %s not in the history: %s", r.str("session_id"), l.Text)
	}
}

// TestBadInput checks that each bad input is an isError result that names
// the field, and that the server keeps serving.
func TestBadInput(t *testing.T) {
	c := stdioClient(t, testEnv(t, t.TempDir()))
	id := createShell(t, c, nil)
	huge := strings.Repeat("x", 1<<20+1)
	cases := []struct {
		tool string
		args map[string]any
		want string // a regexp the error text must match
	}{
		{"console_get_output", map[string]any{"session_id": "s-nope"}, `no session "s-nope".*console_list_sessions`},
		{"console_get_output", map[string]any{}, `session_id is required`},
		{"console_get_output", map[string]any{"session_id": id, "max_bytes": 2 << 20}, `max_bytes .* out of range`},
		{"console_get_output", map[string]any{"session_id": id, "format": "html"}, `format "html"`},
		{"console_get_output", map[string]any{"session_id": id, "cursor": 1 << 40}, `cursor .* past the end`},
		{"console_send_input", map[string]any{"session_id": id, "input": 42}, `input: expected a string`},
		{"console_send_input", map[string]any{"session_id": id, "input": huge}, `limit`},
		{"console_send_input", map[string]any{"session_id": id, "secret_env": "CONSOLE_MCP_NO_SUCH_VAR"}, `secret_env.*not set`},
		{"console_send_input", map[string]any{"session_id": id, "inptu": "x"}, `unknown argument "inptu"`},
		{"console_send_keys", map[string]any{"session_id": id, "keys": []string{"ctrl+shift+banana"}}, `keys:.*ctrl\+shift\+banana`},
		{"console_send_keys", map[string]any{"session_id": id, "keys": []string{}}, `keys is empty`},
		{"console_wait_for_output", map[string]any{"session_id": id, "pattern": "a(b"}, `not a valid RE2.*missing closing \)`},
		{"console_wait_for_output", map[string]any{"session_id": id, "timeout_ms": 700000}, `timeout_ms .* out of range`},
		{"console_execute_command", map[string]any{"session_id": id, "command": ""}, `command is required`},
		{"console_execute_command", map[string]any{"session_id": id, "command": "   "}, `command is required`},
		{"console_create_session", map[string]any{"cols": 0, "rows": 5000}, `rows 5000 is out of range`},
		{"console_create_session", map[string]any{"cols": -1}, `cols -1 is out of range`},
		{"console_create_session", map[string]any{"cwd": "/no/such/dir"}, `cwd "/no/such/dir" does not exist`},
		{"console_create_session", map[string]any{"command": "no-such-program-xyz"}, `"no-such-program-xyz" not found`},
		{"console_create_session", map[string]any{"on_restart": "sometimes"}, `on_restart "sometimes"`},
		{"console_create_session", map[string]any{"cols": "wide"}, `cols: expected an integer`},
		{"console_resize", map[string]any{"session_id": id, "cols": 0, "rows": 10}, `cols 0 is out of range`},
		{"console_stop_session", map[string]any{"session_id": id, "signal": "BANANA"}, `signal "BANANA"`},
		{"console_get_screen", map[string]any{"session_id": id, "scrollback_lines": -3}, `scrollback_lines`},
	}
	for _, tc := range cases {
		r := call(t, c, tc.tool, tc.args)
		if !r.IsError {
			t.Errorf("%s(%.80v): no error: %.200s", tc.tool, tc.args, r.Text)
			continue
		}
		if !regexp.MustCompile(tc.want).MatchString(r.Text) {
			t.Errorf("%s(%.80v): error %q does not match %q", tc.tool, tc.args, r.Text, tc.want)
		}
	}
	// Still serving, and the session is unharmed.
	if r := execIn(t, c, id, "echo alive"); r.str("output") != "alive\n" {
		t.Errorf("after bad input: %q", r.str("output"))
	}
	// A non-shell session refuses execute with a next step.
	py := mustCall(t, c, "console_create_session", map[string]any{"command": "cat"})
	r := call(t, c, "console_execute_command", map[string]any{"session_id": py.str("session_id"), "command": "ls"})
	if !r.IsError || !strings.Contains(r.Text, "console_send_input") {
		t.Errorf("execute in cat: %s", r.Text)
	}
}

func TestMaxSessions(t *testing.T) {
	c := stdioClient(t, testEnv(t, t.TempDir()), "--max-sessions", "2")
	createShell(t, c, nil)
	createShell(t, c, nil)
	r := call(t, c, "console_create_session", map[string]any{})
	if !r.IsError || !strings.Contains(r.Text, "2 of 2 are live") {
		t.Fatalf("third session: %s", r.Text)
	}
}
