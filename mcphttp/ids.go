package mcphttp

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Errors of a session id lookup. The HTTP layer answers all three with 404,
// which makes a client of the 2025 protocol era initialize again.
var (
	ErrUnknownSession    = errors.New("unknown mcp session")
	ErrSessionExpired    = errors.New("mcp session expired")
	ErrSessionTerminated = errors.New("mcp session terminated")
)

const (
	// idPrefix starts every id this package issues; crypto/rand.Text
	// supplies the rest: 26 characters of base32 (A-Z, 2-7), 130 bits.
	idPrefix = "mcp-"
	idLen    = len(idPrefix) + 26
	// maxDead bounds the memory of ids known to be dead (unknown, expired,
	// terminated), which saves the store a lookup per repeated request.
	maxDead = 4096
)

// IDOptions configures an IDManager. The zero value is usable.
type IDOptions struct {
	// TTL is the sliding lifetime of an id since its last request. Zero means 24h.
	TTL time.Duration
	// TouchRequests persists an id's last access after this many requests
	// since its last save. Zero means 100.
	TouchRequests int
	// TouchInterval persists an id's last access when a request arrives this
	// long after its last save. Zero means 5 minutes.
	TouchInterval time.Duration
	// FlushInterval is the period of the background flush of every changed
	// id, which also forgets expired ids and deletes their records. Zero
	// means 60s.
	FlushInterval time.Duration
	// Now is the clock for TTLs and timestamps. Nil means time.Now.
	Now func() time.Time
	// Logger receives flush failures. Nil discards.
	Logger *slog.Logger
	// OnExpire, if set, is called from the flush goroutine with each id that
	// expired, after the IDManager forgot it. Server uses it to reclaim
	// mcp-go's per-session state.
	OnExpire func(id string)
}

// IDManager is a server.SessionIdManager whose ids survive a restart: memory
// first (a request's validation never touches the store), persisted
// synchronously when issued, with the last access written behind by a dual
// trigger and a background flush. It is safe for concurrent use. NewIDManager
// starts its flush goroutine; Close stops it and does the final flush.
type IDManager struct {
	store        SessionStore
	ttl          time.Duration
	touchEvery   time.Duration
	flushEvery   time.Duration
	touchCount   int64
	now          func() time.Time
	log          *slog.Logger
	onExpire     func(id string)
	kick         chan struct{}
	quit         chan struct{}
	done         chan struct{}
	closeOnce    sync.Once
	closeErr     error
	storeLoadsMu sync.Mutex // one store lookup at a time, for ids not in memory

	// flushMu makes snapshot-and-save atomic, so that a later save never
	// carries older state than an earlier one.
	flushMu sync.Mutex

	mu   sync.RWMutex
	live map[string]*entry
	dead map[string]error // why the id is dead: one of the Err* sentinels
}

var _ server.SessionIdManager = (*IDManager)(nil)

// entry is one live id. Hot fields are atomics so that a request takes only
// the read lock of the map.
type entry struct {
	id          string
	created     time.Time
	lastAccess  atomic.Int64 // unix nanoseconds
	persistedAt atomic.Int64 // unix nanoseconds of the last successful save
	requests    atomic.Int64 // requests since the last save
	dirty       atomic.Bool  // changed since the last save
	terminated  atomic.Bool

	mu              sync.Mutex // guards the client fields below
	clientName      string
	clientVersion   string
	protocolVersion string
}

// NewIDManager returns an IDManager over store and starts its flush
// goroutine. The caller must Close it.
func NewIDManager(store SessionStore, opt IDOptions) *IDManager {
	m := &IDManager{
		store:      store,
		ttl:        orDuration(opt.TTL, 24*time.Hour),
		touchEvery: orDuration(opt.TouchInterval, 5*time.Minute),
		flushEvery: orDuration(opt.FlushInterval, 60*time.Second),
		touchCount: int64(opt.TouchRequests),
		now:        opt.Now,
		log:        opt.Logger,
		onExpire:   opt.OnExpire,
		kick:       make(chan struct{}, 1),
		quit:       make(chan struct{}),
		done:       make(chan struct{}),
		live:       make(map[string]*entry),
		dead:       make(map[string]error),
	}
	if m.touchCount <= 0 {
		m.touchCount = 100
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	go m.run()
	return m
}

func orDuration(d, zero time.Duration) time.Duration {
	if d <= 0 {
		return zero
	}
	return d
}

// Generate issues a new id and persists it before returning, so that a kill
// right after initialize does not lose it. If the store fails, the id still
// works in memory, the failure is logged and the next flush retries.
func (m *IDManager) Generate() string {
	id := idPrefix + rand.Text()
	now := m.now()
	e := &entry{id: id, created: now}
	e.lastAccess.Store(now.UnixNano())
	e.persistedAt.Store(now.UnixNano())
	e.dirty.Store(true)
	m.mu.Lock()
	m.live[id] = e
	m.mu.Unlock()
	if err := m.Flush(); err != nil {
		m.log.Error("persist new mcp session id; kept in memory, retried by the next flush", "err", err)
	}
	return id
}

// Validate reports whether id may be used, without counting a request:
// mcp-go calls it for every POST. It answers from memory; an id not in
// memory is looked up in the store once (that is how ids issued before a
// restart resume). Unknown and expired ids are errors; a terminated id
// reports isTerminated.
func (m *IDManager) Validate(id string) (isTerminated bool, err error) {
	_, err = m.lookup(id, m.now())
	if errors.Is(err, ErrSessionTerminated) {
		return true, nil
	}
	return false, err
}

// Terminate ends id (a client's DELETE) and persists that before returning.
// Ending an unknown, expired or already terminated id does nothing.
func (m *IDManager) Terminate(id string) (isNotAllowed bool, err error) {
	e, err := m.lookup(id, m.now())
	switch {
	case errors.Is(err, ErrUnknownSession), errors.Is(err, ErrSessionExpired), errors.Is(err, ErrSessionTerminated):
		return false, nil
	case err != nil:
		return false, err
	}
	if e.terminated.Swap(true) {
		return false, nil
	}
	e.dirty.Store(true)
	if err := m.Flush(); err != nil {
		return false, fmt.Errorf("terminate mcp session: %w", err)
	}
	return false, nil
}

// Touch validates id and counts a request for it: it slides the TTL and,
// when the dual trigger fires, wakes the flush goroutine. It never waits for
// the store unless id is not in memory.
func (m *IDManager) Touch(id string) error {
	t := m.now()
	e, err := m.lookup(id, t)
	if err != nil {
		return err
	}
	now := t.UnixNano()
	for {
		last := e.lastAccess.Load()
		if last >= now || e.lastAccess.CompareAndSwap(last, now) {
			break
		}
	}
	// Flush clears dirty before it reads lastAccess, so skipping the store
	// when dirty is already set loses no update.
	if !e.dirty.Load() {
		e.dirty.Store(true)
	}
	if e.requests.Add(1) >= m.touchCount || time.Duration(now-e.persistedAt.Load()) >= m.touchEvery {
		select {
		case m.kick <- struct{}{}:
		default:
		}
	}
	return nil
}

// Hooks registers on h what the IDManager needs from the MCP server: the
// client name, version and negotiated protocol version after initialize,
// persisted before the initialize response is written. Register before the
// MCP server serves anything (mcp-go reads hooks without locking).
func (m *IDManager) Hooks(h *server.Hooks) {
	h.AddAfterInitialize(func(ctx context.Context, _ any, req *mcp.InitializeRequest, res *mcp.InitializeResult) {
		session := server.ClientSessionFromContext(ctx)
		if session == nil || req == nil || res == nil {
			return
		}
		m.recordClient(session.SessionID(), req.Params.ClientInfo, res.ProtocolVersion)
	})
}

func (m *IDManager) recordClient(id string, info mcp.Implementation, protocolVersion string) {
	m.mu.RLock()
	e := m.live[id]
	m.mu.RUnlock()
	if e == nil {
		return // not one of ours: stdio, in-process, or a stateless request
	}
	e.mu.Lock()
	e.clientName, e.clientVersion, e.protocolVersion = info.Name, info.Version, protocolVersion
	e.mu.Unlock()
	e.dirty.Store(true)
	if err := m.Flush(); err != nil {
		// A hook cannot fail the request; the record stays dirty and the
		// next flush retries.
		m.log.Warn("persist mcp session client info", "err", err)
	}
}

// lookup returns the entry for id as of now: memory first, then the store
// once. A live entry that may not serve (expired, terminated) comes with
// the error saying why.
func (m *IDManager) lookup(id string, now time.Time) (*entry, error) {
	m.mu.RLock()
	e, ok := m.live[id]
	var deadErr error
	if !ok {
		deadErr = m.dead[id]
	}
	m.mu.RUnlock()
	switch {
	case ok:
		return e, m.state(e, now)
	case deadErr != nil:
		return nil, deadErr
	case !validID(id):
		return nil, ErrUnknownSession
	}
	return m.load(id)
}

// state reports whether a live entry may serve a request.
func (m *IDManager) state(e *entry, now time.Time) error {
	if e.terminated.Load() {
		return ErrSessionTerminated
	}
	if m.expired(e.lastAccess.Load(), now) {
		return ErrSessionExpired
	}
	return nil
}

func (m *IDManager) expired(lastAccess int64, now time.Time) bool {
	return time.Duration(now.UnixNano()-lastAccess) >= m.ttl
}

// load looks id up in the store, one lookup at a time, and remembers the
// answer either way.
func (m *IDManager) load(id string) (*entry, error) {
	m.storeLoadsMu.Lock()
	defer m.storeLoadsMu.Unlock()
	m.mu.RLock()
	e, ok := m.live[id]
	deadErr := m.dead[id]
	m.mu.RUnlock()
	if ok {
		return e, m.state(e, m.now())
	}
	if deadErr != nil {
		return nil, deadErr
	}
	rec, found, err := m.store.LoadMCPSession(id)
	if err != nil {
		return nil, fmt.Errorf("load mcp session: %w", err)
	}
	now := m.now()
	switch {
	case !found:
		err = ErrUnknownSession
	case rec.Terminated:
		err = ErrSessionTerminated
	case m.expired(rec.LastAccess.UnixNano(), now):
		err = ErrSessionExpired
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if err != nil {
		m.markDead(id, err)
		return nil, err
	}
	e = &entry{id: id, created: rec.CreatedAt}
	e.lastAccess.Store(rec.LastAccess.UnixNano())
	e.persistedAt.Store(now.UnixNano())
	e.clientName, e.clientVersion, e.protocolVersion = rec.ClientName, rec.ClientVersion, rec.ProtocolVersion
	m.live[id] = e
	return e, nil
}

// markDead remembers why id is dead. The caller holds m.mu.
func (m *IDManager) markDead(id string, why error) {
	if len(m.dead) >= maxDead {
		clear(m.dead)
	}
	m.dead[id] = why
}

// validID reports whether id has the shape of an id Generate issues, which
// spares the store lookups for garbage.
func validID(id string) bool {
	if len(id) != idLen || id[:len(idPrefix)] != idPrefix {
		return false
	}
	for i := len(idPrefix); i < len(id); i++ {
		c := id[i]
		if (c < 'A' || c > 'Z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// record snapshots e for the store.
func (e *entry) record(ttl time.Duration) SessionRecord {
	last := time.Unix(0, e.lastAccess.Load())
	e.mu.Lock()
	defer e.mu.Unlock()
	return SessionRecord{
		ID:              e.id,
		CreatedAt:       e.created,
		LastAccess:      last,
		ExpiresAt:       last.Add(ttl),
		ClientName:      e.clientName,
		ClientVersion:   e.clientVersion,
		ProtocolVersion: e.protocolVersion,
		Terminated:      e.terminated.Load(),
	}
}
