package sshhost_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh/agent"

	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/sshhost"
	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

// loginWorks starts a shell, proves it runs commands and closes it.
func loginWorks(t *testing.T, f *fixture, spec *sessions.SSHSpec) {
	t.Helper()
	tm := f.start(t, sessions.Spec{SSH: spec}, "")
	tm.typ(t, "echo ok-$((40+2))\r")
	tm.expect(t, "ok-42")
}

func lastLogin(t *testing.T, srv *sshtest.Server) sshtest.Login {
	t.Helper()
	l := srv.Logins()
	if len(l) == 0 {
		t.Fatal("the server saw no login")
	}
	return l[len(l)-1]
}

func TestAuthMethods(t *testing.T) {
	t.Run("password", func(t *testing.T) {
		srv := sshtest.NewServer(t, sshtest.ServerOptions{Users: []sshtest.User{{Name: "alice", Password: testPassword}}})
		f := newFixture(t, sshhost.Options{})
		spec := f.sshSpec(t, srv, "alice")
		spec.PasswordEnv = "TEST_PASSWORD"
		loginWorks(t, f, spec)
		if got := lastLogin(t, srv); got != (sshtest.Login{User: "alice", Method: "password"}) {
			t.Errorf("login = %+v, want alice by password", got)
		}
	})
	t.Run("keyboard-interactive", func(t *testing.T) {
		srv := sshtest.NewServer(t, sshtest.ServerOptions{Users: []sshtest.User{{Name: "alice", Password: testPassword, KeyboardInteractive: true}}})
		f := newFixture(t, sshhost.Options{})
		spec := f.sshSpec(t, srv, "alice")
		spec.PasswordEnv = "TEST_PASSWORD"
		loginWorks(t, f, spec)
		if got := lastLogin(t, srv); got.Method != "keyboard-interactive" {
			t.Errorf("login = %+v, want keyboard-interactive", got)
		}
	})
	t.Run("key file", func(t *testing.T) {
		srv := sshtest.NewServer(t, sshtest.ServerOptions{})
		key := srv.NewUserKey(t, "alice", "")
		f := newFixture(t, sshhost.Options{})
		spec := f.sshSpec(t, srv, "alice")
		spec.IdentityFile = key.Path
		loginWorks(t, f, spec)
		if got := lastLogin(t, srv); got.Method != "publickey" {
			t.Errorf("login = %+v, want publickey", got)
		}
	})
	t.Run("default key file under HOME", func(t *testing.T) {
		srv := sshtest.NewServer(t, sshtest.ServerOptions{})
		f := newFixture(t, sshhost.Options{})
		if err := os.MkdirAll(filepath.Join(f.home, ".ssh"), 0o700); err != nil {
			t.Fatal(err)
		}
		key := sshtest.WriteUserKey(t, filepath.Join(f.home, ".ssh", "id_ed25519"), "")
		srv.Authorize("alice", key.Public)
		loginWorks(t, f, f.sshSpec(t, srv, "alice"))
	})
	t.Run("encrypted key with passphrase_env", func(t *testing.T) {
		srv := sshtest.NewServer(t, sshtest.ServerOptions{})
		key := srv.NewUserKey(t, "alice", testPassphrase)
		f := newFixture(t, sshhost.Options{})
		spec := f.sshSpec(t, srv, "alice")
		spec.IdentityFile = key.Path
		spec.PassphraseEnv = "TEST_PASSPHRASE"
		loginWorks(t, f, spec)
	})
	t.Run("agent", func(t *testing.T) {
		srv := sshtest.NewServer(t, sshtest.ServerOptions{})
		key := srv.NewUserKey(t, "alice", "")
		keyring := agent.NewKeyring()
		if err := keyring.Add(agent.AddedKey{PrivateKey: key.Private}); err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, sshhost.Options{})
		f.env["SSH_AUTH_SOCK"] = serveAgent(t, keyring)
		loginWorks(t, f, f.sshSpec(t, srv, "alice")) // use_agent defaults to true with SSH_AUTH_SOCK
		if got := lastLogin(t, srv); got.Method != "publickey" {
			t.Errorf("login = %+v, want publickey", got)
		}

		// use_agent=false leaves nothing to try.
		spec := f.sshSpec(t, srv, "alice")
		no := false
		spec.UseAgent = &no
		_, err := f.try(sessions.Spec{SSH: spec}, "")
		var ae *sshhost.AuthError
		if !errors.As(err, &ae) || len(ae.Tried) != 0 {
			t.Fatalf("err = %v, want an AuthError that tried nothing", err)
		}
	})
}

func TestAuthFailures(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.ServerOptions{Users: []sshtest.User{{Name: "alice", Password: "another password"}}})
	unauthorized := sshtest.WriteUserKey(t, filepath.Join(t.TempDir(), "id_stranger"), "")
	encrypted := srv.NewUserKey(t, "alice", testPassphrase)
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: unauthorized.Private}); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage")
	if err := os.WriteFile(garbage, []byte("this is not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		setup func(f *fixture, spec *sessions.SSHSpec)
		want  []string // substrings of the error
		auth  bool     // an *AuthError is expected
	}{{
		name: "wrong password, with an agent key and a key file",
		setup: func(f *fixture, spec *sessions.SSHSpec) {
			f.env["SSH_AUTH_SOCK"] = serveAgent(t, keyring)
			spec.IdentityFile = unauthorized.Path
			spec.PasswordEnv = "TEST_PASSWORD"
		},
		want: []string{"authentication as alice@127.0.0.1:", "failed; tried: publickey (agent: 1 keys), publickey (" + unauthorized.Path + "), keyboard-interactive, password"},
		auth: true,
	}, {
		name:  "missing key file",
		setup: func(f *fixture, spec *sessions.SSHSpec) { spec.IdentityFile = filepath.Join(f.home, "nope") },
		want:  []string{"read identity file", "nope", "no such file"},
	}, {
		name:  "key file is a directory",
		setup: func(f *fixture, spec *sessions.SSHSpec) { spec.IdentityFile = f.home },
		want:  []string{"read identity file", "is a directory"},
	}, {
		name:  "key file is not a key",
		setup: func(f *fixture, spec *sessions.SSHSpec) { spec.IdentityFile = garbage },
		want:  []string{garbage, "not a usable private key"},
	}, {
		name:  "key file is a public key",
		setup: func(f *fixture, spec *sessions.SSHSpec) { spec.IdentityFile = unauthorized.PublicPath },
		want:  []string{unauthorized.PublicPath, "is a public key"},
	}, {
		name:  "encrypted key without passphrase_env",
		setup: func(f *fixture, spec *sessions.SSHSpec) { spec.IdentityFile = encrypted.Path },
		want:  []string{encrypted.Path, "is encrypted", "set passphrase_env to the NAME of an environment variable"},
	}, {
		name: "encrypted key with a wrong passphrase",
		setup: func(f *fixture, spec *sessions.SSHSpec) {
			spec.IdentityFile, spec.PassphraseEnv = encrypted.Path, "TEST_PASSWORD"
		},
		want: []string{encrypted.Path, "passphrase in TEST_PASSWORD is wrong"},
	}, {
		name: "passphrase_env not set",
		setup: func(f *fixture, spec *sessions.SSHSpec) {
			spec.IdentityFile, spec.PassphraseEnv = encrypted.Path, "UNSET_VAR"
		},
		want: []string{"passphrase_env names UNSET_VAR, which is not set"},
	}, {
		name:  "password_env not set",
		setup: func(f *fixture, spec *sessions.SSHSpec) { spec.PasswordEnv = "UNSET_VAR" },
		want:  []string{"password_env names UNSET_VAR, which is not set"},
	}, {
		name: "use_agent without SSH_AUTH_SOCK",
		setup: func(f *fixture, spec *sessions.SSHSpec) {
			yes := true
			spec.UseAgent = &yes
		},
		want: []string{"use_agent is true but SSH_AUTH_SOCK is not set"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, sshhost.Options{})
			spec := f.sshSpec(t, srv, "alice")
			tt.setup(f, spec)
			p, err := f.try(sessions.Spec{SSH: spec}, "")
			if err == nil {
				p.Close()
				t.Fatal("Start succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			var ae *sshhost.AuthError
			if got := errors.As(err, &ae); got != tt.auth {
				t.Errorf("errors.As(*AuthError) = %v, want %v (%v)", got, tt.auth, err)
			}
		})
	}
}
