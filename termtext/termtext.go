// Package termtext turns raw terminal output into plain text a model can
// read.
//
// It removes escape sequences (CSI, OSC, DCS/SOS/PM/APC strings, two-byte
// and charset escapes) and C0 control characters other than '\n' and '\t',
// folds CRLF to LF, and applies the two line edits that matter for reading
// logs: a carriage return followed by more text on the same line replaces
// that line (progress bars, prompt redraws), and a backspace deletes the
// previous character of the current line. It is not a terminal emulator:
// cursor movement is ignored, so full-screen programs come out as the text
// they print, in the order they print it.
//
// Bytes at or above 0x80 are copied as they are: 8-bit C1 controls are not
// interpreted, because their bytes are UTF-8 continuation bytes.
//
// The input may be a window cut from a longer stream. A sequence truncated at
// the end of the window is dropped; the tail of a sequence cut at the start
// of the window is kept as text (it cannot be told apart from text).
// All functions are safe for concurrent use.
package termtext

import "unicode/utf8"

// Control bytes the stripper acts on.
const (
	bel = 0x07
	bs  = 0x08
	can = 0x18
	sub = 0x1a
	esc = 0x1b
	del = 0x7f
)

// plain marks the bytes copied to the output as they are: printable ASCII,
// '\t' and every byte >= 0x80.
var plain = func() (t [256]bool) {
	for b := 0x20; b < 0x100; b++ {
		t[b] = b != del
	}
	t['\t'] = true
	return t
}()

// Strip returns the text of raw with escape sequences and control characters
// removed and line edits applied. The result is a new slice; raw is not
// modified.
func Strip(raw []byte) []byte {
	s := stripper{out: make([]byte, 0, len(raw))}
	s.run(raw)
	return s.out
}

// StripMap is Strip that also reports where each output byte came from:
// len(idx) == len(text), and idx[i] is the index in raw of the last raw byte
// that produced text[i] (for a "\r\n" folded to "\n", the index of the
// '\n'). idx is strictly increasing, so a caller can map a position in the
// text back to a byte offset in the stream.
func StripMap(raw []byte) (text []byte, idx []int) {
	s := stripper{
		out:     make([]byte, 0, len(raw)),
		idx:     make([]int, 0, len(raw)),
		withIdx: true,
	}
	s.run(raw)
	return s.out, s.idx
}

// stripper holds the output of one Strip or StripMap call.
type stripper struct {
	out     []byte
	idx     []int
	withIdx bool
	// lineStart is the index in out where the current line begins.
	lineStart int
	// pendingCR is set by a '\r' not yet followed by '\n' or text.
	pendingCR bool
}

func (s *stripper) run(raw []byte) {
	n := len(raw)
	for i := 0; i < n; {
		b := raw[i]
		if plain[b] {
			j := i + 1
			for j < n && plain[raw[j]] {
				j++
			}
			s.text(raw[i:j], i)
			i = j
			continue
		}
		if b == esc {
			i = s.escape(raw, i+1)
			continue
		}
		s.control(b, i)
		i++
	}
}

// text appends the plain bytes p, whose first byte is raw[at].
func (s *stripper) text(p []byte, at int) {
	if s.pendingCR {
		// A carriage return followed by text: the line is redrawn.
		s.truncate(s.lineStart)
		s.pendingCR = false
	}
	s.out = append(s.out, p...)
	if s.withIdx {
		for k := range p {
			s.idx = append(s.idx, at+k)
		}
	}
}

// control executes the C0 control or DEL byte b found at raw[at].
func (s *stripper) control(b byte, at int) {
	switch b {
	case '\n':
		s.pendingCR = false
		s.out = append(s.out, '\n')
		if s.withIdx {
			s.idx = append(s.idx, at)
		}
		s.lineStart = len(s.out)
	case '\r':
		s.pendingCR = true
	case bs:
		if s.pendingCR || len(s.out) == s.lineStart {
			return // the cursor is at the start of the line
		}
		_, size := utf8.DecodeLastRune(s.out[s.lineStart:])
		s.truncate(len(s.out) - size)
	}
	// Every other control byte is dropped.
}

func (s *stripper) truncate(n int) {
	s.out = s.out[:n]
	if s.withIdx {
		s.idx = s.idx[:n]
	}
}

// escape skips the escape sequence whose introducing ESC is raw[p-1] and
// returns the index of the first byte after it. It follows the shape of the
// DEC/ECMA-48 parser: controls inside a sequence are executed, ESC starts a
// new sequence, CAN and SUB cancel it.
func (s *stripper) escape(raw []byte, p int) int {
	n := len(raw)
	for p < n {
		b := raw[p]
		switch {
		case b == '[':
			return s.csi(raw, p+1)
		case b == ']':
			return skipString(raw, p+1, true)
		case b == 'P' || b == 'X' || b == '^' || b == '_':
			return skipString(raw, p+1, false)
		case b == esc || b == del:
			p++ // ESC ESC restarts the sequence; DEL is ignored
		case b == can || b == sub:
			return p + 1
		case b < 0x20:
			s.control(b, p)
			p++
		case b < 0x30:
			// Intermediate bytes (charset designation "ESC ( B", "ESC # 8"),
			// then a final byte.
			for p < n && raw[p] >= 0x20 && raw[p] < 0x30 {
				p++
			}
			if p < n && raw[p] >= 0x30 && raw[p] < 0x7f {
				return p + 1
			}
			return p // truncated, or aborted by a byte processed as usual
		case b < 0x7f:
			return p + 1 // two-byte sequence: ESC 7, ESC =, ESC M, ESC \ ...
		default:
			return p // not a sequence: the byte is processed as usual
		}
	}
	return n
}

// csi skips the rest of a control sequence whose parameters start at
// raw[p], returning the index after its final byte.
func (s *stripper) csi(raw []byte, p int) int {
	n := len(raw)
	for ; p < n; p++ {
		b := raw[p]
		switch {
		case b >= 0x40 && b < 0x7f:
			return p + 1
		case b >= 0x20 && b < 0x40, b == del:
			// parameter or intermediate byte
		case b == esc:
			return p
		case b == can || b == sub:
			return p + 1
		case b < 0x20:
			s.control(b, p)
		default:
			return p // a byte >= 0x80 aborts the sequence
		}
	}
	return n
}

// skipString skips an OSC, DCS, SOS, PM or APC string whose body starts at
// raw[p]. The string ends at ESC (normally the ESC of the terminator
// ESC \, which the caller then skips as a two-byte sequence), at CAN or SUB,
// and for OSC also at BEL.
func skipString(raw []byte, p int, osc bool) int {
	n := len(raw)
	for ; p < n; p++ {
		switch raw[p] {
		case esc:
			return p
		case can, sub:
			return p + 1
		case bel:
			if osc {
				return p + 1
			}
		}
	}
	return n
}
