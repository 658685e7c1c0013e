// Package asciicast reads and writes asciicast v2, the recording format
// `asciinema play` and `asciinema cat` read: one JSON header line, then one
// JSON array line per event, [seconds, code, data].
//
// The Writer keeps every file valid: event data is always written as valid
// UTF-8 (invalid bytes become U+FFFD), and WriteOutput carries a multi-byte
// character split across two chunks over to the next call instead of
// breaking it. Writer and Reader are not safe for concurrent use.
package asciicast

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// Header is the first line of a recording.
type Header struct {
	// Version is the format version; NewWriter writes 2 when it is zero.
	Version int `json:"version"`
	// Width and Height are the terminal size in columns and rows.
	Width  int `json:"width"`
	Height int `json:"height"`
	// Timestamp is the start of the recording in Unix seconds.
	Timestamp int64 `json:"timestamp"`
	// Title is an optional title for players to show.
	Title string `json:"title,omitempty"`
	// Env optionally records environment variables such as TERM and SHELL.
	Env map[string]string `json:"env,omitempty"`
}

// Event codes.
const (
	Output = "o" // data written by the program
	Input  = "i" // data typed into the terminal
	Resize = "r" // data is "COLSxROWS"
	Marker = "m" // data is a marker label
)

// Event is one line after the header.
type Event struct {
	// Time is seconds since the start of the recording; it is written with
	// microsecond precision.
	Time float64
	// Code is one of Output, Input, Resize, Marker.
	Code string
	// Data is the event's payload.
	Data string
}

// Writer writes a recording. Lines are buffered: call Flush to push them to
// the underlying writer, and Close at the end. The Writer never closes the
// io.Writer it was given.
type Writer struct {
	bw     *bufio.Writer
	line   []byte
	carry  []byte  // incomplete UTF-8 sequence held back by WriteOutput
	last   float64 // time of the last event, for the carry written by Close
	closed bool
}

// NewWriter writes the header line of h to w and returns a Writer for the
// events. Width and Height must be positive.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	if h.Version == 0 {
		h.Version = 2
	}
	if h.Version != 2 {
		return nil, fmt.Errorf("write asciicast header: version %d, only 2 is supported", h.Version)
	}
	if h.Width <= 0 || h.Height <= 0 {
		return nil, fmt.Errorf("write asciicast header: size %dx%d, want positive width and height", h.Width, h.Height)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("write asciicast header: %w", err)
	}
	bw := bufio.NewWriter(w)
	if _, err := bw.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("write asciicast header: %w", err)
	}
	return &Writer{bw: bw}, nil
}

// Write writes one event line. Invalid UTF-8 in e.Data is written as
// U+FFFD. Times must be finite and not negative.
func (w *Writer) Write(e Event) error {
	if w.closed {
		return errors.New("write asciicast event: writer closed")
	}
	switch e.Code {
	case Output, Input, Resize, Marker:
	default:
		return fmt.Errorf("write asciicast event: code %q, want one of o, i, r, m", e.Code)
	}
	if math.IsNaN(e.Time) || math.IsInf(e.Time, 0) || e.Time < 0 {
		return fmt.Errorf("write asciicast event: time %v, want a finite number >= 0", e.Time)
	}
	w.last = e.Time
	l := append(w.line[:0], '[')
	l = strconv.AppendFloat(l, e.Time, 'f', 6, 64)
	l = append(l, ", \""...)
	l = append(l, e.Code...)
	l = append(l, "\", "...)
	l = appendString(l, e.Data)
	l = append(l, "]\n"...)
	w.line = l
	if _, err := w.bw.Write(l); err != nil {
		return fmt.Errorf("write asciicast event: %w", err)
	}
	return nil
}

// WriteOutput writes p as an output event at time t. An incomplete UTF-8
// sequence at the end of p is held back and written in front of the next
// call's data, so a character split between two chunks is not broken. A
// call whose data is entirely held back writes no event.
func (w *Writer) WriteOutput(t float64, p []byte) error {
	data := p
	if len(w.carry) > 0 {
		data = make([]byte, 0, len(w.carry)+len(p))
		data = append(append(data, w.carry...), p...)
		w.carry = w.carry[:0]
	}
	if k := incompleteTail(data); k < len(data) {
		w.carry = append(w.carry[:0], data[k:]...)
		data = data[:k]
	}
	if len(data) == 0 {
		return nil
	}
	return w.Write(Event{Time: t, Code: Output, Data: string(data)})
}

// incompleteTail returns the index where an incomplete but so far valid
// UTF-8 sequence at the end of p starts, or len(p) if there is none.
func incompleteTail(p []byte) int {
	for i := len(p) - 1; i >= 0 && i >= len(p)-utf8.UTFMax+1; i-- {
		b := p[i]
		if b < utf8.RuneSelf {
			return len(p)
		}
		if utf8.RuneStart(b) {
			if utf8.FullRune(p[i:]) {
				return len(p)
			}
			return i
		}
	}
	return len(p)
}

// Flush writes the buffered lines to the underlying writer. Bytes held back
// by WriteOutput stay held back.
func (w *Writer) Flush() error {
	if err := w.bw.Flush(); err != nil {
		return fmt.Errorf("flush asciicast: %w", err)
	}
	return nil
}

// Close writes any bytes still held back by WriteOutput (as U+FFFD, at the
// time of the last event) and flushes. Later writes fail. Close is
// idempotent; it does not close the underlying writer.
func (w *Writer) Close() error {
	if w.closed {
		return nil
	}
	if len(w.carry) > 0 {
		c := string(w.carry)
		w.carry = nil
		if err := w.Write(Event{Time: w.last, Code: Output, Data: c}); err != nil {
			return err
		}
	}
	w.closed = true
	return w.Flush()
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string. Invalid UTF-8 bytes become
// U+FFFD; U+2028 and U+2029 are escaped like encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
