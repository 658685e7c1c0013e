// Package sshtest runs SSH servers for tests: Server, an in-process server
// on 127.0.0.1 built on golang.org/x/crypto/ssh that runs a real shell in a
// real PTY (creack/pty) for each session, and StartOpenSSH, which launches
// the system's OpenSSH sshd on a loopback port.
//
// Server speaks what an interactive client needs: password, public-key and
// keyboard-interactive authentication; "pty-req", "env", "shell", "exec",
// "window-change" and "signal" requests; exit-status and exit-signal
// replies; keepalive@openssh.com (answered with failure, as OpenSSH does);
// and "direct-tcpip" channels, so it can be a jump host. Drop, Stall, Stop
// and Restart simulate network failures and a server going away.
package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// User is an account of a Server.
type User struct {
	Name string
	// Password is accepted by "password" authentication when non-empty.
	Password string
	// KeyboardInteractive also asks for Password by keyboard-interactive
	// authentication (one question, echo off).
	KeyboardInteractive bool
	// AuthorizedKeys are accepted by "publickey" authentication.
	AuthorizedKeys []ssh.PublicKey
}

// ServerOptions configures a Server. The zero value of every field is
// usable.
type ServerOptions struct {
	Users []User
	// Shell runs sessions: "shell" starts it as a login shell, "exec" runs
	// `Shell -c command`. Zero means bash when installed, else /bin/sh.
	Shell string
	// Home is HOME and the start directory of every session. Zero means a
	// new t.TempDir().
	Home string
	// HostKeys are the server's keys; HostKey reports the first. Zero
	// means one generated ed25519 key.
	HostKeys []ssh.Signer
	// IgnoreSignals answers "signal" requests without delivering them, as
	// many servers do.
	IgnoreSignals bool
	// RefuseEnv lists variable names whose "env" requests are refused.
	RefuseEnv []string
	// Hosts maps host names to IP addresses for direct-tcpip channels: a
	// private DNS behind a jump host, so that a target can have a name only
	// the jump host resolves.
	Hosts map[string]string
	// Logger receives the server's events. Zero discards.
	Logger *slog.Logger
}

// Login is one successful authentication.
type Login struct {
	User   string
	Method string // "password", "keyboard-interactive" or "publickey"
}

// Server is an in-process SSH server. Its methods are safe for concurrent
// use. NewServer registers Close with t.Cleanup.
type Server struct {
	opt     ServerOptions
	hostKey ssh.Signer
	config  *ssh.ServerConfig
	addr    string // 127.0.0.1:port, the same across Stop and Restart
	log     *slog.Logger

	mu       sync.Mutex
	ln       net.Listener
	users    map[string]*User
	conns    map[*conn]struct{}
	logins   []Login
	forwards []string // "host:port" of each direct-tcpip channel asked for
	closed   bool

	wg sync.WaitGroup
}

// NewServer starts a Server listening on 127.0.0.1:0.
func NewServer(t testing.TB, opt ServerOptions) *Server {
	t.Helper()
	if opt.Shell == "" {
		opt.Shell = "/bin/sh"
		if p, err := exec.LookPath("bash"); err == nil {
			opt.Shell = p
		}
	}
	if opt.Home == "" {
		opt.Home = t.TempDir()
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if len(opt.HostKeys) == 0 {
		opt.HostKeys = []ssh.Signer{NewHostKey(t)}
	}
	s := &Server{opt: opt, log: opt.Logger, hostKey: opt.HostKeys[0],
		users: map[string]*User{}, conns: map[*conn]struct{}{}}
	for _, u := range opt.Users {
		s.users[u.Name] = &u
	}
	s.config = &ssh.ServerConfig{
		PasswordCallback:            s.checkPassword,
		PublicKeyCallback:           s.checkPublicKey,
		KeyboardInteractiveCallback: s.checkKeyboardInteractive,
		ServerVersion:               "SSH-2.0-sshtest",
	}
	for _, k := range opt.HostKeys {
		s.config.AddHostKey(k)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("sshtest: listen: %v", err)
	}
	s.addr = ln.Addr().String()
	s.serve(ln)
	t.Cleanup(s.Close)
	return s
}

// NewHostKey generates an ed25519 host key, for a second server that must
// look like the first one with a changed key.
func NewHostKey(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("sshtest: generate host key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("sshtest: host key signer: %v", err)
	}
	return signer
}

// Addr is "127.0.0.1:port".
func (s *Server) Addr() string { return s.addr }

// Port is the port the server listens on.
func (s *Server) Port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// HostKey is the server's (first) public host key.
func (s *Server) HostKey() ssh.PublicKey { return s.hostKey.PublicKey() }

// KnownHostsLine is the known_hosts line of the server ("[127.0.0.1]:port
// ssh-ed25519 AAAA...").
func (s *Server) KnownHostsLine() string {
	return knownhosts.Line([]string{knownhosts.Normalize(s.addr)}, s.HostKey())
}

// WriteKnownHosts appends the server's known_hosts line to file, creating
// it (0600) if needed.
func (s *Server) WriteKnownHosts(t testing.TB, file string) {
	t.Helper()
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatalf("sshtest: open known_hosts: %v", err)
	}
	if _, err := fmt.Fprintln(f, s.KnownHostsLine()); err != nil {
		t.Fatalf("sshtest: write known_hosts: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("sshtest: write known_hosts: %v", err)
	}
}

// AddUser adds or replaces an account.
func (s *Server) AddUser(u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[u.Name] = &u
}

// Authorize lets user log in with key.
func (s *Server) Authorize(user string, key ssh.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[user]
	if u == nil {
		u = &User{Name: user}
		s.users[user] = u
	}
	u.AuthorizedKeys = append(u.AuthorizedKeys, key)
}

// NewUserKey writes a new key for user into a t.TempDir() (encrypted with
// passphrase when it is not empty) and authorizes it.
func (s *Server) NewUserKey(t testing.TB, user, passphrase string) UserKey {
	t.Helper()
	k := WriteUserKey(t, t.TempDir()+"/id_ed25519", passphrase)
	s.Authorize(user, k.Public)
	return k
}

// Logins lists the successful authentications so far.
func (s *Server) Logins() []Login {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Login(nil), s.logins...)
}

// Forwards lists the "host:port" of every direct-tcpip channel asked for.
func (s *Server) Forwards() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.forwards...)
}

// Drop closes every connection abruptly (TCP reset), as a network failure
// or a crashed server would. The listener stays open.
func (s *Server) Drop() {
	s.mu.Lock()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.reset()
	}
}

// Stall makes every open connection go silent without closing it: nothing
// is read or written any more, as when a network path dies. Keepalives are
// the only way for a client to notice. New connections are not affected.
func (s *Server) Stall() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		c.stall()
	}
}

// Stop closes the listener and drops every connection: the host is down.
// Restart brings it back on the same port.
func (s *Server) Stop() {
	s.mu.Lock()
	ln := s.ln
	s.ln = nil
	s.mu.Unlock()
	if ln != nil {
		_ = ln.Close() // best effort: the accept loop ends either way
	}
	s.Drop()
}

// Restart listens again on the port of the stopped server, with the same
// host key and users.
func (s *Server) Restart() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errors.New("sshtest: server closed")
	}
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("listen again on %s: %w", s.addr, err)
	}
	s.serveLocked(ln)
	return nil
}

// Close stops the server, ends every session (their shells are killed) and
// waits for all of its goroutines. It is idempotent.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	s.mu.Unlock()
	s.Stop()
	s.wg.Wait()
}

func (s *Server) serve(ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.serveLocked(ln)
}

func (s *Server) serveLocked(ln net.Listener) {
	s.ln = ln
	s.wg.Go(func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			c := newConn(nc.(*net.TCPConn))
			s.mu.Lock()
			if s.closed || s.ln != ln {
				s.mu.Unlock()
				c.reset()
				continue
			}
			s.conns[c] = struct{}{}
			s.mu.Unlock()
			s.wg.Go(func() {
				s.handle(c)
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
			})
		}
	})
}

// handle runs one connection: handshake, then its channels until it ends.
func (s *Server) handle(c *conn) {
	defer c.Close()
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		s.log.Debug("sshtest: handshake failed", "err", err)
		return
	}
	s.mu.Lock()
	s.logins = append(s.logins, Login{User: sc.User(), Method: sc.Permissions.Extensions["method"]})
	s.mu.Unlock()
	var wg sync.WaitGroup
	// Global requests: keepalive@openssh.com and anything else get a
	// failure reply, which is an answer.
	wg.Go(func() { ssh.DiscardRequests(reqs) })
	for nch := range chans {
		switch nch.ChannelType() {
		case "session":
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			wg.Go(func() { s.session(ch, creqs, sc.User()) })
		case "direct-tcpip":
			wg.Go(func() { s.directTCPIP(nch) })
		default:
			_ = nch.Reject(ssh.UnknownChannelType, "unsupported channel type") // best effort: the client may be gone
		}
	}
	_ = sc.Close() // best effort: the transport is gone already
	wg.Wait()
}

func (s *Server) user(name string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	if !ok {
		return User{}, false
	}
	return *u, true
}

func permit(method string) *ssh.Permissions {
	return &ssh.Permissions{Extensions: map[string]string{"method": method}}
}

func (s *Server) checkPassword(md ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
	if u, ok := s.user(md.User()); ok && u.Password != "" && string(password) == u.Password {
		return permit("password"), nil
	}
	return nil, errors.New("wrong password")
}

func (s *Server) checkKeyboardInteractive(md ssh.ConnMetadata, client ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
	u, ok := s.user(md.User())
	if !ok || !u.KeyboardInteractive || u.Password == "" {
		return nil, errors.New("keyboard-interactive not enabled")
	}
	answers, err := client("", "", []string{"Password: "}, []bool{false})
	if err != nil {
		return nil, err
	}
	if len(answers) != 1 || answers[0] != u.Password {
		return nil, errors.New("wrong password")
	}
	return permit("keyboard-interactive"), nil
}

func (s *Server) checkPublicKey(md ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
	if u, ok := s.user(md.User()); ok {
		for _, k := range u.AuthorizedKeys {
			if string(k.Marshal()) == string(key.Marshal()) {
				return permit("publickey"), nil
			}
		}
	}
	return nil, errors.New("key not authorized")
}
