package mcphttp

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// readTokenFile reads the bearer token from path: a regular file, not
// accessible by group or others, holding a non-empty token (surrounding
// whitespace is ignored). It returns the token's SHA-256, which is all the
// server keeps.
func readTokenFile(path string) ([sha256.Size]byte, error) {
	var none [sha256.Size]byte
	fi, err := os.Stat(path)
	if err != nil {
		return none, fmt.Errorf("read auth token file: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return none, fmt.Errorf("auth token file %s is not a regular file", path)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return none, fmt.Errorf("auth token file %s is group/other-accessible (mode %04o); it must be readable by its owner only: chmod 600 %s", path, perm, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return none, fmt.Errorf("read auth token file: %w", err)
	}
	token := bytes.TrimSpace(data)
	if len(token) == 0 {
		return none, fmt.Errorf("auth token file %s is empty", path)
	}
	return sha256.Sum256(token), nil
}

// bearerMatches reports whether r carries "Authorization: Bearer <token>"
// whose SHA-256 is want. Comparing digests in constant time leaks neither
// the token's bytes nor its length.
func bearerMatches(r *http.Request, want [sha256.Size]byte) bool {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	got := sha256.Sum256([]byte(strings.TrimSpace(token)))
	return subtle.ConstantTimeCompare(got[:], want[:]) == 1
}
