package vtscreen

import (
	"bytes"
	"strings"
	"unicode/utf8"
)

// pstate is the parser's state, after the DEC VT500 state machine
// (vt100.net/emu/dec_ansi_parser) with the entry/param/intermediate CSI
// states folded into one.
type pstate uint8

const (
	stGround    pstate = iota
	stEscape           // after ESC, collecting intermediates
	stCSI              // after CSI, collecting parameters
	stCSIIgnore        // a malformed CSI, skipped up to its final byte
	stOSC              // an OSC string, collected up to BEL or ST
	stString           // a DCS, SOS, PM or APC string, skipped up to ST
	stStringEsc        // ESC inside a string: ST, or the start of a new sequence
)

const (
	maxParams = 16
	maxParam  = 1<<16 - 1 // larger parameters are clamped
	maxOSC    = 4096      // longer OSC strings are cut
)

// parser is the escape-sequence state between bytes (and Write calls).
type parser struct {
	state   pstate
	inOSC   bool // stStringEsc: the string being ended is an OSC
	params  [maxParams]int
	np      int  // stCSI: index of the parameter being collected; at dispatch, the count
	seen    bool // stCSI: a parameter byte was seen
	colon   bool // stCSI: sub-parameters (only SGR has them)
	private byte // stCSI: '<', '=', '>' or '?' before the parameters; 0 if none
	inter   byte // the intermediate byte of an ESC or CSI sequence; 0 if none
	osc     []byte
	pending []byte // the start of a UTF-8 rune cut off by the end of a Write
}

// ground consumes text and C0 controls from p[i:] until the parser leaves
// the ground state or p ends, and returns the index of the next byte.
func (s *Screen) ground(p []byte, i int) int {
	for i < len(p) {
		b := p[i]
		switch {
		case b >= 0x20 && b < 0x7f:
			j := i + 1
			for j < len(p) && p[j] >= 0x20 && p[j] < 0x7f {
				j++
			}
			s.printASCII(p[i:j])
			i = j
		case b < 0x20:
			s.execute(b)
			i++
			if s.state != stGround {
				return i
			}
		case b == 0x7f:
			i++
		default:
			if !utf8.FullRune(p[i:]) {
				s.pending = append([]byte(nil), p[i:]...) // p belongs to the caller
				return len(p)
			}
			r, size := utf8.DecodeRune(p[i:])
			s.print(r) // invalid bytes decode to U+FFFD, one at a time
			i += size
		}
	}
	return i
}

// execute performs a C0 control.
func (s *Screen) execute(b byte) {
	switch b {
	case '\b':
		s.cur.wrapNext = false
		s.cur.x = max(s.cur.x-1, 0)
	case '\t':
		s.tab(1)
	case '\n', '\v', '\f':
		s.index()
		if s.newline {
			s.cur.x = 0
		}
	case '\r':
		s.cur.x = 0
		s.cur.wrapNext = false
	case 0x0e: // SO
		s.cur.gl = 1
	case 0x0f: // SI
		s.cur.gl = 0
	case 0x18, 0x1a: // CAN, SUB: abort a sequence
		s.state = stGround
	case 0x1b:
		s.state = stEscape
		s.inter = 0
	}
}

// step consumes one byte outside the ground state. It reports false when
// the byte ended a sequence without being part of it and must be consumed
// again in the new state.
func (s *Screen) step(b byte) bool {
	switch s.state {
	case stEscape:
		switch {
		case b < 0x20:
			s.execute(b)
		case b < 0x30:
			if s.inter == 0 {
				s.inter = b
			}
		case b < 0x7f:
			s.state = stGround
			s.escDispatch(b)
		case b >= 0x80:
			s.state = stGround
			return false
		}
	case stCSI:
		switch {
		case b < 0x20:
			s.execute(b)
		case b >= '0' && b <= '9':
			if s.inter != 0 {
				s.state = stCSIIgnore
				break
			}
			s.seen = true
			s.params[s.np] = min(s.params[s.np]*10+int(b-'0'), maxParam)
		case b == ';' || b == ':':
			if s.inter != 0 {
				s.state = stCSIIgnore
				break
			}
			s.seen = true
			s.colon = s.colon || b == ':'
			if s.np < maxParams-1 {
				s.np++
			}
		case b >= 0x3c && b <= 0x3f:
			if s.seen || s.private != 0 || s.inter != 0 {
				s.state = stCSIIgnore
				break
			}
			s.private = b
		case b < 0x30:
			s.inter = b
		case b < 0x7f:
			s.state = stGround
			s.np++
			s.csiDispatch(b)
		case b >= 0x80:
			s.state = stGround
			return false
		}
	case stCSIIgnore:
		switch {
		case b < 0x20:
			s.execute(b)
		case b >= 0x40 && b < 0x7f:
			s.state = stGround
		case b >= 0x80:
			s.state = stGround
			return false
		}
	case stOSC:
		switch b {
		case 0x07:
			s.state = stGround
			s.oscDispatch()
		case 0x1b:
			s.state = stStringEsc
		case 0x18, 0x1a:
			s.state = stGround
		default:
			if b >= 0x20 && len(s.osc) < maxOSC {
				s.osc = append(s.osc, b)
			}
		}
	case stString:
		switch b {
		case 0x1b:
			s.state = stStringEsc
		case 0x18, 0x1a:
			s.state = stGround
		}
	case stStringEsc:
		if s.inOSC {
			s.oscDispatch()
		}
		if b == '\\' { // ST
			s.state = stGround
			return true
		}
		s.state = stEscape
		s.inter = 0
		return false
	}
	return true
}

// escDispatch performs ESC [inter] final.
func (s *Screen) escDispatch(final byte) {
	switch s.inter {
	case 0:
	case '(':
		s.cur.g[0] = final == '0'
		return
	case ')':
		s.cur.g[1] = final == '0'
		return
	case '#':
		if final == '8' {
			s.alignmentTest()
		}
		return
	default:
		return
	}
	switch final {
	case '[':
		s.state = stCSI
		s.params = [maxParams]int{}
		s.np, s.seen, s.colon, s.private, s.inter = 0, false, false, 0, 0
	case ']':
		s.state, s.inOSC = stOSC, true
		s.osc = s.osc[:0]
	case 'P', 'X', '^', '_': // DCS, SOS, PM, APC
		s.state, s.inOSC = stString, false
	case '7':
		s.saveCursor()
	case '8':
		s.restoreCursor()
	case 'D':
		s.index()
	case 'E':
		s.index()
		s.cur.x = 0
	case 'H':
		s.tabs[s.cur.x] = true
	case 'M':
		s.reverseIndex()
	case 'c':
		s.reset()
	}
}

// oscDispatch performs the collected OSC string: 0 and 2 set the title;
// everything else (colors, hyperlinks, cwd, the product's own markers) is
// ignored.
func (s *Screen) oscDispatch() {
	ps, rest, _ := bytes.Cut(s.osc, []byte{';'})
	switch string(ps) {
	case "0", "2":
		s.title = strings.ToValidUTF8(string(rest), "\uFFFD")
	}
	if cap(s.osc) > 256 {
		s.osc = nil // do not keep a long string's buffer
	}
}
