//go:build !cgo

package persist

// sqliteCode: without cgo go-sqlite3 is a stub that never opens a
// database (its error says so), so there are no SQLite errors to classify.
func sqliteCode(error) (int, bool) { return 0, false }
