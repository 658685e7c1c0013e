package sshtest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHDPath is where StartOpenSSH looks for sshd.
const SSHDPath = "/usr/sbin/sshd"

// RequireSSHDEnv names the environment variable that, set to "1", turns a
// missing sshd from a skip into a failure (CI sets it).
const RequireSSHDEnv = "CONSOLE_MCP_REQUIRE_SSHD"

// OpenSSH is a running sshd of the system's OpenSSH on a loopback port,
// with its own host key, configuration and authorized_keys in a temporary
// directory. It lets the current user log in with KeyFile, nothing else.
// StartOpenSSH registers Close with t.Cleanup.
type OpenSSH struct {
	addr     string
	user     string
	keyFile  string
	known    string
	hostKey  ssh.PublicKey
	cmd      *exec.Cmd
	stderr   *lockedBuffer
	readDone chan struct{}
	once     sync.Once
}

// StartOpenSSH starts sshd -D -e on 127.0.0.1 and waits until it listens.
// Without sshd the test is skipped, or fails when RequireSSHDEnv is "1".
func StartOpenSSH(t testing.TB) *OpenSSH {
	t.Helper()
	if _, err := os.Stat(SSHDPath); err != nil {
		if os.Getenv(RequireSSHDEnv) == "1" {
			t.Fatalf("sshtest: %s is required (%s=1) but missing: %v", SSHDPath, RequireSSHDEnv, err)
		}
		t.Skipf("sshtest: %s not installed (install openssh-server; set %s=1 to fail instead)", SSHDPath, RequireSSHDEnv)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// sshd refuses to start without its privilege separation directory,
		// which the distribution's service unit would create.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshtest: create /run/sshd: %v", err)
		}
	}
	dir := t.TempDir()
	hostKeyFile := filepath.Join(dir, "ssh_host_ed25519_key")
	hostPub := writeHostKey(t, hostKeyFile)
	key := WriteUserKey(t, filepath.Join(dir, "id_ed25519"), "")
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(key.Public), 0o600); err != nil {
		t.Fatalf("sshtest: write authorized_keys: %v", err)
	}

	var lastErr error
	for range 3 { // the free port found may be taken before sshd binds it
		port, err := freePort()
		if err != nil {
			t.Fatalf("sshtest: find a free port: %v", err)
		}
		o, err := startSSHD(dir, port, hostKeyFile, authorized, u.Username)
		if err != nil {
			lastErr = err
			continue
		}
		o.user, o.keyFile, o.hostKey = u.Username, key.Path, hostPub
		o.known = filepath.Join(dir, "known_hosts")
		line := knownhosts.Line([]string{knownhosts.Normalize(o.addr)}, hostPub) + "\n"
		if err := os.WriteFile(o.known, []byte(line), 0o600); err != nil {
			o.Close()
			t.Fatalf("sshtest: write known_hosts: %v", err)
		}
		t.Cleanup(func() {
			o.Close()
			if t.Failed() {
				t.Logf("sshd log:\n%s", o.stderr.String())
			}
		})
		return o
	}
	t.Fatalf("sshtest: start sshd: %v", lastErr)
	return nil
}

func startSSHD(dir string, port int, hostKey, authorized, userName string) (*OpenSSH, error) {
	config := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile none
AuthorizedKeysFile %s
AllowUsers %s
StrictModes no
UsePAM no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
AcceptEnv LANG LC_* SSHTEST_*
PrintMotd no
PrintLastLog no
UseDNS no
X11Forwarding no
LogLevel VERBOSE
`, port, hostKey, authorized, userName)
	if err := os.WriteFile(config, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("write sshd_config: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("pipe: %w", err)
	}
	cmd := exec.Command(SSHDPath, "-D", "-e", "-f", config)
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		_ = r.Close()
		_ = w.Close()
		return nil, fmt.Errorf("start sshd: %w", err)
	}
	_ = w.Close() // sshd and its children hold the write end now
	o := &OpenSSH{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd,
		stderr: &lockedBuffer{}, readDone: make(chan struct{})}
	listening := make(chan struct{})
	go func() { // waited for in Close through readDone
		defer close(o.readDone)
		defer r.Close()
		sc := bufio.NewScanner(r)
		once := sync.Once{}
		for sc.Scan() {
			o.stderr.WriteLine(sc.Text())
			if strings.Contains(sc.Text(), "Server listening on") {
				once.Do(func() { close(listening) })
			}
		}
	}()
	select {
	case <-listening:
		return o, nil
	case <-o.readDone:
	case <-time.After(10 * time.Second):
	}
	o.Close()
	return nil, fmt.Errorf("sshd did not start listening on port %d:\n%s", port, o.stderr.String())
}

// Addr is "127.0.0.1:port".
func (o *OpenSSH) Addr() string { return o.addr }

// Port is the port sshd listens on.
func (o *OpenSSH) Port() int {
	_, p, _ := net.SplitHostPort(o.addr)
	n, _ := strconv.Atoi(p)
	return n
}

// User is the account that may log in: the current user.
func (o *OpenSSH) User() string { return o.user }

// KeyFile is the private key (unencrypted) that logs User in.
func (o *OpenSSH) KeyFile() string { return o.keyFile }

// KnownHostsFile holds sshd's host key line.
func (o *OpenSSH) KnownHostsFile() string { return o.known }

// HostKey is sshd's public host key.
func (o *OpenSSH) HostKey() ssh.PublicKey { return o.hostKey }

// PID is the listening sshd's process id.
func (o *OpenSSH) PID() int { return o.cmd.Process.Pid }

// ChildPIDs lists the processes whose parent is the listening sshd: one
// per connection. Each leads a process group with the connection's
// unprivileged child; killing that group (syscall.Kill(-pid, SIGKILL))
// drops the connection as a crash would.
func (o *OpenSSH) ChildPIDs() []int { return childPIDs(o.PID()) }

// Log is what sshd wrote to stderr so far.
func (o *OpenSSH) Log() string { return o.stderr.String() }

// Close kills the connections' processes and sshd, and waits for them.
// It is idempotent.
func (o *OpenSSH) Close() {
	o.once.Do(func() {
		for _, pid := range o.ChildPIDs() {
			_ = syscall.Kill(-pid, syscall.SIGKILL) // best effort: it may have ended
			_ = syscall.Kill(pid, syscall.SIGKILL)  // best effort
		}
		_ = o.cmd.Process.Kill() // best effort: it may have exited
		_ = o.cmd.Wait()         // reap; the kill status is expected
		select {
		case <-o.readDone:
		case <-time.After(10 * time.Second):
			// A session's shell may keep stderr open (it should not): do
			// not hang the test run on it.
		}
	})
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func writeHostKey(t testing.TB, path string) ssh.PublicKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("sshtest: generate host key: %v", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "sshtest host")
	if err != nil {
		t.Fatalf("sshtest: marshal host key: %v", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatalf("sshtest: write host key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("sshtest: host key signer: %v", err)
	}
	return signer.PublicKey()
}

// lockedBuffer collects log lines from one goroutine for readers in
// others.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) WriteLine(s string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.WriteString(s)
	b.buf.WriteByte('\n')
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
