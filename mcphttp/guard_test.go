package mcphttp

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

func TestOrigin(t *testing.T) {
	r := startServer(t, newMemStore(), Options{AllowedOrigins: []string{"https://App.Example:8443/"}}, "127.0.0.1:0")
	for _, tc := range []struct {
		origin string
		want   int
	}{
		{"", http.StatusOK},
		{"http://localhost:3000", http.StatusOK},
		{"https://127.0.0.1", http.StatusOK},
		{"http://[::1]:8080", http.StatusOK},
		{"https://app.example:8443", http.StatusOK},
		{"https://evil.example", http.StatusForbidden},
		{"http://localhost.evil.example", http.StatusForbidden},
		{"https://app.example", http.StatusForbidden}, // another port
		{"null", http.StatusForbidden},
		{"file://localhost", http.StatusForbidden},
	} {
		hdr := map[string]string{}
		if tc.origin != "" {
			hdr["Origin"] = tc.origin
		}
		if got, _ := do(t, http.MethodPost, r.url, rawInitialize, hdr); got != tc.want {
			t.Errorf("initialize with Origin %q: status %d, want %d", tc.origin, got, tc.want)
		}
	}
	// Every request, not only initialize, and every path.
	id := initSession(t, r.url, nil)
	evil := map[string]string{"Origin": "https://evil.example", server.HeaderKeySessionID: id}
	if got, _ := do(t, http.MethodPost, r.url, rawPing, evil); got != http.StatusForbidden {
		t.Errorf("ping with a bad Origin: %d, want 403", got)
	}
	if got, _ := do(t, http.MethodGet, "http://"+r.addr+"/healthz", "", evil); got != http.StatusForbidden {
		t.Errorf("/healthz with a bad Origin: %d, want 403", got)
	}
}

func TestHostOnLoopback(t *testing.T) {
	r := startServer(t, newMemStore(), Options{}, "127.0.0.1:0")
	_, port, _ := strings.Cut(r.addr, ":")
	for _, tc := range []struct {
		host string
		want int
	}{
		{r.addr, http.StatusOK},
		{"localhost:" + port, http.StatusOK},
		{"localhost", http.StatusOK},
		{"[::1]:" + port, http.StatusOK},
		{"evil.example", http.StatusForbidden},
		{"evil.example:" + port, http.StatusForbidden},
		{"127.0.0.1.nip.io:" + port, http.StatusForbidden},
	} {
		if got, _ := do(t, http.MethodPost, r.url, rawInitialize, map[string]string{"Host": tc.host}); got != tc.want {
			t.Errorf("Host %q: status %d, want %d", tc.host, got, tc.want)
		}
	}
}

func writeToken(t *testing.T, token string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(token), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil { // umask-proof
		t.Fatal(err)
	}
	return path
}

func TestBearerToken(t *testing.T) {
	path := writeToken(t, "s3cret-token\n", 0o600)
	r := startServer(t, newMemStore(), Options{AuthTokenFile: path}, "127.0.0.1:0")
	for _, tc := range []struct {
		auth string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer wrong", http.StatusUnauthorized},
		{"Bearer s3cret-token-longer", http.StatusUnauthorized},
		{"Basic s3cret-token", http.StatusUnauthorized},
		{"Bearer s3cret-token", http.StatusOK},
		{"bearer s3cret-token", http.StatusOK},
	} {
		hdr := map[string]string{}
		if tc.auth != "" {
			hdr["Authorization"] = tc.auth
		}
		got, h := do(t, http.MethodPost, r.url, rawInitialize, hdr)
		if got != tc.want {
			t.Errorf("Authorization %q: status %d, want %d", tc.auth, got, tc.want)
		}
		if got == http.StatusUnauthorized && !strings.HasPrefix(h.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("401 without a Bearer WWW-Authenticate: %q", h.Get("WWW-Authenticate"))
		}
	}
	if got, _ := do(t, http.MethodGet, "http://"+r.addr+"/healthz", "", nil); got != http.StatusOK {
		t.Errorf("/healthz without a token: %d, want 200", got)
	}
	// A real client with the token works end to end.
	c := newLegacyClient(t, r.url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer s3cret-token"}))
	mustEcho(t, c, "authed", c.GetSessionId())
}

func TestNewValidatesListenAndToken(t *testing.T) {
	good := writeToken(t, "tok", 0o600)
	for _, tc := range []struct {
		name    string
		opt     Options
		wantErr string // empty: no error
	}{
		{"default loopback", Options{}, ""},
		{"localhost", Options{Listen: "localhost:0"}, ""},
		{"ipv6 loopback", Options{Listen: "[::1]:0"}, ""},
		{"all interfaces without token", Options{Listen: "0.0.0.0:8722"}, "--auth-token-file"},
		{"empty host without token", Options{Listen: ":8722"}, "--auth-token-file"},
		{"lan address without token", Options{Listen: "192.168.1.10:8722"}, "--auth-token-file"},
		{"all interfaces with token", Options{Listen: "0.0.0.0:8722", AuthTokenFile: good}, ""},
		{"missing token file", Options{AuthTokenFile: filepath.Join(t.TempDir(), "nope")}, "no such file"},
		{"group-readable token file", Options{AuthTokenFile: writeToken(t, "tok", 0o640)}, "group/other"},
		{"world-readable token file", Options{AuthTokenFile: writeToken(t, "tok", 0o604)}, "group/other"},
		{"empty token file", Options{AuthTokenFile: writeToken(t, " \n", 0o600)}, "empty"},
		{"directory as token file", Options{AuthTokenFile: t.TempDir()}, "regular file"},
		{"bad listen", Options{Listen: "8722"}, "listen address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := New(newEchoServer(), newMemStore(), tc.opt)
			if err == nil {
				defer s.Close()
			}
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("New: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("New = %v, want an error mentioning %q", err, tc.wantErr)
			}
		})
	}
}

func TestBodyCap(t *testing.T) {
	r := startServer(t, newMemStore(), Options{MaxBodyBytes: 1024}, "127.0.0.1:0")
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 2048) + `"}}`
	if got, _ := do(t, http.MethodPost, r.url, big, nil); got != http.StatusRequestEntityTooLarge {
		t.Errorf("body over the cap with Content-Length: %d, want 413", got)
	}
	// Chunked, so that only reading tells the size.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, r.url, io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked body over the cap: %d, want 413", resp.StatusCode)
	}
	if got, _ := do(t, http.MethodPost, r.url, rawInitialize, nil); got != http.StatusOK {
		t.Errorf("body under the cap: %d, want 200", got)
	}
}

func TestMethodsAndSessionGate(t *testing.T) {
	r := startServer(t, newMemStore(), Options{}, "127.0.0.1:0")
	id := initSession(t, r.url, nil)
	withID := map[string]string{server.HeaderKeySessionID: id}
	unknown := map[string]string{server.HeaderKeySessionID: "mcp-" + strings.Repeat("Z", 26)}
	garbage := map[string]string{server.HeaderKeySessionID: "not-an-id"}
	modern := map[string]string{mcp.HeaderProtocolVersion: mcp.ProtocolVersion20260728}
	for _, tc := range []struct {
		name, method, body string
		hdr                map[string]string
		want               int
	}{
		{"PUT", http.MethodPut, rawPing, withID, http.StatusMethodNotAllowed},
		{"PATCH", http.MethodPatch, rawPing, withID, http.StatusMethodNotAllowed},
		{"HEAD", http.MethodHead, "", withID, http.StatusMethodNotAllowed},
		{"OPTIONS", http.MethodOptions, "", nil, http.StatusMethodNotAllowed},
		{"POST known id", http.MethodPost, rawPing, withID, http.StatusOK},
		{"POST unknown id", http.MethodPost, rawPing, unknown, http.StatusNotFound},
		{"POST garbage id", http.MethodPost, rawPing, garbage, http.StatusNotFound},
		{"POST without id", http.MethodPost, rawPing, nil, http.StatusNotFound},
		{"initialize with a stale id", http.MethodPost, rawInitialize, unknown, http.StatusOK},
		{"GET unknown id", http.MethodGet, "", unknown, http.StatusNotFound},
		{"GET garbage id", http.MethodGet, "", garbage, http.StatusNotFound},
		{"GET without id", http.MethodGet, "", nil, http.StatusBadRequest},
		{"GET 2026-07-28", http.MethodGet, "", modern, http.StatusMethodNotAllowed},
		{"DELETE unknown id", http.MethodDelete, "", unknown, http.StatusNotFound},
		{"DELETE without id", http.MethodDelete, "", nil, http.StatusBadRequest},
		{"other path", http.MethodGet, "", nil, http.StatusNotFound},
	} {
		url := r.url
		if tc.name == "other path" {
			url = "http://" + r.addr + "/elsewhere"
		}
		got, h := do(t, tc.method, url, tc.body, tc.hdr)
		if got != tc.want {
			t.Errorf("%s: status %d, want %d", tc.name, got, tc.want)
		}
		if got == http.StatusMethodNotAllowed && h.Get("Allow") == "" {
			t.Errorf("%s: 405 without Allow", tc.name)
		}
	}

	// A GET with a known id opens the stream.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, r.url, nil)
	req.Header.Set(server.HeaderKeySessionID, id)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Errorf("GET with a known id: %d %q, want 200 text/event-stream", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

func TestStoreFailureIs503(t *testing.T) {
	store := newMemStore()
	r := startServer(t, store, Options{}, "127.0.0.1:0")
	store.setFailures(errDiskOnFire, nil)
	hdr := map[string]string{server.HeaderKeySessionID: "mcp-" + strings.Repeat("Z", 26)}
	if got, _ := do(t, http.MethodPost, r.url, rawPing, hdr); got != http.StatusServiceUnavailable {
		t.Errorf("lookup failure: %d, want 503", got)
	}
}

func TestHealthz(t *testing.T) {
	r := startServer(t, newMemStore(), Options{}, "127.0.0.1:0")
	resp, err := http.Get("http://" + r.addr + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Errorf("/healthz = %d %q %q", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if got, _ := do(t, http.MethodPost, "http://"+r.addr+"/healthz", "{}", nil); got != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz: %d, want 405", got)
	}
}

func TestIsLoopbackOriginAndHost(t *testing.T) {
	for _, tc := range []struct {
		in         string
		origin, ok bool
	}{
		{"http://localhost", true, true},
		{"https://LOCALHOST:443", true, true},
		{"http://127.0.0.1:3000", true, true},
		{"http://127.1.2.3", true, true},
		{"http://[::1]:3000", true, true},
		{"http://[::1]", true, true},
		{"ws://localhost", true, false},
		{"http://localhost/path", true, false},
		{"http://user@localhost", true, false},
		{"http://localhost:abc", true, false},
		{"http://10.0.0.1", true, false},
		{"localhost:3000", false, true},
		{"localhost", false, true},
		{"127.0.0.1", false, true},
		{"[::1]:80", false, true},
		{"[::1]", false, true},
		{"::1", false, false},
		{"example.com:80", false, false},
		{"localhost:99999999", false, false},
	} {
		f, name := IsLoopbackHost, "IsLoopbackHost"
		if tc.origin {
			f, name = IsLoopbackOrigin, "IsLoopbackOrigin"
		}
		if got := f(tc.in); got != tc.ok {
			t.Errorf("%s(%q) = %v, want %v", name, tc.in, got, tc.ok)
		}
	}
}
