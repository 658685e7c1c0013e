package ptyhost

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"syscall"
	"testing"

	"github.com/console-mcp/console-mcp/sessions"
)

// frames are one valid frame of each type; they seed FuzzDecode.
func frames() map[string][]byte {
	var secret [secretSize]byte
	for i := range secret {
		secret[i] = byte(i)
	}
	return map[string][]byte{
		"hello":   hello{Version: protocolVersion, Role: roleServer, From: 12345, Secret: secret}.append(nil),
		"tail":    hello{Version: protocolVersion, Role: roleViewer, From: -16384, Secret: secret}.append(nil),
		"welcome": welcome{Version: 1, HolderPid: 10, Pid: 11, Generation: 2, RingStart: 100, End: 300, Cols: 80, Rows: 24}.append(nil),
		"exited":  welcome{Version: 1, HolderPid: 10, Pid: 11, End: 7, Exited: true, Exit: sessions.Exit{Code: 143, Signal: "SIGTERM"}}.append(nil),
		"output":  append(appendOutputHeader(nil, 4096, 5), "hello"...),
		"lost":    appendInt64(nil, msgLost, 99),
		"input":   appendFrame(nil, msgInput, []byte("ls -l\r")),
		"resize":  appendResize(nil, 132, 43),
		"signal":  appendSignal(nil, syscall.SIGINT),
		"exit":    exitMsg{End: 1 << 40, Exit: sessions.Exit{Code: -1}}.append(nil),
		"release": appendFrame(nil, msgRelease, nil),
		"error":   appendError(nil, "wrong secret"),
	}
}

func TestWireRoundTrip(t *testing.T) {
	for name, frame := range frames() {
		typ, payload, err := readFrame(bufio.NewReader(bytes.NewReader(frame)), nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got, err := reencode(typ, payload)
		if err != nil {
			t.Fatalf("%s: parse: %v", name, err)
		}
		if !bytes.Equal(got, frame) {
			t.Errorf("%s: re-encoded\n%x, want\n%x", name, got, frame)
		}
	}
}

func TestWireRefusesGarbage(t *testing.T) {
	for _, tc := range []struct {
		name  string
		frame []byte
		want  error
	}{
		{"empty", nil, io.EOF},
		{"short header", []byte{byte(msgInput), 0, 0}, io.ErrUnexpectedEOF},
		{"short payload", []byte{byte(msgInput), 0, 0, 0, 9, 'a'}, io.ErrUnexpectedEOF},
		{"type 0", []byte{0, 0, 0, 0, 0}, errMalformed},
		{"unknown type", []byte{200, 0, 0, 0, 0}, errMalformed},
		{"huge", []byte{byte(msgOutput), 0xff, 0xff, 0xff, 0xff}, errMalformed},
	} {
		_, _, err := readFrame(bufio.NewReader(bytes.NewReader(tc.frame)), nil)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name    string
		typ     msgType
		payload []byte
	}{
		{"hello too short", msgHello, make([]byte, 10)},
		{"hello bad role", msgHello, make([]byte, 2+8+secretSize)},
		{"welcome short", msgWelcome, make([]byte, welcomeFixed-1)},
		{"welcome end before start", msgWelcome, welcome{RingStart: 10, End: 5}.append(nil)[headerSize:]},
		{"output short", msgOutput, []byte{1, 2}},
		{"output negative", msgOutput, bytes.Repeat([]byte{0xff}, 8)},
		{"lost zero", msgLost, make([]byte, 8)},
		{"resize zero", msgResize, make([]byte, 4)},
		{"signal 0", msgSignal, []byte{0}},
		{"signal 200", msgSignal, []byte{200}},
		{"exit short", msgExit, make([]byte, 11)},
	} {
		if _, err := reencode(tc.typ, tc.payload); !errors.Is(err, errMalformed) {
			t.Errorf("%s: err = %v, want errMalformed", tc.name, err)
		}
	}
}

// reencode parses a payload of type typ and encodes the result again.
func reencode(typ msgType, p []byte) ([]byte, error) {
	switch typ {
	case msgHello:
		m, err := parseHello(p)
		return m.append(nil), err
	case msgWelcome:
		m, err := parseWelcome(p)
		return m.append(nil), err
	case msgOutput:
		off, data, err := parseOutput(p)
		return append(appendOutputHeader(nil, off, len(data)), data...), err
	case msgLost:
		n, err := parseCount(p)
		return appendInt64(nil, msgLost, n), err
	case msgResize:
		c, r, err := parseResize(p)
		return appendResize(nil, c, r), err
	case msgSignal:
		s, err := parseSignal(p)
		return appendSignal(nil, s), err
	case msgExit:
		m, err := parseExit(p)
		return m.append(nil), err
	case msgError:
		return appendError(nil, string(p)), nil
	default:
		return appendFrame(nil, typ, p), nil
	}
}

// FuzzDecode feeds arbitrary bytes to the frame decoder and to a client's
// Read: neither may panic or allocate beyond the caps, and whatever parses
// must encode back to the same bytes.
func FuzzDecode(f *testing.F) {
	all := []byte{}
	for _, fr := range frames() {
		f.Add(fr)
		all = append(all, fr...)
	}
	f.Add(all)
	f.Fuzz(func(t *testing.T, data []byte) {
		br := bufio.NewReader(bytes.NewReader(data))
		var buf []byte
		for {
			typ, p, err := readFrame(br, buf)
			if err != nil {
				break
			}
			buf = p
			if len(p) > maxPayload {
				t.Fatalf("payload of %d bytes", len(p))
			}
			frame := appendFrame(nil, typ, p)
			got, err := reencode(typ, p)
			if err == nil && typ != msgError && !bytes.Equal(got, frame) {
				t.Fatalf("%v: re-encoded %x, want %x", typ, got, frame)
			}
		}

		// The client's decoder: Read until it reports the end.
		c := &holderProcess{id: "s-fuzz", br: bufio.NewReader(bytes.NewReader(data)), done: make(chan struct{})}
		out := make([]byte, 1024)
		for range len(data) + 2 {
			_, err := c.Read(out)
			var lost *sessions.LostError
			if err != nil && !errors.As(err, &lost) {
				return
			}
		}
		t.Fatalf("Read did not end on %d bytes", len(data))
	})
}

func TestReadKeyRefusesMalformed(t *testing.T) {
	for _, content := range []string{"", "zz", "00", string(bytes.Repeat([]byte("ab"), secretSize+1)), string(bytes.Repeat([]byte("g"), 2*secretSize))} {
		path := t.TempDir() + "/k"
		os.WriteFile(path, []byte(content), 0o600)
		if _, err := readKey(path); err == nil {
			t.Errorf("readKey(%q) accepted it", content)
		}
	}
}
