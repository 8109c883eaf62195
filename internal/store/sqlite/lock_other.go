//go:build !unix

package sqlite

import (
	"context"
	"errors"

	"github.com/herald-dev/herald/internal/store"
)

// ErrInUse: another process holds the database file (OpenLocked).
var ErrInUse = errors.New("in use by another process")

// Locks reports whether OpenLocked locks the file on this system.
const Locks = false

// OpenLocked opens the database at path. Without flock(2) there is no lock
// here: a second process on the file is not refused.
func OpenLocked(ctx context.Context, path string, opts Options) (store.Store, error) {
	return Open(ctx, path, opts)
}
