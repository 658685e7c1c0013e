package sessions

import (
	"strings"
	"testing"
)

// FuzzFindEnd feeds arbitrary output to the end-marker parser: no panic,
// and a marker found lies within the output and carries the token.
func FuzzFindEnd(f *testing.F) {
	f.Add([]byte("out\x1b]6973;E;abc123;0;/tmp\a$ "), "abc123")
	f.Add([]byte("\x1b]6973;E;abc123;"), "abc123")
	f.Add([]byte("\x1b]6973;E;abc123;x;y;z\a"), "abc123")
	f.Add([]byte("\x1b]6973;E;other;1;/\a"), "abc123")
	f.Add([]byte("printf '\\033]6973;E;%s;%s;%s\\007' abc123"), "abc123")
	f.Fuzz(func(t *testing.T, out []byte, token string) {
		m, pos := findEnd(out, token)
		if pos < 0 {
			return
		}
		if m.end > len(out) || pos >= m.end {
			t.Fatalf("marker [%d,%d) outside output of %d bytes", pos, m.end, len(out))
		}
		if !strings.HasPrefix(string(out[pos:]), markerEnd+token+";") {
			t.Fatalf("marker at %d does not carry the token", pos)
		}
	})
}

// FuzzWrapQuote checks that any command survives quoting: the wrapped
// line contains the command only inside its single-quoted word.
func FuzzWrapQuote(f *testing.F) {
	for _, s := range []string{"echo hi", "it's", "a'b'c", "\\", "$(rm -rf /)", "'", "\n\n", "\x1b]6973;E;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, cmd string) {
		q := posixShell.quote(cmd)
		if !strings.HasPrefix(q, "'") || !strings.HasSuffix(q, "'") {
			t.Fatalf("quote(%q) = %s", cmd, q)
		}
		// Undo the quoting as sh would: '...' pieces joined by \'.
		var b strings.Builder
		inQuote := false
		for i := 0; i < len(q); i++ {
			switch {
			case q[i] == '\'':
				inQuote = !inQuote
			case !inQuote && q[i] == '\\' && i+1 < len(q):
				i++
				b.WriteByte(q[i])
			case inQuote:
				b.WriteByte(q[i])
			default:
				t.Fatalf("quote(%q) = %s: unquoted byte %q", cmd, q, q[i])
			}
		}
		if b.String() != cmd {
			t.Fatalf("quote(%q) unquotes to %q", cmd, b.String())
		}
	})
}
