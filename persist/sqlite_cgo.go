//go:build cgo

package persist

import (
	"errors"

	"github.com/mattn/go-sqlite3"
)

// sqliteCode returns the primary result code of an SQLite error.
func sqliteCode(err error) (int, bool) {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return int(se.Code), true
	}
	return 0, false
}
