package sessions

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"unicode/utf8"

	"github.com/console-mcp/console-mcp/termtext"
)

// Output is read by cursor: an absolute byte offset into the session's one
// stream. Offsets never restart, across generations and server restarts.
// Recent bytes come from the in-memory ring, older ones from the store,
// through readRaw; there is no implicit "since last read" state.

// readRaw returns up to max bytes of output beginning at offset from (the
// ring, else the store). start is the offset of data[0]; lost counts bytes
// in [from, start) that are no longer retained.
func (s *Session) readRaw(from int64, n int) (data []byte, start, lost int64) {
	s.mu.Lock()
	from = min(max(from, 0), s.out.End())
	ringStart := s.out.Start()
	if from >= ringStart {
		d := s.out.Copy(from, n)
		s.mu.Unlock()
		return d, from, 0
	}
	s.mu.Unlock()
	if st := s.m.store; st != nil {
		d, start, err := st.ReadOutput(s.id, from, n)
		if err != nil {
			s.m.log.Warn("read stored output", "session", s.id, "err", err)
		} else if len(d) > 0 && start < ringStart {
			return d, start, start - from
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	start = s.out.Start()
	return s.out.Copy(start, n), start, start - from
}

// DefaultReadBytes is what one read returns unless asked otherwise: it fits
// a model's context.
const (
	DefaultReadBytes = 16 << 10
	MaxReadBytes     = 1 << 20
)

// ReadRequest is one console_get_output.
type ReadRequest struct {
	// Cursor is where to read from; nil means the last MaxBytes.
	Cursor    *int64
	MaxBytes  int
	Raw       bool
	TailLines int
}

// ReadResult is a page of output.
type ReadResult struct {
	Output string
	// Encoding is "" for text, "base64" for raw output that is not UTF-8.
	Encoding    string
	StartCursor int64
	Cursor      int64 // the next cursor
	HasMore     bool
	LostBytes   int64
	Status      Status
	Exit        *Exit
}

// Read returns a page of output. The text form strips ANSI/OSC sequences
// and folds CRLF; the raw form keeps the bytes (less the command markers).
func (s *Session) Read(req ReadRequest) (ReadResult, error) {
	n := req.MaxBytes
	if n == 0 {
		n = DefaultReadBytes
	}
	if n < 1 || n > MaxReadBytes {
		return ReadResult{}, fmt.Errorf("max_bytes %d is out of range: use 1..%d", n, MaxReadBytes)
	}
	if req.TailLines < 0 {
		return ReadResult{}, fmt.Errorf("tail_lines %d is negative: use 0 (all) or a positive count", req.TailLines)
	}
	s.mu.Lock()
	end, status, exit := s.out.End(), s.status, s.exit
	s.mu.Unlock()
	var from int64
	switch {
	case req.Cursor == nil:
		from = max(0, end-int64(n))
	case *req.Cursor < 0:
		return ReadResult{}, fmt.Errorf("cursor %d is negative: use 0 or a cursor a tool returned", *req.Cursor)
	case *req.Cursor > end:
		return ReadResult{}, fmt.Errorf("cursor %d is past the end of output (%d): use a cursor a tool returned", *req.Cursor, end)
	default:
		from = *req.Cursor
	}
	if req.TailLines > 0 && req.Cursor != nil {
		from = max(from, end-int64(n)) // the last lines of what follows the cursor
	}
	data, start, lost := s.readRaw(from, n)
	data = trimPartialRune(data, start+int64(len(data)) < end)
	res := ReadResult{
		StartCursor: start, Cursor: start + int64(len(data)), LostBytes: lost,
		Status: status, Exit: exit,
	}
	res.HasMore = res.Cursor < end
	switch {
	case req.Raw:
		raw := stripMarkers(data)
		if utf8.Valid(raw) {
			res.Output = string(raw)
		} else {
			res.Output, res.Encoding = base64.StdEncoding.EncodeToString(raw), "base64"
		}
	case req.TailLines > 0:
		text, idx := termtext.StripMap(data)
		cut := tailLinesStart(text, req.TailLines)
		if cut > 0 {
			res.StartCursor = start + int64(idx[cut-1]) + 1
		}
		res.Output = string(validUTF8Tail(text[cut:]))
	default:
		res.Output = string(validUTF8Tail(termtext.Strip(data)))
	}
	return res, nil
}

// tailLinesStart returns the index in text where its last n lines begin (a
// final newline does not start an empty line).
func tailLinesStart(text []byte, n int) int {
	i := len(text)
	if i > 0 && text[i-1] == '\n' {
		i--
	}
	for ; n > 0; n-- {
		j := bytes.LastIndexByte(text[:i], '\n')
		if j < 0 {
			return 0
		}
		if n == 1 {
			return j + 1
		}
		i = j
	}
	return 0
}

// cleanText is the text form of raw output.
func cleanText(raw []byte) []byte { return termtext.Strip(raw) }

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b when
// more output follows (the rest of the rune is in the next page).
func trimPartialRune(b []byte, more bool) []byte {
	if !more {
		return b
	}
	for i := 1; i <= 3 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < 0x80 {
			return b
		}
		if c >= 0xC0 { // a leading byte: is its sequence complete?
			if utf8.FullRune(b[len(b)-i:]) {
				return b
			}
			return b[:len(b)-i]
		}
	}
	return b
}

// validUTF8Tail drops continuation bytes at the start of b (a page that
// began inside a rune).
func validUTF8Tail(b []byte) []byte {
	for i := 0; i < 3 && len(b) > 0 && b[0]&0xC0 == 0x80; i++ {
		b = b[1:]
	}
	return b
}

// stripMarkers removes the command markers (OSC 6973) from raw output.
func stripMarkers(b []byte) []byte {
	const intro = "\x1b]6973;"
	i := bytes.Index(b, []byte(intro))
	if i < 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	for i >= 0 {
		out = append(out, b[:i]...)
		b = b[i:]
		bel := bytes.IndexByte(b, '\a')
		if bel < 0 {
			b = nil // a marker cut at the end of the page
			break
		}
		b = b[bel+1:]
		i = bytes.Index(b, []byte(intro))
	}
	return append(out, b...)
}
