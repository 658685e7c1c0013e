// Package sshhost is console-mcp's SSH backend: it starts a session's
// program in a PTY on a remote host over golang.org/x/crypto/ssh, as safely
// as OpenSSH's client does, and reports a lost connection so that the
// session layer can reconnect (Wait returns sessions.ErrDisconnected; the
// next Start is the reconnect).
//
// Connecting: the destination (sessions.SSHSpec.Host) is a host name or an
// alias of the OpenSSH client config (~/.ssh/config). Explicit SSHSpec
// fields override config values. Jump hosts (SSHSpec.Jump, else the
// config's ProxyJump) are dialed in order, each through the one before.
// Every hop's host key is checked under the session's policy: strict
// (unknown and changed keys refused), accept-new (trust on first use,
// written to the known_hosts file) or insecure (only with
// Options.AllowInsecure). Authentication follows OpenSSH's order: agent keys
// (use_agent, default when SSH_AUTH_SOCK is set), identity files (the
// explicit one, else the config's IdentityFile lines, else ~/.ssh/id_ed25519,
// id_ecdsa, id_rsa), keyboard-interactive and password, both answered from
// the environment variable named by password_env. Jump hosts get keys only:
// the target's password is never sent to another host.
//
// Honoured from ssh_config (first value wins, as in ssh(1); Host and Match
// host blocks, Include): HostName (with %h), Port, User, IdentityFile (all
// of them; ~ and the tokens %d %h %n %p %r %u %%), ProxyJump (a
// comma-separated list of [user@]host[:port] or aliases; "none"), and
// UserKnownHostsFile (several files; the first is the one accept-new
// writes). Not honoured: everything else, notably StrictHostKeyChecking
// (the policy is the session's known_hosts field), IdentitiesOnly,
// IdentityAgent, CertificateFile, ProxyCommand, the jump hosts' own
// ProxyJump, ControlMaster, SendEnv/SetEnv (see Start), Ciphers/KexAlgorithms
// and /etc/ssh/ssh_config. A config the parser (github.com/kevinburke/ssh_config)
// rejects, such as one with "Match exec" or "Match user", is not used at
// all: a warning is logged, explicit hosts still work, and an alias gives
// an *UnknownHostError that names the parse error. The system-wide
// /etc/ssh/ssh_known_hosts is read (never written) when it exists.
//
// Secrets (passwords, passphrases) are read through Options.Getenv by the
// names the spec carries; they never appear in errors or logs.
package sshhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/console-mcp/console-mcp/sessions"
)

// Options configures a Backend. The zero value of every field is usable.
type Options struct {
	// KnownHostsFile is the known_hosts file used when neither the session
	// (known_hosts_file) nor the config (UserKnownHostsFile) names one.
	// Zero means ~/.ssh/known_hosts (and ~/.ssh/known_hosts2, read only).
	KnownHostsFile string
	// ConfigFile is the OpenSSH client config. Zero means ~/.ssh/config;
	// "none" reads no config.
	ConfigFile string
	// AllowInsecure lets sessions use known_hosts="insecure" (the server's
	// --allow-insecure-ssh flag). Without it such sessions are refused.
	AllowInsecure bool
	// KeepaliveInterval is the time between keepalives. Zero means 10s.
	KeepaliveInterval time.Duration
	// KeepaliveTimeout bounds the wait for one keepalive answer; two in a
	// row unanswered count as a lost connection. Zero means 10s, so that a
	// dead connection is found within about 30s.
	KeepaliveTimeout time.Duration
	// DialTimeout bounds connecting to one hop, handshake and
	// authentication included. Zero means 15s.
	DialTimeout time.Duration
	// Getenv reads the server's environment: HOME, USER, SSH_AUTH_SOCK and
	// the variables that password_env and passphrase_env name. Zero means
	// os.Getenv.
	Getenv func(string) string
	// Logger receives connection events, never secrets. Zero discards.
	Logger *slog.Logger
}

// Backend starts SSH sessions. It is safe for concurrent use; it holds no
// connections itself (each Process owns its own), so it needs no Close.
type Backend struct {
	opt Options
	// knownHostsMu serialises accept-new appends to known_hosts files.
	knownHostsMu sync.Mutex
}

var _ sessions.Backend = (*Backend)(nil)

// New returns a Backend with opt's zero values filled in.
func New(opt Options) *Backend {
	if opt.KeepaliveInterval <= 0 {
		opt.KeepaliveInterval = 10 * time.Second
	}
	if opt.KeepaliveTimeout <= 0 {
		opt.KeepaliveTimeout = 10 * time.Second
	}
	if opt.DialTimeout <= 0 {
		opt.DialTimeout = 15 * time.Second
	}
	if opt.Getenv == nil {
		opt.Getenv = os.Getenv
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	return &Backend{opt: opt}
}

func (b *Backend) getenv(name string) string { return b.opt.Getenv(name) }

func (b *Backend) home() string {
	if h := b.getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir() // best effort: "" leaves ~ paths relative, and they fail visibly
	return h
}

func (b *Backend) localUser() string {
	if u := b.getenv("USER"); u != "" {
		return u
	}
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// Start connects to req.Spec.SSH (through its jump hosts), opens a PTY
// session of req.Spec's size and starts req.Spec.Command with Args (a
// command line, as with ssh(1)) or the login shell, in req.Cwd (else
// req.Spec.Cwd) when set. It returns once the program was started.
//
// Of req.Env only the variables the spec names (Spec.Env, Spec.EnvRefs)
// and LANG and LC_* are sent, as "env" requests; the rest of the server's
// environment is the local machine's and is not the remote program's.
// Servers refuse variables they do not accept (OpenSSH: AcceptEnv); those
// refusals are ignored.
//
// Errors: *HostKeyError, *AuthError, *UnknownHostError,
// ErrInsecureNotAllowed, or a wrapped dial or protocol error. ctx bounds
// connecting only.
func (b *Backend) Start(ctx context.Context, req sessions.StartRequest) (sessions.Process, error) {
	spec := req.Spec.SSH
	if spec == nil {
		return nil, errors.New("ssh: the session has no ssh settings")
	}
	policy := spec.KnownHosts
	switch policy {
	case "":
		policy = PolicyStrict
	case PolicyStrict, PolicyAcceptNew:
	case PolicyInsecure:
		if !b.opt.AllowInsecure {
			return nil, ErrInsecureNotAllowed
		}
	default:
		return nil, fmt.Errorf(`ssh: known_hosts policy %q is not one of "strict", "accept-new", "insecure"`, spec.KnownHosts)
	}

	hops, cfg, err := b.plan(spec, policy)
	if err != nil {
		return nil, err
	}
	clients, err := b.dial(ctx, hops, cfg)
	if err != nil {
		return nil, err
	}
	target := hops[len(hops)-1].hop
	p, err := b.open(clients, target, req)
	if err != nil {
		clients.close()
		return nil, err
	}
	b.opt.Logger.Info("ssh: session started", "session", req.ID, "generation", req.Generation,
		"host", target.label(), "user", target.user, "jumps", len(hops)-1)
	return p, nil
}

// plan resolves the target and its jump hosts and what each authenticates
// and verifies with.
func (b *Backend) plan(spec *sessions.SSHSpec, policy string) ([]hopPlan, *sshConfig, error) {
	home := b.home()
	cfgPath := b.opt.ConfigFile
	switch cfgPath {
	case "":
		cfgPath = filepath.Join(home, ".ssh", "config")
	case "none":
		cfgPath = ""
	}
	cfg, err := loadConfig(expandHome(cfgPath, home))
	if err != nil {
		return nil, nil, err
	}
	if cfg.parseErr != nil {
		b.opt.Logger.Warn("ssh: config not used", "err", cfg.parseErr)
	}
	r := &resolver{cfg: cfg, home: home, localUser: b.localUser()}
	if spec.Host == "" {
		return nil, nil, errors.New("ssh: host is empty")
	}
	target, err := r.resolve(spec.Host, spec.User, spec.Port)
	if err != nil {
		return nil, nil, fmt.Errorf("ssh: %w", err)
	}

	jumps := splitJumps(spec.Jump...)
	if len(spec.Jump) == 0 && target.proxyJump != "" && !strings.EqualFold(target.proxyJump, "none") {
		jumps = splitJumps(target.proxyJump)
	}
	explicitKey := expandHome(spec.IdentityFile, home)
	var hops []hopPlan
	for _, j := range jumps {
		h, err := r.resolve(j, "", 0)
		if err != nil {
			return nil, nil, fmt.Errorf("ssh: jump host: %w", err)
		}
		src := authSources{useAgent: spec.UseAgent, passphraseEnv: spec.PassphraseEnv}
		switch {
		case len(h.identityFiles) > 0:
			src.identityFiles = h.identityFiles
		case explicitKey != "":
			src.identityFiles, src.explicit = []string{explicitKey}, true
		default:
			src.identityFiles = defaultIdentityFiles(home)
		}
		hops = append(hops, hopPlan{hop: h, auth: src, keys: b.hostKeys(spec, h, policy, home)})
	}

	src := authSources{useAgent: spec.UseAgent, passphraseEnv: spec.PassphraseEnv, passwordEnv: spec.PasswordEnv}
	switch {
	case explicitKey != "":
		src.identityFiles, src.explicit = []string{explicitKey}, true
	case len(target.identityFiles) > 0:
		src.identityFiles = target.identityFiles
	default:
		src.identityFiles = defaultIdentityFiles(home)
	}
	hops = append(hops, hopPlan{hop: target, auth: src, keys: b.hostKeys(spec, target, policy, home)})
	return hops, cfg, nil
}

// hostKeys picks the known_hosts files of h: the session's file, else the
// config's UserKnownHostsFile, else Options.KnownHostsFile, else
// ~/.ssh/known_hosts and known_hosts2. The system file is read too.
func (b *Backend) hostKeys(spec *sessions.SSHSpec, h hop, policy, home string) *hostKeys {
	var files []string
	switch {
	case spec.KnownHostsFile != "":
		files = []string{expandHome(spec.KnownHostsFile, home)}
	case len(h.knownHostsFiles) > 0:
		files = h.knownHostsFiles
	case b.opt.KnownHostsFile != "":
		files = []string{expandHome(b.opt.KnownHostsFile, home)}
	default:
		files = []string{filepath.Join(home, ".ssh", "known_hosts"), filepath.Join(home, ".ssh", "known_hosts2")}
	}
	const system = "/etc/ssh/ssh_known_hosts"
	if _, err := os.Stat(system); !errors.Is(err, fs.ErrNotExist) {
		files = append(files, system)
	}
	return &hostKeys{policy: policy, addr: h.addr(), files: files, writeMu: &b.knownHostsMu, log: b.opt.Logger}
}

// open starts the program on the target and returns its process, which
// owns clients from then on.
func (b *Backend) open(clients chain, target hop, req sessions.StartRequest) (*process, error) {
	label := target.user + "@" + target.label()
	sess, err := clients.target().NewSession()
	if err != nil {
		return nil, fmt.Errorf("ssh: open session on %s: %w", label, err)
	}
	pr, pw := io.Pipe()
	sess.Stdout, sess.Stderr = pw, pw
	stdin, err := sess.StdinPipe()
	if err != nil {
		_ = sess.Close() // best effort: the connection is closed next
		return nil, fmt.Errorf("ssh: open session stdin: %w", err)
	}
	for _, kv := range remoteEnv(req) {
		name, value, _ := strings.Cut(kv, "=")
		if err := sess.Setenv(name, value); err != nil {
			b.opt.Logger.Debug("ssh: server refused an environment variable", "host", label, "name", name)
		}
	}
	cols, rows := req.Spec.Cols, req.Spec.Rows
	if cols <= 0 {
		cols = 80
	}
	if rows <= 0 {
		rows = 24
	}
	modes := ssh.TerminalModes{ssh.ECHO: 1, ssh.TTY_OP_ISPEED: 38400, ssh.TTY_OP_OSPEED: 38400}
	if err := sess.RequestPty("xterm-256color", rows, cols, modes); err != nil {
		_ = sess.Close() // best effort: the connection is closed next
		return nil, fmt.Errorf("ssh: request a pty on %s: %w", label, err)
	}
	dir := req.Cwd
	if dir == "" {
		dir = req.Spec.Cwd
	}
	if line := remoteCommand(req.Spec.Command, req.Spec.Args, dir); line == "" {
		err = sess.Shell()
	} else {
		err = sess.Start(line)
	}
	if err != nil {
		_ = sess.Close() // best effort: the connection is closed next
		return nil, fmt.Errorf("ssh: start the program on %s: %w", label, err)
	}

	p := &process{
		label:         label,
		log:           b.opt.Logger,
		clients:       clients,
		session:       sess,
		stdin:         stdin,
		out:           pr,
		done:          make(chan struct{}),
		stopKeepalive: make(chan struct{}),
	}
	p.wg.Go(func() { p.wait(pw) })
	p.wg.Go(func() {
		keepalive(clients.target(), b.opt.KeepaliveInterval, b.opt.KeepaliveTimeout, p.stopKeepalive, p.dropped)
	})
	return p, nil
}

// remoteEnv is the part of req.Env that is the remote program's: the
// variables the spec names, and the locale.
func remoteEnv(req sessions.StartRequest) []string {
	named := map[string]bool{}
	for k := range req.Spec.Env {
		named[k] = true
	}
	for _, k := range req.Spec.EnvRefs {
		named[k] = true
	}
	var out []string
	for _, kv := range req.Env {
		name, _, ok := strings.Cut(kv, "=")
		if ok && (named[name] || name == "LANG" || strings.HasPrefix(name, "LC_")) {
			out = append(out, kv)
		}
	}
	return out
}
