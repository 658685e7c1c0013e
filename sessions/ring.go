package sessions

// ring holds the most recent bytes of a session's output stream, addressed by
// absolute offset. It grows by doubling from a small buffer up to its limit,
// so an idle session costs little memory. It is not safe for concurrent use;
// the Session's mutex guards it.
type ring struct {
	buf   []byte
	limit int
	start int64 // offset of the oldest byte held
	end   int64 // offset just past the newest byte
}

const ringMinSize = 4 << 10

func newRing(limit int, at int64) ring {
	return ring{limit: limit, start: at, end: at}
}

// write appends p at the end of the stream, dropping the oldest bytes when
// the ring is full.
func (r *ring) write(p []byte) {
	if len(p) == 0 {
		return
	}
	need := int(r.end-r.start) + len(p)
	if need > len(r.buf) && len(r.buf) < r.limit {
		r.grow(need)
	}
	size := len(r.buf)
	if len(p) > size { // only the tail of p fits
		r.end += int64(len(p) - size)
		p = p[len(p)-size:]
	}
	for len(p) > 0 {
		i := int(r.end % int64(size))
		n := copy(r.buf[i:], p)
		p = p[n:]
		r.end += int64(n)
	}
	if r.end-r.start > int64(size) {
		r.start = r.end - int64(size)
	}
}

// skip advances the end of the stream by n bytes that were lost; the ring
// then holds nothing older.
func (r *ring) skip(n int64) {
	r.end += n
	r.start = r.end
}

// grow reallocates the buffer to hold at least need bytes (capped at the
// limit), keeping the bytes held.
func (r *ring) grow(need int) {
	size := max(len(r.buf), ringMinSize)
	for size < need && size < r.limit {
		size *= 2
	}
	size = min(size, r.limit)
	held := r.copyOut(r.start, int(r.end-r.start))
	r.buf = make([]byte, size)
	if len(held) > size {
		held = held[len(held)-size:]
	}
	r.start = r.end - int64(len(held))
	for i := range held {
		r.buf[int((r.start+int64(i))%int64(size))] = held[i]
	}
}

// copyOut returns a copy of at most n bytes beginning at offset from, which
// must lie within [start, end].
func (r *ring) copyOut(from int64, n int) []byte {
	if from < r.start || from > r.end {
		return nil
	}
	n = min(n, int(r.end-from))
	out := make([]byte, n)
	if n == 0 {
		return out
	}
	size := int64(len(r.buf))
	i := int(from % size)
	c := copy(out, r.buf[i:])
	if c < n {
		copy(out[c:], r.buf[:n-c])
	}
	return out
}
