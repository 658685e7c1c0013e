// Package vtscreen is the terminal emulator behind console_get_screen: it is
// fed the same output bytes a session records and renders the text a person
// would see on an xterm-compatible terminal of the same size (vim, less, top,
// shells), with the cursor, the alternate screen, the window title, the
// cursor-key mode and the lines that scrolled off the top.
//
// # Why its own emulator
//
// The emulator is written here, on purpose, after trying the Go emulators
// this module proxy offers:
//   - github.com/hinshun/vt10x (last change 2022) panics on a CSI with a
//     negative count ("\x1b[-1@", "\x1b[-5P": any program's output could
//     crash the server), is 13-17 times slower than this package
//     (BenchmarkWrite: 12-23 MB/s, near the 18 MB/s a PTY delivers `seq`
//     at), keeps no scrollback and has no hook to build one, gives CJK and
//     emoji one column instead of two, ignores REP ("\x1b[5b", advertised by
//     the xterm-256color terminfo entry, so terminfo-driven programs may use
//     it) and insert mode, and reports a rune split across Write calls as a
//     short write without an error.
//   - github.com/charmbracelet/x/vt (maintained, with scrollback) is not
//     available from this module proxy (403), so it cannot be a dependency.
//   - github.com/tonistiigi/vt100 has no alternate screen and no scroll
//     region; github.com/Azure/go-ansiterm is a parser without a screen.
//
// This one follows xterm: a byte-level parser in the shape of the DEC VT500
// state machine (C0 controls, ESC, CSI, OSC, DCS/SOS/PM/APC strings), with a
// fast path for runs of printable ASCII. Rune widths come from the Unicode
// East Asian Width property (golang.org/x/text/width); combining marks stay
// with the previous cell.
//
// # Limits
//
//   - Text only: colors and attributes are parsed and dropped.
//   - Nothing is written back: device status and attribute queries (DSR,
//     DA, OSC color queries) get no answer from the emulator.
//   - No reflow on resize: rows are cut or padded, as xterm does; rows pushed
//     off the top by a shrink go to the scrollback.
//   - No left/right margins (DECLRMM), double-width lines or 8-bit C1
//     controls (their code points are dropped). Emoji presentation sequences
//     (a narrow symbol + U+FE0F) keep the symbol's narrow width.
//   - The scrollback keeps rows as text (a wrapped long line is several rows)
//     and only rows that scrolled off the top of the whole main screen.
package vtscreen

import (
	"strings"
)

// defaultScrollback is the scrollback size New uses for 0.
const defaultScrollback = 1000

// Screen is a terminal emulator: the screen contents and modes that the
// bytes fed to Write produce. It is not safe for concurrent use: its owner
// serializes calls. It holds no goroutines or files and needs no Close.
type Screen struct {
	cols, rows  int
	main, alt   buffer
	buf         *buffer // the active buffer: &main or &alt
	cur         cursor
	top, bottom int // scroll region, inclusive rows
	tabs        []bool

	autowrap   bool // DECAWM
	insert     bool // IRM
	newline    bool // LNM: LF also returns the carriage
	appCursor  bool // DECCKM
	hideCursor bool // DECTCEM reset

	title    string
	lastRune rune // the last graphic rune printed, for REP
	sb       lineRing

	parser
}

// New returns a blank screen of cols x rows cells (each at least 1; the
// caller bounds them) that
// keeps up to scrollback rows that scrolled off the top of the main screen;
// 0 means 1000, a negative value keeps none.
func New(cols, rows, scrollback int) *Screen {
	switch {
	case scrollback == 0:
		scrollback = defaultScrollback
	case scrollback < 0:
		scrollback = 0
	}
	s := &Screen{sb: lineRing{max: scrollback}}
	s.setSize(max(cols, 1), max(rows, 1))
	s.reset()
	return s
}

// Write feeds terminal output to the emulator. It never fails: bytes that do
// not form a valid sequence are dropped or shown as U+FFFD, as a terminal
// does. Sequences and UTF-8 runes may be split across calls.
func (s *Screen) Write(p []byte) (int, error) {
	n := len(p)
	if len(s.pending) > 0 {
		// The tail of the previous call was the start of a rune: finish it.
		p = append(s.pending, p...)
		s.pending = nil
	}
	for i := 0; i < len(p); {
		if s.state == stGround {
			i = s.ground(p, i)
			continue
		}
		if s.step(p[i]) {
			i++
		}
	}
	return n, nil
}

// Resize changes the screen to cols x rows cells (each at least 1). Rows are
// cut at the bottom or padded there, except that rows above the cursor move
// off the top (into the scrollback on the main screen) when the cursor would
// fall off; columns are cut or padded at the right. The scroll region is
// reset to the whole screen. The caller bounds the size (memory is about
// 8 bytes per cell).
func (s *Screen) Resize(cols, rows int) {
	cols, rows = max(cols, 1), max(rows, 1)
	if cols == s.cols && rows == s.rows {
		return
	}
	for _, b := range []*buffer{&s.main, &s.alt} {
		b.linearize()
		cy := b.saved.y
		if b == s.buf {
			cy = s.cur.y
		}
		slide := max(cy-rows+1, 0)
		if b == &s.main && s.sb.max > 0 {
			for y := range slide {
				s.sb.push(b.lines[y].text())
			}
		}
		b.lines = b.lines[slide:]
		b.saved.y = max(b.saved.y-slide, 0)
		if b == s.buf {
			s.cur.y -= slide
		}
		for y := range b.lines {
			b.lines[y].resize(cols)
		}
		for len(b.lines) < rows {
			b.lines = append(b.lines, newLine(cols))
		}
		b.lines = b.lines[:rows]
		b.saved.clamp(cols, rows)
	}
	old := s.tabs
	s.setSize(cols, rows)
	copy(s.tabs, old)
	s.cur.clamp(cols, rows)
	s.cur.wrapNext = false
}

// Reset returns the screen to its state from New, of the same size: blank,
// no scrollback, no title, default modes.
func (s *Screen) Reset() {
	s.sb.clear()
	s.title = ""
	s.parser = parser{}
	s.reset()
}

// Snapshot is what a terminal shows at one moment.
type Snapshot struct {
	// Lines has one entry per row, top first, with trailing blanks trimmed.
	// A wide rune takes two columns and appears once.
	Lines []string
	// Scrollback holds the rows that scrolled off the top of the main
	// screen, oldest first (at most the number asked for). It is empty while
	// the alternate screen is shown.
	Scrollback []string
	Cols, Rows int
	// CursorRow and CursorCol are 0-based and always within the screen.
	CursorRow, CursorCol int
	CursorVisible        bool
	// AltScreen reports that the alternate screen (vim, less, top) is shown.
	AltScreen bool
	// Title is the window title set by OSC 0 or OSC 2.
	Title string
	// AppCursor reports DECCKM: arrow keys are sent as ESC O A, not ESC [ A.
	AppCursor bool
}

// Snapshot returns the current screen and up to scrollbackLines rows of
// scrollback (the most recent ones). The result shares nothing with s.
func (s *Screen) Snapshot(scrollbackLines int) Snapshot {
	snap := Snapshot{
		Lines:         s.lines(),
		Cols:          s.cols,
		Rows:          s.rows,
		CursorRow:     s.cur.y,
		CursorCol:     s.cur.x,
		CursorVisible: !s.hideCursor,
		AltScreen:     s.buf == &s.alt,
		Title:         s.title,
		AppCursor:     s.appCursor,
	}
	if !snap.AltScreen {
		snap.Scrollback = s.sb.last(scrollbackLines)
	}
	return snap
}

// Text returns the screen's rows joined with "\n", without the empty rows at
// the bottom.
func (s *Screen) Text() string {
	lines := s.lines()
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return strings.Join(lines, "\n")
}

func (s *Screen) lines() []string {
	out := make([]string, s.rows)
	for y := range out {
		out[y] = s.buf.row(y).text()
	}
	return out
}

// setSize sets the dimensions, the default tab stops and the full-screen
// scroll region. The buffers are sized by the caller.
func (s *Screen) setSize(cols, rows int) {
	s.cols, s.rows = cols, rows
	s.tabs = make([]bool, cols)
	for x := 8; x < cols; x += 8 {
		s.tabs[x] = true
	}
	s.top, s.bottom = 0, rows-1
}

// reset is RIS: blank buffers, main screen, default modes and tab stops,
// cursor home. The scrollback and the title are kept.
func (s *Screen) reset() {
	s.main = newBuffer(s.cols, s.rows)
	s.alt = newBuffer(s.cols, s.rows)
	s.buf = &s.main
	s.cur = cursor{}
	s.setSize(s.cols, s.rows)
	s.autowrap = true
	s.insert, s.newline, s.appCursor, s.hideCursor = false, false, false, false
	s.lastRune = 0
}
