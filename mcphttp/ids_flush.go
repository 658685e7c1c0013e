package mcphttp

import (
	"fmt"
	"time"
)

// run is the flush goroutine: it saves changed ids when a request trips the
// dual trigger, and on every tick also forgets dead ids and purges expired
// records. Close stops it.
func (m *IDManager) run() {
	defer close(m.done)
	tick := time.NewTicker(m.flushEvery)
	defer tick.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-m.kick:
			m.flushLogged()
		case <-tick.C:
			m.flushLogged()
			m.sweep()
		}
	}
}

// flushLogged flushes from the background. A failure leaves the ids dirty,
// so the next flush retries, and Close reports the final outcome.
func (m *IDManager) flushLogged() {
	if err := m.Flush(); err != nil {
		m.log.Warn("flush mcp sessions; retrying later", "err", err)
	}
}

// Flush saves every id changed since its last save, in one store call. It is
// safe to call at any time; Close calls it last.
func (m *IDManager) Flush() error {
	m.flushMu.Lock()
	defer m.flushMu.Unlock()
	var (
		recs    []SessionRecord
		entries []*entry
	)
	m.mu.RLock()
	for _, e := range m.live {
		if e.dirty.CompareAndSwap(true, false) {
			e.requests.Store(0)
			recs = append(recs, e.record(m.ttl))
			entries = append(entries, e)
		}
	}
	m.mu.RUnlock()
	if len(recs) == 0 {
		return nil
	}
	if err := m.store.SaveMCPSessions(recs); err != nil {
		for _, e := range entries {
			e.dirty.Store(true)
		}
		return fmt.Errorf("save %d mcp sessions: %w", len(recs), err)
	}
	now := m.now().UnixNano()
	for _, e := range entries {
		e.persistedAt.Store(now)
	}
	return nil
}

// sweep forgets the saved ids that are terminated or expired, tells
// OnExpire about the expired ones, and deletes expired records.
func (m *IDManager) sweep() {
	now := m.now()
	var expired []string
	m.mu.Lock()
	for id, e := range m.live {
		if e.dirty.Load() {
			continue // save first; the next sweep forgets it
		}
		switch {
		case e.terminated.Load():
			delete(m.live, id)
			m.markDead(id, ErrSessionTerminated)
		case m.expired(e.lastAccess.Load(), now):
			delete(m.live, id)
			m.markDead(id, ErrSessionExpired)
			expired = append(expired, id)
		}
	}
	m.mu.Unlock()
	if m.onExpire != nil {
		for _, id := range expired {
			m.onExpire(id)
		}
	}
	if _, err := m.store.DeleteMCPSessionsBefore(now); err != nil {
		m.log.Warn("delete expired mcp sessions; retrying at the next flush", "err", err)
	}
}

// Close stops the flush goroutine and does the final flush, whose error it
// returns. Later calls return the same error.
func (m *IDManager) Close() error {
	m.closeOnce.Do(func() {
		close(m.quit)
		<-m.done
		m.closeErr = m.Flush()
	})
	return m.closeErr
}
