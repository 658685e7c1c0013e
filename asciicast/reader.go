package asciicast

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes bounds one line of a recording the Reader accepts.
const MaxLineBytes = 64 << 20

// Reader reads a recording line by line. It does not close the io.Reader
// it was given.
type Reader struct {
	br     *bufio.Reader
	header Header
	line   int // number of the last line read, from 1
	buf    []byte
}

// NewReader reads and checks the header line of a version 2 recording.
func NewReader(r io.Reader) (*Reader, error) {
	rd := &Reader{br: bufio.NewReader(r)}
	l, err := rd.readLine()
	if err == io.EOF {
		return nil, errors.New("read asciicast header: empty input")
	}
	if err != nil {
		return nil, fmt.Errorf("read asciicast header: %w", err)
	}
	if err := json.Unmarshal(l, &rd.header); err != nil {
		return nil, fmt.Errorf("read asciicast header: line 1: %w", err)
	}
	if rd.header.Version != 2 {
		return nil, fmt.Errorf("read asciicast header: line 1: version %d, only 2 is supported", rd.header.Version)
	}
	return rd, nil
}

// Header returns the recording's header.
func (r *Reader) Header() Header { return r.header }

// Next returns the next event, or io.EOF after the last one. Blank lines
// are skipped. Errors name the line.
func (r *Reader) Next() (Event, error) {
	for {
		l, err := r.readLine()
		if err != nil {
			if err == io.EOF {
				return Event{}, io.EOF
			}
			return Event{}, fmt.Errorf("read asciicast event: %w", err)
		}
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		e, err := parseEvent(l)
		if err != nil {
			return Event{}, fmt.Errorf("read asciicast event: line %d: %w", r.line, err)
		}
		return e, nil
	}
}

func parseEvent(l []byte) (Event, error) {
	var fields []json.RawMessage
	if err := json.Unmarshal(l, &fields); err != nil {
		return Event{}, err
	}
	if len(fields) != 3 {
		return Event{}, fmt.Errorf("%d fields, want [time, code, data]", len(fields))
	}
	var e Event
	if err := json.Unmarshal(fields[0], &e.Time); err != nil {
		return Event{}, fmt.Errorf("time: %w", err)
	}
	if e.Time < 0 {
		return Event{}, fmt.Errorf("time %v is negative", e.Time)
	}
	if err := json.Unmarshal(fields[1], &e.Code); err != nil {
		return Event{}, fmt.Errorf("code: %w", err)
	}
	if err := json.Unmarshal(fields[2], &e.Data); err != nil {
		return Event{}, fmt.Errorf("data: %w", err)
	}
	return e, nil
}

// readLine returns the next line without its newline; the slice is valid
// until the next call. A last line without a newline is returned too.
func (r *Reader) readLine() ([]byte, error) {
	r.buf = r.buf[:0]
	for {
		chunk, err := r.br.ReadSlice('\n')
		r.buf = append(r.buf, chunk...)
		if len(r.buf) > MaxLineBytes {
			return nil, fmt.Errorf("line %d: longer than %d bytes", r.line+1, MaxLineBytes)
		}
		switch {
		case err == bufio.ErrBufferFull:
			continue
		case err == io.EOF && len(r.buf) > 0:
			r.line++
			return r.buf, nil
		case err != nil:
			return nil, err
		}
		r.line++
		return r.buf[:len(r.buf)-1], nil
	}
}
