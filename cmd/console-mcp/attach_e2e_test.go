package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// tmux runs a tmux command on the test's own server socket.
func tmux(t *testing.T, sock string, args ...string) string {
	t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", sock}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tmux %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// waitPane polls the pane until it shows want.
func waitPane(t *testing.T, sock, want string) string {
	t.Helper()
	var screen string
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		screen = tmux(t, sock, "capture-pane", "-p", "-t", "attach")
		if strings.Contains(screen, want) {
			return screen
		}
	}
	t.Fatalf("the pane never showed %q:\n%s", want, screen)
	return ""
}

// TestAttachInTmux: a person attaches a terminal (driven by tmux) to a live
// session; both sides see each other's typing; Ctrl-\ twice detaches and
// the agent's session goes on.
func TestAttachInTmux(t *testing.T) {
	if _, err := exec.LookPath("tmux"); err != nil {
		if os.Getenv("CONSOLE_MCP_REQUIRE_TOOLS") != "" {
			t.Fatal("tmux is not installed (CONSOLE_MCP_REQUIRE_TOOLS is set)")
		}
		t.Skip("tmux is not installed")
	}
	state := t.TempDir()
	env := testEnv(t, state)
	c, _ := stdioServer(t, env)
	id := createShell(t, c, nil)
	execIn(t, c, id, "echo before-attach")

	sock := t.TempDir() + "/tmux.sock"
	cmdline := fmt.Sprintf("env CONSOLE_MCP_STATE_DIR=%s %s attach %s; echo ATTACH-EXIT-$?; sleep 60", state, binPath, id)
	tmux(t, sock, "new-session", "-d", "-s", "attach", "-x", "100", "-y", "30", cmdline)
	t.Cleanup(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
	waitPane(t, sock, "[attached to "+id)

	// The person types; the agent sees it.
	tmux(t, sock, "send-keys", "-t", "attach", "echo from-human-$((20+3))", "Enter")
	w := mustCall(t, c, "console_wait_for_output", map[string]any{"session_id": id, "cursor": 0, "pattern": "^from-human-23", "timeout_ms": 10000})
	if !w.boolean("matched") {
		t.Fatalf("the agent did not see the person's command: %s", w.Text)
	}
	// The agent runs a command; the person sees it.
	execIn(t, c, id, "echo from-agent-$((40+2))")
	waitPane(t, sock, "from-agent-42")

	// Ctrl-\ twice detaches; the session goes on.
	tmux(t, sock, "send-keys", "-t", "attach", "C-\\", "C-\\")
	screen := waitPane(t, sock, "ATTACH-EXIT-0")
	if !strings.Contains(screen, "[detached]") {
		t.Errorf("no [detached] line:\n%s", screen)
	}
	if r := execIn(t, c, id, "echo after-detach"); r.str("output") != "after-detach\n" {
		t.Errorf("after detach: %q", r.str("output"))
	}
}
