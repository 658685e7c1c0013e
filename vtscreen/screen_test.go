package vtscreen

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// rowsOf pads want to rows entries with empty rows.
func rowsOf(rows int, want ...string) []string {
	out := make([]string, rows)
	copy(out, want)
	return out
}

var renderTests = []struct {
	name       string
	cols, rows int
	in         string
	want       []string // the first rows; the rest must be empty
	row, col   int      // the cursor
}{
	{"text", 10, 3, "ab\r\ncd", []string{"ab", "cd"}, 1, 2},
	{"lf keeps the column", 10, 3, "ab\ncd", []string{"ab", "  cd"}, 1, 4},
	{"unknown osc bel", 10, 2, "a\x1b]6973;S;abc\x07b", []string{"ab"}, 0, 2},
	{"unknown osc st", 10, 2, "a\x1b]6973;E;0;/tmp\x1b\\b", []string{"ab"}, 0, 2},
	{"osc ended by another escape", 10, 2, "\x1b]7;file://h/tmp\x1b[1mX", []string{"X"}, 0, 1},
	{"sgr", 20, 2, "\x1b[1;31mred\x1b[0m \x1b[38;5;208mx\x1b[38:2::1:2:3my\x1b[m", []string{"red xy"}, 0, 6},
	{"private and intermediate csi", 10, 2, "\x1b[>4;2m\x1b[?2004h\x1b[2 q\x1b[>1u\x1b[6n\x1b[cok", []string{"ok"}, 0, 2},
	{"can aborts", 10, 2, "\x1b[12\x18x", []string{"x"}, 0, 1},
	{"dcs and apc swallowed", 10, 2, "\x1bPq#0;2;0;0;0\x1b\\o\x1b_hidden\x1b\\k", []string{"ok"}, 0, 2},
	{"invalid utf8", 10, 2, "a\xffb", []string{"a\uFFFDb"}, 0, 3},
	{"c1 dropped", 10, 2, "a\u009bb", []string{"ab"}, 0, 2},
	{"del ignored", 10, 2, "a\x7fb", []string{"ab"}, 0, 2},
	{"wide", 10, 2, "漢字ab", []string{"漢字ab"}, 0, 6},
	{"emoji wide", 10, 2, "😀x", []string{"😀x"}, 0, 3},
	{"wide wraps at the last column", 5, 3, "abcd漢", []string{"abcd", "漢"}, 1, 2},
	{"overwrite right half of wide", 10, 2, "漢字\x1b[1;2HX", []string{" X字"}, 0, 2},
	{"overwrite left half of wide", 10, 2, "漢字\x1b[1;3HX", []string{"漢X"}, 0, 3},
	{"erase half of wide", 10, 2, "漢字\x1b[1;2H\x1b[1X", []string{"  字"}, 0, 1},
	{"combining", 10, 2, "e\u0301x", []string{"e\u0301x"}, 0, 2},
	{"rep", 10, 2, "a\x1b[4b", []string{"aaaaa"}, 0, 5},
	{"rep is bounded by the screen", 4, 2, "a\x1b[65535b", []string{"aaaa", "a"}, 1, 1},
	{"ich", 10, 2, "abcdef\x1b[1;3H\x1b[2@", []string{"ab  cdef"}, 0, 2},
	{"ich pushes off the edge", 6, 2, "abcdef\x1b[1;3H\x1b[2@", []string{"ab  cd"}, 0, 2},
	{"ich cuts a wide rune at the edge", 6, 2, "abcd漢\x1b[1;1H\x1b[1@", []string{" abcd"}, 0, 0},
	{"dch", 10, 2, "abcdef\x1b[1;3H\x1b[2P", []string{"abef"}, 0, 2},
	{"dch huge", 10, 2, "abcdef\x1b[1;3H\x1b[99999999999P", []string{"ab"}, 0, 2},
	{"irm", 10, 2, "abcdef\x1b[1;3H\x1b[4hXY\x1b[4l", []string{"abXYcdef"}, 0, 4},
	{"ech", 10, 2, "abcdef\x1b[1;2H\x1b[3X", []string{"a   ef"}, 0, 1},
	{"el right", 10, 2, "abcdef\x1b[1;3H\x1b[K", []string{"ab"}, 0, 2},
	{"el left", 10, 2, "abcdef\x1b[1;3H\x1b[1K", []string{"   def"}, 0, 2},
	{"el all", 10, 2, "abcdef\x1b[1;3H\x1b[2K", []string{""}, 0, 2},
	{"ed below", 10, 3, "aaa\r\nbbb\r\nccc\x1b[2;2H\x1b[J", []string{"aaa", "b"}, 1, 1},
	{"ed above", 10, 3, "aaa\r\nbbb\r\nccc\x1b[2;2H\x1b[1J", []string{"", "  b", "ccc"}, 1, 1},
	{"ed all", 10, 3, "aaa\r\nbbb\x1b[2J", []string{}, 1, 3},
	{"cursor moves", 10, 5, "\x1b[3;4Hx\x1b[2Ay\x1b[3Bz\x1b[5Dw\x1b[2Cv\x1b[Gu\x1b[2dt", []string{"    y", " t", "   x", "uw  vz"}, 1, 2},
	{"cup clamps", 5, 3, "\x1b[99;99Hx\x1b[0;0Hy", []string{"y", "", "    x"}, 0, 1},
	{"autowrap", 5, 3, "abcdefg", []string{"abcde", "fg"}, 1, 2},
	{"no autowrap", 5, 3, "\x1b[?7labcdefg", []string{"abcdg"}, 0, 4},
	{"pending wrap then crlf", 5, 3, "abcde\r\nx", []string{"abcde", "x"}, 1, 1},
	{"scroll", 5, 3, "1\r\n2\r\n3\r\n4", []string{"2", "3", "4"}, 2, 1},
	{"scroll region", 5, 5, "1\r\n2\r\n3\r\n4\r\n5\x1b[2;4r\x1b[4;1H\n", []string{"1", "3", "4", "", "5"}, 3, 0},
	{"region after whole-screen scrolls", 5, 4, "1\r\n2\r\n3\r\n4\r\n5\r\n6\x1b[2;3r\x1b[2;1H\x1b[L", []string{"3", "", "4", "6"}, 1, 0},
	{"reverse index after whole-screen scrolls", 5, 3, "1\r\n2\r\n3\r\n4\x1b[H\x1bMx", []string{"x", "2", "3"}, 0, 1},
	{"reverse index at top", 5, 3, "1\r\n2\r\n3\x1b[H\x1bM", []string{"", "1", "2"}, 0, 0},
	{"il", 5, 4, "1\r\n2\r\n3\r\n4\x1b[2;2H\x1b[L", []string{"1", "", "2", "3"}, 1, 0},
	{"dl", 5, 4, "1\r\n2\r\n3\r\n4\x1b[2;2H\x1b[2M", []string{"1", "4"}, 1, 0},
	{"dl in region", 5, 4, "1\r\n2\r\n3\r\n4\x1b[1;3r\x1b[1;1H\x1b[M", []string{"2", "3", "", "4"}, 0, 0},
	{"su sd", 5, 4, "1\r\n2\r\n3\r\n4\x1b[S\x1b[2T", []string{"", "", "2", "3"}, 3, 1},
	{"origin mode", 5, 5, "\x1b[2;4r\x1b[?6h\x1b[1;1HX\x1b[9;1HY", []string{"", "X", "", "Y"}, 3, 1},
	{"tabs", 20, 2, "a\tb\x1b[1;4H\x1bH\r\tc\x1b[3g\r\td", []string{"a  c    b          d"}, 0, 19},
	{"back tab", 20, 2, "\x1b[1;12H\x1b[Zx", []string{"        x"}, 0, 9},
	{"line drawing", 10, 2, "\x1b(0lqqk\x1b(Bq", []string{"┌──┐q"}, 0, 5},
	{"line drawing with shift out", 10, 2, "\x1b)0a\x0eq\x0fq", []string{"a─q"}, 0, 3},
	{"save restore cursor", 10, 3, "ab\x1b7\r\ncd\x1b8ef", []string{"abef", "cd"}, 0, 4},
	{"ansi save restore cursor", 10, 3, "ab\x1b[s\r\ncd\x1b[uef", []string{"abef", "cd"}, 0, 4},
	{"alt screen 1049", 10, 3, "main\x1b[?1049h\x1b[Halt\x1b[?1049l", []string{"main"}, 0, 4},
	{"alt screen 47 keeps contents", 10, 3, "m\x1b[?47hA\x1b[?47lM\x1b[?47h", []string{" A"}, 0, 3},
	{"ris", 10, 3, "abc\r\n\x1b[?1049h\x1bc", []string{}, 0, 0},
	{"decstr", 10, 3, "\x1b[2;3r\x1b[?6h\x1b[?7l\x1b[!p\x1b[1;1Hx", []string{"x"}, 0, 1},
	{"decaln", 3, 2, "\x1b#8", []string{"EEE", "EEE"}, 0, 0},
	{"intermediate then digits is ignored", 10, 2, "\x1b[-1@x\x1b[-5Py", []string{"xy"}, 0, 2},
	{"lnm", 10, 3, "\x1b[20hab\ncd", []string{"ab", "cd"}, 1, 2},
	{"backspace", 10, 2, "abc\b\bX", []string{"aXc"}, 0, 2},
	{"one by one screen", 1, 1, "ab漢\r\nc", []string{"c"}, 0, 0},
}

func TestRender(t *testing.T) {
	for _, tt := range renderTests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(tt.cols, tt.rows, 0)
			mustWrite(t, s, tt.in)
			checkCells(t, s)
			got := s.Snapshot(0)
			if want := rowsOf(tt.rows, tt.want...); !slices.Equal(got.Lines, want) {
				t.Errorf("lines\n got %q\nwant %q", got.Lines, want)
			}
			if got.CursorRow != tt.row || got.CursorCol != tt.col {
				t.Errorf("cursor = %d,%d, want %d,%d", got.CursorRow, got.CursorCol, tt.row, tt.col)
			}
		})
	}
}

// TestSplitWrites feeds every render input one byte per Write: sequences
// and runes cut anywhere must give the same screen.
func TestSplitWrites(t *testing.T) {
	for _, tt := range renderTests {
		whole := New(tt.cols, tt.rows, 0)
		mustWrite(t, whole, tt.in)
		split := New(tt.cols, tt.rows, 0)
		for i := range len(tt.in) {
			mustWrite(t, split, tt.in[i:i+1])
		}
		if got, want := split.Snapshot(100), whole.Snapshot(100); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: byte by byte\n got %+v\nwant %+v", tt.name, got, want)
		}
	}
}

func mustWrite(t *testing.T, s *Screen, in string) {
	t.Helper()
	n, err := s.Write([]byte(in))
	if n != len(in) || err != nil {
		t.Fatalf("Write(%q) = %d, %v; want %d, nil", in, n, err, len(in))
	}
}

func TestModes(t *testing.T) {
	s := New(20, 5, 0)
	got := s.Snapshot(0)
	if got.Title != "" || got.AppCursor || !got.CursorVisible || got.AltScreen {
		t.Fatalf("initial snapshot %+v", got)
	}
	mustWrite(t, s, "\x1b]0;hello\x07\x1b[?1h\x1b[?25l\x1b[?1049h")
	got = s.Snapshot(0)
	if got.Title != "hello" || !got.AppCursor || got.CursorVisible || !got.AltScreen {
		t.Errorf("after setting: %+v", got)
	}
	mustWrite(t, s, "\x1b]2;naïve 漢\x1b\\\x1b]1;icon only\x07\x1b[?1l\x1b[?25h\x1b[?1049l")
	got = s.Snapshot(0)
	if got.Title != "naïve 漢" || got.AppCursor || !got.CursorVisible || got.AltScreen {
		t.Errorf("after resetting: %+v", got)
	}
	mustWrite(t, s, "\x1b]0;\xff\x07")
	if got := s.Snapshot(0).Title; got != "\uFFFD" {
		t.Errorf("title from invalid UTF-8 = %q", got)
	}
}

func numbers(from, to int) []string {
	var out []string
	for i := from; i <= to; i++ {
		out = append(out, strconv.Itoa(i))
	}
	return out
}

func seqOutput(n int) string {
	var b strings.Builder
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "%d\r\n", i)
	}
	return b.String()
}

func TestScrollback(t *testing.T) {
	s := New(10, 10, 0)
	mustWrite(t, s, seqOutput(100))
	got := s.Snapshot(1000)
	if want := append(numbers(92, 100), ""); !slices.Equal(got.Lines, want) {
		t.Errorf("lines = %q, want %q", got.Lines, want)
	}
	if want := numbers(1, 91); !slices.Equal(got.Scrollback, want) {
		t.Errorf("scrollback = %q, want %q", got.Scrollback, want)
	}
	if got, want := s.Snapshot(5).Scrollback, numbers(87, 91); !slices.Equal(got, want) {
		t.Errorf("last 5 = %q, want %q", got, want)
	}
	if got := s.Snapshot(0).Scrollback; got != nil {
		t.Errorf("Snapshot(0).Scrollback = %q, want none", got)
	}

	// The alternate screen neither shows nor adds scrollback.
	mustWrite(t, s, "\x1b[?1049h"+seqOutput(30))
	if got := s.Snapshot(1000).Scrollback; got != nil {
		t.Errorf("scrollback on the alt screen = %q", got)
	}
	mustWrite(t, s, "\x1b[?1049l")
	if got := s.Snapshot(1000).Scrollback; len(got) != 91 {
		t.Errorf("scrollback after the alt screen has %d rows, want 91", len(got))
	}

	// Scrolling inside a region that does not start at the top keeps nothing;
	// one that does keeps what leaves it.
	mustWrite(t, s, "\x1b[2;10r\x1b[10;1H\n\n\x1b[1;5r\x1b[5;1H\nx\x1b[r")
	if got := s.Snapshot(1000).Scrollback; len(got) != 92 || got[91] != "92" {
		t.Errorf("scrollback after region scrolls: %d rows, last %q", len(got), got[len(got)-1])
	}

	mustWrite(t, s, "\x1b[3J")
	if got := s.Snapshot(1000).Scrollback; got != nil {
		t.Errorf("scrollback after ED 3 = %q", got)
	}
}

func TestScrollbackLimit(t *testing.T) {
	s := New(10, 10, 20)
	mustWrite(t, s, seqOutput(100))
	if got, want := s.Snapshot(1000).Scrollback, numbers(72, 91); !slices.Equal(got, want) {
		t.Errorf("scrollback = %q, want %q", got, want)
	}
	none := New(10, 10, -1)
	mustWrite(t, none, seqOutput(100))
	if got := none.Snapshot(1000).Scrollback; got != nil {
		t.Errorf("scrollback of a screen without one = %q", got)
	}
}

func TestResize(t *testing.T) {
	s := New(10, 5, 0)
	mustWrite(t, s, "1\r\n2\r\n3\r\n4\r\nabcd漢x")
	s.Resize(5, 3)
	got := s.Snapshot(10)
	if want := []string{"3", "4", "abcd"}; !slices.Equal(got.Lines, want) {
		t.Errorf("shrunk lines = %q, want %q", got.Lines, want)
	}
	if want := []string{"1", "2"}; !slices.Equal(got.Scrollback, want) {
		t.Errorf("shrunk scrollback = %q, want %q", got.Scrollback, want)
	}
	if got.Cols != 5 || got.Rows != 3 || got.CursorRow != 2 || got.CursorCol != 4 {
		t.Errorf("shrunk size and cursor: %+v", got)
	}

	s.Resize(8, 4)
	mustWrite(t, s, "\r\nwxyz1234")
	got = s.Snapshot(10)
	if want := []string{"3", "4", "abcd", "wxyz1234"}; !slices.Equal(got.Lines, want) {
		t.Errorf("grown lines = %q, want %q", got.Lines, want)
	}
	if got.Cols != 8 || got.Rows != 4 {
		t.Errorf("grown size: %+v", got)
	}

	// The main screen keeps its place while the alt screen is shown.
	s = New(10, 5, 0)
	mustWrite(t, s, "1\r\n2\r\n3\r\n4\r\n$ \x1b[?1049h\x1b[Hvim")
	s.Resize(10, 3)
	mustWrite(t, s, "\x1b[?1049l")
	got = s.Snapshot(10)
	if want := []string{"3", "4", "$"}; !slices.Equal(got.Lines, want) || got.CursorRow != 2 || got.CursorCol != 2 {
		t.Errorf("main after resize on alt = %q cursor %d,%d", got.Lines, got.CursorRow, got.CursorCol)
	}

	// Rows that scrolled before a resize keep their order.
	s = New(10, 5, 0)
	mustWrite(t, s, seqOutput(12))
	s.Resize(10, 3)
	got = s.Snapshot(100)
	if want := []string{"11", "12", ""}; !slices.Equal(got.Lines, want) {
		t.Errorf("lines after scrolling and shrinking = %q, want %q", got.Lines, want)
	}
	if want := numbers(1, 10); !slices.Equal(got.Scrollback, want) {
		t.Errorf("scrollback after scrolling and shrinking = %q, want %q", got.Scrollback, want)
	}

	s.Resize(0, -3)
	if got := s.Snapshot(0); got.Cols != 1 || got.Rows != 1 || len(got.Lines) != 1 {
		t.Errorf("resize below 1: %+v", got)
	}
}

func TestReset(t *testing.T) {
	s := New(10, 3, 0)
	mustWrite(t, s, seqOutput(10)+"\x1b]0;t\x07\x1b[?1h\x1b[?25l\x1b[?1049hx\x1b[12")
	s.Reset()
	if got, want := s.Snapshot(100), New(10, 3, 0).Snapshot(100); !reflect.DeepEqual(got, want) {
		t.Errorf("after Reset %+v, want %+v", got, want)
	}
	mustWrite(t, s, "3m")
	if got := s.Text(); got != "3m" {
		t.Errorf("a sequence cut by Reset went on: %q", got)
	}
}

func TestText(t *testing.T) {
	s := New(10, 5, 0)
	mustWrite(t, s, "a  \r\n\r\n b\r\n")
	if got, want := s.Text(), "a\n\n b"; got != want {
		t.Errorf("Text() = %q, want %q", got, want)
	}
}
