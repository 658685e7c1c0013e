package termtext

import "testing"

// FuzzStripMap checks StripMap's invariants on arbitrary input: no panic,
// idx strictly increasing and inside raw, every text byte equal to the raw
// byte it maps to, and no ESC or C0 control other than '\n' and '\t' in the
// text.
func FuzzStripMap(f *testing.F) {
	for _, s := range []string{
		"",
		"plain text\n",
		"\x1b[01;32muser@host\x1b[00m:\x1b[01;34m~\x1b[00m$ ",
		"\x1b]0;title\x07\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\",
		"10%\r20%\r\n",
		"né\b\b\bx",
		"\x1b[?1049h\x1b[H\x1b[2Jvim\x1b[?1049l",
		"\x1bPq#0\x1b\\\x1b(B\x1b=\x1b7",
		"\x1b[3\n1m\x1b\x1b[\x18\x9b31m",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		text, idx := StripMap(raw)
		checkMap(t, raw, text, idx)
	})
}
