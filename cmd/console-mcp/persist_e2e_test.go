package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/console-mcp/console-mcp/asciicast"
	"github.com/console-mcp/console-mcp/persist"
	"github.com/console-mcp/console-mcp/sessions"
)

// runCLI runs an operator command of the binary and returns its stdout.
func runCLI(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(cmd.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%v: %w\n%s", args, err, errb.String())
	}
	return out.String(), nil
}

// TestHistoryAcrossRuns: sessions of an earlier server run are listed and
// their history read, exported and shown by the operator CLI.
func TestHistoryAcrossRuns(t *testing.T) {
	state := t.TempDir()
	env := testEnv(t, state)
	c1, _ := stdioServer(t, env)
	id := createShell(t, c1, map[string]any{"name": "history"})
	execIn(t, c1, id, "echo first-run-output")
	mustCall(t, c1, "console_resize", map[string]any{"session_id": id, "cols": 90, "rows": 20})
	mustCall(t, c1, "console_send_input", map[string]any{"session_id": id, "input": "echo typed-input", "submit": true})
	mustCall(t, c1, "console_wait_for_output", map[string]any{"session_id": id, "pattern": "^typed-input", "timeout_ms": 10000})
	mustCall(t, c1, "console_stop_session", map[string]any{"session_id": id})
	c1.Close() // a clean exit of the first server

	c2, _ := stdioServer(t, env)
	l := mustCall(t, c2, "console_list_sessions", map[string]any{})
	if strings.Contains(l.Text, id) {
		t.Errorf("an ended session is listed without include_ended: %s", l.Text)
	}
	it := sessionItem(t, c2, id)
	if it["status"] != "stopped" || it["name"] != "history" {
		t.Errorf("earlier run's session: %v", it)
	}
	out, _ := readAll(t, c2, id, 0)
	if !strings.Contains(out, "first-run-output") || !strings.Contains(out, "typed-input") {
		t.Errorf("history of the earlier run:\n%s", out)
	}

	// Export inline and to a file; the file is a valid asciicast.
	inline := mustCall(t, c2, "console_export_session", map[string]any{"session_id": id, "format": "text"})
	if !strings.Contains(inline.str("content"), "first-run-output") {
		t.Errorf("text export: %q", inline.str("content"))
	}
	castPath := filepath.Join(t.TempDir(), "s.cast")
	mustCall(t, c2, "console_export_session", map[string]any{"session_id": id, "path": castPath})
	checkCast(t, castPath, "first-run-output")

	// The operator CLI on the same database.
	table, err := runCLI(t, env, "sessions", "--all")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table, id) || !strings.Contains(table, "stopped") {
		t.Errorf("console-mcp sessions --all:\n%s", table)
	}
	logs, err := runCLI(t, env, "logs", id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs, "first-run-output") {
		t.Errorf("console-mcp logs:\n%s", logs)
	}
	cast, err := runCLI(t, env, "export", id, "--format", "asciicast")
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "cli.cast")
	if err := os.WriteFile(p, []byte(cast), 0o600); err != nil {
		t.Fatal(err)
	}
	checkCast(t, p, "first-run-output")
	// Flags on both sides of the id, and the state dir by flag.
	text, err := runCLI(t, nil, "export", "--state-dir", state, id, "--format", "text")
	if err != nil || !strings.Contains(text, "first-run-output") || strings.Contains(text, `"version":2`) {
		t.Errorf("export --state-dir DIR ID --format text: %v\n%.300s", err, text)
	}
	if _, err := runCLI(t, env, "logs", "s-nosuchsession"); err == nil || !strings.Contains(err.Error(), "s-nosuchsession") {
		t.Errorf("logs of an unknown id: %v", err)
	}
}

// checkCast parses an asciicast file, checks its events and, where
// asciinema is installed, that `asciinema cat` plays it.
func checkCast(t *testing.T, path, want string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := asciicast.NewReader(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if h := r.Header(); h.Version != 2 || h.Width < 1 || h.Height < 1 {
		t.Errorf("header %+v", h)
	}
	codes := map[string]int{}
	var output strings.Builder
	last := -1.0
	for {
		e, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if e.Time < last {
			t.Errorf("time goes backwards: %v after %v", e.Time, last)
		}
		last = e.Time
		codes[e.Code]++
		if e.Code == "o" {
			output.WriteString(e.Data)
		}
	}
	if !strings.Contains(output.String(), want) || codes["i"] == 0 || codes["r"] == 0 {
		t.Errorf("cast events %v; output contains %q: %v", codes, want, strings.Contains(output.String(), want))
	}
	asciinema, err := exec.LookPath("asciinema")
	if err != nil {
		if os.Getenv("CONSOLE_MCP_REQUIRE_TOOLS") != "" {
			t.Fatal("asciinema is not installed (CONSOLE_MCP_REQUIRE_TOOLS is set)")
		}
		t.Log("asciinema not installed: skipping asciinema cat")
		return
	}
	// asciinema cat reads /dev/tty: give it a terminal.
	cmd := exec.Command(asciinema, "cat", path)
	tty, err := pty.Start(cmd)
	if err != nil {
		t.Fatalf("start asciinema in a pty: %v", err)
	}
	out, _ := io.ReadAll(tty) // ends with EIO when asciinema exits
	tty.Close()
	if err := cmd.Wait(); err != nil || !strings.Contains(string(out), want) {
		t.Errorf("asciinema cat %s: %v\n%s", path, err, out)
	}
}

// TestSecretsNeverStored types a secret from the server's environment and
// sets a secret-looking variable, then greps every file of the state dir,
// the server's stderr and the tool results for the values.
func TestSecretsNeverStored(t *testing.T) {
	state := t.TempDir()
	const typed, envValue = "hunter2-typed-secret", "sekrit-env-value-123"
	env := append(testEnv(t, state), "CONSOLE_MCP_TEST_PASSWORD="+typed)
	c, srv := stdioServer(t, env)
	id := createShell(t, c, map[string]any{"env": map[string]any{"API_TOKEN": envValue}})
	var texts strings.Builder

	// At an echoing prompt the secret is refused.
	r := call(t, c, "console_send_input", map[string]any{"session_id": id, "secret_env": "CONSOLE_MCP_TEST_PASSWORD"})
	if !r.IsError || !strings.Contains(r.Text, "echoes input") {
		// bash's line editor turns the tty's echo off; typing is then
		// allowed and the echo is redacted: both are safe.
		texts.WriteString(r.Text)
		mustCall(t, c, "console_send_keys", map[string]any{"session_id": id, "keys": []string{"ctrl+u"}})
	}
	in := mustCall(t, c, "console_send_input", map[string]any{"session_id": id, "input": "read -s -p 'Password: ' PW; echo; echo length=${#PW}", "submit": true})
	mustCall(t, c, "console_wait_for_output", map[string]any{"session_id": id, "cursor": in.num("cursor"), "pattern": "Password: $", "timeout_ms": 10000})
	r = mustCall(t, c, "console_send_input", map[string]any{"session_id": id, "secret_env": "CONSOLE_MCP_TEST_PASSWORD", "submit": true})
	texts.WriteString(r.Text)
	w := mustCall(t, c, "console_wait_for_output", map[string]any{"session_id": id, "pattern": `length=\d+`, "timeout_ms": 10000})
	if w.str("match") != fmt.Sprintf("length=%d", len(typed)) {
		t.Errorf("the secret did not arrive: %s", w.Text)
	}
	// A line editor that echoes the secret: the echo is masked.
	mustCall(t, c, "console_send_input", map[string]any{"session_id": id, "secret_env": "CONSOLE_MCP_TEST_PASSWORD"})
	mustCall(t, c, "console_send_keys", map[string]any{"session_id": id, "keys": []string{"ctrl+u"}})
	texts.WriteString(execIn(t, c, id, "echo token-length=${#API_TOKEN}").Text)
	for _, tool := range []string{"console_get_output", "console_get_screen", "console_session_info", "console_export_session"} {
		texts.WriteString(mustCall(t, c, tool, map[string]any{"session_id": id}).Text)
	}
	texts.WriteString(mustCall(t, c, "console_list_sessions", map[string]any{}).Text)
	c.Close()
	_ = srv

	for _, secret := range []string{typed, envValue} {
		if strings.Contains(texts.String(), secret) {
			t.Errorf("a tool result contains %q", secret)
		}
		filepath.Walk(state, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(path)
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s contains %q", path, secret)
			}
			return nil
		})
	}
}

// TestKill9DuringHeavyOutput: with in-process programs (--no-holder, so
// nothing replays what the server had not flushed), kill -9 the server in
// the middle of output; the database opens cleanly and what is stored is a
// contiguous, in-order prefix missing at most about one flush window.
func TestKill9DuringHeavyOutput(t *testing.T) {
	state := t.TempDir()
	env := testEnv(t, state)
	counter := filepath.Join(t.TempDir(), "count")
	c, srv := stdioServer(t, env, "--no-holder")
	// 100 lines a second; the program notes each number in a file too.
	const rate = 100
	id := mustCall(t, c, "console_create_session", map[string]any{"command": "/bin/bash", "args": []string{"--norc", "-c",
		fmt.Sprintf("i=0; while :; do i=$((i+1)); echo line-$i; echo $i > %s; sleep 0.01; done", counter)}}).str("session_id")
	time.Sleep(2 * time.Second)
	kill9(t, srv.Process.Pid)
	time.Sleep(200 * time.Millisecond)
	b, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	printed, _ := strconv.Atoi(strings.TrimSpace(string(b)))

	store, err := persist.Open(state, persist.Options{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer store.Close()
	if err := store.IntegrityCheck(); err != nil {
		t.Fatalf("integrity_check: %v", err)
	}
	var next int64
	var text bytes.Buffer
	err = store.Chunks(sessions.ID(id), 0, func(ch sessions.Chunk) bool {
		if ch.Offset != next {
			t.Errorf("chunk at %d, want %d: a hole in the stored output", ch.Offset, next)
		}
		next = ch.Offset + int64(len(ch.Data))
		text.Write(ch.Data)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := 0
	sc := bufio.NewScanner(bytes.NewReader(bytes.ReplaceAll(text.Bytes(), []byte("\r\n"), []byte("\n"))))
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		if line != fmt.Sprintf("line-%d", stored+1) {
			if n, err := strconv.Atoi(strings.TrimPrefix(line, "line-")); err == nil && n == stored+1 {
				stored = n
				continue
			}
			// Only the very last line may be cut.
			if strings.HasPrefix(fmt.Sprintf("line-%d", stored+1), line) {
				break
			}
			t.Fatalf("stored output out of order after line-%d: %q", stored, line)
		}
		stored++
	}
	window := rate * 200 / 1000 // lines printed in one 200ms flush window
	missing := printed - stored
	t.Logf("printed %d lines, stored %d, missing %d (one flush window is about %d lines)", printed, stored, missing, window)
	if stored == 0 || missing > 2*window+5 {
		t.Errorf("missing %d lines: more than a flush window (%d lines)", missing, window)
	}
}

// TestBadStateDir: a corrupt database or an unwritable state dir stops the
// server at start with a message naming the path, and the file is left as
// it was (never a silent fresh start).
func TestBadStateDir(t *testing.T) {
	state := t.TempDir()
	garbage := bytes.Repeat([]byte("not a database "), 100)
	db := filepath.Join(state, persist.DBName)
	if err := os.WriteFile(db, garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath)
	cmd.Env = append(cmd.Environ(), testEnv(t, state)...)
	cmd.Stdin = strings.NewReader("")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), db) {
		t.Errorf("start on a corrupt database: %v\n%s", err, out)
	}
	if b, _ := os.ReadFile(db); !bytes.Equal(b, garbage) {
		t.Errorf("the corrupt database file was changed")
	}

	if os.Geteuid() == 0 {
		t.Log("running as root: a read-only directory is still writable; skipping that case")
		return
	}
	ro := t.TempDir()
	os.Chmod(ro, 0o500)
	defer os.Chmod(ro, 0o700)
	cmd = exec.Command(binPath)
	cmd.Env = append(cmd.Environ(), testEnv(t, filepath.Join(ro, "state"))...)
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), ro) {
		t.Errorf("start in a read-only dir: %v\n%s", err, out)
	}
}

func TestHelpEverywhere(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"sessions", "--help"}, {"logs", "--help"}, {"export", "--help"}, {"attach", "--help"}, {"help"}, {"version"}} {
		cmd := exec.Command(binPath, args...)
		out, err := cmd.CombinedOutput()
		if err != nil || len(out) < 10 {
			t.Errorf("%v: %v\n%s", args, err, out)
		}
	}
	if out, err := exec.Command(binPath, "bogus").CombinedOutput(); err == nil || !strings.Contains(string(out), "unknown command") {
		t.Errorf("bogus command: %v\n%s", err, out)
	}
}
