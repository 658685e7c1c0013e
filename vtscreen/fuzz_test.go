package vtscreen

import (
	"reflect"
	"testing"
)

// FuzzWrite feeds arbitrary bytes, whole and cut in two at split, to screens
// of a fuzzed size: no panic, the same screen both ways, a consistent
// snapshot, and again after a resize. The seed corpus in
// testdata/fuzz/FuzzWrite holds output of vim, less, top and bash.
func FuzzWrite(f *testing.F) {
	for _, tt := range renderTests {
		f.Add([]byte(tt.in), uint16(len(tt.in)/2), uint8(tt.cols), uint8(tt.rows))
	}
	f.Fuzz(func(t *testing.T, data []byte, split uint16, cols, rows uint8) {
		c, r := int(cols)%132+1, int(rows)%60+1
		whole := New(c, r, 64)
		_, _ = whole.Write(data) // never fails
		checkSnapshot(t, whole.Snapshot(100), c, r)
		checkCells(t, whole)

		k := int(split) % (len(data) + 1)
		cut := New(c, r, 64)
		_, _ = cut.Write(data[:k]) // never fails
		_, _ = cut.Write(data[k:]) // never fails
		if got, want := cut.Snapshot(100), whole.Snapshot(100); !reflect.DeepEqual(got, want) {
			t.Fatalf("cut at %d:\n got %+v\nwant %+v", k, got, want)
		}

		whole.Resize(r, c)
		checkSnapshot(t, whole.Snapshot(100), r, c)
		checkCells(t, whole)
		_, _ = whole.Write(data) // never fails
		checkSnapshot(t, whole.Snapshot(100), r, c)
		checkCells(t, whole)
	})
}

// checkCells checks the invariants of both screens' cells: wide runes are
// whole pairs, and nothing is written at or after a row's used mark.
func checkCells(t *testing.T, s *Screen) {
	t.Helper()
	for _, b := range []*buffer{&s.main, &s.alt} {
		if len(b.lines) != s.rows {
			t.Fatalf("%d lines, %d rows", len(b.lines), s.rows)
		}
		for y, l := range b.lines {
			if len(l.cells) != s.cols || l.used < 0 || l.used > s.cols {
				t.Fatalf("row %d: %d cells, used %d, %d columns", y, len(l.cells), l.used, s.cols)
			}
			for x, c := range l.cells {
				head := c > 0 && runeWidth(c) == 2
				tail := x+1 < len(l.cells) && l.cells[x+1] == wideTail
				if head != tail {
					t.Fatalf("row %d col %d: wide rune %q without its right half, or a right half without it: %q", y, x, c, l.cells)
				}
				if x == 0 && c == wideTail {
					t.Fatalf("row %d starts with the right half of a wide rune", y)
				}
				if x >= l.used && c != 0 {
					t.Fatalf("row %d col %d: %q past used %d", y, x, c, l.used)
				}
			}
			for x := range l.comb {
				if x < 0 || x >= l.used {
					t.Fatalf("row %d: marks at %d, used %d", y, x, l.used)
				}
			}
		}
	}
}

func checkSnapshot(t *testing.T, s Snapshot, cols, rows int) {
	t.Helper()
	if s.Cols != cols || s.Rows != rows || len(s.Lines) != rows {
		t.Fatalf("size %dx%d with %d lines, want %dx%d", s.Cols, s.Rows, len(s.Lines), cols, rows)
	}
	if s.CursorRow < 0 || s.CursorRow >= rows || s.CursorCol < 0 || s.CursorCol >= cols {
		t.Fatalf("cursor %d,%d outside %dx%d", s.CursorRow, s.CursorCol, cols, rows)
	}
	if len(s.Scrollback) > 64 || (s.AltScreen && len(s.Scrollback) > 0) {
		t.Fatalf("%d scrollback rows (alt screen %v)", len(s.Scrollback), s.AltScreen)
	}
	for y, l := range s.Lines {
		w := 0
		for _, r := range l {
			w += runeWidth(r)
		}
		if w > cols {
			t.Fatalf("row %d %q is %d columns wide, screen %d", y, l, w, cols)
		}
	}
}
