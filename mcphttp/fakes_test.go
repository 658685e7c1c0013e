package mcphttp

import (
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// memStore is an in-memory SessionStore that can be told to fail and
// counts its calls.
type memStore struct {
	mu       sync.Mutex
	recs     map[string]SessionRecord
	loads    int
	saves    int
	failLoad error
	failSave error
}

var _ SessionStore = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{recs: make(map[string]SessionRecord)} }

func (s *memStore) LoadMCPSession(id string) (SessionRecord, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loads++
	if s.failLoad != nil {
		return SessionRecord{}, false, s.failLoad
	}
	rec, ok := s.recs[id]
	return rec, ok, nil
}

func (s *memStore) SaveMCPSessions(recs []SessionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failSave != nil {
		return s.failSave
	}
	s.saves++
	for _, r := range recs {
		s.recs[r.ID] = r
	}
	return nil
}

func (s *memStore) DeleteMCPSessionsBefore(t time.Time) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for id, r := range s.recs {
		if r.ExpiresAt.Before(t) {
			delete(s.recs, id)
			n++
		}
	}
	return n, nil
}

func (s *memStore) get(id string) (SessionRecord, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.recs[id]
	return r, ok
}

func (s *memStore) count() (recs, loads, saves int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.recs), s.loads, s.saves
}

func (s *memStore) setFailures(load, save error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failLoad, s.failSave = load, save
}

var errDiskOnFire = errors.New("disk on fire")

// fakeClock is an injectable clock for TTL tests that need real sockets
// (where testing/synctest cannot be used).
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
