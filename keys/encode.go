package keys

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// kind says how a named key is encoded and which modifiers apply to it.
type kind int

const (
	fixed  kind = iota // fixed bytes; only alt applies
	cursor             // ESC [ X or, in application mode, ESC O X
	tilde              // ESC [ n ~
	ss3                // ESC O X (f1..f4)
)

type key struct {
	kind kind
	// seq is the fixed bytes of a fixed key.
	seq string
	// final is the final byte of cursor and ss3 keys.
	final byte
	// num is the parameter of tilde keys.
	num int
}

// named holds every key name and alias, in lower case.
var named = map[string]key{
	"enter": {seq: "\r"}, "return": {seq: "\r"},
	"tab": {seq: "\t"},
	"esc": {seq: "\x1b"}, "escape": {seq: "\x1b"},
	"backspace": {seq: "\x7f"}, "bs": {seq: "\x7f"},
	"space": {seq: " "},
	"up":    {kind: cursor, final: 'A'}, "down": {kind: cursor, final: 'B'},
	"right": {kind: cursor, final: 'C'}, "left": {kind: cursor, final: 'D'},
	"home": {kind: cursor, final: 'H'}, "end": {kind: cursor, final: 'F'},
	"insert": {kind: tilde, num: 2}, "ins": {kind: tilde, num: 2},
	"delete": {kind: tilde, num: 3}, "del": {kind: tilde, num: 3},
	"pgup": {kind: tilde, num: 5}, "pageup": {kind: tilde, num: 5},
	"pgdn": {kind: tilde, num: 6}, "pagedown": {kind: tilde, num: 6},
	"f1": {kind: ss3, final: 'P'}, "f2": {kind: ss3, final: 'Q'},
	"f3": {kind: ss3, final: 'R'}, "f4": {kind: ss3, final: 'S'},
	"f5": {kind: tilde, num: 15}, "f6": {kind: tilde, num: 17},
	"f7": {kind: tilde, num: 18}, "f8": {kind: tilde, num: 19},
	"f9": {kind: tilde, num: 20}, "f10": {kind: tilde, num: 21},
	"f11": {kind: tilde, num: 23}, "f12": {kind: tilde, num: 24},
}

// ctrlPunct maps the non-letter characters that have a ctrl+ code.
var ctrlPunct = map[string]byte{
	"@": 0x00, " ": 0x00,
	"[": 0x1b, `\`: 0x1c, "]": 0x1d, "^": 0x1e, "_": 0x1f,
}

// encodeKey encodes the key base with modifiers mods; a non-empty reason
// means the combination is invalid.
func encodeKey(mods int, base string, opt Options) ([]byte, string) {
	var out []byte
	if mods&modAlt != 0 {
		out = append(out, 0x1b) // alt: ESC, then the key
	}
	mods &^= modAlt
	if k, ok := named[strings.ToLower(base)]; ok {
		b, reason := encodeNamed(k, mods, strings.ToLower(base), opt)
		if reason != "" {
			return nil, reason
		}
		return append(out, b...), ""
	}
	if utf8.RuneCountInString(base) != 1 {
		return nil, "not a key name"
	}
	switch mods {
	case 0:
		return append(out, base...), ""
	case modShift:
		if c := base[0]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			return append(out, c&^0x20), ""
		}
		return nil, "shift+ applies to letters, tab and the cursor, editing and function keys; type the shifted character itself"
	default: // ctrl, with or without shift
		if c := base[0]; 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' {
			return append(out, c&0x1f), ""
		}
		if c, ok := ctrlPunct[base]; ok {
			return append(out, c), ""
		}
		return nil, `ctrl+ applies to a..z, @ [ \ ] ^ _ space and the cursor, editing and function keys`
	}
}

// encodeNamed encodes a named key with the ctrl and shift bits of mods.
func encodeNamed(k key, mods int, name string, opt Options) ([]byte, string) {
	// xterm's modifier parameter: 1 + shift(1) + ctrl(4). Alt is sent as an
	// ESC prefix instead (see encodeKey).
	param := 1 + mods
	switch k.kind {
	case cursor:
		switch {
		case mods != 0:
			return []byte("\x1b[1;" + strconv.Itoa(param) + string(k.final)), ""
		case opt.AppCursor:
			return []byte{0x1b, 'O', k.final}, ""
		default:
			return []byte{0x1b, '[', k.final}, ""
		}
	case ss3:
		if mods != 0 {
			return []byte("\x1b[1;" + strconv.Itoa(param) + string(k.final)), ""
		}
		return []byte{0x1b, 'O', k.final}, ""
	case tilde:
		s := "\x1b[" + strconv.Itoa(k.num)
		if mods != 0 {
			s += ";" + strconv.Itoa(param)
		}
		return []byte(s + "~"), ""
	}
	switch {
	case mods == 0:
		return []byte(k.seq), ""
	case mods == modShift && k.seq == "\t":
		return []byte("\x1b[Z"), ""
	case mods&modCtrl != 0 && k.seq == " ":
		return []byte{0}, ""
	}
	return nil, "modifiers other than alt+ do not apply to " + name
}
