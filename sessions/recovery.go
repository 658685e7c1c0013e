package sessions

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/console-mcp/console-mcp/offring"
)

// Recovery brings back, after a server restart, the sessions that were live.
// The strategies are tried in order and each must prove success:
//
//  1. reattach: the backend reached the program's holder and the secret
//     matched; output is replayed from the last persisted offset.
//  2. reconnect: SSH sessions re-dial, verify the host key, open a new shell
//     in the last known directory (generation + 1).
//  3. restart: a local program that is gone is re-spawned from its stored
//     spec in its last known directory (generation + 1, a marker line).
//  4. restore: the policy forbids a re-spawn; the session is read-only history.
//  5. fallback: nothing worked; status failed with the reason, history kept.
//
// Every attempt is a RecoveryAttempt row.

// Strategy names.
const (
	StrategyReattach  = "reattach"
	StrategyReconnect = "reconnect"
	StrategyRestart   = "restart"
	StrategyRestore   = "restore"
	StrategyFallback  = "fallback"
)

// leaseTTL is how old an owner's heartbeat may be before its sessions may
// be adopted; heartbeatEvery is how often a server renews its own.
const (
	leaseTTL       = 15 * time.Second
	heartbeatEvery = 3 * time.Second
)

// StartLease registers this server as an owner on the store and keeps its
// heartbeat until Close. It releases the owners on this host whose process
// is gone (a server killed with kill -9), so their sessions can be adopted
// at once rather than after the lease expires.
func (m *Manager) StartLease(host string) error {
	l, ok := m.store.(Leaser)
	if !ok || m.owner == "" {
		return nil
	}
	owners, err := l.Owners()
	if err != nil {
		return fmt.Errorf("list owners: %w", err)
	}
	for _, o := range owners {
		if o.ID != m.owner && o.Host == host && !pidAlive(o.Pid) {
			if err := l.Release(o.ID); err != nil {
				return fmt.Errorf("release dead owner %s: %w", o.ID, err)
			}
			m.log.Info("released the sessions of a server that is gone", "owner", o.ID, "pid", o.Pid)
		}
	}
	me := Owner{ID: m.owner, Pid: os.Getpid(), Host: host, StartedAt: m.now()}
	if err := l.Heartbeat(withBeat(me, m.now())); err != nil {
		return fmt.Errorf("register owner: %w", err)
	}
	m.stopBeat = make(chan struct{})
	m.wg.Go(func() {
		t := time.NewTicker(heartbeatEvery)
		defer t.Stop()
		for {
			select {
			case <-m.stopBeat:
				return
			case <-t.C:
				if err := l.Heartbeat(withBeat(me, m.now())); err != nil {
					m.log.Error("owner heartbeat", "err", err)
				}
			}
		}
	})
	return nil
}

func withBeat(o Owner, at time.Time) Owner {
	o.Heartbeat = at
	return o
}

// pidAlive reports whether process pid exists and is not a zombie.
func pidAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	if err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	return !isZombie(pid)
}

// RecoverAll adopts every live session of earlier runs whose owner is gone
// and brings each back by the strategies, in parallel. It returns once
// every session has a final state for this start.
func (m *Manager) RecoverAll(ctx context.Context) error {
	if m.store == nil {
		return nil
	}
	recs, err := m.store.Sessions(false)
	if err != nil {
		return fmt.Errorf("load sessions: %w", err)
	}
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, rec := range recs {
		if !rec.Status.Live() {
			continue
		}
		if !m.adopt(rec.ID) {
			continue
		}
		m.mu.Lock()
		_, mine := m.sessions[rec.ID]
		m.mu.Unlock()
		if mine {
			continue
		}
		s := m.fromRecord(rec)
		s.reason = ""
		m.mu.Lock()
		m.sessions[s.id] = s
		m.mu.Unlock()
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if err := m.recover(ctx, s, ""); err != nil {
				m.log.Warn("recover session", "session", s.id, "err", err)
			}
		})
	}
	wg.Wait()
	return nil
}

// adopt takes the owner lease of session id; false if another live server
// holds it.
func (m *Manager) adopt(id ID) bool {
	l, ok := m.store.(Leaser)
	if !ok || m.owner == "" {
		return true
	}
	won, err := l.Adopt(id, m.owner, m.now().Add(-leaseTTL))
	if err != nil {
		m.log.Error("adopt session", "session", id, "err", err)
		return false
	}
	return won
}

// Recover brings back one session now (console_recover_session): the
// strategies in order, or only strategy when it is given.
func (m *Manager) Recover(ctx context.Context, id ID, strategy string) error {
	switch strategy {
	case "", StrategyReattach, StrategyReconnect, StrategyRestart, StrategyRestore:
	default:
		return fmt.Errorf("strategy %q is not a strategy: use reattach, reconnect, restart or restore (or omit it for all in order)", strategy)
	}
	s, err := m.Get(id)
	if err != nil {
		return err
	}
	s.mu.Lock()
	live := s.proc != nil && s.status.Live()
	s.mu.Unlock()
	if live {
		return fmt.Errorf("%s is %s: it needs no recovery", id, s.Info().Status)
	}
	if !m.adopt(id) {
		return fmt.Errorf("%s is attached by another console-mcp server; recover it there", id)
	}
	m.mu.Lock()
	m.sessions[id] = s
	m.mu.Unlock()
	return m.recover(ctx, s, strategy)
}

// recover runs the strategies on s, a session without a program.
func (m *Manager) recover(ctx context.Context, s *Session, only string) error {
	s.mu.Lock()
	spec, gen := s.spec, s.gen
	s.mu.Unlock()
	try := func(name string) bool { return only == "" || only == name }

	var errs []error
	if spec.Kind == KindLocal && try(StrategyReattach) {
		err := m.reattach(ctx, s, gen)
		if err == nil {
			return nil
		}
		errs = append(errs, fmt.Errorf("reattach: %w", err))
	}
	policy := spec.OnRestart
	if spec.OneShot {
		policy = Never // never run a one-shot command twice
	}
	// An explicit strategy (console_recover_session) is the caller's
	// deliberate choice and overrides the automatic policy.
	respawnAllowed := only != "" || policy == ReattachOrRestart || spec.Kind == KindSSH && policy != Never
	if spec.Kind == KindSSH && try(StrategyReconnect) {
		if !respawnAllowed {
			errs = append(errs, fmt.Errorf("reconnect: on_restart is %s", policy))
		} else {
			// The same loop as after a dropped connection: bounded
			// attempts with backoff, each a recovery row; the remote host
			// may be unreachable for a while.
			m.wg.Go(func() { s.reconnect(gen, "after a server restart") })
			return nil
		}
	}
	if spec.Kind == KindLocal && try(StrategyRestart) {
		if !respawnAllowed {
			errs = append(errs, fmt.Errorf("restart: on_restart is %s", policy))
		} else if err := m.respawnWithRetry(ctx, s, gen, StrategyRestart); err == nil {
			return nil
		} else {
			errs = append(errs, fmt.Errorf("restart: %w", err))
		}
	}
	if !respawnAllowed && (try(StrategyRestore) || only == "") {
		started := m.now()
		reason := fmt.Sprintf("read-only history: the program is gone and on_restart=%s forbids a re-spawn", policy)
		if spec.OneShot {
			reason = "read-only history: the one-shot command's process is gone (one-shot commands are never re-run)"
		}
		s.finish(nil, StatusRestored, reason)
		m.recordAttempt(s.id, StrategyRestore, started, nil)
		return nil
	}
	started := m.now()
	err := errors.Join(errs...)
	if err == nil {
		err = errors.New("no strategy applies")
	}
	s.finish(nil, StatusFailed, "recovery failed: "+err.Error())
	m.recordAttempt(s.id, StrategyFallback, started, nil)
	return err
}

// reattach reconnects to a surviving program through the backend's holder.
func (m *Manager) reattach(ctx context.Context, s *Session, gen int) error {
	at, ok := m.backends[KindLocal].(Attacher)
	if !ok {
		err := errors.New("programs of this server's local backend do not survive a restart (--no-holder)")
		m.recordAttempt(s.id, StrategyReattach, m.now(), err)
		return err
	}
	from, err := m.store.OutputEnd(s.id)
	if err != nil {
		return fmt.Errorf("read output end: %w", err)
	}
	s.mu.Lock()
	if s.out.End() != from { // a session loaded from its record: the ring is empty
		s.out = offring.New(m.opt.RingBytes, from)
	}
	s.mu.Unlock()

	var p Process
	b := backoff{next: 50 * time.Millisecond, max: 400 * time.Millisecond}
	for attempt := 1; ; attempt++ {
		started := m.now()
		actx, cancel := context.WithTimeout(ctx, 5*time.Second)
		p, err = at.Attach(actx, s.id, from)
		cancel()
		m.recordAttempt(s.id, StrategyReattach, started, err)
		if err == nil || attempt == 2 || errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			break
		}
		time.Sleep(b.delay())
	}
	if err != nil {
		return err
	}
	// A program other than the recorded one is a re-spawn whose server
	// died before it saved the new generation: count it now.
	s.mu.Lock()
	recorded := s.pid
	s.mu.Unlock()
	if recorded > 0 && p.Pid() > 0 && p.Pid() != recorded {
		m.log.Info("reattached to a newer generation than recorded", "session", s.id, "recorded_pid", recorded, "pid", p.Pid())
		gen++
	}
	s.startGeneration(p, gen)
	s.restorePending()
	m.save(s)
	return nil
}

// respawnWithRetry starts a new generation of s (restart or reconnect),
// with bounded retries, and marks the boundary in the output.
func (m *Manager) respawnWithRetry(ctx context.Context, s *Session, gen int, strategy string) error {
	b := backoff{next: 100 * time.Millisecond, max: 2 * time.Second}
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		started := m.now()
		var p Process
		p, err = m.respawn(ctx, s, gen+1, "session restarted after its process was lost")
		m.recordAttempt(s.id, strategy, started, err)
		if err == nil {
			s.mu.Lock()
			cwd := s.cwd
			s.mu.Unlock()
			s.startGeneration(p, gen+1)
			if cwd == "" {
				s.mu.Lock()
				s.cwd = p.Cwd()
				s.mu.Unlock()
			}
			m.save(s)
			return nil
		}
		if attempt < 3 {
			select {
			case <-ctx.Done():
				return errors.Join(err, ctx.Err())
			case <-time.After(b.delay()):
			}
		}
	}
	return err
}
