package persist

import (
	"fmt"

	"github.com/klauspost/compress/s2"
)

// Output rows are compressed with S2 (a faster Snappy) in the writer
// goroutine when that saves at least an eighth: terminal output compresses
// well, and every byte not handed to SQLite is a byte not copied into its
// pages, written to the WAL and checkpointed, which is what persistence
// costs the capture path. Rows that do not shrink are stored as written.
const (
	codecRaw = 0
	codecS2  = 1
	// minCompress is the smallest row worth compressing.
	minCompress = 512
)

// encoder compresses rows into a buffer reused across one INSERT
// statement's rows (reset between statements).
type encoder struct {
	buf []byte
}

func (e *encoder) reset() { e.buf = e.buf[:0] }

// encode returns the codec and the bytes to store for data. The returned
// slice stays valid until reset.
func (e *encoder) encode(data []byte) (int, []byte) {
	if len(data) < minCompress {
		return codecRaw, data
	}
	need := s2.MaxEncodedLen(len(data))
	if cap(e.buf)-len(e.buf) < need {
		// A fresh buffer: earlier rows of the statement still point into
		// the old one.
		e.buf = make([]byte, 0, max(need, 4*need))
	}
	out := s2.Encode(e.buf[len(e.buf):len(e.buf)+need], data)
	if len(out) > len(data)-len(data)/8 {
		return codecRaw, data
	}
	e.buf = e.buf[:len(e.buf)+len(out)]
	return codecS2, out
}

// decoder expands rows into a buffer reused across a query's rows.
type decoder struct {
	buf []byte
}

// decode returns the bytes as written of a stored row; the result is valid
// until the next call (or, for raw rows, as long as raw is).
func (d *decoder) decode(codec int, raw []byte) ([]byte, error) {
	switch codec {
	case codecRaw:
		return raw, nil
	case codecS2:
		n, err := s2.DecodedLen(raw)
		if err != nil {
			return nil, fmt.Errorf("decode s2 row: %w", err)
		}
		if cap(d.buf) < n {
			d.buf = make([]byte, n)
		}
		out, err := s2.Decode(d.buf[:n], raw)
		if err != nil {
			return nil, fmt.Errorf("decode s2 row: %w", err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown output codec %d", codec)
}

// decodeOwned is decode into a new slice the caller keeps.
func decodeOwned(codec int, raw []byte) ([]byte, error) {
	if codec == codecRaw {
		return raw, nil
	}
	var d decoder
	return d.decode(codec, raw)
}
