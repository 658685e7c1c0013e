package persist

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" driver
)

var (
	_ sessions.Store  = (*Store)(nil)
	_ sessions.Leaser = (*Store)(nil)
)

// Errors callers may branch on. Open's and the writer's errors wrap one of
// them together with the SQLite error and a sentence naming the fix.
var (
	ErrClosed      = errors.New("store is closed")
	ErrNewerSchema = errors.New("database schema is newer than this binary")
	ErrNotDatabase = errors.New("not a console-mcp database")
	ErrReadOnly    = errors.New("database is not writable")
	ErrDiskFull    = errors.New("disk full")
)

// DBName is the database file's name in the state dir.
const DBName = "console-mcp.db"

// Options tune a Store. The zero value is the production setting.
type Options struct {
	// BatchRecords commits the queue once this many records (output rows
	// after coalescing, and events) are queued. Zero means 512.
	BatchRecords int
	// BatchDelay commits the queue once its oldest record has waited this
	// long. Zero means 200ms.
	BatchDelay time.Duration
	// TouchInterval is how often dirty session metadata (Touch) is written
	// when nothing else commits. Zero means 5s.
	TouchInterval time.Duration
	// MaxPendingBytes makes AppendOutput block while more than this many
	// bytes are queued or being committed. Zero means 32 MiB.
	MaxPendingBytes int64
	// RetainBytes caps the stored output of one session; the writer deletes
	// the oldest chunks beyond it. Zero means 64 MiB.
	RetainBytes int64
	// RetainEnded is how long an ended session (not starting, running or
	// reconnecting) is kept, with its history. Zero means 30 days.
	RetainEnded time.Duration
	// SecretEnvPatterns are glob patterns (path.Match, case-insensitive) of
	// environment variable names whose values are not stored. Zero means
	// *TOKEN*, *SECRET*, *PASSWORD*, *KEY*, *PASSPHRASE*, *CREDENTIAL*.
	SecretEnvPatterns []string
	// Now is the wall clock for stored times the caller did not set and for
	// the age of ended sessions. Zero means time.Now. Batch timers use the
	// time package directly (testing/synctest fakes them).
	Now func() time.Time
}

// defaultSecretEnvPatterns are the names whose values are never stored
// unless Options.SecretEnvPatterns says otherwise.
var defaultSecretEnvPatterns = []string{"*TOKEN*", "*SECRET*", "*PASSWORD*", "*KEY*", "*PASSPHRASE*", "*CREDENTIAL*"}

func (o Options) withDefaults() (Options, error) {
	if o.BatchRecords < 0 || o.BatchDelay < 0 || o.TouchInterval < 0 || o.MaxPendingBytes < 0 || o.RetainBytes < 0 || o.RetainEnded < 0 {
		return o, errors.New("persist options: negative value")
	}
	if o.BatchRecords == 0 {
		o.BatchRecords = 512
	}
	if o.BatchDelay == 0 {
		o.BatchDelay = 200 * time.Millisecond
	}
	if o.TouchInterval == 0 {
		o.TouchInterval = 5 * time.Second
	}
	if o.MaxPendingBytes == 0 {
		o.MaxPendingBytes = 32 << 20
	}
	if o.RetainBytes == 0 {
		o.RetainBytes = 64 << 20
	}
	if o.RetainEnded == 0 {
		o.RetainEnded = 30 * 24 * time.Hour
	}
	if o.SecretEnvPatterns == nil {
		o.SecretEnvPatterns = defaultSecretEnvPatterns
	}
	pats := make([]string, len(o.SecretEnvPatterns))
	for i, p := range o.SecretEnvPatterns {
		pats[i] = strings.ToUpper(p)
		if _, err := path.Match(pats[i], ""); err != nil {
			return o, fmt.Errorf("persist options: secret env pattern %q: %w", p, err)
		}
	}
	o.SecretEnvPatterns = pats
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Store is the SQLite store. It is safe for concurrent use. Open returns
// it; the caller closes it with Close, which drains the queue.
type Store struct {
	path string
	db   *sql.DB
	// wconn is the writer goroutine's own connection; everything the writer
	// commits goes through it.
	wconn *sql.Conn
	opt   Options
	log   *slog.Logger
	stmt  readStmts

	mu      sync.Mutex
	cond    *sync.Cond // broadcast when a commit ends or the store closes
	queue   *batch     // records not yet taken by the writer
	flight  *batch     // records the writer is committing
	dirty   map[sessions.ID]touch
	reqs    []*request
	blocked int   // appenders waiting for room
	err     error // sticky writer error
	closed  bool
	// Tests only, set before the first write: called by the writer before
	// and after each commit.
	beforeCommit func()
	onCommit     func(*batch)

	wake      chan struct{} // capacity 1: the writer has something to look at
	stop      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

// Open opens the database in dir, creating dir (0700) and the file (0600)
// if needed, applies migrations and starts the writer goroutine. It
// refuses a dir that group or others may write, and a file that is not a
// console-mcp database or comes from a newer console-mcp, without changing
// it. log receives warnings (nil discards them). The caller must Close the
// Store.
func Open(dir string, opt Options, log *slog.Logger) (*Store, error) {
	opt, err := opt.withDefaults()
	if err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dbPath, err := prepareFiles(dir, log)
	if err != nil {
		return nil, err
	}
	unlock := lockOpen(dbPath, log)
	defer unlock()
	if err := probe(context.Background(), dbPath); err != nil {
		return nil, explainOpen(dbPath, err)
	}
	db, err := sql.Open("sqlite3", dsn(dbPath))
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", dbPath, err)
	}
	s := &Store{
		path:  dbPath,
		db:    db,
		opt:   opt,
		log:   log,
		queue: newBatch(),
		dirty: make(map[sessions.ID]touch),
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
	}
	s.cond = sync.NewCond(&s.mu)
	if err := s.init(); err != nil {
		s.stmt.close()
		if s.wconn != nil {
			s.wconn.Close() // best effort: the open failed already
		}
		db.Close() // best effort: the open failed already
		return nil, err
	}
	s.wg.Go(s.run)
	return s, nil
}

func (s *Store) init() error {
	ctx := context.Background()
	applied, err := migrate(ctx, s.db, s.path)
	if err != nil {
		return explainOpen(s.path, err)
	}
	if len(applied) > 0 {
		s.log.Info("database schema migrated", "path", s.path, "applied", applied)
	}
	if err := s.stmt.prepare(ctx, s.db); err != nil {
		return explainOpen(s.path, err)
	}
	s.wconn, err = s.db.Conn(ctx)
	if err != nil {
		return explainOpen(s.path, err)
	}
	// The first retention sweep is also the proof that the database is
	// writable: it takes the write lock.
	n, err := s.deleteEnded(nanos(s.opt.Now().Add(-s.opt.RetainEnded)))
	if err != nil {
		return explainOpen(s.path, err)
	}
	if n > 0 {
		s.log.Info("deleted ended sessions past retention", "count", n)
	}
	return nil
}

// Path is the database file's path.
func (s *Store) Path() string { return s.path }

// Err returns the error that broke the writer, or nil.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// IntegrityCheck runs PRAGMA integrity_check and returns an error listing
// the problems it reports.
func (s *Store) IntegrityCheck() error {
	rows, err := s.db.Query("PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("check integrity of %s: %w", s.path, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			return fmt.Errorf("check integrity of %s: %w", s.path, err)
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("check integrity of %s: %w", s.path, err)
	}
	if len(problems) > 0 {
		return classify(ErrNotDatabase, nil, "check integrity of %s: %s", s.path, strings.Join(problems, "; "))
	}
	return nil
}

// Close stops accepting records, commits everything queued, stops the
// writer and closes the database. It returns the writer's error, if any.
// It is idempotent; later calls return the first call's result.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.cond.Broadcast()
		s.mu.Unlock()
		close(s.stop)
		s.wg.Wait()
		s.mu.Lock()
		werr := s.err
		s.mu.Unlock()
		s.stmt.close()
		cerr := s.wconn.Close()
		if err := s.db.Close(); err != nil && cerr == nil {
			cerr = err
		}
		if cerr != nil {
			cerr = fmt.Errorf("close database %s: %w", s.path, cerr)
		}
		s.closeErr = errors.Join(werr, cerr)
	})
	return s.closeErr
}

// nanos and fromNanos store times as Unix nanoseconds, 0 for the zero time.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
