package persist

import (
	"path/filepath"
	"sync"
	"testing"
)

// TestTwoStoresOneFile: two servers on one state dir write their own
// sessions at full speed; each reads back its stream intact and the
// database passes integrity_check.
func TestTwoStoresOneFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	stores := []*Store{openIn(t, dir, Options{BatchRecords: 32}), openIn(t, dir, Options{BatchRecords: 32})}
	const chunks, size = 2000, 100
	var wg sync.WaitGroup
	for k, s := range stores {
		for j := range 2 {
			id := sid(10*k + j)
			wg.Go(func() {
				rec := testRecord(id)
				if err := s.SaveSession(rec); err != nil {
					t.Error(err)
					return
				}
				appendStream(t, s, id, 0, chunks, size)
				if err := s.Flush(); err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	for k := range stores {
		for j := range 2 {
			id := sid(10*k + j)
			for _, s := range stores { // each sees the other's commits
				data, start, err := s.ReadOutput(id, 0, 1<<30)
				if err != nil {
					t.Fatal(err)
				}
				if start != 0 || len(data) != chunks*size {
					t.Errorf("%s: %d bytes at %d, want %d at 0", id, len(data), start, chunks*size)
				}
				checkPattern(t, data, 0)
			}
		}
	}
	if err := stores[0].IntegrityCheck(); err != nil {
		t.Fatal(err)
	}
}
