package persist

import (
	"context"
	"database/sql"
	"sync"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// coalesceWindow and coalesceMax bound how adjacent chunks of one session
// are merged into one row: the row's time is its first chunk's, so an
// export replays merged bytes at most coalesceWindow early. Chunks of a
// quarter of coalesceMax or more gain nothing from it and stay rows.
const (
	coalesceWindow = 10 * time.Millisecond
	coalesceMax    = 64 << 10
)

// recordOverhead is what a queued record costs beyond its bytes, for the
// MaxPendingBytes accounting.
const recordOverhead = 64

// The queue: records wait in a batch until the writer takes the whole
// batch and commits it in one transaction.

// batch is a set of records committed in one transaction.
type batch struct {
	chunks  map[sessions.ID][]*qchunk
	events  []sessions.Event
	records int
	bytes   int64
	oldest  time.Time // when the first record was queued (monotonic clock)
}

// qchunk is a queued output row. Its data is owned by the batch; a chunk of
// the queue (not yet in flight) may still grow by coalescing.
type qchunk struct {
	off  int64
	gen  int
	at   time.Time
	data []byte
}

func (c *qchunk) end() int64 { return c.off + int64(len(c.data)) }

func newBatch() *batch {
	return &batch{chunks: make(map[sessions.ID][]*qchunk)}
}

// rowBufs recycles the buffers of large rows (coalesceMax bytes of
// capacity): a program printing fast fills one row after another, and a
// fresh buffer per row is a fresh allocation to fault in, and to grow by
// copying while small chunks are coalesced into it. Rows start in one
// when their first chunk has pooledMin bytes or more (at most 8 times the
// memory of its bytes until more coalesce into it); release returns them
// once their batch is committed.
var rowBufs = sync.Pool{New: func() any { b := make([]byte, 0, coalesceMax); return &b }}

const pooledMin = coalesceMax / 8

// newRowData copies c into a new row's buffer: a pooled one for a large
// chunk, else one with room for a few small chunks to coalesce into.
func newRowData(c []byte) []byte {
	if len(c) >= pooledMin && len(c) <= coalesceMax {
		return append((*rowBufs.Get().(*[]byte))[:0], c...)
	}
	size := len(c)
	if size < 4<<10 {
		size *= 4
	}
	data := make([]byte, len(c), size)
	copy(data, c)
	return data
}

// release returns b's pooled row buffers; nothing may use b's chunks after.
func (b *batch) release() {
	for _, cs := range b.chunks {
		for _, c := range cs {
			if cap(c.data) == coalesceMax {
				d := c.data[:0]
				rowBufs.Put(&d)
			}
			c.data = nil
		}
	}
}

// touch is a session's dirty metadata.
type touch struct {
	outputEnd int64
	at        time.Time
}

// request is a change that must be committed before its caller returns
// (SaveSession, AddRecovery, Flush). fn runs in the writer's transaction; a
// *softError from it fails only this request, any other error the
// transaction.
type request struct {
	fn   func(ctx context.Context, tx *sql.Tx) error
	done chan error
}

type softError struct{ err error }

func (e *softError) Error() string { return e.err.Error() }
func (e *softError) Unwrap() error { return e.err }

// notify wakes the writer without blocking.
func (s *Store) notify() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// admitLocked waits until the queue has room for a record of n bytes, or
// the store is closed or broken. s.mu is held.
func (s *Store) admitLocked(n int) error {
	for {
		if s.closed {
			return ErrClosed
		}
		if s.err != nil {
			return s.err
		}
		inFlight := 0
		var bytes int64 = s.queue.bytes
		if s.flight != nil {
			inFlight = s.flight.records
			bytes += s.flight.bytes
		}
		full := s.queue.records+inFlight >= s.opt.BatchRecords ||
			(bytes > 0 && bytes+int64(n) > s.opt.MaxPendingBytes)
		if !full {
			return nil
		}
		s.blocked++
		s.notify()
		s.cond.Wait()
		s.blocked--
	}
}

// addRecordLocked counts a new record in the queue.
func (s *Store) addRecordLocked(n int) {
	if s.queue.records == 0 {
		s.queue.oldest = time.Now()
		s.notify() // arm the BatchDelay timer
	}
	s.queue.records++
	s.queue.bytes += int64(n + recordOverhead)
	if s.queue.records >= s.opt.BatchRecords {
		s.notify()
	}
}

// submit queues fn to run in the writer's next transaction, makes the
// writer commit now and waits for the commit.
func (s *Store) submit(fn func(ctx context.Context, tx *sql.Tx) error) error {
	r := &request{fn: fn, done: make(chan error, 1)}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if s.err != nil {
		err := s.err
		s.mu.Unlock()
		return err
	}
	s.reqs = append(s.reqs, r)
	s.mu.Unlock()
	s.notify()
	return <-r.done
}

// Flush commits everything queued (output, events, dirty metadata) and
// returns once it is committed, or the writer's error.
func (s *Store) Flush() error {
	return s.submit(nil)
}
