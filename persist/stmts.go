package persist

import (
	"context"
	"database/sql"
)

// readStmts are the prepared statements of the read path. database/sql
// prepares each lazily on every pooled connection it runs on.
type readStmts struct {
	readOutput   *sql.Stmt
	chunksFirst  *sql.Stmt
	chunksNext   *sql.Stmt
	outputEnd    *sql.Stmt
	session      *sql.Stmt
	sessionsAll  *sql.Stmt
	sessionsLive *sql.Stmt
	events       *sql.Stmt
	recoveries   *sql.Stmt
}

// chunkAt selects the offset of the chunk holding byte ?2 of session ?1
// (the last one beginning at or before it), else ?2.
const chunkAt = `coalesce((SELECT off FROM output WHERE session = ?1 AND off <= ?2 ORDER BY off DESC LIMIT 1), ?2)`

func (r *readStmts) prepare(ctx context.Context, db *sql.DB) error {
	for _, p := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&r.readOutput, `SELECT off, codec, data FROM output WHERE session = ?1 AND off >= ` + chunkAt + ` ORDER BY off`},
		{&r.chunksFirst, `SELECT off, at, codec, data FROM output WHERE session = ?1 AND off >= ` + chunkAt + ` ORDER BY off LIMIT ?3`},
		{&r.chunksNext, `SELECT off, at, codec, data FROM output WHERE session = ?1 AND off > ?2 ORDER BY off LIMIT ?3`},
		{&r.outputEnd, `SELECT end_off FROM output_meta WHERE session = ?`},
		{&r.session, `SELECT ` + recordColumns + ` FROM sessions WHERE id = ?`},
		{&r.sessionsAll, `SELECT ` + recordColumns + ` FROM sessions ORDER BY created_at, id`},
		{&r.sessionsLive, `SELECT ` + recordColumns + ` FROM sessions WHERE status IN ('starting', 'running', 'reconnecting') ORDER BY created_at, id`},
		{&r.events, `SELECT gen, off, at, kind, data FROM events WHERE session = ? ORDER BY off, at, seq`},
		{&r.recoveries, `SELECT strategy, started_at, ended_at, outcome, error FROM recoveries WHERE session = ? ORDER BY seq`},
	} {
		st, err := db.PrepareContext(ctx, p.sql)
		if err != nil {
			return err
		}
		*p.st = st
	}
	return nil
}

func (r *readStmts) close() {
	for _, st := range []*sql.Stmt{r.readOutput, r.chunksFirst, r.chunksNext, r.outputEnd, r.session,
		r.sessionsAll, r.sessionsLive, r.events, r.recoveries} {
		if st != nil {
			st.Close() // best effort: closing the db releases them anyway
		}
	}
}
