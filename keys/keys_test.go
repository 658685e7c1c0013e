package keys

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestEncode(t *testing.T) {
	tests := []struct {
		keys []string
		opt  Options
		want string
	}{
		{[]string{"enter"}, Options{}, "\r"},
		{[]string{"Return"}, Options{}, "\r"},
		{[]string{"tab", "shift+tab"}, Options{}, "\t\x1b[Z"},
		{[]string{"esc", "Escape"}, Options{}, "\x1b\x1b"},
		{[]string{"backspace", "bs"}, Options{}, "\x7f\x7f"},
		{[]string{"space"}, Options{}, " "},
		{[]string{"up", "down", "right", "left"}, Options{}, "\x1b[A\x1b[B\x1b[C\x1b[D"},
		{[]string{"up", "down", "right", "left"}, Options{AppCursor: true}, "\x1bOA\x1bOB\x1bOC\x1bOD"},
		{[]string{"home", "end"}, Options{}, "\x1b[H\x1b[F"},
		{[]string{"home", "end"}, Options{AppCursor: true}, "\x1bOH\x1bOF"},
		{[]string{"pgup", "pageup", "pgdn", "PageDown"}, Options{}, "\x1b[5~\x1b[5~\x1b[6~\x1b[6~"},
		{[]string{"insert", "ins", "delete", "del"}, Options{}, "\x1b[2~\x1b[2~\x1b[3~\x1b[3~"},
		{[]string{"f1", "f2", "f3", "F4"}, Options{}, "\x1bOP\x1bOQ\x1bOR\x1bOS"},
		{[]string{"f5", "f6", "f7", "f8"}, Options{}, "\x1b[15~\x1b[17~\x1b[18~\x1b[19~"},
		{[]string{"f9", "f10", "f11", "f12"}, Options{}, "\x1b[20~\x1b[21~\x1b[23~\x1b[24~"},
		{[]string{"ctrl+a", "ctrl+c", "CTRL+Z", "ctrl+D"}, Options{}, "\x01\x03\x1a\x04"},
		{[]string{`ctrl+\`, "ctrl+]", "ctrl+[", "ctrl+^", "ctrl+_"}, Options{}, "\x1c\x1d\x1b\x1e\x1f"},
		{[]string{"ctrl+@", "ctrl+space", "ctrl+ "}, Options{}, "\x00\x00\x00"},
		{[]string{"c-x", "C-c"}, Options{}, "\x18\x03"},
		{[]string{"ctrl+up", "ctrl+down", "ctrl+right", "ctrl+left"}, Options{}, "\x1b[1;5A\x1b[1;5B\x1b[1;5C\x1b[1;5D"},
		{[]string{"ctrl+up"}, Options{AppCursor: true}, "\x1b[1;5A"},
		{[]string{"shift+up", "ctrl+shift+end"}, Options{}, "\x1b[1;2A\x1b[1;6F"},
		{[]string{"ctrl+delete", "shift+f5", "ctrl+f1"}, Options{}, "\x1b[3;5~\x1b[15;2~\x1b[1;5P"},
		{[]string{"alt+x", "meta+x", "m-x", "M-.", "alt+X"}, Options{}, "\x1bx\x1bx\x1bx\x1b.\x1bX"},
		{[]string{"alt+enter", "alt+up", "alt+ctrl+c", "ctrl+alt+c"}, Options{}, "\x1b\r\x1b\x1b[A\x1b\x03\x1b\x03"},
		{[]string{"alt+up"}, Options{AppCursor: true}, "\x1b\x1bOA"},
		{[]string{"alt+é", "alt++", "c-A"}, Options{}, "\x1bé\x1b+\x01"},
		{[]string{"shift+a", "shift+Z"}, Options{}, "AZ"},
		// Literal text.
		{[]string{"q"}, Options{}, "q"},
		{[]string{":wq", "enter"}, Options{}, ":wq\r"},
		{[]string{"hello world"}, Options{}, "hello world"},
		{[]string{"./run.sh"}, Options{}, "./run.sh"},
		{[]string{"y", "-", "1"}, Options{}, "y-1"},
		{[]string{"é"}, Options{}, "é"},
		{[]string{"text:ls", "enter"}, Options{}, "ls\r"},
		{[]string{"text:ctrl+c"}, Options{}, "ctrl+c"},
		{[]string{"TEXT:ls"}, Options{}, "TEXT:ls"},
	}
	for _, tt := range tests {
		got, err := Encode(tt.keys, tt.opt)
		if err != nil {
			t.Errorf("Encode(%q, %+v): %v", tt.keys, tt.opt, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("Encode(%q, %+v) = %q, want %q", tt.keys, tt.opt, got, tt.want)
		}
	}
}

func TestEncodeErrors(t *testing.T) {
	tests := []struct {
		keys      []string
		wantIndex int
		wantIn    []string
	}{
		{[]string{"enter", "ls"}, 1, []string{`keys[1] "ls"`, "not a key name", `"text:ls"`, "console_send_input", "ctrl+a..ctrl+z", "f1..f12"}},
		{[]string{"f13"}, 0, []string{`"f13"`, "not a key name"}},
		{[]string{"42"}, 0, []string{`"42"`, `"text:42"`}},
		{[]string{"ctrl+enter"}, 0, []string{`"ctrl+enter"`, "do not apply to enter", `"text:WORDS"`}},
		{[]string{"ctrl+1"}, 0, []string{`ctrl+ applies to a..z`}},
		{[]string{"shift+1"}, 0, []string{`shift+ applies to letters`}},
		{[]string{"alt+foo"}, 0, []string{`"alt+foo"`, "not a key name"}},
		{[]string{"ctrl+"}, 0, []string{`"ctrl+"`, "not a key name"}},
		{[]string{"m-"}, 0, []string{`"m-"`}},
		{[]string{"q", ""}, 1, []string{"keys[1]", "empty element"}},
		{[]string{"text:"}, 0, []string{"nothing after text:"}},
	}
	for _, tt := range tests {
		got, err := Encode(tt.keys, Options{})
		var ke *UnknownKeyError
		if !errors.As(err, &ke) {
			t.Errorf("Encode(%q) = %q, %v; want *UnknownKeyError", tt.keys, got, err)
			continue
		}
		if ke.Index != tt.wantIndex || ke.Name != tt.keys[tt.wantIndex] {
			t.Errorf("Encode(%q) error at %d %q, want %d %q", tt.keys, ke.Index, ke.Name, tt.wantIndex, tt.keys[tt.wantIndex])
		}
		for _, s := range tt.wantIn {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Encode(%q) error %q does not contain %q", tt.keys, err, s)
			}
		}
	}
	if _, err := Encode(nil, Options{}); !errors.Is(err, ErrNoKeys) {
		t.Errorf("Encode(nil) error = %v, want ErrNoKeys", err)
	}
}

// TestNamesEncode checks that every documented name is accepted.
func TestNamesEncode(t *testing.T) {
	names := Names()
	for _, want := range []string{"enter", "shift+tab", "f12", "ctrl+z", `ctrl+\`, "pgdn"} {
		if !slices.Contains(names, want) {
			t.Errorf("Names() lacks %q", want)
		}
	}
	for _, n := range names {
		if b, err := Encode([]string{n}, Options{}); err != nil || len(b) == 0 {
			t.Errorf("Encode(%q) = %q, %v", n, b, err)
		}
	}
}
