package sshhost_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/console-mcp/console-mcp/sessions"
	"github.com/console-mcp/console-mcp/sshhost"
	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

func TestHostKeys(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.ServerOptions{Users: []sshtest.User{{Name: "alice", Password: testPassword}}})
	fingerprint := ssh.FingerprintSHA256(srv.HostKey())
	spec := func(policy string) *sessions.SSHSpec {
		return &sessions.SSHSpec{Host: "127.0.0.1", Port: srv.Port(), User: "alice", PasswordEnv: "TEST_PASSWORD", KnownHosts: policy}
	}

	t.Run("unknown host refused under strict", func(t *testing.T) {
		f := newFixture(t, sshhost.Options{})
		_, err := f.try(sessions.Spec{SSH: spec("")}, "")
		var he *sshhost.HostKeyError
		if !errors.As(err, &he) {
			t.Fatalf("err = %v, want *HostKeyError", err)
		}
		if !he.Unknown || he.Fingerprint != fingerprint || he.KeyType != "ssh-ed25519" || he.File != f.known {
			t.Errorf("HostKeyError = %+v, want unknown %s in %s", he, fingerprint, f.known)
		}
		for _, w := range []string{"is unknown", fingerprint, `known_hosts="accept-new"`, "ssh-keyscan -p " + fmt.Sprint(srv.Port())} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
		if _, err := os.Stat(f.known); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("strict wrote known_hosts (stat: %v)", err)
		}
	})

	t.Run("accept-new writes the key, then strict passes", func(t *testing.T) {
		f := newFixture(t, sshhost.Options{})
		known := filepath.Join(f.home, "new", "dir", "known_hosts")
		s := spec("accept-new")
		s.KnownHostsFile = known
		loginWorks(t, f, s)
		data, err := os.ReadFile(known)
		if err != nil {
			t.Fatalf("known_hosts not written: %v", err)
		}
		if got, want := strings.TrimSpace(string(data)), srv.KnownHostsLine(); got != want {
			t.Errorf("known_hosts = %q, want %q", got, want)
		}
		for path, mode := range map[string]os.FileMode{known: 0o600, filepath.Dir(known): 0o700 | os.ModeDir} {
			if st, err := os.Stat(path); err != nil || st.Mode() != mode {
				t.Errorf("mode of %s = %v (%v), want %v", path, st.Mode(), err, mode)
			}
		}
		s.KnownHosts = "strict"
		loginWorks(t, f, s)
		s.KnownHosts = "accept-new" // known now: nothing is appended
		loginWorks(t, f, s)
		if again, _ := os.ReadFile(known); string(again) != string(data) {
			t.Errorf("known_hosts changed on a second accept-new:\n%s", again)
		}
	})

	for _, policy := range []string{"strict", "accept-new"} {
		t.Run("changed key refused under "+policy, func(t *testing.T) {
			f := newFixture(t, sshhost.Options{})
			other := sshtest.NewHostKey(t).PublicKey()
			line := knownhosts.Line([]string{knownhosts.Normalize(srv.Addr())}, other)
			if err := os.WriteFile(f.known, []byte("# a comment\n"+line+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := f.try(sessions.Spec{SSH: spec(policy)}, "")
			var he *sshhost.HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("err = %v, want *HostKeyError", err)
			}
			if he.Unknown || he.File != f.known || he.Line != 2 || he.Fingerprint != fingerprint {
				t.Errorf("HostKeyError = %+v, want changed, at %s:2", he, f.known)
			}
			for _, w := range []string{"CHANGED", "man-in-the-middle", f.known + ":2", fingerprint} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if data, _ := os.ReadFile(f.known); strings.Contains(string(data), srv.KnownHostsLine()) {
				t.Error("the changed key was written to known_hosts")
			}
		})
	}

	t.Run("insecure refused without AllowInsecure", func(t *testing.T) {
		f := newFixture(t, sshhost.Options{})
		before := len(srv.Logins())
		_, err := f.try(sessions.Spec{SSH: spec("insecure")}, "")
		if !errors.Is(err, sshhost.ErrInsecureNotAllowed) || !strings.Contains(err.Error(), "--allow-insecure-ssh") {
			t.Fatalf("err = %v, want ErrInsecureNotAllowed naming the flag", err)
		}
		if len(srv.Logins()) != before {
			t.Error("the server was logged in to")
		}
	})

	t.Run("insecure accepted with AllowInsecure", func(t *testing.T) {
		f := newFixture(t, sshhost.Options{AllowInsecure: true})
		loginWorks(t, f, spec("insecure"))
		if _, err := os.Stat(f.known); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("insecure wrote known_hosts (stat: %v)", err)
		}
		if !strings.Contains(f.logs.String(), "host key not verified") {
			t.Errorf("no warning logged:\n%s", f.logs.String())
		}
	})

	t.Run("unknown policy", func(t *testing.T) {
		f := newFixture(t, sshhost.Options{})
		_, err := f.try(sessions.Spec{SSH: spec("yolo")}, "")
		if err == nil || !strings.Contains(err.Error(), `"yolo"`) {
			t.Fatalf("err = %v, want the policy named", err)
		}
	})
}

// A host known by one of its keys is asked for that key even when the
// client would prefer another type (x/crypto prefers ECDSA to Ed25519).
func TestHostKeyAlgorithmOfKnownKey(t *testing.T) {
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecSigner, err := ssh.NewSignerFromKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	ed := sshtest.NewHostKey(t)
	srv := sshtest.NewServer(t, sshtest.ServerOptions{
		HostKeys: []ssh.Signer{ed, ecSigner},
		Users:    []sshtest.User{{Name: "alice", Password: testPassword}},
	})
	f := newFixture(t, sshhost.Options{})
	spec := f.sshSpec(t, srv, "alice") // the Ed25519 key only
	spec.PasswordEnv = "TEST_PASSWORD"
	loginWorks(t, f, spec)
}
