package mcphttp

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
)

func TestGenerateIssuesDistinctVisibleIDsPersistedAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		m := NewIDManager(store, IDOptions{})
		defer m.Close()
		start := time.Now()
		seen := make(map[string]bool)
		for range 200 {
			id := m.Generate()
			if !validID(id) || seen[id] {
				t.Fatalf("Generate() = %q: want a new id of the form mcp-<26 base32>", id)
			}
			for _, c := range id {
				if c <= ' ' || c > '~' {
					t.Fatalf("id %q has a non-visible character %q", id, c)
				}
			}
			seen[id] = true
			// Persisted before Generate returned: no flush, no waiting.
			rec, ok := store.get(id)
			if !ok {
				t.Fatalf("id %s not in the store after Generate", id)
			}
			want := SessionRecord{ID: id, CreatedAt: start, LastAccess: start, ExpiresAt: start.Add(24 * time.Hour)}
			if !rec.CreatedAt.Equal(want.CreatedAt) || !rec.LastAccess.Equal(want.LastAccess) || !rec.ExpiresAt.Equal(want.ExpiresAt) || rec.Terminated {
				t.Fatalf("record = %+v, want %+v", rec, want)
			}
		}
	})
}

func TestValidIDRejectsGarbage(t *testing.T) {
	for _, id := range []string{"", "mcp-", "mcp-session-0c6c3c1e-2d14-4a84-9b22-3a1f7f1b4a55", "mcp-AAAAAAAAAAAAAAAAAAAAAAAAA1", "xyz-AAAAAAAAAAAAAAAAAAAAAAAAAA", "mcp-aaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		if validID(id) {
			t.Errorf("validID(%q) = true, want false", id)
		}
	}
	if id := "mcp-" + strings.Repeat("A2", 13); !validID(id) {
		t.Errorf("validID(%q) = false, want true", id)
	}
}

// lastAccess returns the persisted last access of id.
func lastAccess(t *testing.T, store *memStore, id string) time.Time {
	t.Helper()
	rec, ok := store.get(id)
	if !ok {
		t.Fatalf("id %s not in the store", id)
	}
	return rec.LastAccess
}

func TestTouchPersistsAfterTouchRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		m := NewIDManager(store, IDOptions{TouchRequests: 3, TouchInterval: time.Hour, FlushInterval: time.Hour})
		defer m.Close()
		id := m.Generate()
		created := time.Now()
		time.Sleep(time.Second)
		for range 2 {
			if err := m.Touch(id); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := lastAccess(t, store, id); !got.Equal(created) {
			t.Fatalf("after 2 of 3 requests the last access was saved: %v", got)
		}
		if err := m.Touch(id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := lastAccess(t, store, id), created.Add(time.Second); !got.Equal(want) {
			t.Fatalf("after 3 requests last access = %v, want %v", got, want)
		}
	})
}

func TestTouchPersistsAfterTouchInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		m := NewIDManager(store, IDOptions{TouchInterval: 5 * time.Minute, FlushInterval: time.Hour})
		defer m.Close()
		id := m.Generate()
		created := time.Now()
		time.Sleep(time.Minute)
		if err := m.Touch(id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := lastAccess(t, store, id); !got.Equal(created) {
			t.Fatalf("a request 1m after the save was persisted: %v", got)
		}
		time.Sleep(5 * time.Minute)
		if err := m.Touch(id); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got, want := lastAccess(t, store, id), created.Add(6*time.Minute); !got.Equal(want) {
			t.Fatalf("last access = %v, want %v", got, want)
		}
	})
}

func TestBackgroundFlushSavesChangedIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		m := NewIDManager(store, IDOptions{}) // 100 requests, 5 min, flush every 60 s
		defer m.Close()
		id := m.Generate()
		created := time.Now()
		time.Sleep(time.Second)
		if err := m.Touch(id); err != nil {
			t.Fatal(err)
		}
		time.Sleep(58 * time.Second)
		synctest.Wait()
		if got := lastAccess(t, store, id); !got.Equal(created) {
			t.Fatalf("saved before the flush interval: %v", got)
		}
		_, _, savesBefore := store.count()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		if got, want := lastAccess(t, store, id), created.Add(time.Second); !got.Equal(want) {
			t.Fatalf("after the background flush last access = %v, want %v", got, want)
		}
		// An unchanged id is not written again.
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if _, _, saves := store.count(); saves != savesBefore+1 {
			t.Fatalf("saves = %d, want %d: unchanged ids were rewritten", saves, savesBefore+1)
		}
	})
}

func TestCloseDoesTheFinalFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		m := NewIDManager(store, IDOptions{})
		id := m.Generate()
		time.Sleep(time.Second)
		if err := m.Touch(id); err != nil {
			t.Fatal(err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if got, want := lastAccess(t, store, id), time.Now(); !got.Equal(want) {
			t.Fatalf("after Close last access = %v, want %v", got, want)
		}
		if err := m.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	})
}

func TestSlidingTTL(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := NewIDManager(newMemStore(), IDOptions{TTL: 10 * time.Minute})
		defer m.Close()
		id := m.Generate()
		for range 3 {
			time.Sleep(9 * time.Minute)
			if err := m.Touch(id); err != nil {
				t.Fatalf("Touch 9m after the last request: %v", err)
			}
		}
		time.Sleep(10 * time.Minute)
		if err := m.Touch(id); !errors.Is(err, ErrSessionExpired) {
			t.Fatalf("Touch 10m after the last request = %v, want ErrSessionExpired", err)
		}
		if term, err := m.Validate(id); term || !errors.Is(err, ErrSessionExpired) {
			t.Fatalf("Validate = %v, %v; want false, ErrSessionExpired", term, err)
		}
	})
}

func TestIDIssuedBeforeRestartResumesWithOneStoreLookup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		m1 := NewIDManager(store, IDOptions{})
		id := m1.Generate()
		m1.recordClient(id, mcp.Implementation{Name: "claude", Version: "1.0"}, "2025-11-25")
		if err := m1.Close(); err != nil {
			t.Fatal(err)
		}

		m2 := NewIDManager(store, IDOptions{})
		defer m2.Close()
		for range 5 {
			if err := m2.Touch(id); err != nil {
				t.Fatalf("Touch resumed id: %v", err)
			}
			if term, err := m2.Validate(id); term || err != nil {
				t.Fatalf("Validate resumed id = %v, %v", term, err)
			}
		}
		unknown := "mcp-" + strings.Repeat("Q", 26)
		for range 5 {
			if err := m2.Touch(unknown); !errors.Is(err, ErrUnknownSession) {
				t.Fatalf("Touch unknown = %v, want ErrUnknownSession", err)
			}
		}
		for range 5 {
			if err := m2.Touch("not-an-id"); !errors.Is(err, ErrUnknownSession) {
				t.Fatalf("Touch garbage = %v, want ErrUnknownSession", err)
			}
		}
		if _, loads, _ := store.count(); loads != 2 {
			t.Fatalf("store loads = %d, want 2 (one per well-formed id not in memory)", loads)
		}
		// The client info survives a round trip through the store.
		if err := m2.Flush(); err != nil {
			t.Fatal(err)
		}
		rec, _ := store.get(id)
		if rec.ClientName != "claude" || rec.ClientVersion != "1.0" || rec.ProtocolVersion != "2025-11-25" {
			t.Fatalf("record after resume and flush = %+v", rec)
		}
	})
}

func TestTerminatePersistsAndSticks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		m := NewIDManager(store, IDOptions{})
		id := m.Generate()
		if notAllowed, err := m.Terminate(id); notAllowed || err != nil {
			t.Fatalf("Terminate = %v, %v", notAllowed, err)
		}
		if rec, _ := store.get(id); !rec.Terminated {
			t.Fatalf("record after Terminate = %+v, want Terminated", rec)
		}
		if term, err := m.Validate(id); !term || err != nil {
			t.Fatalf("Validate terminated = %v, %v; want true, nil", term, err)
		}
		if err := m.Touch(id); !errors.Is(err, ErrSessionTerminated) {
			t.Fatalf("Touch terminated = %v", err)
		}
		if notAllowed, err := m.Terminate(id); notAllowed || err != nil {
			t.Fatalf("second Terminate = %v, %v", notAllowed, err)
		}
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}

		m2 := NewIDManager(store, IDOptions{})
		defer m2.Close()
		if err := m2.Touch(id); !errors.Is(err, ErrSessionTerminated) {
			t.Fatalf("Touch terminated id after restart = %v", err)
		}
	})
}

func TestStoreFailures(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		store.setFailures(nil, errDiskOnFire)
		m := NewIDManager(store, IDOptions{})
		id := m.Generate()
		if !validID(id) {
			t.Fatalf("Generate with a failing store = %q", id)
		}
		if err := m.Touch(id); err != nil {
			t.Fatalf("an id whose save failed must work from memory: %v", err)
		}
		if _, err := m.Terminate(m.Generate()); !errors.Is(err, errDiskOnFire) {
			t.Fatalf("Terminate with a failing store = %v, want errDiskOnFire", err)
		}
		if err := m.Close(); !errors.Is(err, errDiskOnFire) {
			t.Fatalf("Close with a failing store = %v, want errDiskOnFire", err)
		}
		if n, _, _ := store.count(); n != 0 {
			t.Fatalf("%d records saved by a failing store", n)
		}

		// Healed before the final flush: nothing is lost.
		store.setFailures(nil, errDiskOnFire)
		m = NewIDManager(store, IDOptions{})
		id = m.Generate()
		store.setFailures(nil, nil)
		if err := m.Close(); err != nil {
			t.Fatal(err)
		}
		if _, ok := store.get(id); !ok {
			t.Fatal("id not saved by the final flush after the store healed")
		}

		// A lookup that fails is an error, not a 404 sentinel, and is not
		// remembered as dead.
		store.setFailures(errDiskOnFire, nil)
		m = NewIDManager(store, IDOptions{})
		defer m.Close()
		err := m.Touch(id)
		if !errors.Is(err, errDiskOnFire) || errors.Is(err, ErrUnknownSession) {
			t.Fatalf("Touch with a failing lookup = %v", err)
		}
		store.setFailures(nil, nil)
		if err := m.Touch(id); err != nil {
			t.Fatalf("Touch after the store healed = %v", err)
		}
	})
}

func TestSweepForgetsExpiredIDs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := newMemStore()
		var (
			mu      sync.Mutex
			expired []string
		)
		m := NewIDManager(store, IDOptions{TTL: time.Minute, FlushInterval: 30 * time.Second, OnExpire: func(id string) {
			mu.Lock()
			defer mu.Unlock()
			expired = append(expired, id)
		}})
		defer m.Close()
		old := m.Generate()
		terminated := m.Generate()
		if _, err := m.Terminate(terminated); err != nil {
			t.Fatal(err)
		}
		time.Sleep(45 * time.Second)
		fresh := m.Generate()
		time.Sleep(46 * time.Second) // old: 91s idle; fresh: 46s
		synctest.Wait()

		mu.Lock()
		if len(expired) != 1 || expired[0] != old {
			t.Errorf("OnExpire got %v, want [%s]", expired, old)
		}
		mu.Unlock()
		m.mu.RLock()
		_, oldLive := m.live[old]
		_, termLive := m.live[terminated]
		_, freshLive := m.live[fresh]
		m.mu.RUnlock()
		if oldLive || termLive || !freshLive {
			t.Errorf("in memory: expired %v, terminated %v, fresh %v; want false, false, true", oldLive, termLive, freshLive)
		}
		if _, ok := store.get(old); ok {
			t.Error("expired record not deleted from the store")
		}
		if _, ok := store.get(fresh); !ok {
			t.Error("live record deleted from the store")
		}
		_, loadsBefore, _ := store.count()
		if err := m.Touch(old); !errors.Is(err, ErrSessionExpired) {
			t.Errorf("Touch forgotten expired id = %v, want ErrSessionExpired", err)
		}
		if err := m.Touch(terminated); !errors.Is(err, ErrSessionTerminated) {
			t.Errorf("Touch forgotten terminated id = %v, want ErrSessionTerminated", err)
		}
		if _, loads, _ := store.count(); loads != loadsBefore {
			t.Errorf("forgotten ids were looked up in the store (%d loads)", loads-loadsBefore)
		}
	})
}

func TestConcurrentTouchAndFlush(t *testing.T) {
	store := newMemStore()
	m := NewIDManager(store, IDOptions{TouchRequests: 7})
	ids := []string{m.Generate(), m.Generate(), m.Generate()}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 500 {
				if err := m.Touch(ids[(i+j)%len(ids)]); err != nil {
					t.Error(err)
					return
				}
				if j%100 == 0 {
					if err := m.Flush(); err != nil {
						t.Error(err)
					}
				}
			}
		})
	}
	wg.Wait()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		m.mu.RLock()
		e := m.live[id]
		m.mu.RUnlock()
		if got, want := lastAccess(t, store, id), time.Unix(0, e.lastAccess.Load()); !got.Equal(want) {
			t.Errorf("%s: saved last access %v, in memory %v", id, got, want)
		}
	}
}
