-- 0001: console-mcp's first schema.
-- Times are Unix nanoseconds; 0 means unset. Offsets are absolute byte
-- offsets into a session's one output stream.

-- 'cmcp': marks the file as console-mcp's, so Open refuses a foreign database.
PRAGMA application_id = 1668113264;

-- Server processes sharing the state dir (the owner lease).
CREATE TABLE owners (
	id           TEXT PRIMARY KEY,
	pid          INTEGER NOT NULL,
	host         TEXT NOT NULL,
	started_at   INTEGER NOT NULL,
	heartbeat_at INTEGER NOT NULL
) STRICT;

-- One row per session. spec is sessions.Spec as JSON with secret-looking
-- environment values removed (their names are in spec.env_refs). owner is
-- set when the row is inserted and afterwards only by the lease (Adopt,
-- Release); it is not a foreign key because a lease may name an owner that
-- is no longer registered.
CREATE TABLE sessions (
	id               TEXT PRIMARY KEY,
	spec             TEXT NOT NULL,
	status           TEXT NOT NULL,
	status_reason    TEXT NOT NULL DEFAULT '',
	generation       INTEGER NOT NULL,
	pid              INTEGER NOT NULL DEFAULT 0,
	cwd              TEXT NOT NULL DEFAULT '',
	exit_code        INTEGER,          -- NULL: no exit recorded
	exit_signal      TEXT NOT NULL DEFAULT '',
	output_end       INTEGER NOT NULL DEFAULT 0,
	lost_bytes       INTEGER NOT NULL DEFAULT 0,
	owner            TEXT,
	created_at       INTEGER NOT NULL,
	updated_at       INTEGER NOT NULL,
	last_activity_at INTEGER NOT NULL,
	ended_at         INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX sessions_owner ON sessions (owner) WHERE owner IS NOT NULL;
CREATE INDEX sessions_ended ON sessions (ended_at) WHERE ended_at > 0;

-- Output chunks, clustered by (session, off) so that a range read is one
-- b-tree seek followed by a sequential scan. A chunk is written by the batch
-- writer, possibly coalesced from adjacent pieces a few milliseconds apart.
-- data is the chunk's bytes as written (codec 0) or compressed as one
-- S2 block (codec 1); size is always the length of the bytes as written.
CREATE TABLE output (
	session TEXT NOT NULL,
	off     INTEGER NOT NULL,
	gen     INTEGER NOT NULL,
	at      INTEGER NOT NULL,
	size    INTEGER NOT NULL,
	codec   INTEGER NOT NULL DEFAULT 0,
	data    BLOB NOT NULL,
	PRIMARY KEY (session, off)
) STRICT, WITHOUT ROWID;

-- What the writer knows about a session's stored output, kept apart from
-- sessions because output may be queued before the session's row exists.
-- first_off is the offset of the oldest stored chunk, end_off the offset
-- just past the newest stored byte, cut_bytes what retention deleted.
CREATE TABLE output_meta (
	session   TEXT PRIMARY KEY,
	first_off INTEGER NOT NULL,
	end_off   INTEGER NOT NULL,
	cut_bytes INTEGER NOT NULL DEFAULT 0
) STRICT, WITHOUT ROWID;

-- Inputs, secret markers (the env var name only), resizes, restart markers
-- and status transitions, placed in the stream by offset; seq keeps the
-- order in which they were queued.
CREATE TABLE events (
	seq     INTEGER PRIMARY KEY,
	session TEXT NOT NULL,
	gen     INTEGER NOT NULL,
	off     INTEGER NOT NULL,
	at      INTEGER NOT NULL,
	kind    TEXT NOT NULL,
	data    TEXT NOT NULL
) STRICT;
CREATE INDEX events_session ON events (session, off, at);

-- Recovery attempts; removed with their session.
CREATE TABLE recoveries (
	seq        INTEGER PRIMARY KEY,
	session    TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
	strategy   TEXT NOT NULL,
	started_at INTEGER NOT NULL,
	ended_at   INTEGER NOT NULL,
	outcome    TEXT NOT NULL,
	error      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX recoveries_session ON recoveries (session, seq);
