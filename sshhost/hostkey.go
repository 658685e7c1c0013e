package sshhost

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Host-key policies, the values of sessions.SSHSpec.KnownHosts.
const (
	// PolicyStrict (the default) accepts only keys already in known_hosts.
	PolicyStrict = "strict"
	// PolicyAcceptNew trusts an unknown host's key on first use and writes
	// it to the known_hosts file; a changed key is still refused.
	PolicyAcceptNew = "accept-new"
	// PolicyInsecure accepts any key; only with Options.AllowInsecure.
	PolicyInsecure = "insecure"
)

// ErrInsecureNotAllowed is returned by Start for known_hosts="insecure"
// unless Options.AllowInsecure is set.
var ErrInsecureNotAllowed = errors.New(`ssh: known_hosts="insecure" is refused: ` +
	`the server was not started with --allow-insecure-ssh; use "strict" or "accept-new"`)

// HostKeyError is a host key that was refused: unknown to known_hosts under
// the strict policy, changed, or revoked.
type HostKeyError struct {
	Host        string        // "host:port" as looked up in known_hosts
	Key         ssh.PublicKey // the key the server presented
	KeyType     string        // "ssh-ed25519"
	Fingerprint string        // "SHA256:..."
	// Unknown is true when known_hosts has no key for Host; false means a
	// different key is known: the key changed (or Revoked is set).
	Unknown bool
	Revoked bool
	// File is the known_hosts file: where to add the key (Unknown), or the
	// file holding the known (or revoking) key, at Line.
	File string
	Line int
}

func (e *HostKeyError) Error() string {
	switch {
	case e.Revoked:
		return fmt.Sprintf("ssh: host key of %s (%s %s) is marked @revoked in %s:%d; refused",
			e.Host, e.KeyType, e.Fingerprint, e.File, e.Line)
	case e.Unknown:
		host, port, _ := net.SplitHostPort(e.Host)
		return fmt.Sprintf("ssh: host key of %s is unknown: %s %s. Check this fingerprint with the "+
			"host's administrator, then connect once with known_hosts=\"accept-new\" or add the key "+
			"to %s (ssh-keyscan -p %s %s >> %s)",
			e.Host, e.KeyType, e.Fingerprint, e.File, port, host, e.File)
	default:
		return fmt.Sprintf("ssh: host key of %s has CHANGED (now %s %s) and is refused: this may be "+
			"a man-in-the-middle attack. The known key is at %s:%d; if the change is expected, "+
			"remove that line (ssh-keygen -R '%s' -f %s) and connect again",
			e.Host, e.KeyType, e.Fingerprint, e.File, e.Line, knownhosts.Normalize(e.Host), e.File)
	}
}

// hostKeys checks the host keys of one hop under one policy. Its callback
// runs inside the handshake; refused records the typed error it returned,
// so that the caller can return it without x/crypto's wrapping.
type hostKeys struct {
	policy string
	addr   string
	// files are read; files[0] is the one written on accept-new.
	files   []string
	writeMu *sync.Mutex // serialises appends to known_hosts files
	log     *slog.Logger

	mu       sync.Mutex // guards refused and verified: the callback runs in x/crypto's kex goroutine
	refused  error
	verified bool
}

// outcome reports what the callback decided last: the refusal, or whether
// a key was verified.
func (k *hostKeys) outcome() (refused error, verified bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.refused, k.verified
}

// db reads the known_hosts files that exist. A file that exists but cannot
// be read or parsed is an error.
func (k *hostKeys) db() (ssh.HostKeyCallback, error) {
	var existing []string
	for _, f := range k.files {
		if _, err := os.Stat(f); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		existing = append(existing, f)
	}
	cb, err := knownhosts.New(existing...)
	if err != nil {
		return nil, fmt.Errorf("read known_hosts: %w", err)
	}
	return cb, nil
}

// probeKey is a key no host has; checking it lists a host's known keys.
var probeKey, _ = ssh.NewPublicKey(ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public())

// algorithms returns the host-key algorithms of the keys known for the hop,
// so that a host known by, say, its ECDSA key is asked for that key and not
// refused for offering an Ed25519 one first (ssh(1) does the same). Nil
// means the default order.
func (k *hostKeys) algorithms(cb ssh.HostKeyCallback) []string {
	var ke *knownhosts.KeyError
	if err := cb(k.addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, probeKey); !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	for _, w := range ke.Want {
		for _, a := range algorithmsFor(w.Key.Type()) {
			if !slices.Contains(algos, a) {
				algos = append(algos, a)
			}
		}
	}
	return algos
}

func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

// callback returns the ssh.HostKeyCallback of the policy.
func (k *hostKeys) callback(cb ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := k.check(cb, hostname, remote, key)
		k.mu.Lock()
		defer k.mu.Unlock()
		if err != nil {
			k.refused = err
			return err
		}
		k.verified = true
		return nil
	}
}

func (k *hostKeys) check(cb ssh.HostKeyCallback, hostname string, remote net.Addr, key ssh.PublicKey) error {
	if k.policy == PolicyInsecure {
		k.log.Warn("ssh: host key not verified (insecure policy)",
			"host", k.addr, "key_type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key))
		return nil
	}
	err := cb(hostname, remote, key)
	if err == nil {
		return nil
	}
	switch he := k.refusal(err, key); {
	case he == nil:
		return fmt.Errorf("check host key of %s: %w", k.addr, err)
	case he.Unknown && k.policy == PolicyAcceptNew:
		return k.acceptNew(key)
	default:
		return he
	}
}

// refusal turns a knownhosts error into a *HostKeyError, or nil for an
// error that is not about the key.
func (k *hostKeys) refusal(err error, key ssh.PublicKey) *HostKeyError {
	he := &HostKeyError{
		Host:        k.addr,
		Key:         key,
		KeyType:     key.Type(),
		Fingerprint: ssh.FingerprintSHA256(key),
		File:        k.files[0],
	}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &re):
		he.Revoked, he.File, he.Line = true, re.Revoked.Filename, re.Revoked.Line
	case errors.As(err, &ke) && len(ke.Want) == 0:
		he.Unknown = true
	case errors.As(err, &ke):
		he.File, he.Line = ke.Want[0].Filename, ke.Want[0].Line
	default:
		return nil
	}
	return he
}

// acceptNew writes key as the hop's key to files[0] (trust on first use).
// It re-reads the files under the write lock first, so that two sessions
// meeting the same new host write it once and a key written meanwhile by
// another session is enforced.
func (k *hostKeys) acceptNew(key ssh.PublicKey) error {
	k.writeMu.Lock()
	defer k.writeMu.Unlock()
	cb, err := k.db()
	if err != nil {
		return err
	}
	err = cb(k.addr, &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, key)
	if err == nil {
		return nil
	}
	if he := k.refusal(err, key); he == nil || !he.Unknown {
		if he != nil {
			return he
		}
		return fmt.Errorf("check host key of %s: %w", k.addr, err)
	}
	file := k.files[0]
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("create known_hosts directory: %w", err)
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open known_hosts: %w", err)
	}
	line := knownhosts.Line([]string{knownhosts.Normalize(k.addr)}, key) + "\n"
	if st, err := f.Stat(); err == nil && st.Size() > 0 && !endsInNewline(file, st.Size()) {
		line = "\n" + line
	}
	if _, err := f.WriteString(line); err != nil {
		_ = f.Close() // best effort: the write error is the one to report
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write known_hosts %s: %w", file, err)
	}
	k.log.Info("ssh: trusted new host key (accept-new)", "host", k.addr,
		"key_type", key.Type(), "fingerprint", ssh.FingerprintSHA256(key), "file", file)
	return nil
}

func endsInNewline(file string, size int64) bool {
	f, err := os.Open(file)
	if err != nil {
		return true
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, size-1); err != nil {
		return true
	}
	return b[0] == '\n'
}
