package sshhost

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AuthError is an authentication that the server refused after every
// method tried.
type AuthError struct {
	User string
	Host string // the hop's label
	// Tried lists the methods offered, in order: "publickey (agent: 2
	// keys)", "publickey (/home/a/.ssh/id_ed25519)", "keyboard-interactive",
	// "password".
	Tried []string
	// Allowed lists the methods the server said it accepts.
	Allowed []string
	// Skipped lists credentials not offered and why.
	Skipped []string
}

func (e *AuthError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ssh: authentication as %s@%s failed; tried: ", e.User, e.Host)
	if len(e.Tried) == 0 {
		b.WriteString("nothing (no agent keys, no identity file, no password_env)")
	} else {
		b.WriteString(strings.Join(e.Tried, ", "))
	}
	if len(e.Allowed) > 0 {
		fmt.Fprintf(&b, "; the server accepts: %s", strings.Join(e.Allowed, ", "))
	}
	if len(e.Skipped) > 0 {
		fmt.Fprintf(&b, "; not offered: %s", strings.Join(e.Skipped, "; "))
	}
	return b.String()
}

// authPlan is the credentials of one hop in OpenSSH's order: agent keys,
// identity files, keyboard-interactive and password. Its next method picks
// what to try and records it, for the AuthError.
type authPlan struct {
	methods []authMethod
	agent   io.Closer // the agent connection, closed after the handshake

	tried   []string
	allowed []string
	skipped []string
}

// authMethod is one method and how it is named in an AuthError.
type authMethod struct {
	name   string   // the protocol's name: "publickey"
	labels []string // "publickey (agent: 2 keys)", "publickey (/path)"
	method ssh.AuthMethod
}

// next is the ssh.ClientConfig.AuthCallback: the first method not tried
// yet that the server accepts, or nil when none is left.
func (p *authPlan) next(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
	p.allowed = without(ac.AllowedMethods, "none")
	for i, m := range p.methods {
		if m.method == nil || !slices.Contains(ac.AllowedMethods, m.name) {
			continue
		}
		p.methods[i].method = nil // tried
		p.tried = append(p.tried, m.labels...)
		return m.method, nil
	}
	return nil, nil
}

// authSources is what a hop may authenticate with.
type authSources struct {
	useAgent      *bool
	identityFiles []string
	// explicit marks identityFiles as asked for by the caller: a file that
	// cannot be used is an error instead of a skipped line.
	explicit      bool
	passphraseEnv string
	passwordEnv   string // "" for jump hosts: a password goes to the target only
}

// newAuthPlan gathers the credentials of src. It fails on credentials that
// were asked for but cannot be used (an unreadable or encrypted key, an
// unset password_env), naming the file or the variable, never a secret.
func (b *Backend) newAuthPlan(src authSources) (*authPlan, error) {
	plan := &authPlan{}
	var agentSigners []ssh.Signer
	if err := b.addAgent(plan, src.useAgent, &agentSigners); err != nil {
		return nil, err
	}

	type fileSigner struct {
		path   string
		signer ssh.Signer
	}
	var files []fileSigner
	for _, path := range src.identityFiles {
		s, skip, err := b.loadIdentity(path, src.passphraseEnv, src.explicit)
		if err != nil {
			plan.close()
			return nil, err
		}
		switch {
		case skip != "":
			plan.skipped = append(plan.skipped, skip)
		case s != nil: // nil: a configured file that does not exist
			files = append(files, fileSigner{path, s})
		}
	}

	// One publickey method for all keys: x/crypto tries each method name
	// once, so agent and file keys must share it.
	if len(agentSigners)+len(files) > 0 {
		var all []ssh.Signer
		var labels []string
		seen := map[string]bool{}
		if len(agentSigners) > 0 {
			labels = append(labels, fmt.Sprintf("publickey (agent: %d keys)", len(agentSigners)))
		}
		for _, s := range agentSigners {
			seen[string(s.PublicKey().Marshal())] = true
			all = append(all, s)
		}
		for _, f := range files {
			labels = append(labels, fmt.Sprintf("publickey (%s)", f.path))
			if k := string(f.signer.PublicKey().Marshal()); !seen[k] {
				seen[k] = true
				all = append(all, f.signer)
			}
		}
		plan.methods = append(plan.methods, authMethod{"publickey", labels, ssh.PublicKeys(all...)})
	}

	if src.passwordEnv != "" {
		password := b.getenv(src.passwordEnv)
		if password == "" {
			plan.close()
			return nil, fmt.Errorf("ssh: password_env names %s, which is not set in the server's environment", src.passwordEnv)
		}
		asked := false
		kbd := ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			if len(questions) == 0 {
				return []string{}, nil
			}
			if asked {
				// The password was wrong, or a second factor is asked
				// for: either way this method cannot succeed.
				return nil, errors.New("keyboard-interactive asked again")
			}
			asked = true
			answers := make([]string, len(questions))
			for i := range questions {
				if !echos[i] {
					answers[i] = password
				}
			}
			return answers, nil
		})
		plan.methods = append(plan.methods,
			authMethod{"keyboard-interactive", []string{"keyboard-interactive"}, kbd},
			authMethod{"password", []string{"password"}, ssh.Password(password)},
		)
	}
	return plan, nil
}

// addAgent adds the keys of the ssh-agent at SSH_AUTH_SOCK when useAgent
// says so (default: when SSH_AUTH_SOCK is set). An agent asked for
// explicitly must be reachable; a default one is skipped with a note.
func (b *Backend) addAgent(plan *authPlan, useAgent *bool, signers *[]ssh.Signer) error {
	sock := b.getenv("SSH_AUTH_SOCK")
	explicit := useAgent != nil && *useAgent
	if useAgent != nil && !*useAgent {
		return nil
	}
	if sock == "" {
		if explicit {
			return errors.New("ssh: use_agent is true but SSH_AUTH_SOCK is not set in the server's environment")
		}
		return nil
	}
	conn, err := net.DialTimeout("unix", sock, 5*time.Second)
	if err == nil {
		var list []ssh.Signer
		list, err = agent.NewClient(conn).Signers()
		if err != nil {
			_ = conn.Close() // best effort: the agent failed already
		} else {
			plan.agent = conn
			*signers = list
			return nil
		}
	}
	if explicit {
		return fmt.Errorf("ssh: use the agent at SSH_AUTH_SOCK: %w", err)
	}
	plan.skipped = append(plan.skipped, fmt.Sprintf("agent (%v)", err))
	return nil
}

// loadIdentity reads a private key file. For a file that was not asked for
// explicitly (config or default), problems are returned as skip notes.
func (b *Backend) loadIdentity(path, passphraseEnv string, explicit bool) (signer ssh.Signer, skip string, err error) {
	fail := func(err error) (ssh.Signer, string, error) {
		if explicit {
			return nil, "", err
		}
		return nil, fmt.Sprintf("%s (%v)", path, err), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if !explicit && errors.Is(err, fs.ErrNotExist) {
			return nil, "", nil // like ssh(1): configured keys that do not exist are ignored
		}
		return fail(fmt.Errorf("ssh: read identity file: %w", err))
	}
	signer, err = ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return signer, "", nil
	case !errors.As(err, &missing):
		if bytes.HasPrefix(bytes.TrimSpace(data), []byte("ssh-")) || strings.HasSuffix(path, ".pub") {
			return fail(fmt.Errorf("ssh: identity file %s is a public key; name the private key file", path))
		}
		return fail(fmt.Errorf("ssh: identity file %s is not a usable private key: %w", path, err))
	case passphraseEnv == "":
		return fail(fmt.Errorf("ssh: identity file %s is encrypted: set passphrase_env to the NAME of an "+
			"environment variable of the server that holds its passphrase", path))
	}
	passphrase := b.getenv(passphraseEnv)
	if passphrase == "" {
		return nil, "", fmt.Errorf("ssh: identity file %s is encrypted and passphrase_env names %s, "+
			"which is not set in the server's environment", path, passphraseEnv)
	}
	signer, err = ssh.ParsePrivateKeyWithPassphrase(data, []byte(passphrase))
	if errors.Is(err, x509.IncorrectPasswordError) {
		return nil, "", fmt.Errorf("ssh: identity file %s: the passphrase in %s is wrong", path, passphraseEnv)
	}
	if err != nil {
		return fail(fmt.Errorf("ssh: identity file %s is not a usable private key: %w", path, err))
	}
	return signer, "", nil
}

// defaultIdentityFiles are ssh(1)'s default keys that exist under home.
func defaultIdentityFiles(home string) []string {
	var out []string
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		p := filepath.Join(home, ".ssh", name)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// close releases the agent connection; idempotent.
func (p *authPlan) close() {
	if p.agent != nil {
		_ = p.agent.Close() // best effort: only the signatures were needed
		p.agent = nil
	}
}
