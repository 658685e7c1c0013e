package sshtest_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/console-mcp/console-mcp/sshhost/sshtest"
)

func dial(t *testing.T, srv *sshtest.Server, user, password string) *ssh.Client {
	t.Helper()
	known := filepath.Join(t.TempDir(), "known_hosts")
	srv.WriteKnownHosts(t, known)
	cb, err := knownhosts.New(known)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", srv.Addr(), &ssh.ClientConfig{User: user, Auth: []ssh.AuthMethod{ssh.Password(password)}, HostKeyCallback: cb})
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// Sessions without a PTY run with pipes: stdout and stderr apart, stdin
// passed through, exit status reported.
func TestExecWithoutPTY(t *testing.T) {
	srv := sshtest.NewServer(t, sshtest.ServerOptions{Users: []sshtest.User{{Name: "u", Password: "p"}}})
	c := dial(t, srv, "u", "p")
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	s.Stdout, s.Stderr, s.Stdin = &stdout, &stderr, strings.NewReader("piped\n")
	err = s.Run("read line; echo \"out:$line\"; echo err >&2; test -t 0 || exit 7")
	var ee *ssh.ExitError
	if !errors.As(err, &ee) || ee.ExitStatus() != 7 {
		t.Fatalf("Run = %v, want exit status 7", err)
	}
	if stdout.String() != "out:piped\n" || stderr.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q", stdout.String(), stderr.String())
	}
}

func TestDirectTCPIP(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer echo.Close()
	wg.Go(func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			_, _ = io.Copy(c, c) // until the client closes
			c.Close()
		}
	})
	srv := sshtest.NewServer(t, sshtest.ServerOptions{
		Users: []sshtest.User{{Name: "u", Password: "p"}},
		Hosts: map[string]string{"echo.internal": "127.0.0.1"},
	})
	c := dial(t, srv, "u", "p")
	_, port, _ := net.SplitHostPort(echo.Addr().String())
	conn, err := c.Dial("tcp", "echo.internal:"+port)
	if err != nil {
		t.Fatalf("dial through the server: %v", err)
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("read %q, %v", buf, err)
	}
	conn.Close()
	if got := srv.Forwards(); len(got) != 1 || got[0] != "echo.internal:"+port {
		t.Errorf("Forwards = %v", got)
	}
	if _, err := c.Dial("tcp", "127.0.0.1:1"); err == nil {
		t.Error("dial to a closed port succeeded")
	}
}
