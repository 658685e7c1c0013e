package vtscreen

import (
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Cells hold runes. A blank cell is 0 and renders as a space; the right half
// of a wide rune is wideTail. Every editing operation keeps the pairs whole:
// overwriting or erasing either half of a wide rune blanks the other half.
const wideTail rune = -1

// maxComb bounds the combining marks kept for one cell (bytes of UTF-8).
const maxComb = 32

// line is one row of cells.
type line struct {
	cells []rune
	comb  map[int]string // combining marks following the rune at a column; nil when none
	// used bounds the written part: the cells from used on are blank and
	// have no marks. It may be larger than needed, never smaller.
	used int
}

func newLine(cols int) line { return line{cells: make([]rune, cols)} }

// text renders the row with trailing blanks trimmed.
func (l *line) text() string {
	end := l.used
	for end > 0 && (l.cells[end-1] == 0 || l.cells[end-1] == ' ') && (l.comb == nil || l.comb[end-1] == "") {
		end--
	}
	var b strings.Builder
	b.Grow(end)
	for x, c := range l.cells[:end] {
		switch {
		case c > 0 && c < utf8.RuneSelf:
			b.WriteByte(byte(c))
		case c == 0:
			b.WriteByte(' ')
		case c == wideTail:
			if x > 0 && l.cells[x-1] > 0 && runeWidth(l.cells[x-1]) == 2 {
				continue // the wide rune on its left covers this column
			}
			b.WriteByte(' ')
		default:
			b.WriteRune(c)
		}
		if l.comb != nil {
			b.WriteString(l.comb[x])
		}
	}
	return b.String()
}

// erase blanks the cells [x0, x1).
func (l *line) erase(x0, x1 int) {
	if x0 >= x1 {
		return
	}
	if l.cells[x0] == wideTail && x0 > 0 {
		l.cells[x0-1] = 0
	}
	if x1 < len(l.cells) && l.cells[x1] == wideTail {
		l.cells[x1] = 0
	}
	clear(l.cells[x0:x1])
	l.dropComb(x0, x1)
	if x1 >= l.used {
		l.used = min(l.used, x0)
	}
}

// clear blanks the whole row.
func (l *line) clear() {
	clear(l.cells[:l.used])
	l.comb = nil
	l.used = 0
}

// put writes r at x, w (1 or 2) columns wide; x+w <= len(cells).
func (l *line) put(x int, r rune, w int) {
	if l.cells[x] == wideTail && x > 0 {
		l.cells[x-1] = 0
	}
	end := x + w
	if end < len(l.cells) && l.cells[end] == wideTail {
		l.cells[end] = 0
	}
	l.cells[x] = r
	if w == 2 {
		l.cells[x+1] = wideTail
	}
	l.dropComb(x, end)
	l.used = max(l.used, end)
}

// insert shifts the cells from x right by n, blanking [x, x+n); cells
// shifted past the right edge are lost.
func (l *line) insert(x, n int) {
	cols := len(l.cells)
	n = min(n, cols-x)
	if n <= 0 {
		return
	}
	if l.cells[x] == wideTail && x > 0 {
		l.cells[x-1], l.cells[x] = 0, 0
	}
	if l.cells[cols-n] == wideTail && cols-n-1 >= x {
		l.cells[cols-n-1] = 0 // its right half is about to be lost
	}
	copy(l.cells[x+n:], l.cells[x:cols-n])
	clear(l.cells[x : x+n])
	l.shiftComb(x, n)
	if l.used > x {
		l.used = min(l.used+n, cols)
	}
}

// delete removes the cells [x, x+n), shifting the rest left and blanking
// the right end.
func (l *line) delete(x, n int) {
	cols := len(l.cells)
	n = min(n, cols-x)
	if n <= 0 {
		return
	}
	if l.cells[x] == wideTail && x > 0 {
		l.cells[x-1] = 0
	}
	if x+n < cols && l.cells[x+n] == wideTail {
		l.cells[x+n] = 0 // its left half is deleted
	}
	l.dropComb(x, x+n)
	copy(l.cells[x:], l.cells[x+n:])
	clear(l.cells[cols-n:])
	l.shiftComb(x+n, -n)
}

// resize cuts or pads the row to cols cells.
func (l *line) resize(cols int) {
	old := len(l.cells)
	switch {
	case cols < old:
		if l.cells[cols] == wideTail {
			l.cells[cols-1] = 0
		}
		l.dropComb(cols, old)
		l.cells = l.cells[:cols:cols]
		l.used = min(l.used, cols)
	case cols > old:
		cells := make([]rune, cols)
		copy(cells, l.cells)
		l.cells = cells
	}
}

// combine appends the zero-width rune r to the marks of the cell at x.
func (l *line) combine(x int, r rune) {
	if l.comb == nil {
		l.comb = make(map[int]string)
	}
	if len(l.comb[x])+utf8.RuneLen(r) <= maxComb {
		l.comb[x] += string(r)
	}
	l.used = max(l.used, x+1)
}

func (l *line) dropComb(x0, x1 int) {
	if len(l.comb) == 0 {
		return
	}
	for x := range l.comb {
		if x >= x0 && x < x1 {
			delete(l.comb, x)
		}
	}
}

// shiftComb moves the marks of the columns from x on by delta columns,
// dropping those that leave the row.
func (l *line) shiftComb(x, delta int) {
	if len(l.comb) == 0 {
		return
	}
	old := maps.Clone(l.comb)
	clear(l.comb)
	for c, m := range old {
		if c >= x {
			c += delta
		}
		if c >= 0 && c < len(l.cells) {
			l.comb[c] = m
		}
	}
}

// cursor is the cursor position and the state DECSC saves with it.
type cursor struct {
	x, y     int
	wrapNext bool // the last column was written; the next rune wraps first
	origin   bool // DECOM: rows count from the scroll region's top
	g        [2]bool
	gl       int // the charset in use (0 or 1); g[i] reports DEC line drawing
}

func (c *cursor) clamp(cols, rows int) {
	c.x = min(max(c.x, 0), cols-1)
	c.y = min(max(c.y, 0), rows-1)
}

// buffer is one of the two screens with its saved cursor. Its rows are a
// ring, so that scrolling the whole screen moves no rows: row y is
// lines[(off+y) % len(lines)].
type buffer struct {
	lines []line
	off   int
	saved cursor
}

func (b *buffer) row(y int) *line {
	i := b.off + y
	if i >= len(b.lines) {
		i -= len(b.lines)
	}
	return &b.lines[i]
}

// linearize makes row y lines[y].
func (b *buffer) linearize() {
	if b.off != 0 {
		b.lines = slices.Concat(b.lines[b.off:], b.lines[:b.off])
		b.off = 0
	}
}

func newBuffer(cols, rows int) buffer {
	b := buffer{lines: make([]line, rows)}
	for y := range b.lines {
		b.lines[y] = newLine(cols)
	}
	return b
}

// scrollUp moves the rows [top, bottom] up by n, blanking n rows at the
// bottom. Rows leaving the top of the whole main screen go to the
// scrollback when save is set.
func (s *Screen) scrollUp(top, bottom, n int, save bool) {
	n = min(n, bottom-top+1)
	if n <= 0 {
		return
	}
	b := s.buf
	if save && top == 0 && b == &s.main && s.sb.max > 0 {
		for y := range n {
			s.sb.push(b.row(y).text())
		}
	}
	if top == 0 && bottom == s.rows-1 {
		b.off = (b.off + n) % s.rows
	} else {
		for y := top; y <= bottom-n; y++ {
			l, m := b.row(y), b.row(y+n)
			*l, *m = *m, *l
		}
	}
	for y := bottom - n + 1; y <= bottom; y++ {
		b.row(y).clear()
	}
}

// scrollDown moves the rows [top, bottom] down by n, blanking n rows at the
// top.
func (s *Screen) scrollDown(top, bottom, n int) {
	n = min(n, bottom-top+1)
	if n <= 0 {
		return
	}
	b := s.buf
	if top == 0 && bottom == s.rows-1 {
		b.off = (b.off - n + s.rows) % s.rows
	} else {
		for y := bottom; y >= top+n; y-- {
			l, m := b.row(y), b.row(y-n)
			*l, *m = *m, *l
		}
	}
	for y := top; y < top+n; y++ {
		b.row(y).clear()
	}
}
