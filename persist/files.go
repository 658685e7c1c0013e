package persist

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
)

// DefaultStateDir is where the database lives unless --state-dir says
// otherwise: $CONSOLE_MCP_STATE_DIR if set, else $XDG_STATE_HOME/console-mcp
// (XDG_STATE_HOME must be absolute, as the XDG spec says), else
// ~/.local/state/console-mcp.
func DefaultStateDir() (string, error) {
	if d := os.Getenv("CONSOLE_MCP_STATE_DIR"); d != "" {
		return d, nil
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "console-mcp"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find state dir: %w; set CONSOLE_MCP_STATE_DIR or --state-dir", err)
	}
	return filepath.Join(home, ".local", "state", "console-mcp"), nil
}

// sqliteHeader starts every SQLite database file.
var sqliteHeader = []byte("SQLite format 3\x00")

// prepareFiles makes sure dir exists with mode 0700 and is not writable by
// group or others (refused: another user could swap the database), and that
// the database file exists with mode 0600 and an SQLite header (or is
// empty, as a new database is). It returns the database file's path.
//
// It creates the file itself (O_EXCL) so the mode is right from the start,
// and Open then opens it with mode=rw, so SQLite never creates a database
// anywhere by surprise.
func prepareFiles(dir string, log *slog.Logger) (string, error) {
	if dir == "" {
		return "", errors.New("open state dir: empty path")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("open state dir %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create state dir %s: %w; create it yourself or use another --state-dir", dir, err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("open state dir %s: %w", dir, err)
	}
	if !fi.IsDir() {
		return "", fmt.Errorf("open state dir %s: not a directory; use another --state-dir", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return "", fmt.Errorf("open state dir %s: writable by group or others (mode %04o); run chmod 700 %s or use another --state-dir", dir, perm, dir)
	} else if perm&0o077 != 0 {
		log.Warn("state dir is readable by group or others; session history may contain secrets typed in the clear",
			"dir", dir, "mode", fmt.Sprintf("%04o", perm))
	}

	dbPath := filepath.Join(dir, DBName)
	f, err := os.OpenFile(dbPath, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		f.Close() // an empty file is a new database
		return dbPath, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return "", fmt.Errorf("create database %s: %w; fix the permissions of %s or use another --state-dir", dbPath, err, dir)
	}
	fi, err = os.Stat(dbPath)
	if err != nil {
		return "", fmt.Errorf("open database %s: %w", dbPath, err)
	}
	if !fi.Mode().IsRegular() {
		return "", classify(ErrNotDatabase, nil, "open database %s: not a regular file; move it aside or use another --state-dir", dbPath)
	}
	if err := checkHeader(dbPath, fi.Size()); err != nil {
		return "", err
	}
	for _, p := range []string{dbPath, dbPath + "-wal", dbPath + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 == 0 {
			continue
		}
		if err := os.Chmod(p, 0o600); err != nil {
			return "", fmt.Errorf("tighten permissions of %s: %w; run chmod 600 %s", p, err, p)
		}
		log.Warn("tightened database file permissions", "path", p, "was", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
	return dbPath, nil
}

// checkHeader refuses a non-empty file that does not start like an SQLite
// database, before SQLite sees it.
func checkHeader(dbPath string, size int64) error {
	if size == 0 {
		return nil
	}
	f, err := os.Open(dbPath)
	if err != nil {
		return fmt.Errorf("open database %s: %w; fix its permissions or use another --state-dir", dbPath, err)
	}
	defer f.Close()
	head := make([]byte, len(sqliteHeader))
	if _, err := io.ReadFull(f, head); err != nil || !bytes.Equal(head, sqliteHeader) {
		return classify(ErrNotDatabase, nil, "open database %s: not an SQLite database (no SQLite header); console-mcp left it untouched: move it aside to start an empty history, or use another --state-dir", dbPath)
	}
	return nil
}

// dsn is the go-sqlite3 data source name for dbPath. Every connection of
// the pool gets these settings:
func dsn(dbPath string) string {
	q := url.Values{}
	// Open an existing file only: prepareFiles created it with mode 0600.
	q.Set("mode", "rw")
	// Write-ahead log: readers do not block the writer nor it them, and a
	// commit appends to the -wal file instead of rewriting pages in place.
	q.Set("_journal_mode", "WAL")
	// In WAL mode NORMAL syncs the WAL only at checkpoints, not at every
	// commit. A killed process (kill -9) loses no committed transaction: the
	// frames are in the OS page cache and the next open recovers them. A
	// power loss or OS crash can roll back the last transactions committed
	// before it, never corrupt the database.
	q.Set("_synchronous", "NORMAL")
	// Wait up to 5s for another connection's (or process's) write lock
	// instead of failing at once with "database is locked".
	q.Set("_busy_timeout", "5000")
	// BEGIN IMMEDIATE: a transaction takes the write lock when it begins, so
	// two read-then-write transactions (Adopt, migrations) serialise rather
	// than fail with SQLITE_BUSY when upgrading their read lock. Reads use
	// single statements, never db.Begin.
	q.Set("_txlock", "immediate")
	// Enforce REFERENCES clauses (recoveries are deleted with their session).
	q.Set("_foreign_keys", "on")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(dbPath), RawQuery: q.Encode()}
	return u.String()
}

// probeDSN opens dbPath without changing its journal mode (read-write, so
// that closing it removes the -wal and -shm files of a WAL database).
func probeDSN(dbPath string) string {
	q := url.Values{}
	q.Set("mode", "rw")
	q.Set("_busy_timeout", "5000")
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(dbPath), RawQuery: q.Encode()}
	return u.String()
}

// SQLite primary result codes the error messages explain
// (https://sqlite.org/rescode.html).
const (
	codePerm     = 3
	codeReadOnly = 8
	codeCorrupt  = 11
	codeFull     = 13
	codeCantOpen = 14
	codeAuth     = 23
	codeNotADB   = 26
)

// classifiedError is an error whose message names the path and the fix,
// matching one of the Err* sentinels with errors.Is and wrapping its cause.
type classifiedError struct {
	kind  error
	cause error
	msg   string
}

func (e *classifiedError) Error() string { return e.msg }

func (e *classifiedError) Unwrap() []error {
	if e.cause == nil {
		return []error{e.kind}
	}
	return []error{e.kind, e.cause}
}

// classify builds a classifiedError; format's first verb is the path.
func classify(kind, cause error, format string, args ...any) error {
	return &classifiedError{kind: kind, cause: cause, msg: fmt.Sprintf(format, args...)}
}

// explainOpen wraps an error of opening or migrating dbPath with the fix.
func explainOpen(dbPath string, err error) error {
	var ce *classifiedError
	if errors.As(err, &ce) {
		return err
	}
	if code, ok := sqliteCode(err); ok {
		switch code {
		case codeNotADB, codeCorrupt:
			return classify(ErrNotDatabase, err, "open database %s: %v; console-mcp left it untouched: try `sqlite3 %s .recover`, move the file aside to start an empty history, or use another --state-dir",
				dbPath, err, dbPath)
		case codeReadOnly, codeCantOpen, codePerm, codeAuth:
			return classify(ErrReadOnly, err, "open database %s: %v; make the file and its directory writable by this user, or use another --state-dir",
				dbPath, err)
		case codeFull:
			return classify(ErrDiskFull, err, "open database %s: %v; free space on the device holding %s",
				dbPath, err, filepath.Dir(dbPath))
		}
	}
	return fmt.Errorf("open database %s: %w", dbPath, err)
}

// explainWrite wraps an error of committing to dbPath with the fix.
func explainWrite(dbPath string, err error) error {
	if code, ok := sqliteCode(err); ok {
		switch code {
		case codeFull:
			return classify(ErrDiskFull, err, "write database %s: %v; free space on the device holding %s, then restart console-mcp",
				dbPath, err, filepath.Dir(dbPath))
		case codeReadOnly, codeCantOpen, codePerm:
			return classify(ErrReadOnly, err, "write database %s: %v; make it writable, then restart console-mcp",
				dbPath, err)
		case codeNotADB, codeCorrupt:
			return classify(ErrNotDatabase, err, "write database %s: %v; stop console-mcp and try `sqlite3 %s .recover`",
				dbPath, err, dbPath)
		}
	}
	return fmt.Errorf("write database %s: %w", dbPath, err)
}
