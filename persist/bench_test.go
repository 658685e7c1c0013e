package persist

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/console-mcp/console-mcp/sessions"
)

// The writer benchmarks push b.N chunks through AppendOutput and Flush,
// in two shapes: "coalesced" (chunks 1µs apart, as a burst of PTY reads
// arrives: merged into rows of up to 64 KiB) and "rows" (chunks 20ms
// apart: one row each). The baseline inserts the same rows as "rows" with
// one prepared statement in one transaction, in the same run: compare
// ratios, not absolute figures.

func BenchmarkWriterChunks(b *testing.B) { benchWriter(b, 80) }

func BenchmarkWriterBytes(b *testing.B) { benchWriter(b, 32<<10) }

func benchWriter(b *testing.B, size int) {
	data := pattern(0, size)
	for _, mode := range []struct {
		name string
		gap  time.Duration
	}{{"coalesced", time.Microsecond}, {"rows", 20 * time.Millisecond}} {
		b.Run("store/"+mode.name, func(b *testing.B) {
			s := openBench(b)
			b.SetBytes(int64(size))
			b.ResetTimer()
			for i := range b.N {
				c := sessions.Chunk{Offset: int64(i) * int64(size), At: t0.Add(time.Duration(i) * mode.gap), Data: data}
				if err := s.AppendOutput("s-bench", 1, c); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Flush(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
		})
	}
	b.Run("baseline/insert", func(b *testing.B) {
		s := openBench(b)
		b.SetBytes(int64(size))
		b.ResetTimer()
		tx, err := s.db.Begin()
		if err != nil {
			b.Fatal(err)
		}
		st, err := tx.Prepare(`INSERT INTO output (session, off, gen, at, size, data) VALUES (?, ?, ?, ?, ?, ?)`)
		if err != nil {
			b.Fatal(err)
		}
		for i := range b.N {
			if _, err := st.Exec("s-bench", int64(i)*int64(size), 1, nanos(t0.Add(time.Duration(i)*20*time.Millisecond)), len(data), data); err != nil {
				b.Fatal(err)
			}
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "chunks/s")
	})
}

func openBench(b *testing.B) *Store {
	b.Helper()
	s, err := Open(filepath.Join(b.TempDir(), "state"), Options{RetainBytes: 1 << 40}, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Error(err)
		}
	})
	return s
}

// BenchmarkReadTail16K reads the last 16 KiB of a 64 MiB history stored as
// rows of 4 KiB and of 1 KiB; the baseline selects one row by key.
func BenchmarkReadTail16K(b *testing.B) {
	const history, tail = 64 << 20, 16 << 10
	for _, row := range []int{4 << 10, 1 << 10} {
		s := openBench(b)
		data := pattern(0, row)
		for off := int64(0); off < history; off += int64(row) {
			c := sessions.Chunk{Offset: off, At: t0.Add(time.Duration(off/int64(row)) * 20 * time.Millisecond), Data: data}
			if err := s.AppendOutput("s-bench", 1, c); err != nil {
				b.Fatal(err)
			}
		}
		if err := s.Flush(); err != nil {
			b.Fatal(err)
		}
		name := map[int]string{4 << 10: "rows=4KiB", 1 << 10: "rows=1KiB"}[row]
		b.Run("store/"+name, func(b *testing.B) {
			for b.Loop() {
				got, start, err := s.ReadOutput("s-bench", history-tail, tail)
				if err != nil || len(got) != tail || start != history-tail {
					b.Fatalf("ReadOutput = %d bytes at %d, %v", len(got), start, err)
				}
			}
		})
		b.Run("baseline/select-row/"+name, func(b *testing.B) {
			for b.Loop() {
				var got []byte
				var size int
				if err := s.db.QueryRow(`SELECT data, size FROM output WHERE session = ? AND off = ?`, "s-bench", history-int64(row)).Scan(&got, &size); err != nil || size != row {
					b.Fatalf("select = %d bytes, %v", size, err)
				}
			}
		})
	}
}
