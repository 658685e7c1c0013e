package persist

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migrations are the files migrations/NNNN_name.sql, applied in order of
// NNNN, each in its own transaction together with setting PRAGMA
// user_version to NNNN. A migration is never edited once released; a schema
// change is a new file.
//
//go:embed migrations/*.sql
var migrationFS embed.FS

// applicationID marks a database as console-mcp's ('cmcp'); 0001 sets it.
const applicationID = 0x636d6370

type migration struct {
	version int
	name    string
	sql     string
}

// migrations returns the embedded migrations in order. Versions must run
// 1, 2, 3... without gaps; a violation is a build defect, caught by tests.
func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return nil, fmt.Errorf("list migrations: %w", err)
	}
	var ms []migration
	for _, name := range names {
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 {
			return nil, fmt.Errorf("migration %s: name is not NNNN_name.sql", base)
		}
		b, err := migrationFS.ReadFile(name)
		if err != nil {
			return nil, fmt.Errorf("read migration %s: %w", base, err)
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: want version %d", m.name, i+1)
		}
	}
	return ms, nil
}

// schemaVersion is the schema version this binary writes: the number of its
// last migration.
func schemaVersion() int {
	ms, err := migrations()
	if err != nil || len(ms) == 0 {
		return 0
	}
	return ms[len(ms)-1].version
}

// migrate brings the database at s.path up to the newest schema, one
// transaction per migration. Each transaction re-reads user_version under
// the write lock (_txlock=immediate), so two servers opening one new
// database at once apply every migration exactly once.
func migrate(ctx context.Context, db *sql.DB, dbPath string) (applied []string, err error) {
	ms, err := migrations()
	if err != nil {
		return nil, err
	}
	latest := len(ms)
	for {
		done, name, err := migrateOne(ctx, db, dbPath, ms, latest)
		if err != nil {
			return applied, err
		}
		if done {
			return applied, nil
		}
		applied = append(applied, name)
	}
}

// querier is what checkSchema needs of a *sql.DB or *sql.Tx.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// checkSchema reads the schema version of the database and refuses one
// written by a newer console-mcp or by another program.
func checkSchema(ctx context.Context, q querier, dbPath string, latest int) (version int, err error) {
	// One statement, so one snapshot: read one by one, another process's
	// first migration could commit between the version and the tables.
	var appID, tables int
	if err := q.QueryRowContext(ctx, `SELECT (SELECT user_version FROM pragma_user_version),
		(SELECT application_id FROM pragma_application_id), (SELECT count(*) FROM sqlite_schema)`).Scan(&version, &appID, &tables); err != nil {
		return 0, err
	}
	switch {
	case version > latest:
		return 0, classify(ErrNewerSchema, nil, "database %s was written by a newer console-mcp (schema %d, this binary knows %d); upgrade console-mcp or use another --state-dir",
			dbPath, version, latest)
	case version > 0 && appID != applicationID:
		return 0, classify(ErrNotDatabase, nil, "open database %s: an SQLite database of another program (application_id %#x); console-mcp left it untouched: use another --state-dir",
			dbPath, appID)
	case version == 0 && tables > 0:
		return 0, classify(ErrNotDatabase, nil, "open database %s: %d tables but no console-mcp schema version; console-mcp left it untouched: use another --state-dir",
			dbPath, tables)
	}
	return version, nil
}

// pageSize is the page size of a new database: 16 KiB pages hold a 32 KiB
// chunk in three pages instead of nine, which roughly halves the cost of
// writing large output, and make a 1000-page WAL checkpoint 16 MiB.
const pageSize = 16384

// probe checks the schema of an existing database through a connection
// that does not switch it to WAL mode, so that a foreign database or one
// from a newer console-mcp is refused without a byte of it changed. A new,
// empty database gets its page size and WAL mode here.
func probe(ctx context.Context, dbPath string) error {
	db, err := sql.Open("sqlite3", probeDSN(dbPath))
	if err != nil {
		return err
	}
	defer db.Close()
	version, err := checkSchema(ctx, db, dbPath, schemaVersion())
	if err != nil || version > 0 {
		return err
	}
	// A no-op if another process initialised the file meanwhile.
	_, err = db.ExecContext(ctx, fmt.Sprintf("PRAGMA page_size = %d; PRAGMA journal_mode = WAL", pageSize))
	return err
}

func migrateOne(ctx context.Context, db *sql.DB, dbPath string, ms []migration, latest int) (done bool, name string, err error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return false, "", err
	}
	defer tx.Rollback() // best effort: a no-op after Commit
	version, err := checkSchema(ctx, tx, dbPath, latest)
	if err != nil || version == latest {
		return err == nil, "", err
	}
	m := ms[version]
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return false, "", fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf("PRAGMA user_version = %d", m.version)); err != nil {
		return false, "", fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, "", fmt.Errorf("apply migration %s: %w", m.name, err)
	}
	return false, m.name, nil
}
