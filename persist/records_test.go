package persist

import (
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

func TestSaveSessionRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir, Options{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	use := true
	rec := testRecord("s-a")
	rec.Spec.SSH = &sessions.SSHSpec{Host: "h", Port: 22, User: "u", PasswordEnv: "SSH_PW", UseAgent: &use, Jump: []string{"j"}}
	rec.Exit = &sessions.Exit{Code: 143, Signal: "SIGTERM"}
	rec.Status = sessions.StatusExited
	rec.StatusReason = "killed"
	rec.OutputEnd = 99
	rec.LostBytes = 7
	rec.EndedAt = t0.Add(time.Minute)
	mustSave(t, s, rec)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openIn(t, dir, Options{})
	got, err := s.Session("s-a")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(normalize(got), normalize(rec)) {
		t.Errorf("Session:\n got %+v\nwant %+v", got, rec)
	}
	if _, err := s.Session("s-none"); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Session of unknown id: err = %v, want ErrNotFound", err)
	}
}

// normalize makes records comparable with DeepEqual (times lose their
// location when stored).
func normalize(r sessions.Record) sessions.Record {
	for _, p := range []*time.Time{&r.CreatedAt, &r.UpdatedAt, &r.LastActivityAt, &r.EndedAt} {
		if !p.IsZero() {
			*p = p.UTC()
		}
	}
	return r
}

func TestSaveSessionUpdateRules(t *testing.T) {
	s := openTest(t, Options{Now: func() time.Time { return t0.Add(time.Hour) }})
	rec := testRecord("s-a")
	rec.OutputEnd = 500
	rec.LastActivityAt = t0.Add(time.Minute)
	mustSave(t, s, rec)

	upd := rec
	upd.Owner = "srv-b"                // the lease owns the column after insert
	upd.OutputEnd = 100                // never backwards
	upd.LastActivityAt = t0            // never backwards
	upd.CreatedAt = t0.Add(-time.Hour) // kept from the insert
	upd.UpdatedAt = time.Time{}        // zero means now
	upd.Status = sessions.StatusStopped
	upd.EndedAt = time.Time{} // not live: zero means now
	mustSave(t, s, upd)

	got, err := s.Session("s-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner != "srv-a" {
		t.Errorf("owner = %q, want srv-a (set at insert only)", got.Owner)
	}
	if got.OutputEnd != 500 || !got.LastActivityAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("output end %d, last activity %v: moved backwards", got.OutputEnd, got.LastActivityAt)
	}
	if !got.CreatedAt.Equal(t0) {
		t.Errorf("created = %v, want %v", got.CreatedAt, t0)
	}
	if now := t0.Add(time.Hour); !got.UpdatedAt.Equal(now) || !got.EndedAt.Equal(now) {
		t.Errorf("updated %v, ended %v, want both %v", got.UpdatedAt, got.EndedAt, now)
	}
	if got.Status != sessions.StatusStopped {
		t.Errorf("status = %q", got.Status)
	}
}

func TestSessionsFilter(t *testing.T) {
	s := openTest(t, Options{})
	statuses := []sessions.Status{sessions.StatusStarting, sessions.StatusRunning, sessions.StatusReconnecting,
		sessions.StatusExited, sessions.StatusStopped, sessions.StatusFailed, sessions.StatusRestored}
	for i, st := range statuses {
		rec := testRecord(sid(i))
		rec.Status = st
		rec.CreatedAt = t0.Add(time.Duration(i) * time.Second)
		mustSave(t, s, rec)
	}
	for _, tc := range []struct {
		includeEnded bool
		want         []sessions.ID
	}{
		{false, []sessions.ID{sid(0), sid(1), sid(2)}},
		{true, []sessions.ID{sid(0), sid(1), sid(2), sid(3), sid(4), sid(5), sid(6)}},
	} {
		recs, err := s.Sessions(tc.includeEnded)
		if err != nil {
			t.Fatal(err)
		}
		var got []sessions.ID
		for _, r := range recs {
			got = append(got, r.ID)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Sessions(%v) = %v, want %v", tc.includeEnded, got, tc.want)
		}
	}
}

func TestTouch(t *testing.T) {
	s := openTest(t, Options{TouchInterval: time.Hour})
	mustSave(t, s, testRecord("s-a"))
	s.Touch("s-a", 1234, t0.Add(time.Minute))
	s.Touch("s-a", 1000, t0.Add(time.Second)) // older: ignored

	got, err := s.Session("s-a")
	if err != nil {
		t.Fatal(err)
	}
	if got.OutputEnd != 1234 || !got.LastActivityAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("before flush: output end %d, activity %v; want the touched values", got.OutputEnd, got.LastActivityAt)
	}
	var end int64
	if err := s.db.QueryRow(`SELECT output_end FROM sessions WHERE id = 's-a'`).Scan(&end); err != nil {
		t.Fatal(err)
	}
	if end != 0 {
		t.Fatalf("touch written before any commit: output_end = %d", end)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := s.db.QueryRow(`SELECT output_end FROM sessions WHERE id = 's-a'`).Scan(&end); err != nil {
		t.Fatal(err)
	}
	if end != 1234 {
		t.Errorf("after Flush: stored output_end = %d, want 1234", end)
	}
}

func TestEvents(t *testing.T) {
	s := openTest(t, Options{BatchDelay: time.Hour})
	mustSave(t, s, testRecord("s-a"))
	evs := []sessions.Event{
		{Session: "s-a", Generation: 1, Offset: 10, At: t0.Add(2 * time.Second), Kind: sessions.EventInput, Data: "ls\r"},
		{Session: "s-a", Generation: 1, Offset: 0, At: t0, Kind: sessions.EventResize, Data: "100x30"},
		{Session: "s-a", Generation: 1, Offset: 10, At: t0.Add(time.Second), Kind: sessions.EventSecret, Data: "DB_PASSWORD"},
		{Session: "s-b", Generation: 1, Offset: 5, At: t0, Kind: sessions.EventMarker, Data: "other session"},
	}
	for _, ev := range evs[:2] {
		if err := s.AppendEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs[2:] { // these stay queued
		if err := s.AppendEvent(ev); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Events("s-a")
	if err != nil {
		t.Fatal(err)
	}
	want := []sessions.Event{evs[1], evs[2], evs[0]}
	if len(got) != len(want) {
		t.Fatalf("Events = %+v, want %+v", got, want)
	}
	for i := range want {
		if g, w := got[i], want[i]; g.Kind != w.Kind || g.Data != w.Data || g.Offset != w.Offset || !g.At.Equal(w.At) || g.Generation != w.Generation {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	again, err := s.Events("s-a")
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 3 {
		t.Errorf("after Flush: %d events, want 3", len(again))
	}
}

func TestRecoveries(t *testing.T) {
	s := openTest(t, Options{})
	mustSave(t, s, testRecord("s-a"))
	as := []sessions.RecoveryAttempt{
		{Session: "s-a", Strategy: "reattach", Started: t0, Ended: t0.Add(time.Second), Outcome: "failed", Error: "holder gone"},
		{Session: "s-a", Strategy: "restart", Started: t0.Add(time.Second), Ended: t0.Add(2 * time.Second), Outcome: "ok"},
	}
	for _, a := range as {
		if err := s.AddRecovery(a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddRecovery(sessions.RecoveryAttempt{Session: "s-none", Strategy: "restart"}); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("AddRecovery of unknown session: err = %v, want ErrNotFound", err)
	}
	if err := s.Err(); err != nil {
		t.Fatalf("a soft error broke the writer: %v", err)
	}
	got, err := s.Recoveries("s-a")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("Recoveries = %+v", got)
	}
	for i := range as {
		g, w := got[i], as[i]
		if g.Strategy != w.Strategy || g.Outcome != w.Outcome || g.Error != w.Error || !g.Started.Equal(w.Started) || !g.Ended.Equal(w.Ended) {
			t.Errorf("attempt %d = %+v, want %+v", i, g, w)
		}
	}
}

func TestClosedStore(t *testing.T) {
	s, err := Open(t.TempDir(), Options{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, err := range map[string]error{
		"AppendOutput": s.AppendOutput("s-a", 1, sessions.Chunk{Data: []byte("x")}),
		"AppendEvent":  s.AppendEvent(sessions.Event{Session: "s-a", Kind: sessions.EventInput, Data: "x"}),
		"SaveSession":  s.SaveSession(testRecord("s-a")),
		"Flush":        s.Flush(),
	} {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: err = %v, want ErrClosed", name, err)
		}
	}
}
