package persist

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// openTest opens a Store in a new temporary dir and closes it at cleanup.
func openTest(t *testing.T, opt Options) *Store {
	t.Helper()
	return openIn(t, filepath.Join(t.TempDir(), "state"), opt)
}

func openIn(t *testing.T, dir string, opt Options) *Store {
	t.Helper()
	s, err := Open(dir, opt, testLogger(t))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// testLogger writes the store's log lines to the test log.
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// t0 is the tests' base time: recent, so retention of ended sessions
// (30 days) does not delete test records.
var t0 = time.Now().UTC().Truncate(time.Second)

func testRecord(id sessions.ID) sessions.Record {
	return sessions.Record{
		ID: id,
		Spec: sessions.Spec{
			Kind: sessions.KindLocal, Command: "/bin/sh", Args: []string{"-i"}, Cwd: "/tmp",
			Env: map[string]string{"EDITOR": "vi"}, Cols: 80, Rows: 24, Name: "shell",
			OnRestart: sessions.ReattachOrRestart,
		},
		Status:         sessions.StatusRunning,
		Generation:     1,
		Pid:            4242,
		Cwd:            "/tmp",
		Owner:          "srv-a",
		CreatedAt:      t0,
		UpdatedAt:      t0,
		LastActivityAt: t0,
	}
}

func mustSave(t *testing.T, s *Store, rec sessions.Record) {
	t.Helper()
	if err := s.SaveSession(rec); err != nil {
		t.Fatalf("SaveSession(%s): %v", rec.ID, err)
	}
}

// pattern is the deterministic output stream of the tests: byte i is a
// function of i, so any byte read back can be checked.
func pattern(off int64, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (off+int64(i))%26)
	}
	return b
}

// appendStream appends n chunks of size bytes of the pattern from offset
// off, each at its own time 20ms apart (so none coalesce), and returns the
// end offset. It may run in any goroutine: it reports a failure with
// t.Error and stops.
func appendStream(t *testing.T, s *Store, id sessions.ID, off int64, n, size int) int64 {
	t.Helper()
	for range n {
		at := t0.Add(time.Duration(off/int64(size)) * 20 * time.Millisecond)
		if err := s.AppendOutput(id, 1, sessions.Chunk{Offset: off, At: at, Data: pattern(off, size)}); err != nil {
			t.Errorf("AppendOutput at %d: %v", off, err)
			return off
		}
		off += int64(size)
	}
	return off
}

// stored counts the committed output rows and bytes of id (queued ones are
// not in the database).
func stored(t *testing.T, s *Store, id sessions.ID) (rows, n int64) {
	t.Helper()
	if err := s.db.QueryRow(`SELECT count(*), coalesce(sum(size), 0) FROM output WHERE session = ?`, string(id)).Scan(&rows, &n); err != nil {
		t.Fatalf("count output: %v", err)
	}
	return rows, n
}

func checkPattern(t *testing.T, data []byte, start int64) {
	t.Helper()
	if want := pattern(start, len(data)); !bytes.Equal(data, want) {
		t.Fatalf("bytes at %d (%d of them) do not match the stream", start, len(data))
	}
}

// fileBytes reads a file, nil if it does not exist.
func fileBytes(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return b
}

func dbFiles(dir string) []string {
	p := filepath.Join(dir, DBName)
	return []string{p, p + "-wal", p + "-shm"}
}

func sid(i int) sessions.ID { return sessions.ID(fmt.Sprintf("s-test%06d", i)) }
