package sshtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"testing"

	"golang.org/x/crypto/ssh"
)

// UserKey is a generated client key written to files.
type UserKey struct {
	Path       string // the private key, OpenSSH format, mode 0600
	PublicPath string // Path + ".pub", authorized_keys format
	Public     ssh.PublicKey
	Signer     ssh.Signer
	Private    ed25519.PrivateKey // for an agent keyring
}

// WriteUserKey generates an ed25519 key and writes it to path and
// path+".pub"; a non-empty passphrase encrypts the private key file.
func WriteUserKey(t testing.TB, path, passphrase string) UserKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("sshtest: generate user key: %v", err)
	}
	var block *pem.Block
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(priv, "sshtest")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "sshtest", []byte(passphrase))
	}
	if err != nil {
		t.Fatalf("sshtest: marshal user key: %v", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatalf("sshtest: user key signer: %v", err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatalf("sshtest: write user key: %v", err)
	}
	if err := os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatalf("sshtest: write user public key: %v", err)
	}
	return UserKey{Path: path, PublicPath: path + ".pub", Public: signer.PublicKey(), Signer: signer, Private: priv}
}
