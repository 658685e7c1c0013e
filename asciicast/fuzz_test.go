package asciicast

import (
	"bytes"
	"math"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzRoundTrip writes events and reads them back. Event data comes back
// equal when it is valid UTF-8 and with U+FFFD for each invalid byte
// otherwise; times come back rounded to microseconds. The same data sent
// through WriteOutput in two chunks split at any byte comes back whole.
func FuzzRoundTrip(f *testing.F) {
	f.Add(0.0, byte(0), "hello\r\n", uint(2))
	f.Add(1.234567, byte(1), "ls -l\r", uint(0))
	f.Add(12.5, byte(2), "80x24", uint(1))
	f.Add(3.0, byte(3), "héllo 世界 🙂", uint(8))
	f.Add(0.1, byte(0), "\x1b[31m\"q\"\\\x00\u2028</", uint(3))
	f.Add(99999.9999995, byte(0), "bad \xff\xc3 utf8", uint(5))
	f.Fuzz(func(t *testing.T, tm float64, code byte, data string, split uint) {
		if math.IsNaN(tm) || math.IsInf(tm, 0) || tm < 0 || tm > 1e12 {
			t.Skip()
		}
		e := Event{Time: tm, Code: []string{Output, Input, Resize, Marker}[code%4], Data: data}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, Header{Width: 80, Height: 24, Title: data})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.Write(e); err != nil {
			t.Fatal(err)
		}
		k := int(split % uint(len(data)+1))
		p := []byte(data)
		if err := w.WriteOutput(tm, p[:k]); err != nil {
			t.Fatal(err)
		}
		if err := w.WriteOutput(tm, p[k:]); err != nil {
			t.Fatal(err)
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}

		h, got := readAll(t, &buf)
		if h.Title != valid(data) {
			t.Fatalf("title = %q, want %q", h.Title, valid(data))
		}
		if len(got) == 0 {
			t.Fatal("no events read back")
		}
		wantTime, _ := strconv.ParseFloat(strconv.FormatFloat(tm, 'f', 6, 64), 64)
		want := Event{Time: wantTime, Code: e.Code, Data: valid(data)}
		if got[0] != want {
			t.Fatalf("event = %#v, want %#v", got[0], want)
		}
		var out strings.Builder
		for _, o := range got[1:] {
			if o.Code != Output || o.Time != wantTime {
				t.Fatalf("WriteOutput event %#v", o)
			}
			out.WriteString(o.Data)
		}
		if utf8.ValidString(data) && out.String() != data {
			t.Fatalf("WriteOutput split at %d read back %q, want %q", k, out.String(), data)
		}
		if !utf8.ValidString(out.String()) {
			t.Fatalf("WriteOutput read back invalid UTF-8 %q", out.String())
		}
	})
}

// valid replaces each invalid byte of s with U+FFFD.
func valid(s string) string {
	var b strings.Builder
	for _, r := range s {
		b.WriteRune(r)
	}
	return b.String()
}
