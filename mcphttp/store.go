package mcphttp

import "time"

// SessionRecord is the persisted form of one MCP session id (an
// Mcp-Session-Id issued to a client of the 2025 protocol era).
type SessionRecord struct {
	ID string
	// CreatedAt is when the id was issued by initialize.
	CreatedAt time.Time
	// LastAccess is the last request seen for the id, as of the last flush.
	LastAccess time.Time
	// ExpiresAt is LastAccess plus the sliding TTL in force when saved.
	ExpiresAt time.Time
	// ClientName, ClientVersion and ProtocolVersion come from the initialize
	// exchange (the negotiated version, not the requested one).
	ClientName, ClientVersion, ProtocolVersion string
	// Terminated is set once the client ended the session with DELETE.
	Terminated bool
}

// SessionStore is what the IDManager needs from persistence. Implementations
// must be safe for concurrent use; the IDManager calls them from request
// goroutines (initialize, DELETE, the first request for an id issued before a
// restart) and from its flush goroutine.
type SessionStore interface {
	// LoadMCPSession returns the record for id; found is false when there is
	// none. An error means the store could not answer.
	LoadMCPSession(id string) (rec SessionRecord, found bool, err error)
	// SaveMCPSessions upserts all records in one transaction.
	SaveMCPSessions(recs []SessionRecord) error
	// DeleteMCPSessionsBefore deletes the records whose ExpiresAt is before t
	// and reports how many it deleted.
	DeleteMCPSessionsBefore(t time.Time) (int64, error)
}
