package asciicast

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	h := Header{Version: 2, Width: 80, Height: 24, Timestamp: 1700000000, Title: "demo",
		Env: map[string]string{"TERM": "xterm-256color", "SHELL": "/bin/bash"}}
	events := []Event{
		{0, Output, "\x1b[01;32muser@host\x1b[00m:~$ "},
		{0.25, Input, "ls\r"},
		{0.250001, Output, "ls\r\nfile.txt  \"quoted\" back\\slash\ttab\r\n"},
		{1.5, Resize, "100x30"},
		{2, Marker, "chapter 1"},
		{3.123456, Output, "héllo 世界 🙂 \u2028 \x00\x7f</script>&"},
		{1e6, Output, ""},
	}
	var buf bytes.Buffer
	w, err := NewWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// Every line is valid JSON on its own.
	for i, l := range strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("line %d is not valid JSON: %s", i+1, l)
		}
	}
	gotH, got := readAll(t, &buf)
	if !reflect.DeepEqual(gotH, h) {
		t.Errorf("header = %+v, want %+v", gotH, h)
	}
	if !reflect.DeepEqual(got, events) {
		t.Errorf("events = %#v, want %#v", got, events)
	}
}

func TestWriteFormat(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Width: 80, Height: 24, Timestamp: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Event{1.2345674, Output, "a\"b\n"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := `{"version":2,"width":80,"height":24,"timestamp":5}` + "\n" + `[1.234567, "o", "a\"b\n"]` + "\n"
	if buf.String() != want {
		t.Errorf("file = %q, want %q", buf.String(), want)
	}
}

func TestInvalidUTF8(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Event{0, Output, "a\xffb\xc3"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, got := readAll(t, &buf)
	if len(got) != 1 || got[0].Data != "a\ufffdb\ufffd" {
		t.Errorf("events = %+v, want data %q", got, "a\ufffdb\ufffd")
	}
}

func TestWriteOutputCarriesSplitRune(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewWriter(&buf, Header{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	s := []byte("a世🙂b")
	// Chunks split inside the 3-byte and the 4-byte runes, and one chunk that
	// is only part of a rune.
	for i, c := range [][]byte{s[:2], s[2:4], s[4:6], s[6:]} {
		if err := w.WriteOutput(float64(i), c); err != nil {
			t.Fatal(err)
		}
	}
	// A trailing incomplete rune is written by Close.
	if err := w.WriteOutput(9, []byte("z\xe4\xb8")); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := w.Write(Event{10, Output, "x"}); err == nil {
		t.Error("Write after Close succeeded")
	}
	_, got := readAll(t, &buf)
	want := []Event{{0, Output, "a"}, {1, Output, "世"}, {3, Output, "🙂b"}, {9, Output, "z"}, {9, Output, "\ufffd\ufffd"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("events = %+v, want %+v", got, want)
	}
}

func TestWriterRejects(t *testing.T) {
	if _, err := NewWriter(io.Discard, Header{Version: 1, Width: 80, Height: 24}); err == nil {
		t.Error("NewWriter accepted version 1")
	}
	if _, err := NewWriter(io.Discard, Header{Width: 0, Height: 24}); err == nil {
		t.Error("NewWriter accepted width 0")
	}
	w, err := NewWriter(io.Discard, Header{Width: 80, Height: 24})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range []Event{{0, "x", ""}, {-1, Output, ""}, {0, "", ""}} {
		if err := w.Write(e); err == nil {
			t.Errorf("Write(%+v) succeeded", e)
		}
	}
}

func TestReaderErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name, file, want string
	}{
		{"empty", "", "empty input"},
		{"bad header", "{nope\n", "line 1"},
		{"version 1", `{"version":1,"width":80,"height":24}` + "\n", "version 1"},
		{"bad event", hdr + `[0, "o", "ok"]` + "\n\n" + `[1, "o"]` + "\n", "line 4: 2 fields"},
		{"bad time", hdr + `["x", "o", "ok"]` + "\n", "line 2: time"},
		{"negative time", hdr + `[-1, "o", "ok"]` + "\n", "line 2: time -1"},
		{"bad data", hdr + `[1, "o", 5]` + "\n", "line 2: data"},
		{"not json", hdr + "garbage\n", "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReader(strings.NewReader(tt.file))
			if err == nil {
				for err == nil {
					_, err = r.Next()
				}
			}
			if err == nil || errors.Is(err, io.EOF) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

const hdr = `{"version":2,"width":80,"height":24}` + "\n"

func TestReaderLastLineWithoutNewline(t *testing.T) {
	r, err := NewReader(strings.NewReader(hdr + `[0.5, "o", "x"]`))
	if err != nil {
		t.Fatal(err)
	}
	e, err := r.Next()
	if err != nil || e != (Event{0.5, Output, "x"}) {
		t.Fatalf("Next = %+v, %v", e, err)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("Next at end = %v, want io.EOF", err)
	}
}

func readAll(t *testing.T, r io.Reader) (Header, []Event) {
	t.Helper()
	rd, err := NewReader(r)
	if err != nil {
		t.Fatal(err)
	}
	var events []Event
	for {
		e, err := rd.Next()
		if err == io.EOF {
			return rd.Header(), events
		}
		if err != nil {
			t.Fatal(err)
		}
		events = append(events, e)
	}
}
