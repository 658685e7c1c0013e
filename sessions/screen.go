package sessions

import "github.com/console-mcp/console-mcp/vtscreen"

// The screen is rendered on demand: a VT emulator per session is fed the
// stream from where it left off when someone asks for the screen, so
// output capture never pays for emulation. An emulator that fell further
// behind than the ring (or a new one) starts over from the last
// screenCatchUp bytes: full-screen programs redraw far more often.

// screenCatchUp is how much recent output a fresh emulator replays.
const screenCatchUp = 1 << 20

type screenState struct {
	vt         *vtscreen.Screen
	fed        int64 // output offset fed so far
	cols, rows int
}

// Screen renders the terminal as a person would see it now.
func (s *Session) Screen(scrollback int) vtscreen.Snapshot {
	s.screenMu.Lock()
	defer s.screenMu.Unlock()
	s.mu.Lock()
	cols, rows, start, end := s.spec.Cols, s.spec.Rows, s.out.Start(), s.out.End()
	s.mu.Unlock()

	st := s.screen
	if st == nil {
		st = &screenState{vt: vtscreen.New(cols, rows, 0), cols: cols, rows: rows}
		st.fed = max(0, end-screenCatchUp)
		s.screen = st
	}
	if st.fed < start && s.m.store == nil || end-st.fed > screenCatchUp {
		st.vt.Reset()
		st.fed = max(start, end-screenCatchUp)
	}
	if st.cols != cols || st.rows != rows {
		st.vt.Resize(cols, rows)
		st.cols, st.rows = cols, rows
	}
	for st.fed < end {
		data, from, _ := s.readRaw(st.fed, int(min(end-st.fed, 256<<10)))
		if len(data) == 0 {
			break
		}
		_, _ = st.vt.Write(data) // never fails
		st.fed = from + int64(len(data))
	}
	return st.vt.Snapshot(scrollback)
}

// AppCursor reports whether the program asked for application cursor keys
// (DECCKM), so arrow keys are encoded as it expects.
func (s *Session) AppCursor() bool {
	return s.Screen(0).AppCursor
}
