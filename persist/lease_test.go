package persist

import (
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

func TestLease(t *testing.T) {
	s := openTest(t, Options{})
	a := sessions.Owner{ID: "srv-a", Pid: 10, Host: "h1", StartedAt: t0, Heartbeat: t0}
	b := sessions.Owner{ID: "srv-b", Pid: 20, Host: "h2", StartedAt: t0.Add(time.Second), Heartbeat: t0.Add(time.Second)}
	for _, o := range []sessions.Owner{a, b} {
		if err := s.Heartbeat(o); err != nil {
			t.Fatal(err)
		}
	}
	a.Heartbeat = t0.Add(time.Minute)
	if err := s.Heartbeat(sessions.Owner{ID: "srv-a", Pid: 10, Host: "h1", StartedAt: t0.Add(time.Hour), Heartbeat: a.Heartbeat}); err != nil {
		t.Fatal(err)
	}
	owners, err := s.Owners()
	if err != nil {
		t.Fatal(err)
	}
	if len(owners) != 2 || owners[0].ID != "srv-a" || !owners[0].StartedAt.Equal(t0) || !owners[0].Heartbeat.Equal(a.Heartbeat) ||
		owners[1].ID != "srv-b" || owners[1].Pid != 20 || owners[1].Host != "h2" {
		t.Fatalf("Owners = %+v", owners)
	}

	rec := testRecord("s-1") // owned by srv-a at insert
	mustSave(t, s, rec)
	orphan := testRecord("s-2")
	orphan.Owner = "srv-gone" // not registered
	mustSave(t, s, orphan)
	free := testRecord("s-3")
	free.Owner = ""
	mustSave(t, s, free)

	for _, tc := range []struct {
		name        string
		id          sessions.ID
		owner       string
		staleBefore time.Time
		want        bool
	}{
		{"live owner keeps it", "s-1", "srv-b", t0, false},
		{"holder adopts again", "s-1", "srv-a", t0, true},
		{"stale owner loses it", "s-1", "srv-b", t0.Add(2 * time.Minute), true},
		{"unregistered owner loses it", "s-2", "srv-a", t0, true},
		{"no owner", "s-3", "srv-b", t0, true},
	} {
		got, err := s.Adopt(tc.id, tc.owner, tc.staleBefore)
		if err != nil || got != tc.want {
			t.Errorf("%s: Adopt(%s, %s) = %v, %v; want %v", tc.name, tc.id, tc.owner, got, err, tc.want)
		}
	}
	if _, err := s.Adopt("s-none", "srv-a", t0); !errors.Is(err, sessions.ErrNotFound) {
		t.Errorf("Adopt of unknown session: %v, want ErrNotFound", err)
	}
	owner := func(id sessions.ID) string {
		r, err := s.Session(id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Owner
	}
	if got := owner("s-1"); got != "srv-b" {
		t.Errorf("s-1 owner = %q, want srv-b", got)
	}
	if err := s.Release("srv-b"); err != nil {
		t.Fatal(err)
	}
	if got := owner("s-1"); got != "" {
		t.Errorf("after Release: s-1 owner = %q", got)
	}
	if got := owner("s-2"); got != "srv-a" {
		t.Errorf("after Release of srv-b: s-2 owner = %q, want srv-a", got)
	}
	owners, err = s.Owners()
	if err != nil || len(owners) != 1 || owners[0].ID != "srv-a" {
		t.Errorf("Owners after Release = %+v, %v", owners, err)
	}
}

// TestAdoptRace: two Stores on one file (two servers) adopt the same
// orphaned sessions from many goroutines; each session gets exactly one
// winner.
func TestAdoptRace(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s1 := openIn(t, dir, Options{})
	s2 := openIn(t, dir, Options{})
	const n = 20
	for i := range n {
		rec := testRecord(sid(i))
		rec.Owner = "srv-dead"
		mustSave(t, s1, rec)
	}
	for _, o := range []string{"srv-1", "srv-2"} {
		if err := s1.Heartbeat(sessions.Owner{ID: o, Pid: 1, Host: "h"}); err != nil {
			t.Fatal(err)
		}
	}
	wins := make([][2]int, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		for k, st := range []*Store{s1, s2} {
			for range 3 {
				wg.Go(func() {
					won, err := st.Adopt(sid(i), []string{"srv-1", "srv-2"}[k], t0.Add(-time.Hour))
					if err != nil {
						t.Error(err)
						return
					}
					if won {
						mu.Lock()
						wins[i][k]++
						mu.Unlock()
					}
				})
			}
		}
	}
	wg.Wait()
	for i, w := range wins {
		// The winner's other goroutines see it already holds the session.
		if (w[0] == 0) == (w[1] == 0) {
			t.Errorf("session %d: wins %v, want exactly one server", i, w)
		}
		r, err := s2.Session(sid(i))
		if err != nil {
			t.Fatal(err)
		}
		want := "srv-1"
		if w[1] > 0 {
			want = "srv-2"
		}
		if r.Owner != want {
			t.Errorf("session %d: owner %q, want %q (the winner)", i, r.Owner, want)
		}
	}
}
