package persist

import (
	"context"
	"fmt"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// The owner lease: several servers may share a state dir; each registers
// itself in owners and refreshes its heartbeat, and a session is attached
// by the server named in its owner column. These methods are synchronous
// transactions of their own, outside the writer's batches.

// Heartbeat registers owner or refreshes its row. A zero owner.Heartbeat
// means now; StartedAt is kept from the first registration.
func (s *Store) Heartbeat(owner sessions.Owner) error {
	if owner.ID == "" {
		return fmt.Errorf("heartbeat: empty owner id")
	}
	now := s.opt.Now()
	if owner.Heartbeat.IsZero() {
		owner.Heartbeat = now
	}
	if owner.StartedAt.IsZero() {
		owner.StartedAt = now
	}
	_, err := s.db.Exec(`INSERT INTO owners (id, pid, host, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, host = excluded.host, heartbeat_at = excluded.heartbeat_at`,
		owner.ID, owner.Pid, owner.Host, nanos(owner.StartedAt), nanos(owner.Heartbeat))
	if err != nil {
		return fmt.Errorf("heartbeat %s: %w", owner.ID, explainWrite(s.path, err))
	}
	return nil
}

// Adopt makes owner the owner of session id if it has none, or its owner is
// not registered, or its owner's heartbeat is older than staleBefore. It
// reports whether owner holds id now (true also when it already did);
// sessions.ErrNotFound if id has no record. One IMMEDIATE transaction: of
// several servers adopting at once, exactly one wins.
func (s *Store) Adopt(id sessions.ID, owner string, staleBefore time.Time) (bool, error) {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("adopt %s: %w", id, explainWrite(s.path, err))
	}
	defer tx.Rollback() // best effort: a no-op after Commit
	res, err := tx.ExecContext(ctx, `UPDATE sessions SET owner = ?2
		WHERE id = ?1 AND (owner IS NULL OR owner = ?2
			OR owner NOT IN (SELECT id FROM owners)
			OR owner IN (SELECT id FROM owners WHERE heartbeat_at < ?3))`,
		string(id), owner, nanos(staleBefore))
	if err != nil {
		return false, fmt.Errorf("adopt %s: %w", id, explainWrite(s.path, err))
	}
	n, _ := res.RowsAffected() // sqlite3 always knows
	if n == 0 {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sessions WHERE id = ?`, string(id)).Scan(&one); err != nil {
			return false, fmt.Errorf("adopt %s: %w", id, err)
		}
		if one == 0 {
			return false, fmt.Errorf("adopt %s: %w", id, sessions.ErrNotFound)
		}
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("adopt %s: %w", id, explainWrite(s.path, err))
	}
	return n == 1, nil
}

// Owners lists the registered owners, oldest first.
func (s *Store) Owners() ([]sessions.Owner, error) {
	rows, err := s.db.Query(`SELECT id, pid, host, started_at, heartbeat_at FROM owners ORDER BY started_at, id`)
	if err != nil {
		return nil, fmt.Errorf("list owners: %w", err)
	}
	defer rows.Close()
	var os []sessions.Owner
	for rows.Next() {
		var o sessions.Owner
		var started, beat int64
		if err := rows.Scan(&o.ID, &o.Pid, &o.Host, &started, &beat); err != nil {
			return nil, fmt.Errorf("list owners: %w", err)
		}
		o.StartedAt, o.Heartbeat = fromNanos(started), fromNanos(beat)
		os = append(os, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list owners: %w", err)
	}
	return os, nil
}

// Release clears owner from every session it holds and removes its
// registration, in one transaction.
func (s *Store) Release(owner string) error {
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("release %s: %w", owner, explainWrite(s.path, err))
	}
	defer tx.Rollback() // best effort: a no-op after Commit
	if _, err := tx.ExecContext(ctx, `UPDATE sessions SET owner = NULL WHERE owner = ?`, owner); err != nil {
		return fmt.Errorf("release %s: %w", owner, explainWrite(s.path, err))
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM owners WHERE id = ?`, owner); err != nil {
		return fmt.Errorf("release %s: %w", owner, explainWrite(s.path, err))
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("release %s: %w", owner, explainWrite(s.path, err))
	}
	return nil
}
