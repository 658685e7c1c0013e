package persist

import (
	"database/sql"
	"errors"
	"fmt"
	"sort"

	"github.com/console-mcp/console-mcp/sessions"
)

// AppendOutput queues chunk c of session id, generation gen; c.Data is
// copied. A small c (under 16 KiB) that directly follows the previous
// queued chunk of id, within 10ms, is coalesced into it (rows up to 64 KiB). It blocks while the queue is full (see
// Options.BatchRecords and MaxPendingBytes) and returns the writer's error
// if the writer has failed, ErrClosed after Close.
func (s *Store) AppendOutput(id sessions.ID, gen int, c sessions.Chunk) error {
	if len(c.Data) == 0 {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if cs := s.queue.chunks[id]; len(cs) > 0 {
		last := cs[len(cs)-1]
		if last.gen == gen && last.end() == c.Offset && len(c.Data) < coalesceMax/4 && len(last.data)+len(c.Data) <= coalesceMax &&
			!c.At.Before(last.at) && c.At.Sub(last.at) <= coalesceWindow {
			if s.closed {
				return ErrClosed
			}
			if s.err != nil {
				return s.err
			}
			last.data = append(last.data, c.Data...)
			s.queue.bytes += int64(len(c.Data))
			return nil
		}
	}
	if err := s.admitLocked(len(c.Data)); err != nil {
		return err
	}
	s.queue.chunks[id] = append(s.queue.chunks[id], &qchunk{off: c.Offset, gen: gen, at: c.At, data: newRowData(c.Data)})
	s.addRecordLocked(len(c.Data))
	return nil
}

// pendingChunks copies the queued and in-flight chunks of id, sorted by
// offset, keeping only bytes in [lo, hi).
func (s *Store) pendingChunks(id sessions.ID, lo, hi int64) []sessions.Chunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pendingChunksLocked(id, lo, hi)
}

// pendingRead is pendingChunks for ReadOutput: an answer of at most limit
// bytes beginning at or after from can only hold pending bytes in
// [p, p+limit), p being the first pending byte at or after from.
func (s *Store) pendingRead(id sessions.ID, from int64, limit int) []sessions.Chunk {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := int64(-1)
	for _, b := range []*batch{s.flight, s.queue} {
		if b == nil {
			continue
		}
		for _, c := range b.chunks[id] {
			if c.end() > from {
				if o := max(c.off, from); p < 0 || o < p {
					p = o
				}
			}
		}
	}
	if p < 0 {
		return nil
	}
	return s.pendingChunksLocked(id, p, p+int64(limit))
}

func (s *Store) pendingChunksLocked(id sessions.ID, lo, hi int64) []sessions.Chunk {
	var out []sessions.Chunk
	for _, b := range []*batch{s.flight, s.queue} {
		if b == nil {
			continue
		}
		for _, c := range b.chunks[id] {
			from, to := max(c.off, lo), min(c.end(), hi)
			if from >= to {
				continue
			}
			out = append(out, sessions.Chunk{Offset: from, At: c.at, Data: append([]byte(nil), c.data[from-c.off:to-c.off]...)})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Offset < out[j].Offset })
	return out
}

// assembler builds one contiguous run of bytes beginning at the first byte
// >= from, from chunks fed in order of offset (overlaps allowed).
type assembler struct {
	from  int64
	max   int
	start int64 // -1 until the first byte
	buf   []byte
}

// add feeds one chunk; it reports false once the run is complete (full, or
// a gap follows it).
func (a *assembler) add(off int64, data []byte) bool {
	end := off + int64(len(data))
	pos := a.from
	if a.start >= 0 {
		pos = a.start + int64(len(a.buf))
	}
	if end <= pos {
		return true
	}
	if off > pos {
		if a.start >= 0 {
			return false // a gap ends the run
		}
		pos = off
	}
	if a.start < 0 {
		a.start = pos
	}
	n := min(int(end-pos), a.max-len(a.buf))
	a.buf = append(a.buf, data[pos-off:pos-off+int64(n)]...)
	return len(a.buf) < a.max
}

// ReadOutput returns up to limit bytes of id's output beginning at offset
// from: stored rows merged with queued ones. start is the offset of
// data[0]; it is greater than from when the bytes before it were never
// stored or were cut by retention. With nothing at or after from it returns
// no data and start = from.
func (s *Store) ReadOutput(id sessions.ID, from int64, limit int) (data []byte, start int64, err error) {
	from = max(from, 0)
	if limit <= 0 {
		return nil, from, nil
	}
	// Snapshot pending bytes before querying: a batch committed in between
	// is then seen twice (harmless) rather than not at all.
	pend := s.pendingRead(id, from, limit)
	a := assembler{from: from, max: limit, start: -1}
	rows, err := s.stmt.readOutput.Query(string(id), from)
	if err != nil {
		return nil, from, fmt.Errorf("read output of %s: %w", id, err)
	}
	defer rows.Close()
	var dec decoder
	more := true
	for more && rows.Next() {
		var off int64
		var codec int
		var raw sql.RawBytes
		if err := rows.Scan(&off, &codec, &raw); err != nil {
			return nil, from, fmt.Errorf("read output of %s: %w", id, err)
		}
		b, err := dec.decode(codec, raw)
		if err != nil {
			return nil, from, fmt.Errorf("read output of %s at %d: %w", id, off, err)
		}
		for more && len(pend) > 0 && pend[0].Offset <= off {
			more = a.add(pend[0].Offset, pend[0].Data)
			pend = pend[1:]
		}
		if more {
			more = a.add(off, b)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, from, fmt.Errorf("read output of %s: %w", id, err)
	}
	for more && len(pend) > 0 {
		more = a.add(pend[0].Offset, pend[0].Data)
		pend = pend[1:]
	}
	if a.start < 0 {
		return nil, from, nil
	}
	return a.buf, a.start, nil
}

// chunksPage is how many rows Chunks reads per query, so that fn never runs
// while a read transaction is open.
const chunksPage = 256

// Chunks calls fn for each chunk of id that ends after offset from (the
// first one may begin before it), stored and queued ones, in order of
// offset, until fn returns false. Overlapping bytes are delivered once.
// fn may call the Store.
func (s *Store) Chunks(id sessions.ID, from int64, fn func(sessions.Chunk) bool) error {
	from = max(from, 0)
	pend := s.pendingChunks(id, 0, 1<<62)
	pos, delivered := from, false // bytes before pos were delivered (or not wanted)
	deliver := func(c sessions.Chunk) bool {
		end := c.Offset + int64(len(c.Data))
		if end <= pos {
			return true
		}
		if delivered && c.Offset < pos {
			c.Data = c.Data[pos-c.Offset:] // overlaps a chunk delivered
			c.Offset = pos
		}
		pos, delivered = end, true
		return fn(c)
	}
	key := int64(-1)
	for {
		page, err := s.chunkPage(id, from, key)
		if err != nil {
			return err
		}
		for _, c := range page {
			for len(pend) > 0 && pend[0].Offset <= c.Offset {
				if !deliver(pend[0]) {
					return nil
				}
				pend = pend[1:]
			}
			if !deliver(c) {
				return nil
			}
			key = c.Offset
		}
		if len(page) < chunksPage {
			break
		}
	}
	for _, c := range pend {
		if !deliver(c) {
			return nil
		}
	}
	return nil
}

// chunkPage reads up to chunksPage rows of id: the first page begins with
// the chunk holding from (key < 0), later ones after offset key.
func (s *Store) chunkPage(id sessions.ID, from, key int64) ([]sessions.Chunk, error) {
	var rows *sql.Rows
	var err error
	if key < 0 {
		rows, err = s.stmt.chunksFirst.Query(string(id), from, chunksPage)
	} else {
		rows, err = s.stmt.chunksNext.Query(string(id), key, chunksPage)
	}
	if err != nil {
		return nil, fmt.Errorf("read output of %s: %w", id, err)
	}
	defer rows.Close()
	var page []sessions.Chunk
	for rows.Next() {
		var c sessions.Chunk
		var at int64
		var codec int
		var raw []byte
		if err := rows.Scan(&c.Offset, &at, &codec, &raw); err != nil {
			return nil, fmt.Errorf("read output of %s: %w", id, err)
		}
		if c.Data, err = decodeOwned(codec, raw); err != nil {
			return nil, fmt.Errorf("read output of %s at %d: %w", id, c.Offset, err)
		}
		c.At = fromNanos(at)
		page = append(page, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read output of %s: %w", id, err)
	}
	return page, nil
}

// OutputEnd is the offset just past the last byte of id's output, stored
// or queued; 0 if there is none.
func (s *Store) OutputEnd(id sessions.ID) (int64, error) {
	var end int64
	s.mu.Lock()
	for _, b := range []*batch{s.flight, s.queue} {
		if b == nil {
			continue
		}
		for _, c := range b.chunks[id] {
			end = max(end, c.end())
		}
	}
	s.mu.Unlock()
	var stored int64
	err := s.stmt.outputEnd.QueryRow(string(id)).Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read output end of %s: %w", id, err)
	}
	return max(end, stored), nil
}

// OutputStats reports what retention did to id's stored output: first is
// the offset of the oldest stored byte, cut the bytes deleted.
func (s *Store) OutputStats(id sessions.ID) (first, cut int64, err error) {
	err = s.db.QueryRow(`SELECT first_off, cut_bytes FROM output_meta WHERE session = ?`, string(id)).Scan(&first, &cut)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read output stats of %s: %w", id, err)
	}
	return first, cut, nil
}
