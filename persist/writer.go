package persist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// run is the writer goroutine. It owns every write of batched records.
func (s *Store) run() {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	tick := time.NewTicker(s.opt.TouchInterval)
	defer tick.Stop()
	sweepEvery := min(max(s.opt.RetainEnded/4, time.Second), time.Hour)
	sweep := time.NewTicker(sweepEvery) // Open swept once already
	defer sweep.Stop()

	for {
		touchDue, stopping := false, false
		select {
		case <-s.wake:
		case <-timer.C:
		case <-tick.C:
			touchDue = true
		case <-sweep.C:
			s.sweepEnded()
			continue
		case <-s.stop:
			stopping = true
		}

		s.mu.Lock()
		q := s.queue
		due := stopping || len(s.reqs) > 0 || s.blocked > 0 ||
			q.records >= s.opt.BatchRecords ||
			(touchDue && len(s.dirty) > 0)
		if !due && q.records > 0 {
			wait := s.opt.BatchDelay - time.Since(q.oldest)
			if wait <= 0 {
				due = true
			} else {
				timer.Reset(wait)
			}
		}
		if !due {
			s.mu.Unlock()
			continue
		}
		b, dirty, reqs := q, s.dirty, s.reqs
		s.queue, s.flight, s.reqs = newBatch(), b, nil
		s.dirty = make(map[sessions.ID]touch)
		werr := s.err
		s.mu.Unlock()

		var soft []error
		if werr == nil {
			if s.beforeCommit != nil {
				s.beforeCommit()
			}
			soft, werr = s.commit(b, dirty, reqs)
			if werr != nil {
				werr = explainWrite(s.path, werr)
			}
		}

		s.mu.Lock()
		s.flight = nil
		if werr != nil && s.err == nil {
			s.err = werr
		}
		if s.err != nil {
			// Broken: drop what is queued; appenders see s.err.
			s.queue = newBatch()
		}
		hook := s.onCommit
		s.cond.Broadcast()
		s.mu.Unlock()
		if werr == nil && hook != nil {
			hook(b)
		}
		b.release()
		for i, r := range reqs {
			if werr != nil {
				r.done <- werr
			} else {
				r.done <- soft[i]
			}
		}
		if stopping {
			return
		}
	}
}

// commit writes b, the dirty metadata and the requests in one transaction.
// soft[i] is request i's own error.
func (s *Store) commit(b *batch, dirty map[sessions.ID]touch, reqs []*request) (soft []error, err error) {
	ctx := context.Background()
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback() // best effort: a no-op after Commit
	if err := s.writeChunks(ctx, tx, b); err != nil {
		return nil, err
	}
	if len(b.events) > 0 {
		st, err := tx.PrepareContext(ctx, `INSERT INTO events (session, gen, off, at, kind, data) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			return nil, err
		}
		for _, ev := range b.events {
			if _, err := st.ExecContext(ctx, string(ev.Session), ev.Generation, ev.Offset, nanos(ev.At), string(ev.Kind), ev.Data); err != nil {
				return nil, fmt.Errorf("insert event: %w", err)
			}
		}
	}
	for id, t := range dirty {
		if _, err := tx.ExecContext(ctx, `UPDATE sessions SET output_end = max(output_end, ?), last_activity_at = max(last_activity_at, ?) WHERE id = ?`,
			t.outputEnd, nanos(t.at), string(id)); err != nil {
			return nil, fmt.Errorf("update session %s: %w", id, err)
		}
	}
	soft = make([]error, len(reqs))
	for i, r := range reqs {
		if r.fn == nil {
			continue
		}
		if err := r.fn(ctx, tx); err != nil {
			var se *softError
			if !errors.As(err, &se) {
				return nil, err
			}
			soft[i] = se.err
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	return soft, nil
}

// insertRows is how many output rows one INSERT statement carries: fewer
// statements, fewer cgo calls and database/sql round trips per row.
const insertRows = 16

// insertOutput is the INSERT of n output rows. A replay may send a chunk at
// an offset already stored; the longer one wins, so no byte is lost either
// way.
func insertOutput(n int) string {
	return `INSERT INTO output (session, off, gen, at, size, codec, data) VALUES ` +
		strings.Repeat(`(?, ?, ?, ?, ?, ?, ?), `, n-1) + `(?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (session, off) DO UPDATE SET gen = excluded.gen, at = excluded.at,
			size = excluded.size, codec = excluded.codec, data = excluded.data
		WHERE excluded.size > output.size`
}

// writeChunks inserts b's output rows, updates output_meta and enforces
// RetainBytes for the sessions written.
func (s *Store) writeChunks(ctx context.Context, tx *sql.Tx, b *batch) error {
	if len(b.chunks) == 0 {
		return nil
	}
	one, err := tx.PrepareContext(ctx, insertOutput(1))
	if err != nil {
		return err
	}
	defer one.Close()
	many, err := tx.PrepareContext(ctx, insertOutput(insertRows))
	if err != nil {
		return err
	}
	defer many.Close()
	args := make([]any, 0, 7*insertRows)
	var enc encoder
	for id, cs := range b.chunks {
		first, end := cs[0].off, cs[0].end()
		for _, c := range cs {
			first, end = min(first, c.off), max(end, c.end())
		}
		for rows := cs; len(rows) > 0; {
			n, st := insertRows, many
			if len(rows) < insertRows {
				n, st = 1, one
			}
			args = args[:0]
			enc.reset()
			for _, c := range rows[:n] {
				codec, data := enc.encode(c.data)
				args = append(args, string(id), c.off, c.gen, nanos(c.at), len(c.data), codec, data)
			}
			if _, err := st.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert output of %s: %w", id, err)
			}
			rows = rows[n:]
		}
		var storedFirst, storedEnd, cut int64
		if err := tx.QueryRowContext(ctx, `INSERT INTO output_meta (session, first_off, end_off) VALUES (?, ?, ?)
			ON CONFLICT (session) DO UPDATE SET first_off = min(first_off, excluded.first_off), end_off = max(end_off, excluded.end_off)
			RETURNING first_off, end_off, cut_bytes`, string(id), first, end).Scan(&storedFirst, &storedEnd, &cut); err != nil {
			return fmt.Errorf("update output meta of %s: %w", id, err)
		}
		if storedEnd-storedFirst > s.opt.RetainBytes {
			if err := s.cut(ctx, tx, id, storedFirst, storedEnd); err != nil {
				return err
			}
		}
	}
	return nil
}

// cut deletes the oldest chunks of id so that at most 15/16 of RetainBytes
// remain (the slack spares a delete per commit), keeping at least the
// newest chunk. The span deleted is added to cut_bytes.
func (s *Store) cut(ctx context.Context, tx *sql.Tx, id sessions.ID, first, end int64) error {
	target := end - s.opt.RetainBytes + s.opt.RetainBytes/16
	var newFirst int64
	err := tx.QueryRowContext(ctx, `SELECT off FROM output WHERE session = ? AND off >= ? ORDER BY off LIMIT 1`, string(id), target).Scan(&newFirst)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `SELECT off FROM output WHERE session = ? ORDER BY off DESC LIMIT 1`, string(id)).Scan(&newFirst)
	}
	if err != nil {
		return fmt.Errorf("find retention cut of %s: %w", id, err)
	}
	if newFirst <= first {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM output WHERE session = ? AND off < ?`, string(id), newFirst); err != nil {
		return fmt.Errorf("delete old output of %s: %w", id, err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE output_meta SET first_off = ?, cut_bytes = cut_bytes + ? WHERE session = ?`,
		newFirst, newFirst-first, string(id)); err != nil {
		return fmt.Errorf("update output meta of %s: %w", id, err)
	}
	return nil
}

// sweepEnded deletes sessions that ended more than RetainEnded ago, with
// their output, events and recovery attempts. It runs on the writer
// goroutine; a failure breaks the store like any other write.
func (s *Store) sweepEnded() {
	s.mu.Lock()
	broken := s.err != nil
	s.mu.Unlock()
	if broken {
		return
	}
	before := nanos(s.opt.Now().Add(-s.opt.RetainEnded))
	n, err := s.deleteEnded(before)
	if err != nil {
		s.mu.Lock()
		if s.err == nil {
			s.err = explainWrite(s.path, err)
		}
		s.cond.Broadcast()
		s.mu.Unlock()
		return
	}
	if n > 0 {
		s.log.Info("deleted ended sessions past retention", "count", n, "ended_before", fromNanos(before))
	}
}

func (s *Store) deleteEnded(before int64) (int64, error) {
	ctx := context.Background()
	tx, err := s.wconn.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback() // best effort: a no-op after Commit
	const old = `SELECT id FROM sessions WHERE ended_at > 0 AND ended_at < ?1`
	for _, q := range []string{
		`DELETE FROM output WHERE session IN (` + old + `)`,
		`DELETE FROM output_meta WHERE session IN (` + old + `)`,
		`DELETE FROM events WHERE session IN (` + old + `)`,
	} {
		if _, err := tx.ExecContext(ctx, q, before); err != nil {
			return 0, fmt.Errorf("delete ended sessions: %w", err)
		}
	}
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE ended_at > 0 AND ended_at < ?`, before)
	if err != nil {
		return 0, fmt.Errorf("delete ended sessions: %w", err)
	}
	n, _ := res.RowsAffected() // sqlite3 always knows
	return n, tx.Commit()
}
