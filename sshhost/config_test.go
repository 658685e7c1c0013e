package sshhost_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/sshhost"
	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

func writeConfig(t *testing.T, f *fixture, text string) string {
	t.Helper()
	dir := filepath.Join(f.home, ".ssh")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// newConfigFixture is a fixture reading ~/.ssh/config under its HOME.
func newConfigFixture(t *testing.T) *fixture {
	t.Helper()
	f := newFixture(t, sshhost.Options{ConfigFile: "~/.ssh/config"})
	return f
}

func TestConfigAlias(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.ServerOptions{})
	f := newConfigFixture(t)
	if err := os.MkdirAll(filepath.Join(f.home, ".ssh", "keys"), 0o700); err != nil {
		t.Fatal(err)
	}
	key := sshtest.WriteUserKey(t, filepath.Join(f.home, ".ssh", "keys", "web_127.0.0.1"), "")
	srv.Authorize("deploy", key.Public)
	known := filepath.Join(f.home, ".ssh", "known_hosts.web")
	srv.WriteKnownHosts(t, known)
	writeConfig(t, f, fmt.Sprintf(`
Host web
    HostName 127.0.0.1
    Port %d
    User deploy
    IdentityFile ~/.ssh/keys/missing
    IdentityFile ~/.ssh/keys/%%n_%%h
    UserKnownHostsFile ~/.ssh/known_hosts.web

Host *
    User nobody
`, srv.Port()))

	loginWorks(t, f, &sessions.SSHSpec{Host: "web"})
	if l := lastLogin(t, srv); l != (sshtest.Login{User: "deploy", Method: "publickey"}) {
		t.Errorf("login = %+v, want deploy by publickey", l)
	}

	t.Run("explicit fields override the config", func(t *testing.T) {
		srv.AddUser(sshtest.User{Name: "ops", Password: testPassword})
		loginWorks(t, f, &sessions.SSHSpec{Host: "web", User: "ops", PasswordEnv: "TEST_PASSWORD"})
		if l := lastLogin(t, srv); l.User != "ops" {
			t.Errorf("login = %+v, want ops", l)
		}
		other := sshtest.NewServer(t, sshtest.ServerOptions{})
		other.Authorize("deploy", key.Public)
		other.WriteKnownHosts(t, known)
		loginWorks(t, f, &sessions.SSHSpec{Host: "web", Port: other.Port()})
		if len(other.Logins()) != 1 {
			t.Error("the explicit port was not used")
		}
	})
}

func TestConfigProxyJump(t *testing.T) {
	target := sshtest.NewServer(t, sshtest.ServerOptions{})
	jump := sshtest.NewServer(t, sshtest.ServerOptions{Hosts: map[string]string{"inner.invalid": "127.0.0.1"}})
	f := newConfigFixture(t)
	key := sshtest.WriteUserKey(t, filepath.Join(f.home, "id_jump"), "")
	jump.Authorize("bastion-user", key.Public)
	target.Authorize("alice", key.Public)
	jump.WriteKnownHosts(t, f.known)
	writeConfig(t, f, fmt.Sprintf(`
Host inner
    HostName inner.invalid
    Port %d
    User alice
    ProxyJump bastion
    IdentityFile %s

Host bastion
    HostName 127.0.0.1
    Port %d
    User bastion-user
    IdentityFile %s
`, target.Port(), key.Path, jump.Port(), key.Path))

	loginWorks(t, f, &sessions.SSHSpec{Host: "inner", KnownHosts: "accept-new"})
	if got := jump.Forwards(); len(got) != 1 || got[0] != fmt.Sprintf("inner.invalid:%d", target.Port()) {
		t.Errorf("jump host forwarded to %v", got)
	}
	if l := jump.Logins(); len(l) != 1 || l[0].User != "bastion-user" {
		t.Errorf("jump logins = %v, want bastion-user", l)
	}
}

func TestBadDestinations(t *testing.T) {
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	f := newConfigFixture(t)
	cfg := writeConfig(t, f, "Host web db\n    HostName 127.0.0.1\n\nHost broken\n    HostName broken.invalid\n\nHost *.example\n    User x\n")

	t.Run("refused port", func(t *testing.T) {
		_, err := f.try(sessions.Spec{SSH: &sessions.SSHSpec{Host: "127.0.0.1", Port: closedPort}}, "")
		if err == nil || !strings.Contains(err.Error(), "connection refused") || !strings.Contains(err.Error(), fmt.Sprint(closedPort)) {
			t.Fatalf("err = %v, want connection refused naming the port", err)
		}
	})
	t.Run("name that does not resolve", func(t *testing.T) {
		_, err := f.try(sessions.Spec{SSH: &sessions.SSHSpec{Host: "nonexistent.invalid"}}, "")
		var ue *sshhost.UnknownHostError
		if !errors.As(err, &ue) || ue.Configured {
			t.Fatalf("err = %v, want *UnknownHostError, not configured", err)
		}
		for _, w := range []string{`unknown host "nonexistent.invalid"`, "not a Host alias in " + cfg, "aliases there: web, db, broken", "does not resolve"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	})
	t.Run("unknown alias", func(t *testing.T) {
		_, err := f.try(sessions.Spec{SSH: &sessions.SSHSpec{Host: "wbe"}}, "")
		var ue *sshhost.UnknownHostError
		if !errors.As(err, &ue) || ue.Host != "wbe" || len(ue.Aliases) != 3 {
			t.Fatalf("err = %v, want *UnknownHostError listing 3 aliases", err)
		}
	})
	t.Run("alias whose HostName does not resolve", func(t *testing.T) {
		_, err := f.try(sessions.Spec{SSH: &sessions.SSHSpec{Host: "broken"}}, "")
		var ue *sshhost.UnknownHostError
		if !errors.As(err, &ue) || !ue.Configured || !strings.Contains(err.Error(), `HostName "broken.invalid" in `+cfg) {
			t.Fatalf("err = %v, want a configured host that does not resolve", err)
		}
	})
	t.Run("empty host", func(t *testing.T) {
		if _, err := f.try(sessions.Spec{SSH: &sessions.SSHSpec{}}, ""); err == nil || !strings.Contains(err.Error(), "host is empty") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no ssh settings", func(t *testing.T) {
		if _, err := f.try(sessions.Spec{}, ""); err == nil {
			t.Fatal("Start without SSH settings succeeded")
		}
	})
	t.Run("config the parser rejects: aliases unknown, hosts work", func(t *testing.T) {
		g := newConfigFixture(t)
		srv := sshtest.NewServer(t, sshtest.ServerOptions{Users: []sshtest.User{{Name: "alice", Password: testPassword}}})
		writeConfig(t, g, "Host web.invalid\n    HostName 127.0.0.1\n\nMatch exec \"true\"\n    User x\n")
		_, err := g.try(sessions.Spec{SSH: &sessions.SSHSpec{Host: "web.invalid"}}, "")
		var ue *sshhost.UnknownHostError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), "the ssh config was not used (parse ssh config") {
			t.Fatalf("err = %v, want an unknown host naming the parse error", err)
		}
		spec := g.sshSpec(t, srv, "alice")
		spec.PasswordEnv = "TEST_PASSWORD"
		loginWorks(t, g, spec)
		if !strings.Contains(g.logs.String(), "ssh: config not used") {
			t.Errorf("no warning logged:\n%s", g.logs.String())
		}
	})
}
