package persist

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// openLockWait bounds the wait for another process's open of the same
// database.
const openLockWait = 30 * time.Second

// lockOpen serializes opening the database at dbPath among processes: an
// exclusive flock on its directory (the state dir: no file is added to
// it), held while the file is probed, turned to WAL and migrated. Each step
// is safe under SQLite's own locks, but between the steps another process's
// first open could land (seen: one of four servers starting together on a
// new state dir failed with "database is locked" or saw tables without a
// schema version). unlock releases it. Where the directory cannot be
// opened there is no lock; the open then fails on its own terms.
func lockOpen(dbPath string, log *slog.Logger) (unlock func()) {
	f, err := os.Open(filepath.Dir(dbPath))
	if err != nil {
		return func() {}
	}
	deadline := time.Now().Add(openLockWait)
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err != nil {
		log.Warn("opening the database without waiting longer for another process's open of it", "path", dbPath, "waited", openLockWait, "err", err)
		f.Close()
		return func() {}
	}
	return func() { f.Close() } // closing releases the flock
}
