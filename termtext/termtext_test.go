package termtext

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestStrip(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want string
	}{
		{"empty", "", ""},
		{"plain", "hello world", "hello world"},
		{"tab and newline kept", "a\tb\nc\n", "a\tb\nc\n"},
		{"utf8 kept", "héllo 世界 🙂\n", "héllo 世界 🙂\n"},
		{"sgr colors", "\x1b[1;31mred\x1b[0m plain", "red plain"},
		{"csi private params", "\x1b[?1049hscreen\x1b[?1049l", "screen"},
		{"csi with intermediate", "a\x1b[2 qb", "ab"},
		{"csi erase line", "x\x1b[Ky", "xy"},
		{"osc title bel", "\x1b]0;my title\x07prompt$ ", "prompt$ "},
		{"osc title st", "\x1b]2;title\x1b\\after", "after"},
		{"osc hyperlink", "\x1b]8;;http://x.y\x1b\\link\x1b]8;;\x1b\\ done", "link done"},
		{"osc with utf8 body", "\x1b]0;tïtle 世\x07ok", "ok"},
		{"dcs string", "a\x1bPq#0;2;0;0;0\x1b\\b", "ab"},
		{"apc string", "a\x1b_Gf=100;AAAA\x1b\\b", "ab"},
		{"pm and sos strings", "a\x1b^pm\x1b\\b\x1bXsos\x1b\\c", "abc"},
		{"bel inside dcs does not end it", "a\x1bPx\x07y\x1b\\b", "ab"},
		{"charset designation", "\x1b(Bplain\x1b)0", "plain"},
		{"two byte escapes", "\x1b=\x1b>\x1b7a\x1b8\x1bMb\x1bc", "ab"},
		{"dec line attrs", "\x1b#8x", "x"},
		{"c0 controls dropped", "a\x00b\x07c\x0ed\x0fe\x1ef\x7fg", "abcdefg"},
		{"crlf folded", "one\r\ntwo\r\n", "one\ntwo\n"},
		{"cr cr lf folded", "one\r\r\ntwo\r\r\n", "one\ntwo\n"},
		{"cr redraw", "10%\r20%\r30%\n", "30%\n"},
		{"cr redraw keeps earlier lines", "done\n10%\r20%\n", "done\n20%\n"},
		{"cr redraw with erase", "10%\r\x1b[K20%\n", "20%\n"},
		{"cr at end kept text", "abc\r", "abc"},
		{"cr before escape then newline", "abc\r\x1b[K\n", "abc\n"},
		{"cr then tab redraws", "abc\r\tx", "\tx"},
		{"backspace", "abc\bd", "abd"},
		{"backspace erase echo", "ls -l\b \b\b \bx", "ls x"},
		{"backspace utf8 rune", "né\bx", "nx"},
		{"backspace 4 byte rune", "a🙂\bb", "ab"},
		{"backspace at line start", "ab\n\bc", "ab\nc"},
		{"backspace at buffer start", "\b\bx", "x"},
		{"backspace after cr ignored", "abc\r\bX", "X"},
		{"truncated csi dropped", "abc\x1b[31", "abc"},
		{"truncated esc dropped", "abc\x1b", "abc"},
		{"truncated osc dropped", "abc\x1b]0;tit", "abc"},
		{"truncated charset dropped", "abc\x1b(", "abc"},
		{"window starting mid sequence", "31mred\x1b[0m", "31mred"},
		{"esc esc restarts", "\x1b\x1b[31mx", "x"},
		{"can cancels csi", "\x1b[31\x18x", "x"},
		{"sub cancels osc", "\x1b]0;t\x1ax", "x"},
		{"newline inside csi executed", "a\x1b[3\n1mb", "a\nb"},
		{"esc inside csi starts new", "a\x1b[3\x1b[1mb", "ab"},
		{"high byte aborts csi", "a\x1b[3\xc3\xa9", "aé"},
		{"esc before high byte", "a\x1b\xc3\xa9", "aé"},
		{"c1 bytes kept as text", "\x9b31m", "\x9b31m"},
		{"osc then esc non st", "\x1b]0;t\x1b[1mx", "x"},
		{"control after esc executed", "a\x1b\n(Bb", "a\nb"},
		{"del after esc ignored", "\x1b\x7f[1mx", "x"},
		{"intermediate aborted by control", "a\x1b(\nb", "a\nb"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Strip([]byte(tt.raw))
			if string(got) != tt.want {
				t.Errorf("Strip(%q) = %q, want %q", tt.raw, got, tt.want)
			}
			text, idx := StripMap([]byte(tt.raw))
			if string(text) != tt.want {
				t.Errorf("StripMap(%q) text = %q, want %q", tt.raw, text, tt.want)
			}
			checkMap(t, []byte(tt.raw), text, idx)
		})
	}
}

func TestStripMapIndexes(t *testing.T) {
	tests := []struct {
		name    string
		raw     string
		wantIdx []int
	}{
		{"plain", "ab", []int{0, 1}},
		{"crlf maps to lf", "a\r\nb", []int{0, 2, 3}},
		{"cr cr lf maps to lf", "a\r\r\nb", []int{0, 3, 4}},
		{"escape skipped", "a\x1b[31mb", []int{0, 6}},
		{"redraw maps to new text", "x\n10\r20", []int{0, 1, 5, 6}},
		{"backspace removes index", "abc\bd", []int{0, 1, 4}},
		{"utf8 bytes each mapped", "é", []int{0, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, idx := StripMap([]byte(tt.raw))
			if !slices.Equal(idx, tt.wantIdx) {
				t.Errorf("StripMap(%q) idx = %v, want %v", tt.raw, idx, tt.wantIdx)
			}
		})
	}
}

func TestStripDoesNotModifyInput(t *testing.T) {
	raw := []byte("10%\r20%\x1b[31m\bx\r\n")
	orig := bytes.Clone(raw)
	Strip(raw)
	StripMap(raw)
	if !bytes.Equal(raw, orig) {
		t.Fatalf("input modified: %q, want %q", raw, orig)
	}
}

// checkMap asserts the invariants of StripMap's result.
func checkMap(t *testing.T, raw, text []byte, idx []int) {
	t.Helper()
	if len(idx) != len(text) {
		t.Fatalf("len(idx) = %d, len(text) = %d", len(idx), len(text))
	}
	for i, x := range idx {
		if x < 0 || x >= len(raw) {
			t.Fatalf("idx[%d] = %d out of range [0,%d)", i, x, len(raw))
		}
		if i > 0 && x <= idx[i-1] {
			t.Fatalf("idx not strictly increasing at %d: %d after %d", i, x, idx[i-1])
		}
		// Every output byte is its raw byte, except a '\n' folded from "\r\n".
		if text[i] != raw[x] {
			t.Fatalf("text[%d] = %q but raw[idx[%d]=%d] = %q", i, text[i], i, x, raw[x])
		}
	}
	for i, b := range text {
		if b == esc || (b < 0x20 && b != '\n' && b != '\t') || b == del {
			t.Fatalf("control byte %#x at text[%d] in %q", b, i, text)
		}
	}
	if got := Strip(raw); !bytes.Equal(got, text) {
		t.Fatalf("Strip = %q, StripMap text = %q", got, text)
	}
}

var update = flag.Bool("update", false, "rewrite golden files under testdata")

// TestStripGolden strips a transcript captured from a real bash in a PTY: a
// colored prompt with an OSC title, bracketed paste switches, ls --color,
// a printf progress line, a backspace edit, and vim entering and leaving
// the alternate screen.
func TestStripGolden(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "shell.raw"))
	if err != nil {
		t.Fatal(err)
	}
	got, idx := StripMap(raw)
	checkMap(t, raw, got, idx)
	golden := filepath.Join("testdata", "shell.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Strip(testdata/shell.raw) mismatch (run with -update after checking):\ngot:\n%s\nwant:\n%s", got, want)
	}
}
