package sqlite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"

	"github.com/herald-dev/herald"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// fileCheckTicks: the checkpointer compares the database file with the
// one opened every this many ticks (a second), as well as before every
// commit.
const fileCheckTicks = int(1e9 / checkpointEvery)

// health knows whether the database can be written: its file may have
// been deleted or replaced under the running process (writes would go to
// a file nobody will open again), its disk may be full or failing. Both
// make writes fail with herald.ErrUnavailable, which the API answers with
// 503, and Ping (/readyz) fail.
type health struct {
	path   string
	opened os.FileInfo // the file as opened; nil: none to watch (in memory)
	log    *slog.Logger

	lost atomic.Pointer[error] // the file is gone or replaced: for good
	down atomic.Pointer[error] // the last write failed for want of space or I/O
	mu   sync.Mutex            // orders the log lines of down's changes
}

func (h *health) init(path string, log *slog.Logger) {
	h.path, h.log = path, log
	if fi, err := os.Stat(path); err == nil {
		h.opened = fi
	}
}

// gone returns the error of a lost database file, or nil.
func (h *health) gone() error {
	if p := h.lost.Load(); p != nil {
		return *p
	}
	return nil
}

// file compares the database file at the path with the one opened, and
// returns the error that refuses writes if it is not the same any more.
func (h *health) file() error {
	if err := h.gone(); err != nil || h.opened == nil {
		return err
	}
	fi, err := os.Stat(h.path)
	var why string
	switch {
	case errors.Is(err, os.ErrNotExist):
		why = "was deleted"
	case err != nil:
		return nil // cannot tell (a permission changed?): the writes will say
	case !os.SameFile(fi, h.opened):
		why = "was replaced by another file"
	default:
		return nil
	}
	lost := fmt.Errorf("sqlite: %w: the database file %s %s while in use; restart Herald on the right file",
		herald.ErrUnavailable, h.path, why)
	if h.lost.CompareAndSwap(nil, &lost) {
		h.log.Error("the database file "+why+" while in use: refusing every write; restart Herald", "path", h.path)
	}
	return lost
}

// err is why the database cannot be written now, or nil.
func (h *health) err() error {
	if err := h.gone(); err != nil {
		return err
	}
	if p := h.down.Load(); p != nil {
		return *p
	}
	return nil
}

// written records the outcome of a commit and returns its error, wrapped
// with herald.ErrUnavailable when it says the database cannot be written.
func (h *health) written(err error) error {
	err = h.unavailable(err)
	if err == nil && h.down.Load() == nil {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case err == nil:
		if h.down.Swap(nil) != nil {
			h.log.Info("the database can be written again", "path", h.path)
		}
	case errors.Is(err, herald.ErrUnavailable):
		if h.down.Swap(&err) == nil {
			h.log.Error("the database cannot be written", "path", h.path, "error", err)
		}
	}
	return err
}

// unavailable wraps err with herald.ErrUnavailable when it is SQLite's
// way of saying the storage failed (full, I/O error, cannot open, read
// only, locked by another process beyond the busy timeout) rather than
// anything about the statement.
func (h *health) unavailable(err error) error {
	var se *sqlite.Error
	if err == nil || errors.Is(err, herald.ErrUnavailable) || !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_BUSY:
		return fmt.Errorf("sqlite: %w: %w", herald.ErrUnavailable, err)
	}
	return err
}

// probe makes a small write, to learn whether the database can be written
// again after a failure.
func (db *DB) probe(ctx context.Context) error {
	_, err := db.exec(ctx, `INSERT INTO settings (key, value) VALUES ('herald.write_probe', ?1)
		ON CONFLICT (key) DO UPDATE SET value = ?1`, db.now().UTC().Format("2006-01-02T15:04:05.000Z"))
	return err
}
