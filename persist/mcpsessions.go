package persist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// MCPSession is an Mcp-Session-Id issued to a legacy streamable-HTTP
// client, kept so the client can resume it after a server restart.
type MCPSession struct {
	ID                                         string
	CreatedAt, LastAccess, ExpiresAt           time.Time
	ClientName, ClientVersion, ProtocolVersion string
	Terminated                                 bool
}

// LoadMCPSession loads one MCP session; ok is false if there is none.
func (s *Store) LoadMCPSession(id string) (rec MCPSession, ok bool, err error) {
	var created, access, expires int64
	var terminated int
	err = s.db.QueryRow(`SELECT id, created_at, last_access_at, expires_at, client_name, client_version, protocol_version, terminated
		FROM mcp_sessions WHERE id = ?`, id).Scan(&rec.ID, &created, &access, &expires,
		&rec.ClientName, &rec.ClientVersion, &rec.ProtocolVersion, &terminated)
	if errors.Is(err, sql.ErrNoRows) {
		return MCPSession{}, false, nil
	}
	if err != nil {
		return MCPSession{}, false, fmt.Errorf("load mcp session: %w", err)
	}
	rec.CreatedAt, rec.LastAccess, rec.ExpiresAt = fromNanos(created), fromNanos(access), fromNanos(expires)
	rec.Terminated = terminated != 0
	return rec, true, nil
}

// SaveMCPSessions inserts or replaces recs in one transaction.
func (s *Store) SaveMCPSessions(recs []MCPSession) error {
	if len(recs) == 0 {
		return nil
	}
	ctx := context.Background()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save mcp sessions: %w", explainWrite(s.path, err))
	}
	defer tx.Rollback() // best effort: a no-op after Commit
	st, err := tx.PrepareContext(ctx, `INSERT OR REPLACE INTO mcp_sessions
		(id, created_at, last_access_at, expires_at, client_name, client_version, protocol_version, terminated)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		return fmt.Errorf("save mcp sessions: %w", err)
	}
	for _, r := range recs {
		terminated := 0
		if r.Terminated {
			terminated = 1
		}
		if _, err := st.ExecContext(ctx, r.ID, nanos(r.CreatedAt), nanos(r.LastAccess), nanos(r.ExpiresAt),
			r.ClientName, r.ClientVersion, r.ProtocolVersion, terminated); err != nil {
			return fmt.Errorf("save mcp sessions: %w", explainWrite(s.path, err))
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save mcp sessions: %w", explainWrite(s.path, err))
	}
	return nil
}

// DeleteMCPSessionsBefore deletes the MCP sessions that expired before t
// and returns how many.
func (s *Store) DeleteMCPSessionsBefore(t time.Time) (int64, error) {
	res, err := s.db.Exec(`DELETE FROM mcp_sessions WHERE expires_at < ?`, nanos(t))
	if err != nil {
		return 0, fmt.Errorf("delete expired mcp sessions: %w", explainWrite(s.path, err))
	}
	n, _ := res.RowsAffected() // sqlite3 always knows
	return n, nil
}
