package vtscreen

// index is LF/IND: down one row, scrolling at the bottom of the region.
func (s *Screen) index() {
	s.cur.wrapNext = false
	switch {
	case s.cur.y == s.bottom:
		s.scrollUp(s.top, s.bottom, 1, true)
	case s.cur.y < s.rows-1:
		s.cur.y++
	}
}

// reverseIndex is RI: up one row, scrolling at the top of the region.
func (s *Screen) reverseIndex() {
	s.cur.wrapNext = false
	switch {
	case s.cur.y == s.top:
		s.scrollDown(s.top, s.bottom, 1)
	case s.cur.y > 0:
		s.cur.y--
	}
}

// moveTo moves the cursor to column x and row y (screen coordinates),
// confined to the scroll region in origin mode.
func (s *Screen) moveTo(x, y int) {
	top, bottom := 0, s.rows-1
	if s.cur.origin {
		top, bottom = s.top, s.bottom
	}
	s.cur.x = min(max(x, 0), s.cols-1)
	s.cur.y = min(max(y, top), bottom)
	s.cur.wrapNext = false
}

// moveAbs is CUP: row and column are 0-based, relative to the scroll
// region in origin mode.
func (s *Screen) moveAbs(x, y int) {
	if s.cur.origin {
		y += s.top
	}
	s.moveTo(x, y)
}

// wrap moves to the start of the next row, as autowrap does.
func (s *Screen) wrap() {
	s.index()
	s.cur.x = 0
}

// printASCII writes a run of printable ASCII bytes at the cursor.
func (s *Screen) printASCII(run []byte) {
	if s.insert || s.cur.g[s.cur.gl] {
		for _, b := range run {
			s.print(rune(b))
		}
		return
	}
	s.lastRune = rune(run[len(run)-1])
	for len(run) > 0 {
		if s.cur.wrapNext {
			s.cur.wrapNext = false
			if s.autowrap {
				s.wrap()
			} else {
				// Without autowrap the last column is overwritten.
				run = run[len(run)-1:]
			}
		}
		l := s.buf.row(s.cur.y)
		x := s.cur.x
		n := min(len(run), s.cols-x)
		if l.cells[x] == wideTail && x > 0 {
			l.cells[x-1] = 0
		}
		if x+n < s.cols && l.cells[x+n] == wideTail {
			l.cells[x+n] = 0
		}
		cells := l.cells[x : x+n]
		for i, b := range run[:n] {
			cells[i] = rune(b)
		}
		l.dropComb(x, x+n)
		l.used = max(l.used, x+n)
		run = run[n:]
		if x+n == s.cols {
			s.cur.x = s.cols - 1
			s.cur.wrapNext = true
		} else {
			s.cur.x = x + n
		}
	}
}

// print writes one graphic rune at the cursor, wrapping, inserting and
// translating line-drawing characters as the modes say.
func (s *Screen) print(r rune) {
	if r >= 0x80 && r < 0xa0 {
		return // 8-bit C1 controls are not interpreted
	}
	if s.cur.g[s.cur.gl] && r >= 0x5f && r <= 0x7e {
		r = decGraphics[r-0x5f]
	}
	w := runeWidth(r)
	if w == 0 {
		s.combine(r)
		return
	}
	if w == 2 && s.cols < 2 {
		return // cannot be shown
	}
	if s.cur.wrapNext {
		s.cur.wrapNext = false
		if s.autowrap {
			s.wrap()
		}
	}
	l := s.buf.row(s.cur.y)
	if w == 2 && s.cur.x == s.cols-1 {
		if s.autowrap {
			s.wrap() // as xterm: the last column keeps what it had
			l = s.buf.row(s.cur.y)
		} else {
			s.cur.x--
		}
	}
	if s.insert {
		l.insert(s.cur.x, w)
	}
	l.put(s.cur.x, r, w)
	s.lastRune = r
	if s.cur.x+w >= s.cols {
		s.cur.x = s.cols - 1
		s.cur.wrapNext = true
	} else {
		s.cur.x += w
	}
}

// combine attaches a zero-width rune to the cell last written.
func (s *Screen) combine(r rune) {
	x := s.cur.x
	if !s.cur.wrapNext {
		x--
	}
	if x < 0 {
		return
	}
	l := s.buf.row(s.cur.y)
	if l.cells[x] == wideTail && x > 0 {
		x--
	}
	l.combine(x, r)
}
