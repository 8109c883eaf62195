//go:build unix

package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"

	"github.com/herald-dev/herald/internal/store"
)

// ErrInUse: another process holds the database file (OpenLocked).
var ErrInUse = errors.New("in use by another process")

// Locks reports whether OpenLocked locks the file on this system.
const Locks = true

// OpenLocked opens the database at path for a process that must be its only
// user (`herald serve`: its caches and its claims assume no other process
// writes the file). It first takes an exclusive lock on path + ".lock", held
// until Close — or until the process dies, when the kernel drops it — and
// fails with ErrInUse, naming the holder's pid, when another process holds
// it. The lock is flock(2) on a file of its own: SQLite's own locks, POSIX
// record locks on the database and its WAL, are not touched, and an
// flock emulated with record locks (NFS) cannot collide with them either.
func OpenLocked(ctx context.Context, path string, opts Options) (store.Store, error) {
	lockPath := path + ".lock"
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sqlite: lock %s: %w", lockPath, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		holder := ""
		if b, rerr := os.ReadFile(lockPath); rerr == nil {
			if pid, perr := strconv.Atoi(strings.TrimSpace(string(b))); perr == nil {
				holder = fmt.Sprintf(" (pid %d)", pid)
			}
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("sqlite: %s is %w%s: one herald serve per SQLite file; stop the other one, or use PostgreSQL to run several",
				path, ErrInUse, holder)
		}
		return nil, fmt.Errorf("sqlite: lock %s: %w", lockPath, err)
	}
	// The holder's pid, for the message above; the lock does not depend on it.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	db, err := Open(ctx, path, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	return &lockedDB{DB: db, lock: f}, nil
}

// lockedDB is a DB whose Close also releases the process lock.
type lockedDB struct {
	*DB
	lock *os.File
}

func (l *lockedDB) Close() error {
	err := l.DB.Close()
	l.lock.Close() // closing the descriptor drops the flock
	return err
}
