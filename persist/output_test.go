package persist

import (
	"bytes"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// TestReadOutputMergesQueued reads across the boundary between committed
// rows and queued chunks.
func TestReadOutputMergesQueued(t *testing.T) {
	s := openTest(t, Options{BatchDelay: time.Hour, TouchInterval: time.Hour})
	mustSave(t, s, testRecord("s-a"))
	end := appendStream(t, s, "s-a", 0, 10, 100) // 0..1000 committed
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	end = appendStream(t, s, "s-a", end, 10, 100) // 1000..2000 queued
	if rows, _ := stored(t, s, "s-a"); rows != 10 {
		t.Fatalf("%d rows stored, want 10 (the rest queued)", rows)
	}
	for _, tc := range []struct {
		from      int64
		max       int
		wantStart int64
		wantLen   int
	}{
		{0, 5000, 0, 2000},
		{950, 100, 950, 100}, // straddles stored and queued
		{1999, 10, 1999, 1},
		{2000, 10, 2000, 0},
		{5000, 10, 5000, 0},
		{-5, 3, 0, 3},
		{10, 0, 10, 0},
	} {
		data, start, err := s.ReadOutput("s-a", tc.from, tc.max)
		if err != nil {
			t.Fatal(err)
		}
		if start != tc.wantStart || len(data) != tc.wantLen {
			t.Errorf("ReadOutput(%d, %d) = %d bytes at %d, want %d at %d", tc.from, tc.max, len(data), start, tc.wantLen, tc.wantStart)
		}
		checkPattern(t, data, start)
	}
	if got, err := s.OutputEnd("s-a"); err != nil || got != end {
		t.Errorf("OutputEnd = %d, %v; want %d", got, err, end)
	}
	if got, err := s.OutputEnd("s-none"); err != nil || got != 0 {
		t.Errorf("OutputEnd of unknown session = %d, %v; want 0", got, err)
	}
}

// TestReadOutputGaps: bytes never stored make start jump past from, and a
// read stops at a gap after data.
func TestReadOutputGaps(t *testing.T) {
	s := openTest(t, Options{})
	for _, off := range []int64{100, 200, 400} { // [100,200) [200,300) gap [400,500)
		if err := s.AppendOutput("s-a", 1, sessions.Chunk{Offset: off, At: t0.Add(time.Duration(off) * time.Second), Data: pattern(off, 100)}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(when string) {
		for _, tc := range []struct {
			from, wantStart int64
			wantLen         int
		}{
			{0, 100, 200},
			{150, 150, 150},
			{300, 400, 100},
			{350, 400, 100},
			{450, 450, 50},
		} {
			data, start, err := s.ReadOutput("s-a", tc.from, 1000)
			if err != nil {
				t.Fatal(err)
			}
			if start != tc.wantStart || len(data) != tc.wantLen {
				t.Errorf("%s: ReadOutput(%d) = %d bytes at %d, want %d at %d", when, tc.from, len(data), start, tc.wantLen, tc.wantStart)
			}
			checkPattern(t, data, start)
		}
	}
	check("queued")
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	check("stored")
}

func TestCoalescing(t *testing.T) {
	s := openTest(t, Options{})
	at := t0
	off := int64(0)
	// 5 chunks within 10ms: one row. Then one 11ms later: a new row. Then
	// a different generation: a new row. Then a gap: a new row.
	for i := range 5 {
		if err := s.AppendOutput("s-a", 1, sessions.Chunk{Offset: off, At: at.Add(time.Duration(i) * 2 * time.Millisecond), Data: pattern(off, 10)}); err != nil {
			t.Fatal(err)
		}
		off += 10
	}
	steps := []struct {
		gen int
		at  time.Time
		off int64
	}{
		{1, at.Add(21 * time.Millisecond), off},
		{2, at.Add(22 * time.Millisecond), off + 10},
		{2, at.Add(23 * time.Millisecond), off + 30},
	}
	for _, st := range steps {
		if err := s.AppendOutput("s-a", st.gen, sessions.Chunk{Offset: st.off, At: st.at, Data: pattern(st.off, 10)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	var got []sessions.Chunk
	if err := s.Chunks("s-a", 0, func(c sessions.Chunk) bool { got = append(got, c); return true }); err != nil {
		t.Fatal(err)
	}
	want := []struct {
		off int64
		n   int
		at  time.Time
	}{{0, 50, at}, {50, 10, at.Add(21 * time.Millisecond)}, {60, 10, at.Add(22 * time.Millisecond)}, {80, 10, at.Add(23 * time.Millisecond)}}
	if len(got) != len(want) {
		t.Fatalf("got %d rows, want %d", len(got), len(want))
	}
	for i, w := range want {
		if got[i].Offset != w.off || len(got[i].Data) != w.n || !got[i].At.Equal(w.at) {
			t.Errorf("row %d: %d bytes at %d (%v), want %d at %d (%v)", i, len(got[i].Data), got[i].Offset, got[i].At, w.n, w.off, w.at)
		}
		checkPattern(t, got[i].Data, got[i].Offset)
	}
}

// TestLargeChunksNotCoalesced: chunks of 16 KiB or more stay rows of
// their own.
func TestLargeChunksNotCoalesced(t *testing.T) {
	s := openTest(t, Options{})
	for i := range 3 {
		off := int64(i) * 20 << 10
		if err := s.AppendOutput("s-a", 1, sessions.Chunk{Offset: off, At: t0, Data: pattern(off, 20<<10)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	if rows, n := stored(t, s, "s-a"); rows != 3 || n != 60<<10 {
		t.Errorf("stored %d rows, %d bytes; want 3 rows, %d bytes", rows, n, 60<<10)
	}
}

func TestChunks(t *testing.T) {
	s := openTest(t, Options{BatchDelay: time.Hour})
	// 600 rows stored (more than one page), 5 queued.
	end := appendStream(t, s, "s-a", 0, 600, 10)
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	end = appendStream(t, s, "s-a", end, 5, 10)
	for _, tc := range []struct {
		from      int64
		wantFirst int64
		wantN     int
	}{
		{0, 0, 605},
		{5, 0, 605}, // the chunk holding from comes whole
		{2560, 2560, 349},
		{6000, 6000, 5},
		{6045, 6040, 1},
		{6050, 0, 0},
	} {
		var got []sessions.Chunk
		if err := s.Chunks("s-a", tc.from, func(c sessions.Chunk) bool { got = append(got, c); return true }); err != nil {
			t.Fatal(err)
		}
		if len(got) != tc.wantN {
			t.Errorf("Chunks(%d): %d chunks, want %d", tc.from, len(got), tc.wantN)
			continue
		}
		next := tc.wantFirst
		for _, c := range got {
			if c.Offset != next {
				t.Fatalf("Chunks(%d): chunk at %d, want %d", tc.from, c.Offset, next)
			}
			checkPattern(t, c.Data, c.Offset)
			next += int64(len(c.Data))
		}
		if tc.wantN > 0 && next != end {
			t.Errorf("Chunks(%d) ended at %d, want %d", tc.from, next, end)
		}
	}
	n := 0
	if err := s.Chunks("s-a", 0, func(sessions.Chunk) bool { n++; return n < 3 }); err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Errorf("fn called %d times after returning false, want 3", n)
	}
}

// TestReplayOverlap: a chunk re-sent at a stored offset (a reattach
// replaying from the last persisted offset) keeps the longer data.
func TestReplayOverlap(t *testing.T) {
	s := openTest(t, Options{})
	if err := s.AppendOutput("s-a", 1, sessions.Chunk{Offset: 0, At: t0, Data: pattern(0, 50)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{80, 30} {
		if err := s.AppendOutput("s-a", 1, sessions.Chunk{Offset: 0, At: t0, Data: pattern(0, n)}); err != nil {
			t.Fatal(err)
		}
		if err := s.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	data, start, err := s.ReadOutput("s-a", 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if start != 0 || len(data) != 80 {
		t.Errorf("ReadOutput = %d bytes at %d, want 80 at 0", len(data), start)
	}
	checkPattern(t, data, start)
}

func TestRetainBytes(t *testing.T) {
	const retain = 1000
	s := openTest(t, Options{RetainBytes: retain, BatchRecords: 7})
	mustSave(t, s, testRecord("s-a"))
	end := appendStream(t, s, "s-a", 0, 100, 100) // 10,000 bytes
	if err := s.Flush(); err != nil {
		t.Fatal(err)
	}
	_, n := stored(t, s, "s-a")
	if n > retain {
		t.Errorf("%d bytes stored, cap %d", n, retain)
	}
	if n == 0 {
		t.Fatal("retention deleted everything")
	}
	data, start, err := s.ReadOutput("s-a", 0, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if start == 0 || start != end-n {
		t.Errorf("ReadOutput(0) starts at %d, want %d (bytes before were cut)", start, end-n)
	}
	if start+int64(len(data)) != end {
		t.Errorf("ReadOutput(0) ends at %d, want %d", start+int64(len(data)), end)
	}
	checkPattern(t, data, start)
	first, cut, err := s.OutputStats("s-a")
	if err != nil {
		t.Fatal(err)
	}
	if first != start || cut != start {
		t.Errorf("OutputStats = first %d, cut %d; want both %d", first, cut, start)
	}
}

func TestRetainEnded(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	dir := t.TempDir()
	s, err := Open(dir, Options{RetainEnded: 24 * time.Hour, Now: clock}, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	old, recent, live := testRecord("s-old"), testRecord("s-recent"), testRecord("s-live")
	old.Status, old.EndedAt = sessions.StatusExited, t0.Add(-25*time.Hour)
	recent.Status, recent.EndedAt = sessions.StatusExited, t0.Add(-23*time.Hour)
	live.CreatedAt = t0.Add(-100 * time.Hour)
	for _, r := range []sessions.Record{old, recent, live} {
		mustSave(t, s, r)
		appendStream(t, s, r.ID, 0, 3, 10)
		if err := s.AppendEvent(sessions.Event{Session: r.ID, Kind: sessions.EventInput, Data: "x", At: t0}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddRecovery(sessions.RecoveryAttempt{Session: "s-old", Strategy: "restart", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openIn(t, dir, Options{RetainEnded: 24 * time.Hour, Now: clock}) // Open sweeps
	if _, err := s.Session("s-old"); err == nil {
		t.Error("session ended 25h ago is still there")
	}
	for _, id := range []sessions.ID{"s-recent", "s-live"} {
		if _, err := s.Session(id); err != nil {
			t.Errorf("%s: %v", id, err)
		}
	}
	var leftover int
	if err := s.db.QueryRow(`SELECT (SELECT count(*) FROM output WHERE session = 's-old') + (SELECT count(*) FROM events WHERE session = 's-old')
		+ (SELECT count(*) FROM recoveries WHERE session = 's-old') + (SELECT count(*) FROM output_meta WHERE session = 's-old')`).Scan(&leftover); err != nil {
		t.Fatal(err)
	}
	if leftover != 0 {
		t.Errorf("%d rows of the deleted session left", leftover)
	}
	if rows, _ := stored(t, s, "s-recent"); rows != 3 {
		t.Errorf("s-recent: %d rows, want 3", rows)
	}
}

func TestAppendOutputCopies(t *testing.T) {
	s := openTest(t, Options{})
	buf := []byte("hello")
	if err := s.AppendOutput("s-a", 1, sessions.Chunk{Offset: 0, At: t0, Data: buf}); err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXX")
	data, _, err := s.ReadOutput("s-a", 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, []byte("hello")) {
		t.Errorf("ReadOutput = %q: the store kept the caller's buffer", data)
	}
}

// TestPooledRowsRoundTrip: rows in recycled buffers (large first chunks,
// small ones coalesced into them) over many commits read back byte for
// byte, also while later rows reuse the buffers of earlier ones.
func TestPooledRowsRoundTrip(t *testing.T) {
	s := openTest(t, Options{BatchDelay: time.Hour, TouchInterval: time.Hour})
	mustSave(t, s, testRecord("s-p"))
	sizes := []int{pooledMin, 3000, 500, pooledMin + 1, coalesceMax, 9000, 100, pooledMin - 1, 40 << 10, 20000}
	var off int64
	for round := range 30 {
		for i, n := range sizes {
			at := t0.Add(time.Duration(round*len(sizes)+i) * time.Millisecond)
			if err := s.AppendOutput("s-p", 1, sessions.Chunk{Offset: off, At: at, Data: pattern(off, n)}); err != nil {
				t.Fatal(err)
			}
			off += int64(n)
		}
		if round%3 == 2 {
			if err := s.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for from := int64(0); from < off; {
		data, start, err := s.ReadOutput("s-p", from, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		if start != from || len(data) == 0 {
			t.Fatalf("ReadOutput(%d) = %d bytes at %d", from, len(data), start)
		}
		checkPattern(t, data, start)
		from += int64(len(data))
	}
}
