package persist

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// SaveSession inserts or updates rec and commits it together with
// everything queued before it returns. Environment values of rec.Spec whose
// names match Options.SecretEnvPatterns are not stored: their names move
// to Spec.EnvRefs. The owner column is written only when the row is
// inserted; afterwards the lease (Adopt, Release) owns it. Output end and
// last activity never move backwards. A record whose status is not live
// and has no EndedAt gets the current time as EndedAt; zero CreatedAt and
// UpdatedAt get the current time too.
func (s *Store) SaveSession(rec sessions.Record) error {
	if rec.ID == "" {
		return errors.New("save session: empty id")
	}
	spec, err := json.Marshal(s.redactSpec(rec.Spec))
	if err != nil {
		return fmt.Errorf("save session %s: %w", rec.ID, err)
	}
	now := s.opt.Now()
	if rec.CreatedAt.IsZero() {
		rec.CreatedAt = now
	}
	if rec.UpdatedAt.IsZero() {
		rec.UpdatedAt = now
	}
	if rec.EndedAt.IsZero() && !rec.Status.Live() {
		rec.EndedAt = now
	}
	var exitCode any
	var exitSignal string
	if rec.Exit != nil {
		exitCode, exitSignal = rec.Exit.Code, rec.Exit.Signal
	}
	var owner any
	if rec.Owner != "" {
		owner = rec.Owner
	}
	return s.submit(func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO sessions (id, spec, status, status_reason, generation, pid, cwd,
				exit_code, exit_signal, output_end, lost_bytes, owner, created_at, updated_at, last_activity_at, ended_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET spec = excluded.spec, status = excluded.status,
				status_reason = excluded.status_reason, generation = excluded.generation, pid = excluded.pid,
				cwd = excluded.cwd, exit_code = excluded.exit_code, exit_signal = excluded.exit_signal,
				output_end = max(output_end, excluded.output_end), lost_bytes = excluded.lost_bytes,
				updated_at = excluded.updated_at,
				last_activity_at = max(last_activity_at, excluded.last_activity_at),
				ended_at = excluded.ended_at`,
			string(rec.ID), string(spec), string(rec.Status), rec.StatusReason, rec.Generation, rec.Pid, rec.Cwd,
			exitCode, exitSignal, rec.OutputEnd, rec.LostBytes, owner,
			nanos(rec.CreatedAt), nanos(rec.UpdatedAt), nanos(rec.LastActivityAt), nanos(rec.EndedAt))
		if err != nil {
			return fmt.Errorf("save session %s: %w", rec.ID, err)
		}
		return nil
	})
}

// secretName reports whether an environment variable's value must not be
// stored.
func (s *Store) secretName(name string) bool {
	up := strings.ToUpper(name)
	for _, p := range s.opt.SecretEnvPatterns {
		if ok, _ := path.Match(p, up); ok { // patterns were checked at Open
			return true
		}
	}
	return false
}

// redactSpec returns sp without the values of secret-looking environment
// variables, their names added to EnvRefs (sorted, without duplicates).
func (s *Store) redactSpec(sp sessions.Spec) sessions.Spec {
	out := sp
	out.Env = nil
	refs := slices.Clone(sp.EnvRefs)
	for k, v := range sp.Env {
		if s.secretName(k) {
			refs = append(refs, k)
			continue
		}
		if out.Env == nil {
			out.Env = make(map[string]string, len(sp.Env))
		}
		out.Env[k] = v
	}
	sort.Strings(refs)
	out.EnvRefs = slices.Compact(refs)
	return out
}

// validEnvName reports whether name looks like an environment variable
// name, as a secret event's data must.
func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		if r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9' {
			continue
		}
		return false
	}
	return true
}

// AppendEvent queues ev. An event of kind secret must carry the env var
// name in Data; anything else there is replaced by "?" (and a warning
// logged without it), so a value passed by mistake never reaches the
// database. It blocks and fails like AppendOutput.
func (s *Store) AppendEvent(ev sessions.Event) error {
	if ev.Kind == sessions.EventSecret && !validEnvName(ev.Data) {
		s.log.Warn("secret event without an env var name; data not stored", "session", ev.Session)
		ev.Data = "?"
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.admitLocked(len(ev.Data)); err != nil {
		return err
	}
	s.queue.events = append(s.queue.events, ev)
	s.addRecordLocked(len(ev.Data))
	return nil
}

// Touch marks id's output end and last activity dirty; the next commit
// writes them, at the latest the Options.TouchInterval tick. It never
// blocks on I/O.
func (s *Store) Touch(id sessions.ID, outputEnd int64, at time.Time) {
	s.mu.Lock()
	t := s.dirty[id]
	t.outputEnd = max(t.outputEnd, outputEnd)
	if at.After(t.at) {
		t.at = at
	}
	s.dirty[id] = t
	s.mu.Unlock()
}

// applyTouch merges id's dirty metadata (not yet written) into rec.
func (s *Store) applyTouch(rec *sessions.Record) {
	s.mu.Lock()
	t, ok := s.dirty[rec.ID]
	s.mu.Unlock()
	if !ok {
		return
	}
	rec.OutputEnd = max(rec.OutputEnd, t.outputEnd)
	if t.at.After(rec.LastActivityAt) {
		rec.LastActivityAt = t.at
	}
}

// Session loads one record, with metadata touched but not yet written;
// sessions.ErrNotFound if there is none.
func (s *Store) Session(id sessions.ID) (sessions.Record, error) {
	rec, err := scanRecord(s.stmt.session.QueryRow(string(id)))
	if errors.Is(err, sql.ErrNoRows) {
		return sessions.Record{}, fmt.Errorf("load session %s: %w", id, sessions.ErrNotFound)
	}
	if err != nil {
		return sessions.Record{}, fmt.Errorf("load session %s: %w", id, err)
	}
	s.applyTouch(&rec)
	return rec, nil
}

// Sessions loads all records, oldest first; ended ones (status neither
// starting, running nor reconnecting) only when includeEnded.
func (s *Store) Sessions(includeEnded bool) ([]sessions.Record, error) {
	st := s.stmt.sessionsLive
	if includeEnded {
		st = s.stmt.sessionsAll
	}
	rows, err := st.Query()
	if err != nil {
		return nil, fmt.Errorf("load sessions: %w", err)
	}
	defer rows.Close()
	var recs []sessions.Record
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, fmt.Errorf("load sessions: %w", err)
		}
		s.applyTouch(&rec)
		recs = append(recs, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load sessions: %w", err)
	}
	return recs, nil
}

const recordColumns = `id, spec, status, status_reason, generation, pid, cwd, exit_code, exit_signal,
	output_end, lost_bytes, owner, created_at, updated_at, last_activity_at, ended_at`

type scanner interface{ Scan(dest ...any) error }

func scanRecord(row scanner) (sessions.Record, error) {
	var (
		rec                               sessions.Record
		id, spec, status                  string
		exitCode                          sql.NullInt64
		exitSignal                        string
		owner                             sql.NullString
		created, updated, activity, ended int64
	)
	if err := row.Scan(&id, &spec, &status, &rec.StatusReason, &rec.Generation, &rec.Pid, &rec.Cwd,
		&exitCode, &exitSignal, &rec.OutputEnd, &rec.LostBytes, &owner, &created, &updated, &activity, &ended); err != nil {
		return rec, err
	}
	if err := json.Unmarshal([]byte(spec), &rec.Spec); err != nil {
		return rec, fmt.Errorf("decode spec of %s: %w", id, err)
	}
	rec.ID, rec.Status, rec.Owner = sessions.ID(id), sessions.Status(status), owner.String
	if exitCode.Valid {
		rec.Exit = &sessions.Exit{Code: int(exitCode.Int64), Signal: exitSignal}
	}
	rec.CreatedAt, rec.UpdatedAt = fromNanos(created), fromNanos(updated)
	rec.LastActivityAt, rec.EndedAt = fromNanos(activity), fromNanos(ended)
	return rec, nil
}

// Events returns id's events, stored and queued, in order of offset, then
// time, then the order they were queued in.
func (s *Store) Events(id sessions.ID) ([]sessions.Event, error) {
	var pend []sessions.Event
	s.mu.Lock()
	for _, b := range []*batch{s.flight, s.queue} {
		if b == nil {
			continue
		}
		for _, ev := range b.events {
			if ev.Session == id {
				pend = append(pend, ev)
			}
		}
	}
	s.mu.Unlock()
	rows, err := s.stmt.events.Query(string(id))
	if err != nil {
		return nil, fmt.Errorf("load events of %s: %w", id, err)
	}
	defer rows.Close()
	var evs []sessions.Event
	for rows.Next() {
		ev := sessions.Event{Session: id}
		var at int64
		var kind string
		if err := rows.Scan(&ev.Generation, &ev.Offset, &at, &kind, &ev.Data); err != nil {
			return nil, fmt.Errorf("load events of %s: %w", id, err)
		}
		ev.At, ev.Kind = fromNanos(at), sessions.EventKind(kind)
		evs = append(evs, ev)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load events of %s: %w", id, err)
	}
	if len(pend) == 0 {
		return evs, nil
	}
	// A batch committed after the snapshot is in both lists.
	type key struct {
		gen     int
		off, at int64
		kind    sessions.EventKind
		data    string
	}
	stored := make(map[key]int, len(evs))
	for _, e := range evs {
		stored[key{e.Generation, e.Offset, nanos(e.At), e.Kind, e.Data}]++
	}
	for _, e := range pend {
		k := key{e.Generation, e.Offset, nanos(e.At), e.Kind, e.Data}
		if stored[k] > 0 {
			stored[k]--
			continue
		}
		evs = append(evs, e)
	}
	sort.SliceStable(evs, func(i, j int) bool {
		if evs[i].Offset != evs[j].Offset {
			return evs[i].Offset < evs[j].Offset
		}
		return evs[i].At.Before(evs[j].At)
	})
	return evs, nil
}

// AddRecovery records one recovery attempt and commits it, with everything
// queued, before it returns; sessions.ErrNotFound if a.Session has no
// record.
func (s *Store) AddRecovery(a sessions.RecoveryAttempt) error {
	return s.submit(func(ctx context.Context, tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO recoveries (session, strategy, started_at, ended_at, outcome, error)
			SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM sessions WHERE id = ?1)`,
			string(a.Session), a.Strategy, nanos(a.Started), nanos(a.Ended), a.Outcome, a.Error)
		if err != nil {
			return fmt.Errorf("add recovery of %s: %w", a.Session, err)
		}
		if n, _ := res.RowsAffected(); n == 0 { // sqlite3 always knows
			return &softError{fmt.Errorf("add recovery of %s: %w", a.Session, sessions.ErrNotFound)}
		}
		return nil
	})
}

// Recoveries lists id's recovery attempts, oldest first.
func (s *Store) Recoveries(id sessions.ID) ([]sessions.RecoveryAttempt, error) {
	rows, err := s.stmt.recoveries.Query(string(id))
	if err != nil {
		return nil, fmt.Errorf("load recoveries of %s: %w", id, err)
	}
	defer rows.Close()
	var as []sessions.RecoveryAttempt
	for rows.Next() {
		a := sessions.RecoveryAttempt{Session: id}
		var started, ended int64
		if err := rows.Scan(&a.Strategy, &started, &ended, &a.Outcome, &a.Error); err != nil {
			return nil, fmt.Errorf("load recoveries of %s: %w", id, err)
		}
		a.Started, a.Ended = fromNanos(started), fromNanos(ended)
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("load recoveries of %s: %w", id, err)
	}
	return as, nil
}
