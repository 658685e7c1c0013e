-- 0002: MCP streamable-HTTP session ids (Mcp-Session-Id) issued by this
-- server, so legacy clients can resume them after a restart.
CREATE TABLE mcp_sessions (
	id               TEXT PRIMARY KEY,
	created_at       INTEGER NOT NULL,
	last_access_at   INTEGER NOT NULL,
	expires_at       INTEGER NOT NULL,
	client_name      TEXT NOT NULL DEFAULT '',
	client_version   TEXT NOT NULL DEFAULT '',
	protocol_version TEXT NOT NULL DEFAULT '',
	terminated       INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX mcp_sessions_expires ON mcp_sessions (expires_at);
