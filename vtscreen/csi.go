package vtscreen

// arg returns CSI parameter i, or def when it is absent or 0.
func (s *Screen) arg(i, def int) int {
	if i < s.np && s.params[i] != 0 {
		return s.params[i]
	}
	return def
}

// csiDispatch performs CSI [private] params [inter] final. Sequences that
// only change colors, attributes or other terminal settings the snapshot
// does not show (SGR, cursor style, window operations, keyboard modes) and
// queries (DSR, DA) are ignored.
func (s *Screen) csiDispatch(final byte) {
	if s.colon {
		return // sub-parameters: SGR colors, nothing to render
	}
	switch {
	case s.private == '?' && s.inter == 0:
		switch final {
		case 'h':
			s.setDECModes(true)
		case 'l':
			s.setDECModes(false)
		case 'J': // DECSED
			s.eraseDisplay(s.arg(0, 0))
		case 'K': // DECSEL
			s.eraseLine(s.arg(0, 0))
		}
		return
	case s.private != 0:
		return
	case s.inter == '!' && final == 'p':
		s.softReset()
		return
	case s.inter != 0:
		return
	}
	n := s.arg(0, 1)
	l := s.buf.row(s.cur.y)
	switch final {
	case '@': // ICH
		s.cur.wrapNext = false
		l.insert(s.cur.x, n)
	case 'A': // CUU
		s.cursorUp(n)
	case 'B', 'e': // CUD, VPR
		s.cursorDown(n)
	case 'C', 'a': // CUF, HPR
		s.moveTo(s.cur.x+n, s.cur.y)
	case 'D': // CUB
		s.moveTo(s.cur.x-n, s.cur.y)
	case 'E': // CNL
		s.cursorDown(n)
		s.cur.x = 0
	case 'F': // CPL
		s.cursorUp(n)
		s.cur.x = 0
	case 'G', '`': // CHA, HPA
		s.moveTo(n-1, s.cur.y)
	case 'H', 'f': // CUP, HVP
		s.moveAbs(s.arg(1, 1)-1, n-1)
	case 'I': // CHT
		s.tab(n)
	case 'Z': // CBT
		s.tab(-n)
	case 'J': // ED
		s.eraseDisplay(s.arg(0, 0))
	case 'K': // EL
		s.eraseLine(s.arg(0, 0))
	case 'L': // IL
		if s.cur.y >= s.top && s.cur.y <= s.bottom {
			s.scrollDown(s.cur.y, s.bottom, n)
			s.cur.x, s.cur.wrapNext = 0, false
		}
	case 'M': // DL
		if s.cur.y >= s.top && s.cur.y <= s.bottom {
			s.scrollUp(s.cur.y, s.bottom, n, false)
			s.cur.x, s.cur.wrapNext = 0, false
		}
	case 'P': // DCH
		s.cur.wrapNext = false
		l.delete(s.cur.x, n)
	case 'S': // SU
		if s.np <= 1 {
			s.scrollUp(s.top, s.bottom, n, true)
		}
	case 'T': // SD; with more parameters it is mouse tracking
		if s.np <= 1 {
			s.scrollDown(s.top, s.bottom, n)
		}
	case 'X': // ECH
		s.cur.wrapNext = false
		l.erase(s.cur.x, min(s.cur.x+n, s.cols))
	case 'b': // REP
		s.repeat(n)
	case 'd': // VPA
		s.moveAbs(s.cur.x, n-1)
	case 'g': // TBC
		switch s.arg(0, 0) {
		case 0:
			s.tabs[s.cur.x] = false
		case 3:
			clear(s.tabs)
		}
	case 'h': // SM
		s.setANSIModes(true)
	case 'l': // RM
		s.setANSIModes(false)
	case 'r': // DECSTBM
		top, bottom := s.arg(0, 1)-1, min(s.arg(1, s.rows), s.rows)-1
		if top < bottom {
			s.top, s.bottom = top, bottom
			s.moveAbs(0, 0)
		}
	case 's': // SCOSC
		s.saveCursor()
	case 'u': // SCORC
		s.restoreCursor()
	}
}

func (s *Screen) cursorUp(n int) {
	top := 0
	if s.cur.y >= s.top {
		top = s.top
	}
	s.cur.y = max(s.cur.y-n, top)
	s.cur.wrapNext = false
}

func (s *Screen) cursorDown(n int) {
	bottom := s.rows - 1
	if s.cur.y <= s.bottom {
		bottom = s.bottom
	}
	s.cur.y = min(s.cur.y+n, bottom)
	s.cur.wrapNext = false
}

// tab moves n tab stops forward, or -n backward.
func (s *Screen) tab(n int) {
	s.cur.wrapNext = false
	for ; n > 0 && s.cur.x < s.cols-1; n-- {
		s.cur.x++
		for s.cur.x < s.cols-1 && !s.tabs[s.cur.x] {
			s.cur.x++
		}
	}
	for ; n < 0 && s.cur.x > 0; n++ {
		s.cur.x--
		for s.cur.x > 0 && !s.tabs[s.cur.x] {
			s.cur.x--
		}
	}
}

// eraseDisplay is ED: 0 from the cursor to the end, 1 from the start to the
// cursor, 2 all, 3 the scrollback.
func (s *Screen) eraseDisplay(mode int) {
	switch mode {
	case 0:
		s.eraseLine(0)
		for y := s.cur.y + 1; y < s.rows; y++ {
			s.buf.row(y).clear()
		}
	case 1:
		for y := range s.cur.y {
			s.buf.row(y).clear()
		}
		s.eraseLine(1)
	case 2:
		for y := range s.buf.lines {
			s.buf.lines[y].clear()
		}
	case 3:
		s.sb.clear()
	}
}

// eraseLine is EL: 0 from the cursor to the end, 1 from the start to the
// cursor, 2 all.
func (s *Screen) eraseLine(mode int) {
	l := s.buf.row(s.cur.y)
	switch mode {
	case 0:
		l.erase(s.cur.x, s.cols)
	case 1:
		l.erase(0, s.cur.x+1)
	case 2:
		l.clear()
	}
	s.cur.wrapNext = false
}

// repeat is REP: print the last graphic rune n more times.
func (s *Screen) repeat(n int) {
	if s.lastRune == 0 {
		return
	}
	for range min(n, s.cols*s.rows) {
		s.print(s.lastRune)
	}
}

func (s *Screen) setANSIModes(set bool) {
	for _, m := range s.params[:s.np] {
		switch m {
		case 4: // IRM
			s.insert = set
		case 20: // LNM
			s.newline = set
		}
	}
}

func (s *Screen) setDECModes(set bool) {
	for _, m := range s.params[:s.np] {
		switch m {
		case 1: // DECCKM
			s.appCursor = set
		case 6: // DECOM
			s.cur.origin = set
			s.moveAbs(0, 0)
		case 7: // DECAWM
			s.autowrap = set
		case 25: // DECTCEM
			s.hideCursor = !set
		case 47: // the alternate screen, as it is
			s.useAlt(set)
		case 1047: // the alternate screen, cleared when left
			if !set && s.buf == &s.alt {
				s.eraseDisplay(2)
			}
			s.useAlt(set)
		case 1048:
			if set {
				s.saveCursor()
			} else {
				s.restoreCursor()
			}
		case 1049: // 1048 + 1047, cleared when entered
			switch {
			case set && s.buf == &s.main:
				s.saveCursor()
				s.useAlt(true)
				s.eraseDisplay(2)
			case !set && s.buf == &s.alt:
				s.useAlt(false)
				s.restoreCursor()
			}
		}
	}
}

func (s *Screen) useAlt(alt bool) {
	if alt {
		s.buf = &s.alt
	} else {
		s.buf = &s.main
	}
	s.cur.wrapNext = false
}

// saveCursor is DECSC; each screen has its own saved cursor.
func (s *Screen) saveCursor() { s.buf.saved = s.cur }

// restoreCursor is DECRC: the saved cursor, or home with default charsets
// when none was saved.
func (s *Screen) restoreCursor() {
	s.cur = s.buf.saved
	s.cur.clamp(s.cols, s.rows)
	s.cur.wrapNext = false
}

// softReset is DECSTR.
func (s *Screen) softReset() {
	s.hideCursor, s.insert, s.appCursor, s.autowrap = false, false, false, true
	s.cur.origin, s.cur.g, s.cur.gl = false, [2]bool{}, 0
	s.top, s.bottom = 0, s.rows-1
	s.main.saved, s.alt.saved = cursor{}, cursor{}
}

// alignmentTest is DECALN: the screen filled with 'E', the cursor home.
func (s *Screen) alignmentTest() {
	for y := range s.buf.lines {
		l := &s.buf.lines[y]
		l.clear()
		for x := range l.cells {
			l.cells[x] = 'E'
		}
		l.used = len(l.cells)
	}
	s.top, s.bottom = 0, s.rows-1
	s.cur.origin = false
	s.moveTo(0, 0)
}
