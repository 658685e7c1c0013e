package sessions

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// respawn starts generation gen of s from its stored spec, in its last
// known directory, and on success puts the boundary marker into the output
// (the marker is why as a visible line). The new program's output begins
// right after the marker: the offset given to the backend counts it, so a
// holder's offsets and the session's stay the same.
func (m *Manager) respawn(ctx context.Context, s *Session, gen int, why string) (Process, error) {
	s.mu.Lock()
	spec, cwd, off := s.spec, s.cwd, s.out.End()
	s.mu.Unlock()
	b, ok := m.backends[spec.Kind]
	if !ok {
		return nil, fmt.Errorf("no %s backend on this server", spec.Kind)
	}
	marker := markerLine(fmt.Sprintf("%s (generation %d) in %s", why, gen, orDash(cwd)))
	p, err := b.Start(ctx, StartRequest{
		ID: s.id, Generation: gen, Offset: off + int64(len(marker)), Spec: spec, Cwd: cwd, Env: m.environ(spec),
	})
	if err != nil {
		return nil, err
	}
	s.appendOutput(marker, gen)
	s.event(Event{Generation: gen, Offset: off, Kind: EventMarker, Data: string(marker)})
	return p, nil
}

// backoff is a capped exponential delay with jitter.
type backoff struct {
	next, max time.Duration
}

func (b *backoff) delay() time.Duration {
	d := b.next
	b.next = min(b.next*2, b.max)
	// full jitter in [d/2, d]
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// reconnect brings back a session whose connection dropped: re-dial with
// backoff (the backend verifies the host key again), a new shell in the
// last known directory, a marker line at the boundary. Every attempt is a
// recovery row. It gives up after the configured attempts, or when the
// session is stopped or the server closes.
func (s *Session) reconnect(gen int, why string) {
	// A local session whose holder vanished is restarted the same way.
	strategy, verb := StrategyReconnect, "reconnected"
	if s.Info().Spec.Kind == KindLocal {
		strategy, verb = StrategyRestart, "restarted"
	}
	s.setStatus(StatusReconnecting, "reconnecting "+why)
	s.m.save(s)
	b := backoff{next: 100 * time.Millisecond, max: s.m.opt.ReconnectMaxDelay}
	var lastErr error
	for attempt := 1; attempt <= s.m.opt.ReconnectAttempts; attempt++ {
		if s.giveUp() {
			return
		}
		started := s.m.now()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		p, err := s.m.respawn(ctx, s, gen+1, verb+" "+why)
		cancel()
		s.m.recordAttempt(s.id, strategy, started, err)
		if err == nil {
			s.startGeneration(p, gen+1)
			s.m.save(s)
			return
		}
		lastErr = err
		s.setStatus(StatusReconnecting, fmt.Sprintf("connection lost; reconnect attempt %d failed: %v", attempt, err))
		s.sleepUnlessStopped(b.delay())
	}
	s.finish(nil, StatusFailed, fmt.Sprintf("reconnect failed after %d attempts: %v", s.m.opt.ReconnectAttempts, lastErr))
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (s *Session) setStatus(st Status, reason string) {
	s.mu.Lock()
	s.status, s.reason = st, reason
	s.notifyLocked()
	s.mu.Unlock()
}

// giveUp ends a reconnect loop that was stopped (status stopped) or whose
// server is going away (status stays reconnecting for the next server).
func (s *Session) giveUp() bool {
	s.mu.Lock()
	stopping, detaching := s.stopping, s.detaching
	s.mu.Unlock()
	if stopping {
		s.finish(nil, StatusStopped, "stopped while reconnecting")
	}
	return stopping || detaching
}

func (s *Session) stopOrDetach() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopping || s.detaching
}

// sleepUnlessStopped sleeps d, or less if the session is stopped or the
// server begins closing meanwhile.
func (s *Session) sleepUnlessStopped(d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		s.mu.Lock()
		changed := s.changedLocked()
		s.mu.Unlock()
		if s.stopOrDetach() {
			return
		}
		select {
		case <-t.C:
			return
		case <-changed:
		}
	}
}

// recordAttempt stores one recovery attempt; its outcome is what was seen.
func (m *Manager) recordAttempt(id ID, strategy string, started time.Time, err error) {
	a := RecoveryAttempt{Session: id, Strategy: strategy, Started: started, Ended: m.now(), Outcome: "ok"}
	if err != nil {
		a.Outcome, a.Error = "failed", err.Error()
	}
	m.log.Info("recovery attempt", "session", id, "strategy", strategy, "outcome", a.Outcome, "err", a.Error)
	if m.store == nil {
		return
	}
	if serr := m.store.AddRecovery(a); serr != nil {
		m.log.Error("record recovery attempt", "session", id, "err", serr)
	}
}

// Recoveries lists the recovery attempts of session id, oldest first
// (none without a store).
func (m *Manager) Recoveries(id ID) []RecoveryAttempt {
	if m.store == nil {
		return nil
	}
	as, err := m.store.Recoveries(id)
	if err != nil {
		m.log.Warn("load recovery attempts", "session", id, "err", err)
	}
	return as
}
