// Package persist keeps console-mcp's sessions, their output history and
// the owner lease in one SQLite database (github.com/mattn/go-sqlite3). It
// is the only package that imports database/sql; it implements
// sessions.Store and sessions.Leaser and stores the MCP HTTP session ids.
//
// # Files
//
// The database is console-mcp.db in the state dir (DefaultStateDir). Open
// creates the dir 0700 and the file 0600 (SQLite gives the -wal and -shm
// files the database file's mode), refuses a dir that group or others may
// write, and tightens a database file others may read. It never deletes,
// renames or recreates the file: a corrupt file, a foreign SQLite database,
// a database written by a newer console-mcp, a read-only dir or a full disk
// is an error naming the path and the fix.
//
// # Schema
//
// Versioned migrations (migrations/NNNN_name.sql, embedded) run at Open, one
// transaction each, the version in PRAGMA user_version. Tables:
//
//   - sessions: one row per session: the spec as JSON with secret-looking
//     environment values removed (their names go to Spec.EnvRefs), status and
//     reason, generation, pid, last known cwd, exit code and signal, output
//     end, bytes lost by backends, owner, and created/updated/last
//     activity/ended times.
//   - output: chunks keyed by (session, offset), WITHOUT ROWID so that a
//     range read is one seek and a sequential scan; each row carries the
//     generation and the time of its first byte.
//   - output_meta: per session, the offsets of the oldest stored chunk and
//     of the end of stored output, and the bytes retention deleted.
//   - events: inputs, secret markers (the env var name, never the value),
//     resizes, restart markers and status transitions with their causes,
//     each placed at an output offset and a time.
//   - recoveries: one row per recovery attempt.
//   - owners: the servers sharing the state dir, with their heartbeat.
//   - mcp_sessions: Mcp-Session-Id values issued to legacy HTTP clients.
//
// # Batching
//
// AppendOutput and AppendEvent queue records in memory; one writer
// goroutine owned by the Store commits the queue in one transaction when
// Options.BatchRecords records are queued or Options.BatchDelay has passed
// since the oldest of them was queued, whichever comes first. Adjacent
// small chunks of one session less than 10ms apart are coalesced into one
// row of up to 64 KiB (the row keeps the first chunk's time, so an
// asciicast export is off by at most 10ms). Touch marks a session's output end and last activity
// dirty; they are written with the next commit, at the latest by the
// Options.TouchInterval tick. SaveSession, AddRecovery and Flush make the
// writer commit everything queued together with their own change and
// return once it is committed. Reads (ReadOutput, Chunks, OutputEnd,
// Events) merge queued records with stored ones, so a caller never sees a
// hole between memory and disk.
//
// Back-pressure: AppendOutput and AppendEvent block while
// Options.BatchRecords records are queued or being committed, or while more
// than Options.MaxPendingBytes bytes are, so a disk slower than the
// terminals slows the terminals instead of growing memory.
//
// Retention is the writer's job too: after each commit it deletes the
// oldest chunks of a session holding more than Options.RetainBytes, and
// periodically it deletes sessions that ended more than
// Options.RetainEnded ago. Reads report what was cut as a start offset
// greater than the one asked for.
//
// # Guarantees
//
// The database runs in WAL mode with synchronous=NORMAL. A committed
// transaction survives a crash of the process (kill -9): its WAL frames are
// in the operating system's cache and the next Open replays them. A power
// loss or kernel crash may roll back the transactions committed since the
// last checkpoint, never corrupt the file. Output queued but not committed
// when the process dies is lost: at most one batch (BatchRecords records,
// or BatchDelay of output), because appends block while a full batch is
// queued or in flight.
//
// A write that fails (disk full, I/O error) breaks the Store: the queue is
// dropped, and every later AppendOutput, AppendEvent, SaveSession,
// AddRecovery and Flush returns the error, as does Err. Reads keep working.
// Close the Store and open it again once the cause is fixed.
//
// Several processes may open one database: writes are serialised by
// SQLite's write lock (every transaction begins IMMEDIATE, waiting up to a
// busy timeout), and the owner lease (Adopt) decides which server writes a
// session.
package persist
