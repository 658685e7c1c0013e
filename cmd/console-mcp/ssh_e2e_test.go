package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

// envValue returns the value of name in an environment list.
func envValue(env []string, name string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// sshFixture is an in-process SSH server with a real shell, a user key the
// server accepts and the host key in the test HOME's known_hosts.
type sshFixture struct {
	srv  *sshtest.Server
	key  sshtest.UserKey
	env  []string
	home string
}

func newSSHFixture(t *testing.T, users ...sshtest.User) *sshFixture {
	t.Helper()
	if len(users) == 0 {
		users = []sshtest.User{{Name: "tester"}}
	}
	srv := sshtest.NewServer(t, sshtest.ServerOptions{Users: users})
	env := testEnv(t, t.TempDir())
	home := envValue(env, "HOME")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	srv.WriteKnownHosts(t, filepath.Join(home, ".ssh", "known_hosts"))
	key := srv.NewUserKey(t, users[0].Name, "")
	return &sshFixture{srv: srv, key: key, env: env, home: home}
}

func (f *sshFixture) sshArgs(extra map[string]any) map[string]any {
	ssh := map[string]any{"host": "127.0.0.1", "port": f.srv.Port(), "user": "tester", "identity_file": f.key.Path}
	for k, v := range extra {
		ssh[k] = v
	}
	return map[string]any{"ssh": ssh, "cols": 100, "rows": 30}
}

func createSSH(t *testing.T, c *client.Client, args map[string]any) string {
	t.Helper()
	r := mustCall(t, c, "console_create_session", args)
	if r.str("kind") != "ssh" {
		t.Fatalf("kind %q, want ssh: %s", r.str("kind"), r.Text)
	}
	return r.str("session_id")
}

// TestSSHEveryTool runs the every-tool checks on an SSH session.
func TestSSHEveryTool(t *testing.T) {
	f := newSSHFixture(t)
	c := stdioClient(t, f.env)
	id := createSSH(t, c, f.sshArgs(nil))
	if it := sessionItem(t, c, id); it["kind"] != "ssh" {
		t.Errorf("list kind %v", it["kind"])
	}
	toolsEveryTool(t, c, id)
	// command runs that program in the remote PTY instead of the shell.
	args := f.sshArgs(nil)
	args["command"] = "echo remote-$((3*3)); exit 5"
	cid := createSSH(t, c, args)
	w := mustCall(t, c, "console_wait_for_output", map[string]any{"session_id": cid, "cursor": 0, "pattern": "remote-9", "timeout_ms": 10000})
	if !w.boolean("matched") {
		t.Errorf("remote command: %s", w.Text)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if it := sessionItem(t, c, cid); it["status"] == "exited" {
			if it["exit_code"] != float64(5) {
				t.Errorf("remote command exit %v, want 5", it["exit_code"])
			}
			return
		}
	}
	t.Errorf("remote command session did not exit: %v", sessionItem(t, c, cid))
}

// TestSSHErrors: host key and auth errors say which, bad input is named,
// and the password never reaches the database, logs or tool output.
func TestSSHErrors(t *testing.T) {
	const password = "pw-never-stored-7781"
	f := newSSHFixture(t, sshtest.User{Name: "tester", Password: password})
	f.env = append(f.env, "CONSOLE_MCP_TEST_SSH_PW="+password, "CONSOLE_MCP_TEST_WRONG_PW=wrong")
	state := envValue(f.env, "CONSOLE_MCP_STATE_DIR")
	c, _ := stdioServer(t, f.env)
	var texts strings.Builder

	other := t.TempDir() + "/known_hosts_empty"
	cases := []struct {
		ssh  map[string]any
		want string
	}{
		{map[string]any{"known_hosts_file": other}, "SHA256:"},
		{map[string]any{"known_hosts_file": other, "known_hosts": "insecure"}, "allow-insecure-ssh"},
		{map[string]any{"identity_file": "", "password_env": "CONSOLE_MCP_TEST_WRONG_PW"}, "password"},
		{map[string]any{"identity_file": "/no/such/key"}, "/no/such/key"},
		{map[string]any{"host": "nonexistent.invalid"}, "nonexistent.invalid"},
		{map[string]any{"port": 1}, "refused"},
	}
	for _, tc := range cases {
		r := call(t, c, "console_create_session", f.sshArgs(tc.ssh))
		texts.WriteString(r.Text)
		if !r.IsError || !strings.Contains(r.Text, tc.want) {
			t.Errorf("ssh %v: %s (want an error containing %q)", tc.ssh, r.Text, tc.want)
		}
	}
	// accept-new trusts on first use and writes the file.
	id := createSSH(t, c, f.sshArgs(map[string]any{"known_hosts_file": other, "known_hosts": "accept-new"}))
	if b, _ := os.ReadFile(other); !bytes.Contains(b, []byte("ssh-ed25519")) {
		t.Errorf("accept-new did not record the key: %q", b)
	}
	mustCall(t, c, "console_stop_session", map[string]any{"session_id": id})
	// Password auth from an env var.
	id = createSSH(t, c, f.sshArgs(map[string]any{"identity_file": "", "password_env": "CONSOLE_MCP_TEST_SSH_PW"}))
	texts.WriteString(execIn(t, c, id, "echo via-password").Text)
	texts.WriteString(mustCall(t, c, "console_session_info", map[string]any{"session_id": id}).Text)
	c.Close()
	if strings.Contains(texts.String(), password) {
		t.Errorf("a tool result contains the password")
	}
	filepath.Walk(state, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, _ := os.ReadFile(path); bytes.Contains(b, []byte(password)) {
				t.Errorf("%s contains the password", path)
			}
		}
		return nil
	})
}

// TestSSHDropReconnects: a dropped connection is re-dialed; the session is
// back in its directory with its history continuous and a marker line.
func TestSSHDropReconnects(t *testing.T) {
	f := newSSHFixture(t)
	c := stdioClient(t, f.env)
	id := createSSH(t, c, f.sshArgs(nil))
	dir := t.TempDir()
	execIn(t, c, id, "cd "+dir+" && echo before-drop")
	f.srv.Drop()
	waitStatus(t, c, id, "running", 2)
	r := execIn(t, c, id, "pwd; echo after-drop")
	if r.str("output") != dir+"\nafter-drop\n" {
		t.Errorf("after reconnect: %q, want the last directory %s", r.str("output"), dir)
	}
	out, lost := readAll(t, c, id, 0)
	if lost != 0 || !strings.Contains(out, "before-drop") || !strings.Contains(out, "reconnected") || !strings.Contains(out, "after-drop") {
		t.Errorf("history across the drop (lost %d):\n%s", lost, out)
	}
	info := mustCall(t, c, "console_session_info", map[string]any{"session_id": id})
	if !strings.Contains(info.Text, "recovery reconnect") {
		t.Errorf("no reconnect attempt recorded: %s", info.Text)
	}
}

// waitStatus polls until session id has status and at least generation gen.
func waitStatus(t *testing.T, c *client.Client, id, status string, gen int) map[string]any {
	t.Helper()
	var it map[string]any
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		it = sessionItem(t, c, id)
		if it["status"] == status && it["generation"].(float64) >= float64(gen) {
			return it
		}
	}
	t.Fatalf("session %s never became %s (generation %d): %v", id, status, gen, it)
	return nil
}

// TestSSHAfterServerRestart: after kill -9 of the server, an SSH session
// comes back by reconnect, in its last directory.
func TestSSHAfterServerRestart(t *testing.T) {
	f := newSSHFixture(t)
	c1, srv1 := stdioServer(t, f.env)
	id := createSSH(t, c1, f.sshArgs(nil))
	execIn(t, c1, id, "cd /tmp && echo first-server")
	kill9(t, srv1.Process.Pid)
	c2, _ := stdioServer(t, f.env)
	waitStatus(t, c2, id, "running", 2)
	if r := execIn(t, c2, id, "pwd"); r.str("output") != "/tmp\n" {
		t.Errorf("after restart: %q, want /tmp", r.str("output"))
	}
	if out, _ := readAll(t, c2, id, 0); !strings.Contains(out, "first-server") {
		t.Errorf("history of the first server's connection is missing:\n%s", out)
	}
}

// TestOpenSSH runs the workflow against the real OpenSSH sshd, and kills
// the sshd child serving the session to force a reconnect.
func TestOpenSSH(t *testing.T) {
	o := sshtest.StartOpenSSH(t)
	env := testEnv(t, t.TempDir())
	c := stdioClient(t, env)
	args := map[string]any{"ssh": map[string]any{"host": "127.0.0.1", "port": o.Port(), "user": o.User(),
		"identity_file": o.KeyFile(), "known_hosts_file": o.KnownHostsFile()}}
	id := createSSH(t, c, args)
	if r := execIn(t, c, id, "echo openssh-$((2+2)); false"); r.str("output") != "openssh-4\n" || *r.intp("exit_code") != 1 {
		t.Errorf("execute over OpenSSH: %s", r.Text)
	}
	execIn(t, c, id, "cd /tmp")
	mustCall(t, c, "console_resize", map[string]any{"session_id": id, "cols": 91, "rows": 19})
	if r := execIn(t, c, id, "stty size"); r.str("output") != "19 91\n" {
		t.Errorf("stty size over OpenSSH: %q", r.str("output"))
	}
	for _, pid := range o.ChildPIDs() {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	waitStatus(t, c, id, "running", 2)
	if r := execIn(t, c, id, "pwd; echo back"); r.str("output") != "/tmp\nback\n" {
		t.Errorf("after the sshd child died: %q", r.str("output"))
	}
	if out, _ := readAll(t, c, id, 0); !strings.Contains(out, "openssh-4") || !strings.Contains(out, "back") {
		t.Errorf("history across the reconnect:\n%s", out)
	}
}

// BenchmarkSSHReconnect measures how long an SSH session takes to be back
// to running after its server becomes reachable again (the server was
// stopped for 1.5 s, so the session was in its reconnect backoff):
//
//	CONSOLE_MCP_TEST_NORACE=1 go test -run XXX -bench SSHReconnect -benchtime 3x ./cmd/console-mcp
//
// Target: under 2 s.
func BenchmarkSSHReconnect(b *testing.B) {
	benchNoRace(b)
	srv := sshtest.NewServer(b, sshtest.ServerOptions{Users: []sshtest.User{{Name: "tester"}}})
	env := testEnv(b, b.TempDir())
	home := envValue(env, "HOME")
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		b.Fatal(err)
	}
	srv.WriteKnownHosts(b, filepath.Join(home, ".ssh", "known_hosts"))
	key := srv.NewUserKey(b, "tester", "")
	c := stdioClient(b, env)
	r := mustCall(b, c, "console_create_session", map[string]any{"ssh": map[string]any{
		"host": "127.0.0.1", "port": srv.Port(), "user": "tester", "identity_file": key.Path}})
	id := r.str("session_id")
	var total time.Duration
	gen := 1.0
	for b.Loop() {
		srv.Stop()
		benchWaitStatus(b, c, id, func(it map[string]any) bool { return it["status"] == "reconnecting" })
		time.Sleep(1500 * time.Millisecond)
		if err := srv.Restart(); err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		benchWaitStatus(b, c, id, func(it map[string]any) bool { return it["status"] == "running" && it["generation"].(float64) > gen })
		total += time.Since(start)
		gen++
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s-to-running")
}

func benchWaitStatus(b *testing.B, c *client.Client, id string, ok func(map[string]any) bool) {
	b.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		l := mustCall(b, c, "console_list_sessions", map[string]any{"include_ended": true})
		for _, it := range l.Structured["sessions"].([]any) {
			if m := it.(map[string]any); m["session_id"] == id && ok(m) {
				return
			}
		}
	}
	b.Fatalf("session %s never reached the state", id)
}
