package keys

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// FuzzEncode checks, for any two elements, that Encode does not panic, that
// encoding is per element (the pair encodes to the concatenation of the
// singles), that a valid element sends at least one byte, that literal text
// is typed verbatim, and that errors are *UnknownKeyError quoting the
// element.
func FuzzEncode(f *testing.F) {
	for _, s := range [][2]string{
		{"enter", "q"}, {"ctrl+c", ":wq"}, {"alt+ctrl+x", "f12"}, {"ls", "text:ls"},
		{"shift+tab", "c-\\"}, {"m-", "ctrl++"}, {"", "up"}, {"hello world", "PageDown"},
	} {
		f.Add(s[0], s[1], false)
	}
	f.Fuzz(func(t *testing.T, a, b string, app bool) {
		opt := Options{AppCursor: app}
		ea, errA := Encode([]string{a}, opt)
		eb, errB := Encode([]string{b}, opt)
		both, err := Encode([]string{a, b}, opt)
		for _, c := range []struct {
			s   string
			enc []byte
			err error
		}{{a, ea, errA}, {b, eb, errB}} {
			if c.err != nil {
				var ke *UnknownKeyError
				if !errors.As(c.err, &ke) || ke.Name != c.s || ke.Index != 0 {
					t.Fatalf("Encode(%q) error %v, want *UnknownKeyError for it", c.s, c.err)
				}
				continue
			}
			if len(c.enc) == 0 {
				t.Fatalf("Encode(%q) sent nothing", c.s)
			}
			if literal(c.s) && !bytes.Equal(c.enc, []byte(c.s)) {
				t.Fatalf("literal %q encoded as %q", c.s, c.enc)
			}
		}
		switch {
		case errA != nil || errB != nil:
			if err == nil {
				t.Fatalf("Encode(%q, %q) = %q, want an error", a, b, both)
			}
		case err != nil:
			t.Fatalf("Encode(%q, %q): %v", a, b, err)
		case !bytes.Equal(both, append(ea, eb...)):
			t.Fatalf("Encode(%q, %q) = %q, want %q", a, b, both, append(ea, eb...))
		}
	})
}

// literal reports whether s is typed as text by the package's rule,
// restated independently of the implementation.
func literal(s string) bool {
	l := strings.ToLower(s)
	for _, p := range []string{"ctrl+", "alt+", "shift+", "meta+", "c-", "m-", "text:"} {
		if strings.HasPrefix(l, p) {
			return false
		}
	}
	return !isWord(s)
}
