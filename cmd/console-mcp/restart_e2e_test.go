package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
)

// These tests kill the real server (and holders) and start it again on the
// same state dir, as Claude Desktop quitting or an IDE reloading does.

func kill9(t *testing.T, pid int) {
	t.Helper()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatalf("kill -9 %d: %v", pid, err)
	}
}

// ppid reads the parent pid of pid from /proc.
func ppid(t *testing.T, pid int) int {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read status of %d: %v", pid, err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "PPid:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(v))
			return n
		}
	}
	t.Fatalf("no PPid in /proc/%d/status", pid)
	return 0
}

// readAll pages a session's text output from cursor to its end.
func readAll(t *testing.T, c *client.Client, id string, cursor int64) (string, int64) {
	t.Helper()
	var b strings.Builder
	var lost int64
	for i := 0; i < 1000; i++ {
		r := mustCall(t, c, "console_get_output", map[string]any{"session_id": id, "cursor": cursor, "max_bytes": 1 << 20})
		lost += r.num("lost_bytes")
		b.WriteString(r.str("output"))
		cursor = r.num("cursor")
		if !r.boolean("has_more") {
			break
		}
	}
	return b.String(), lost
}

func sessionItem(t *testing.T, c *client.Client, id string) map[string]any {
	t.Helper()
	l := mustCall(t, c, "console_list_sessions", map[string]any{"include_ended": true})
	items, _ := l.Structured["sessions"].([]any)
	for _, it := range items {
		m := it.(map[string]any)
		if m["session_id"] == id {
			return m
		}
	}
	t.Fatalf("session %s not listed: %s", id, l.Text)
	return nil
}

func TestRestartReattachesSameProcess(t *testing.T) {
	env := testEnv(t, t.TempDir())
	c1, srv1 := stdioServer(t, env)
	id := createShell(t, c1, nil)
	execIn(t, c1, id, "MARK=kept-$((2+3))")
	pid := int(sessionItem(t, c1, id)["pid"].(float64))

	loop := mustCall(t, c1, "console_execute_command", map[string]any{"session_id": id, "timeout_ms": 500,
		"command": "for i in $(seq 1 30); do echo n$i; sleep 0.2; done; (exit 3)"})
	if !loop.boolean("still_running") {
		t.Fatalf("the loop finished too early: %s", loop.Text)
	}
	from := loop.num("output_cursor")
	kill9(t, srv1.Process.Pid)
	time.Sleep(1500 * time.Millisecond) // numbers are printed while no server runs

	c2, _ := stdioServer(t, env)
	it := sessionItem(t, c2, id)
	if it["status"] != "running" || int(it["pid"].(float64)) != pid {
		t.Fatalf("after restart: %v (pid before %d)", it, pid)
	}
	w := mustCall(t, c2, "console_wait_for_output", map[string]any{"session_id": id, "cursor": from, "pattern": `^n30$`, "timeout_ms": 20000})
	if !w.boolean("matched") {
		t.Fatalf("n30 never came: %s", w.Text)
	}
	// The loop's exit code comes with the first wait that sees its end.
	w = mustCall(t, c2, "console_wait_for_output", map[string]any{"session_id": id, "cursor": w.num("cursor"), "idle_ms": 300, "timeout_ms": 10000})
	if code := w.intp("command_exit_code"); code == nil || *code != 3 {
		t.Errorf("the loop's exit code after restart = %v, want 3: %s", code, w.Text)
	}
	out, lost := readAll(t, c2, id, from)
	if lost != 0 {
		t.Errorf("%d bytes lost", lost)
	}
	var want strings.Builder
	for i := 1; i <= 30; i++ {
		fmt.Fprintf(&want, "n%d\n", i)
	}
	if !strings.HasPrefix(out, want.String()) {
		t.Errorf("output after restart is not n1..n30 once, in order:\n%q", out)
	}
	if r := execIn(t, c2, id, "echo $MARK"); r.str("output") != "kept-5\n" {
		t.Errorf("shell variable after restart: %q, want kept-5 (same process)", r.str("output"))
	}
	info := mustCall(t, c2, "console_session_info", map[string]any{"session_id": id})
	if !strings.Contains(info.Text, "reattach") {
		t.Errorf("session_info shows no reattach attempt: %s", info.Text)
	}
}

func TestRestartReportsExitWhileDown(t *testing.T) {
	env := testEnv(t, t.TempDir())
	c1, srv1 := stdioServer(t, env)
	r := mustCall(t, c1, "console_create_session", map[string]any{"command": "/bin/sh", "args": []string{"-c", "echo started; sleep 1; echo finishing; exit 7"}})
	id := r.str("session_id")
	mustCall(t, c1, "console_wait_for_output", map[string]any{"session_id": id, "cursor": 0, "pattern": "started", "timeout_ms": 10000})
	kill9(t, srv1.Process.Pid)
	time.Sleep(1500 * time.Millisecond) // the program exits while no server runs

	c2, _ := stdioServer(t, env)
	var it map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if it = sessionItem(t, c2, id); it["status"] != "running" {
			break
		}
	}
	if it["status"] != "exited" || it["exit_code"] != float64(7) {
		t.Fatalf("after restart: %v, want exited with 7", it)
	}
	out, _ := readAll(t, c2, id, 0)
	if !strings.Contains(out, "finishing") {
		t.Errorf("output printed while no server ran is missing: %q", out)
	}
}

func TestHolderKilledRestartsInLastCwd(t *testing.T) {
	env := testEnv(t, t.TempDir())
	dir := t.TempDir()
	c1, srv1 := stdioServer(t, env)
	id := createShell(t, c1, nil)
	execIn(t, c1, id, "cd "+dir+" && echo generation-one")
	pid := int(sessionItem(t, c1, id)["pid"].(float64))
	holder := ppid(t, pid)
	if holder == srv1.Process.Pid {
		t.Fatalf("the shell's parent is the server: no holder")
	}
	kill9(t, srv1.Process.Pid)
	kill9(t, holder)
	time.Sleep(200 * time.Millisecond)

	c2, _ := stdioServer(t, env)
	it := sessionItem(t, c2, id)
	if it["status"] != "running" || it["generation"] != float64(2) {
		t.Fatalf("after the holder died: %v, want running generation 2", it)
	}
	if r := execIn(t, c2, id, "pwd"); r.str("output") != dir+"\n" {
		t.Errorf("restarted in %q, want the last cwd %s", r.str("output"), dir)
	}
	out, _ := readAll(t, c2, id, 0)
	if !strings.Contains(out, "generation-one") || !strings.Contains(out, "restarted") {
		t.Errorf("history of generation 1 or the restart marker is missing:\n%s", out)
	}
}

// TestTwoServersStartAtOnce: after the owner of six sessions dies, two
// servers start on the state dir at the same moment; each session ends up
// attached by exactly one of them, and the other shows it as another
// server's.
func TestTwoServersStartAtOnce(t *testing.T) {
	env := testEnv(t, t.TempDir())
	c0, srv0 := stdioServer(t, env)
	var ids []string
	for i := 0; i < 6; i++ {
		ids = append(ids, createShell(t, c0, nil))
	}
	kill9(t, srv0.Process.Pid)

	// Both processes are spawned at the same moment (recovery runs at
	// process start, before MCP is served); initialize comes after.
	clients := make([]*client.Client, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() { clients[i], errs[i] = client.NewStdioMCPClient(binPath, env) })
	}
	wg.Wait()
	for i, c := range clients {
		if errs[i] != nil {
			t.Fatalf("start server %d: %v", i, errs[i])
		}
		t.Cleanup(func() { c.Close() })
		initialize(t, c)
	}
	for _, id := range ids {
		attached := 0
		for _, c := range clients {
			it := sessionItem(t, c, id)
			reason, _ := it["status_reason"].(string)
			if it["status"] == "running" && !strings.Contains(reason, "another console-mcp server") {
				attached++
				if r := execIn(t, c, id, "echo ok-"+id); r.str("output") != "ok-"+id+"\n" {
					t.Errorf("%s on its server: %q", id, r.str("output"))
				}
			}
		}
		if attached != 1 {
			t.Errorf("%s is attached by %d servers, want exactly 1", id, attached)
		}
	}
}

// TestRestorePolicies: when the processes are gone, sessions whose policy
// forbids a re-spawn (never, reattach-only, one-shot commands) come back as
// read-only history, with the reason and a restore attempt recorded.
func TestRestorePolicies(t *testing.T) {
	env := testEnv(t, t.TempDir())
	c1, srv1 := stdioServer(t, env)
	never := createShell(t, c1, map[string]any{"on_restart": "never"})
	only := createShell(t, c1, map[string]any{"on_restart": "reattach-only"})
	execIn(t, c1, never, "echo never-history")
	one := mustCall(t, c1, "console_execute_command", map[string]any{"command": "echo one-shot-started; sleep 100", "timeout_ms": 300})
	if !one.boolean("still_running") {
		t.Fatalf("one-shot: %s", one.Text)
	}
	kill9(t, srv1.Process.Pid)
	killHolders(t, envValue(env, "CONSOLE_MCP_STATE_DIR"))
	time.Sleep(200 * time.Millisecond)

	c2, _ := stdioServer(t, env)
	for _, id := range []string{never, only, one.str("session_id")} {
		it := sessionItem(t, c2, id)
		if it["status"] != "restored" || !strings.Contains(it["status_reason"].(string), "read-only history") {
			t.Errorf("%s after its process died: %v", id, it)
		}
		info := mustCall(t, c2, "console_session_info", map[string]any{"session_id": id})
		if !strings.Contains(info.Text, "recovery restore") {
			t.Errorf("%s: no restore attempt: %s", id, info.Text)
		}
	}
	if out, _ := readAll(t, c2, never, 0); !strings.Contains(out, "never-history") {
		t.Errorf("history of a restored session:\n%s", out)
	}
	// Recovering on demand with an explicit strategy re-spawns it.
	r := mustCall(t, c2, "console_recover_session", map[string]any{"session_id": only, "strategy": "restart"})
	if r.str("status") != "running" || r.num("generation") != 2 {
		t.Errorf("recover restart: %s", r.Text)
	}
	if out := execIn(t, c2, only, "echo reborn").str("output"); out != "reborn\n" {
		t.Errorf("after recover: %q", out)
	}
}
