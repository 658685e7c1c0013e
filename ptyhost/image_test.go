package ptyhost

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestFindHolderImage: the holder-only binary beside the server is used
// only when it answers -version with this protocol; anything else falls
// back to the server's own binary, with a reason that names the file and
// the fix.
func TestFindHolderImage(t *testing.T) {
	t.Parallel()
	script := func(body string) string { return "#!/bin/sh\n" + body + "\n" }
	cases := []struct {
		name     string
		sibling  string // script text; "" for none, "self" for a link to the test binary
		timeout  time.Duration
		small    bool
		warn     bool
		whyParts []string
	}{
		{name: "absent", whyParts: []string{"no console-mcp-ptyhost beside the server", "go build -o"}},
		{name: "same protocol", sibling: "self", small: true, whyParts: []string{"holders run from", "protocol 1"}},
		{name: "other protocol", sibling: script(`echo "console-mcp ptyhost protocol 99 v9"`), warn: true, whyParts: []string{"protocol 99", "rebuild it"}},
		{name: "fails", sibling: script("echo broken >&2; exit 3"), warn: true, whyParts: []string{"exit status 3"}},
		{name: "garbage", sibling: script("echo hello"), warn: true, whyParts: []string{`printed "hello"`}},
		{name: "not executable", sibling: "-", warn: true, whyParts: []string{"permission denied"}},
		{name: "hangs", sibling: script("exec sleep 60"), timeout: 300 * time.Millisecond, warn: true, whyParts: []string{"did not answer in time"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			server := filepath.Join(dir, "console-mcp")
			small := filepath.Join(dir, HolderImageName)
			switch tc.sibling {
			case "":
			case "self":
				if err := os.Symlink(testExe(t), small); err != nil {
					t.Fatal(err)
				}
			case "-":
				if err := os.WriteFile(small, []byte(script("exit 0")), 0o600); err != nil {
					t.Fatal(err)
				}
			default:
				if err := os.WriteFile(small, []byte(tc.sibling), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			exe, why, warn := FindHolderImage(ctx, server)
			want := server
			if tc.small {
				want = small
			}
			if exe != want || warn != tc.warn {
				t.Errorf("FindHolderImage = %q, warn %v (%s); want %q, warn %v", exe, warn, why, want, tc.warn)
			}
			for _, part := range tc.whyParts {
				if !strings.Contains(why, part) {
					t.Errorf("why %q lacks %q", why, part)
				}
			}
		})
	}
}
