package persist

import (
	"context"
	"errors"
	mathrand "math/rand/v2"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// The flush-trigger tests run in a synctest bubble: the Store is opened in
// it, so the writer's timers use the bubble's fake clock, and
// synctest.Wait returns once the writer is idle again (a goroutine inside
// a cgo call is not idle, so Wait also waits for a commit in progress).

func TestFlushWhenBatchRecordsReached(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s := openTest(t, Options{BatchRecords: 4, BatchDelay: time.Hour, TouchInterval: time.Hour})
		appendStream(t, s, "s-a", 0, 3, 10)
		synctest.Wait()
		if rows, _ := stored(t, s, "s-a"); rows != 0 {
			t.Fatalf("%d rows committed with 3 of 4 records queued", rows)
		}
		appendStream(t, s, "s-a", 30, 1, 10)
		synctest.Wait()
		if rows, _ := stored(t, s, "s-a"); rows != 4 {
			t.Fatalf("%d rows committed after the 4th record, want 4", rows)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("the fake clock moved %v: the commit waited for a timer", d)
		}
	})
}

func TestFlushWhenBatchDelayPassed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 200 * time.Millisecond
		s := openTest(t, Options{BatchRecords: 100, BatchDelay: delay, TouchInterval: time.Hour})
		appendStream(t, s, "s-a", 0, 1, 10) // the oldest record
		time.Sleep(delay / 2)
		appendStream(t, s, "s-a", 10, 1, 10)
		time.Sleep(delay/2 - time.Nanosecond)
		synctest.Wait()
		if rows, _ := stored(t, s, "s-a"); rows != 0 {
			t.Fatalf("%d rows committed before BatchDelay passed", rows)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if rows, _ := stored(t, s, "s-a"); rows != 2 {
			t.Fatalf("%d rows committed when BatchDelay passed since the oldest, want 2", rows)
		}
		// The next window starts with the next record, not on a fixed grid.
		time.Sleep(delay / 2)
		appendStream(t, s, "s-a", 20, 1, 10)
		time.Sleep(delay - time.Nanosecond)
		synctest.Wait()
		if rows, _ := stored(t, s, "s-a"); rows != 2 {
			t.Fatalf("%d rows committed early, want 2", rows)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if rows, _ := stored(t, s, "s-a"); rows != 3 {
			t.Fatalf("%d rows committed, want 3", rows)
		}
	})
}

func TestTouchTick(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval = 5 * time.Second
		s := openTest(t, Options{TouchInterval: interval})
		mustSave(t, s, testRecord("s-a"))
		s.Touch("s-a", 777, t0.Add(time.Minute))
		storedEnd := func() int64 {
			var end int64
			if err := s.db.QueryRow(`SELECT output_end FROM sessions WHERE id = 's-a'`).Scan(&end); err != nil {
				t.Fatal(err)
			}
			return end
		}
		time.Sleep(interval - time.Nanosecond)
		synctest.Wait()
		if got := storedEnd(); got != 0 {
			t.Fatalf("output_end %d written before the tick", got)
		}
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		if got := storedEnd(); got != 777 {
			t.Fatalf("output_end = %d after the tick, want 777", got)
		}
	})
}

func TestCloseFlushes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		s, err := Open(dir, Options{BatchDelay: time.Hour, TouchInterval: time.Hour}, testLogger(t))
		if err != nil {
			t.Fatal(err)
		}
		mustSave(t, s, testRecord("s-a"))
		appendStream(t, s, "s-a", 0, 5, 10)
		s.Touch("s-a", 50, t0)
		if err := s.AppendEvent(sessions.Event{Session: "s-a", Kind: sessions.EventInput, Data: "ls\r", At: t0}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("Close waited %v of fake time for a timer", d)
		}
	})
	s := openIn(t, dir, Options{})
	if rows, n := stored(t, s, "s-a"); rows != 5 || n != 50 {
		t.Errorf("after Close: %d rows, %d bytes stored; want 5, 50", rows, n)
	}
	rec, err := s.Session("s-a")
	if err != nil {
		t.Fatal(err)
	}
	if rec.OutputEnd != 50 {
		t.Errorf("output_end = %d, want 50", rec.OutputEnd)
	}
	if evs, err := s.Events("s-a"); err != nil || len(evs) != 1 {
		t.Errorf("Events = %v, %v; want 1 event", evs, err)
	}
}

// TestBackPressure holds the writer in its commit and checks that
// AppendOutput blocks instead of queueing more, for both limits.
func TestBackPressure(t *testing.T) {
	for _, tc := range []struct {
		name      string
		opt       Options
		size      int
		wantAdmit int // appends that return while the writer is held
	}{
		// 4 records in flight: the 5th... waits until the commit ends.
		{"records", Options{BatchRecords: 4, BatchDelay: time.Hour, TouchInterval: time.Hour}, 10, 4},
		// 3 chunks of 400 bytes (plus overhead) fit in 1500 bytes, not 4.
		{"bytes", Options{BatchRecords: 1000, BatchDelay: time.Millisecond, TouchInterval: time.Hour, MaxPendingBytes: 1500}, 400, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := openTest(t, tc.opt)
				release := make(chan struct{})
				s.beforeCommit = func() { <-release }
				var admitted atomic.Int64
				done := make(chan error)
				go func() {
					for i := range 10 {
						off := int64(i * tc.size)
						err := s.AppendOutput("s-a", 1, sessions.Chunk{Offset: off, At: t0.Add(time.Duration(i) * time.Second), Data: pattern(off, tc.size)})
						if err != nil {
							done <- err
							return
						}
						admitted.Add(1)
					}
					done <- nil
				}()
				time.Sleep(time.Second) // let BatchDelay fire if it would
				synctest.Wait()
				if got := admitted.Load(); got != int64(tc.wantAdmit) {
					t.Fatalf("%d appends returned while the writer was held, want %d", got, tc.wantAdmit)
				}
				close(release)
				if err := <-done; err != nil {
					t.Fatal(err)
				}
				if err := s.Flush(); err != nil {
					t.Fatal(err)
				}
				data, start, err := s.ReadOutput("s-a", 0, 1<<20)
				if err != nil || start != 0 || len(data) != 10*tc.size {
					t.Fatalf("ReadOutput = %d bytes at %d, %v", len(data), start, err)
				}
				checkPattern(t, data, 0)
			})
		})
	}
}

// TestCloseUnblocksAppenders: an append waiting for room returns ErrClosed
// when the store closes, and Close still commits what was queued.
func TestCloseUnblocksAppenders(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := Open(filepath.Join(t.TempDir(), "state"), Options{BatchRecords: 2, BatchDelay: time.Hour, TouchInterval: time.Hour}, nil)
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		s.beforeCommit = func() { <-release }
		appendStream(t, s, "s-a", 0, 2, 10) // in flight, held
		synctest.Wait()
		blocked := make(chan error)
		go func() {
			blocked <- s.AppendOutput("s-a", 1, sessions.Chunk{Offset: 20, At: t0.Add(time.Hour), Data: pattern(20, 10)})
		}()
		synctest.Wait()
		closed := make(chan error)
		go func() { closed <- s.Close() }()
		if err := <-blocked; !errors.Is(err, ErrClosed) {
			t.Errorf("blocked AppendOutput returned %v, want ErrClosed", err)
		}
		close(release)
		if err := <-closed; err != nil {
			t.Fatal(err)
		}
	})
}

// TestDiskFull makes the writer's commits fail with SQLITE_FULL (a page
// limit on its connection) and checks that the error reaches every writing
// caller and Err, names the path, and leaves a sound database.
func TestDiskFull(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	s, err := Open(dir, Options{}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	mustSave(t, s, testRecord("s-a"))
	ctx := context.Background()
	var pages int
	if err := s.wconn.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := s.wconn.ExecContext(ctx, "PRAGMA max_page_count = "+strconv.Itoa(pages+2)); err != nil {
		t.Fatal(err)
	}
	// Incompressible bytes, so the rows need the pages they are denied.
	rnd := mathrand.New(mathrand.NewPCG(1, 2))
	for i := range 100 {
		data := make([]byte, 1000)
		for j := range data {
			data[j] = byte(rnd.Uint32())
		}
		if err := s.AppendOutput("s-a", 1, sessions.Chunk{Offset: int64(i) * 1000, At: t0, Data: data}); err != nil {
			break
		}
	}
	ferr := s.Flush()
	if !errors.Is(ferr, ErrDiskFull) || !strings.Contains(ferr.Error(), s.Path()) {
		t.Fatalf("Flush = %v, want ErrDiskFull naming %s", ferr, s.Path())
	}
	for name, err := range map[string]error{
		"Err":          s.Err(),
		"AppendOutput": s.AppendOutput("s-a", 1, sessions.Chunk{Offset: 100000, At: t0, Data: []byte("x")}),
		"AppendEvent":  s.AppendEvent(sessions.Event{Session: "s-a", Kind: sessions.EventInput, Data: "x"}),
		"SaveSession":  s.SaveSession(testRecord("s-a")),
		"AddRecovery":  s.AddRecovery(sessions.RecoveryAttempt{Session: "s-a"}),
		"Flush":        s.Flush(),
	} {
		if !errors.Is(err, ErrDiskFull) {
			t.Errorf("%s = %v, want ErrDiskFull", name, err)
		}
	}
	if err := s.Close(); !errors.Is(err, ErrDiskFull) {
		t.Errorf("Close = %v, want the writer's ErrDiskFull", err)
	}
	s = openIn(t, dir, Options{})
	if err := s.IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Session("s-a"); err != nil {
		t.Errorf("record committed before the failure: %v", err)
	}
}
