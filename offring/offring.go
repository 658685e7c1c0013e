// Package offring keeps the most recent bytes of an output stream addressed
// by absolute offset: the session's in-memory output and the holder's
// replay buffer. Offsets never restart; what falls out of the ring is gone,
// and readers learn it from Start.
//
// The buffer starts small and doubles up to its limit as output arrives,
// so an idle stream costs little memory. A Ring is not safe for concurrent
// use: its owner's mutex guards it.
package offring

// minSize is a ring's first allocation.
const minSize = 4 << 10

// Ring holds the newest bytes of a stream, at most limit of them.
type Ring struct {
	buf   []byte
	limit int
	start int64 // offset of the oldest byte held
	end   int64 // offset just past the newest byte
}

// New returns an empty ring of at most limit bytes whose stream continues
// at offset at.
func New(limit int, at int64) Ring {
	return Ring{limit: max(limit, 1), start: at, end: at}
}

// Start is the offset of the oldest byte held.
func (r *Ring) Start() int64 { return r.start }

// End is the offset just past the newest byte.
func (r *Ring) End() int64 { return r.end }

// Write appends p to the stream, dropping the oldest bytes when full.
func (r *Ring) Write(p []byte) {
	if len(p) == 0 {
		return
	}
	if need := int(r.end-r.start) + len(p); need > len(r.buf) && len(r.buf) < r.limit {
		r.grow(need)
	}
	size := len(r.buf)
	if len(p) > size { // only the tail of p fits
		r.end += int64(len(p) - size)
		p = p[len(p)-size:]
	}
	for len(p) > 0 {
		n := copy(r.buf[int(r.end%int64(size)):], p)
		p = p[n:]
		r.end += int64(n)
	}
	if r.end-r.start > int64(size) {
		r.start = r.end - int64(size)
	}
}

// Skip advances the stream over n bytes that were lost; the ring then
// holds nothing older.
func (r *Ring) Skip(n int64) {
	r.end += n
	r.start = r.end
}

// grow reallocates the buffer to hold at least need bytes (at most the
// limit), keeping the bytes held.
func (r *Ring) grow(need int) {
	size := max(len(r.buf), minSize)
	for size < need && size < r.limit {
		size *= 2
	}
	size = min(size, r.limit)
	held := make([]byte, min(int(r.end-r.start), size))
	from := r.end - int64(len(held))
	r.ReadAt(held, from)
	r.buf = make([]byte, size)
	r.start = from
	for i := 0; i < len(held); {
		i += copy(r.buf[int((from+int64(i))%int64(size)):], held[i:])
	}
}

// ReadAt copies bytes beginning at offset from into p and returns how many
// it copied: at most len(p), none when from is outside [Start, End).
func (r *Ring) ReadAt(p []byte, from int64) int {
	if from < r.start || from >= r.end || len(r.buf) == 0 {
		return 0
	}
	n := min(len(p), int(r.end-from))
	size := int64(len(r.buf))
	c := copy(p[:n], r.buf[int(from%size):])
	if c < n {
		copy(p[c:n], r.buf)
	}
	return n
}

// Copy returns a copy of at most n bytes beginning at offset from; empty
// when from is outside [Start, End).
func (r *Ring) Copy(from int64, n int) []byte {
	if from < r.start || from >= r.end {
		return []byte{}
	}
	p := make([]byte, min(n, int(r.end-from)))
	return p[:r.ReadAt(p, from)]
}

// Limit is the most bytes the ring holds.
func (r *Ring) Limit() int { return r.limit }
