package sshhost

import (
	"errors"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

func TestParseDestination(t *testing.T) {
	tests := []struct {
		in         string
		user, host string
		port       int
		err        bool
	}{
		{"web", "", "web", 0, false},
		{"alice@web", "alice", "web", 0, false},
		{"alice@web:2222", "alice", "web", 2222, false},
		{"a@b@web", "a@b", "web", 0, false},
		{"[::1]:22", "", "::1", 22, false},
		{"[::1]", "", "::1", 0, false},
		{"::1", "", "::1", 0, false},
		{"web:0", "", "", 0, true},
		{"web:http", "", "", 0, true},
		{"@web", "", "", 0, true},
		{"alice@", "", "", 0, true},
		{"[::1", "", "", 0, true},
		{"a b", "", "", 0, true},
	}
	for _, tt := range tests {
		u, h, p, err := parseDestination(tt.in)
		if (err != nil) != tt.err || (err == nil && (u != tt.user || h != tt.host || p != tt.port)) {
			t.Errorf("parseDestination(%q) = %q, %q, %d, %v; want %q, %q, %d, err=%v",
				tt.in, u, h, p, err, tt.user, tt.host, tt.port, tt.err)
		}
	}
}

func FuzzParseDestination(f *testing.F) {
	for _, s := range []string{"web", "alice@web:22", "[::1]:2", "a@[b]:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, host, port, err := parseDestination(s)
		if err != nil {
			return
		}
		if host == "" || port < 0 || port > 65535 || strings.ContainsAny(host, " /") {
			t.Fatalf("parseDestination(%q) accepted host %q port %d", s, host, port)
		}
	})
}

func TestExpandTokens(t *testing.T) {
	tokens := map[byte]string{'h': "host", 'u': "me", 'd': "/home/me"}
	tests := []struct{ in, want, err string }{
		{"~/.ssh/id_%h", "~/.ssh/id_host", ""},
		{"%d/keys/%u@%h", "/home/me/keys/me@host", ""},
		{"100%%", "100%", ""},
		{"%C", "", "not supported"},
		{"trailing%", "", "lone"},
	}
	for _, tt := range tests {
		got, err := expandTokens(tt.in, tokens)
		if got != tt.want || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("expandTokens(%q) = %q, %v; want %q, %q", tt.in, got, err, tt.want, tt.err)
		}
	}
}

func TestResolveConfig(t *testing.T) {
	cfg := writeTemp(t, `
Host web
    HostName %h.example.com
    User deploy
    Port 2200
    IdentityFile ~/.ssh/a
    IdentityFile %d/b_%r
    ProxyJump bastion,admin@gw:2022
    UserKnownHostsFile ~/kh1 /etc/kh2

Host *
    User fallback
    IdentityFile ~/.ssh/c
`)
	c, err := loadConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := &resolver{cfg: c, home: "/home/me", localUser: "me"}
	got, err := r.resolve("web", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := hop{
		alias: "web", hostname: "web.example.com", port: 2200, user: "deploy",
		identityFiles:   []string{"/home/me/.ssh/a", "/home/me/b_deploy", "/home/me/.ssh/c"},
		knownHostsFiles: []string{"/home/me/kh1", "/etc/kh2"},
		proxyJump:       "bastion,admin@gw:2022",
		configured:      true,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("resolve(web) =\n%+v, want\n%+v", got, want)
	}
	if got, _ := r.resolve("root@web:22", "", 0); got.user != "root" || got.port != 22 {
		t.Errorf("destination parts did not override the config: %+v", got)
	}
	if got, _ := r.resolve("root@web:22", "ops", 2222); got.user != "ops" || got.port != 2222 {
		t.Errorf("explicit fields did not override: %+v", got)
	}
	other, _ := r.resolve("other.host", "", 0)
	if other.user != "fallback" || other.hostname != "other.host" || other.port != 22 || other.configured {
		t.Errorf("resolve(other.host) = %+v", other)
	}
	if got := splitJumps(want.proxyJump); !reflect.DeepEqual(got, []string{"bastion", "admin@gw:2022"}) {
		t.Errorf("splitJumps = %q", got)
	}
	if got := c.aliases(); !reflect.DeepEqual(got, []string{"web"}) {
		t.Errorf("aliases = %q", got)
	}

	none, _ := loadConfig("")
	r = &resolver{cfg: none, home: "/h", localUser: "me"}
	if got, _ := r.resolve("web", "", 0); got.user != "me" || got.hostname != "web" || got.port != 22 {
		t.Errorf("resolve without config = %+v", got)
	}
}

func TestRemoteCommand(t *testing.T) {
	tests := []struct {
		command string
		args    []string
		dir     string
		want    string
	}{
		{"", nil, "", ""},
		{"exit 3", nil, "", "exit 3"},
		{"ls", []string{"-l", "a b", "it's"}, "", `ls '-l' 'a b' 'it'\''s'`},
		{"", nil, "/srv/it's", `cd -- '/srv/it'\''s' 2>/dev/null; exec "${SHELL:-/bin/sh}" -l`},
		{"make", []string{"all"}, "~/src", "cd -- ~/'src' || exit\nmake 'all'"},
	}
	for _, tt := range tests {
		if got := remoteCommand(tt.command, tt.args, tt.dir); got != tt.want {
			t.Errorf("remoteCommand(%q, %q, %q) = %q, want %q", tt.command, tt.args, tt.dir, got, tt.want)
		}
	}
}

// shellQuote must give back any string through a real shell.
func TestShellQuoteRoundTrip(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "it's", `"$HOME" \n`, "`id`", "new\nline", "'''", "$(rm -rf /)"} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+shellQuote(s)).Output()
		if err != nil || string(out) != s {
			t.Errorf("sh printf %s = %q, %v; want %q", shellQuote(s), out, err, s)
		}
	}
}

// fakeRequester answers keepalives as told: replies, errors, or silence
// until closed.
type fakeRequester struct {
	mu     sync.Mutex
	sent   int
	answer func(n int) (reply bool, err error, silent bool)
	closed chan struct{}
}

func (f *fakeRequester) SendRequest(name string, wantReply bool, payload []byte) (bool, []byte, error) {
	f.mu.Lock()
	f.sent++
	n := f.sent
	f.mu.Unlock()
	reply, err, silent := f.answer(n)
	if silent {
		<-f.closed
		return false, nil, errors.New("connection closed")
	}
	return reply, nil, err
}

func TestKeepalive(t *testing.T) {
	const interval, timeout = 10 * time.Second, 10 * time.Second
	run := func(t *testing.T, answer func(n int) (bool, error, bool)) (reason string, after time.Duration, sent int) {
		synctest.Test(t, func(t *testing.T) {
			f := &fakeRequester{answer: answer, closed: make(chan struct{})}
			stop := make(chan struct{})
			start := time.Now()
			keepalive(f, interval, timeout, stop, func(r string) {
				reason, after = r, time.Since(start)
				close(f.closed) // as closing the connection does
			})
			sent = f.sent
		})
		return reason, after, sent
	}

	t.Run("dead connection found after interval + 2 timeouts", func(t *testing.T) {
		// Answers (false, as servers do) three times, then silence.
		reason, after, sent := run(t, func(n int) (bool, error, bool) { return false, nil, n > 3 })
		if want := 3*interval + interval + 2*timeout; after != want || sent != 5 {
			t.Errorf("dead after %v with %d requests, want %v with 5", after, sent, want)
		}
		if !strings.Contains(reason, "no keepalive answer in 2 tries") {
			t.Errorf("reason = %q", reason)
		}
	})
	t.Run("one lost answer is forgiven", func(t *testing.T) {
		// Silent once (request 2), then answers until request 6 fails to send.
		var mu sync.Mutex
		lost := false
		reason, after, _ := run(t, func(n int) (bool, error, bool) {
			mu.Lock()
			defer mu.Unlock()
			if n == 2 && !lost {
				lost = true
				return false, nil, true
			}
			if n == 6 {
				return false, errors.New("EOF"), false
			}
			return true, nil, false
		})
		if !strings.Contains(reason, "keepalive failed: EOF") {
			t.Errorf("reason = %q, want the send error", reason)
		}
		// Requests at 10, 20 (lost, times out at 30), 30, 40, 50, 60 (fails).
		if want := 6 * interval; after != want {
			t.Errorf("dead after %v, want %v", after, want)
		}
	})
	t.Run("stop ends it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := &fakeRequester{answer: func(int) (bool, error, bool) { return true, nil, false }, closed: make(chan struct{})}
			stop := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				keepalive(f, interval, timeout, stop, func(string) { t.Error("dead called") })
			}()
			time.Sleep(35 * time.Second)
			close(stop)
			<-done
			if f.sent != 3 {
				t.Errorf("sent %d keepalives in 35s, want 3", f.sent)
			}
		})
	})
}

func writeTemp(t *testing.T, text string) string {
	t.Helper()
	p := t.TempDir() + "/config"
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
