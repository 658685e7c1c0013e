// Package keys turns key names ("enter", "ctrl+c", "alt+x", "f5") into the
// bytes an xterm-compatible terminal sends for them.
//
// Encode takes a list of elements. The rule that tells a key name from
// literal text is purely lexical, so a caller can predict it:
//
//   - "text:ANYTHING" types ANYTHING verbatim (the way to type "ls").
//   - An element with a modifier prefix (ctrl+, alt+, shift+, meta+, c-, m-;
//     any case) or made of 2 or more characters of only [A-Za-z0-9_-] is a
//     key name, and an unknown name is an error.
//   - Every other element is literal text, typed verbatim: "q", ":wq",
//     "hello world", "./run.sh".
//
// Names are case-insensitive. Aliases: return (enter), escape (esc), bs
// (backspace), pageup (pgup), pagedown (pgdn), ins (insert), del (delete),
// meta+ and m- (alt+), c- (ctrl+). The functions are safe for concurrent use.
package keys

import (
	"errors"
	"fmt"
	"strings"
)

// Options describes the terminal modes that change what a key sends.
type Options struct {
	// AppCursor is DECCKM application cursor mode: unmodified arrows, home
	// and end send ESC O A instead of ESC [ A. The zero value is normal mode.
	AppCursor bool
}

// ErrNoKeys is returned by Encode for an empty list.
var ErrNoKeys = errors.New("no keys given")

// UnknownKeyError reports an element of the list that is not a valid key:
// an unknown name, a modifier that does not apply to its key, or an empty
// element.
type UnknownKeyError struct {
	// Index is the element's position in the list, from 0.
	Index int
	// Name is the element as given.
	Name string
	// Reason says what is wrong with it.
	Reason string
}

// Error quotes the element, lists the valid key names and says how to send
// text instead.
func (e *UnknownKeyError) Error() string {
	hint := `"text:WORDS"`
	if isWord(e.Name) {
		hint = fmt.Sprintf("%q", "text:"+e.Name)
	}
	return fmt.Sprintf("keys[%d] %q: %s; valid keys: %s; single characters and text "+
		"with spaces or punctuation (\"q\", \":wq\") are typed as text; "+
		"to type words use console_send_input or %s", e.Index, e.Name, e.Reason, summary, hint)
}

// summary lists the valid names compactly, for error messages.
const summary = `enter tab esc backspace space up down left right home end pgup pgdn ` +
	`insert delete f1..f12 ctrl+a..ctrl+z ctrl+\ ctrl+] ctrl+[ ctrl+^ ctrl+_ ctrl+@ ` +
	`shift+tab; modifiers ctrl+ alt+ shift+ combine with them (ctrl+up, alt+x, alt+enter)`

// Encode returns the bytes a terminal sends for keys, in order.
func Encode(keys []string, opt Options) ([]byte, error) {
	if len(keys) == 0 {
		return nil, ErrNoKeys
	}
	var out []byte
	for i, k := range keys {
		b, reason := encodeOne(k, opt)
		if reason != "" {
			return nil, &UnknownKeyError{Index: i, Name: k, Reason: reason}
		}
		out = append(out, b...)
	}
	return out, nil
}

// Names returns the canonical key names Encode accepts, for documentation.
// Aliases and modifier combinations other than the ctrl+ characters and
// shift+tab are described in the package comment.
func Names() []string {
	names := []string{"enter", "tab", "shift+tab", "esc", "backspace", "space",
		"up", "down", "left", "right", "home", "end", "pgup", "pgdn", "insert", "delete"}
	for n := 1; n <= 12; n++ {
		names = append(names, fmt.Sprintf("f%d", n))
	}
	for c := 'a'; c <= 'z'; c++ {
		names = append(names, "ctrl+"+string(c))
	}
	return append(names, `ctrl+\`, "ctrl+]", "ctrl+[", "ctrl+^", "ctrl+_", "ctrl+@", "ctrl+space")
}

// textPrefix marks an element typed verbatim.
const textPrefix = "text:"

// encodeOne encodes one element; a non-empty reason means it is invalid.
func encodeOne(k string, opt Options) ([]byte, string) {
	if k == "" {
		return nil, "empty element"
	}
	if rest, ok := strings.CutPrefix(k, textPrefix); ok {
		if rest == "" {
			return nil, "nothing after text:"
		}
		return []byte(rest), ""
	}
	if !hasModPrefix(k) && !isWord(k) {
		return []byte(k), "" // literal text
	}
	mods, base := splitMods(k)
	return encodeKey(mods, base, opt)
}

// hasModPrefix reports whether s starts with a modifier prefix, in any case.
func hasModPrefix(s string) bool {
	for _, p := range prefixes {
		if len(s) >= len(p.p) && strings.EqualFold(s[:len(p.p)], p.p) {
			return true
		}
	}
	return false
}

// isWord reports whether s is 2 or more characters of only [A-Za-z0-9_-].
func isWord(s string) bool {
	if len(s) < 2 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Modifier bits.
const (
	modShift = 1 << iota
	modAlt
	modCtrl
)

var prefixes = []struct {
	p   string
	mod int
}{
	{"ctrl+", modCtrl}, {"alt+", modAlt}, {"shift+", modShift}, {"meta+", modAlt},
	{"c-", modCtrl}, {"m-", modAlt},
}

// splitMods removes the modifier prefixes of k. A prefix is only a prefix
// when something follows it, so "ctrl++" is ctrl with the base "+".
func splitMods(k string) (mods int, base string) {
	base = k
	for {
		found := false
		for _, p := range prefixes {
			if len(base) > len(p.p) && strings.EqualFold(base[:len(p.p)], p.p) {
				mods |= p.mod
				base = base[len(p.p):]
				found = true
				break
			}
		}
		if !found {
			return mods, base
		}
	}
}
