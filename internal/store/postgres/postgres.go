// Package postgres is Herald's PostgreSQL store: several Herald processes
// share one database. Deliveries are claimed with FOR UPDATE SKIP LOCKED so
// that each is sent by one process at a time, LISTEN/NOTIFY wakes the other
// processes' dispatchers, and advisory locks keep maintenance on one process.
package postgres

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/authcache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
)

var (
	_ store.Store    = (*DB)(nil)
	_ store.Notifier = (*DB)(nil)
)

//go:embed migrations/*.sql
var migrations embed.FS

// MaxConnsDefault is the pool size when Options.MaxConns is zero.
const MaxConnsDefault = 16

// Options configures Open. The zero value is usable.
type Options struct {
	// Now is the clock (idempotency window, "due now", updated_at); tests
	// inject one. Default time.Now.
	Now func() time.Time
	// MaxConns bounds the connection pool. Default MaxConnsDefault. Held
	// TryLock locks each keep one connection; Wakeups uses its own.
	MaxConns int32
}

// DB is a PostgreSQL-backed store.Store and store.Notifier.
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// schema namespaces TryLock's names: deployments in two schemas of one
	// database (search_path) do not share locks.
	schema string

	// closed ends the Wakeups listeners when the DB is closed.
	closed    chan struct{}
	closeOnce sync.Once
	listeners sync.WaitGroup

	auth authCache

	// held are the TryLock locks not yet released, each keeping a pooled
	// connection; Close releases them (the pool waits for its connections).
	mu     sync.Mutex
	held   map[int]func()
	nextID int
}

// Open connects to the database at url (postgres://…), applies the
// embedded migrations and returns the store. Several processes may Open the
// same database at once: migrations run under an advisory lock. The tables
// live in the first schema of the search path (e.g. ?search_path=herald in
// url).
func Open(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	cfg.MaxConns = MaxConnsDefault
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := migrate(ctx, cfg.ConnConfig); err != nil {
		pool.Close()
		return nil, err
	}
	var schema string
	if err := pool.QueryRow(ctx, "SELECT current_schema()").Scan(&schema); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %w", err)
	}
	db := &DB{pool: pool, now: opts.Now, schema: schema, closed: make(chan struct{}), held: make(map[int]func()),
		auth: authCache{Cache: authcache.New(authCacheTTL, false)}}
	if db.now == nil {
		db.now = time.Now
	}
	return db, nil
}

// migrationLockID is the advisory lock that serialises migrations of
// concurrently starting processes ("herald-migrate" hashed).
var migrationLockID = lockKey("herald-migrate")

// migrate applies the embedded migrations over a short-lived database/sql
// handle of its own, so that the pool's size cannot starve it.
func migrate(ctx context.Context, cc *pgx.ConnConfig) error {
	cc = cc.Copy()
	// Each migration step commits, and waiting for each flush is most of
	// the time an empty database takes to migrate. Not waiting is safe: a
	// later durable commit (anyone's) flushes the WAL before it, so a crash
	// can only lose the tail of the migration, which reruns.
	cc.RuntimeParams["synchronous_commit"] = "off"
	sqlDB := stdlib.OpenDB(*cc)
	defer sqlDB.Close()
	dir, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectPostgres, sqlDB, dir,
		goose.WithSessionLocker(advisoryLocker{}),
		goose.WithTableName("herald_schema_version"))
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	return nil
}

// advisoryLocker is a goose session locker that waits on the lock instead
// of goose's own poll every few seconds: a second process starting at the
// same time proceeds as soon as the first has migrated.
type advisoryLocker struct{}

func (advisoryLocker) SessionLock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock($1)", migrationLockID)
	return err
}

func (advisoryLocker) SessionUnlock(ctx context.Context, conn *sql.Conn) error {
	_, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock($1)", migrationLockID)
	return err
}

// Close releases held locks, ends the Wakeups listeners and closes the
// pool.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		close(db.closed)
		db.mu.Lock()
		held := make([]func(), 0, len(db.held))
		for _, release := range db.held {
			held = append(held, release)
		}
		db.mu.Unlock()
		for _, release := range held {
			release()
		}
		db.listeners.Wait()
		db.pool.Close()
	})
	return nil
}

// Ping checks the database answers.
func (db *DB) Ping(ctx context.Context) error { return db.pool.Ping(ctx) }

// TryLock takes a session advisory lock on a connection reserved until
// release: the lock lives exactly as long as that session, so a process that
// dies loses it at once.
func (db *DB) TryLock(ctx context.Context, name string) (func(), bool, error) {
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return nil, false, err
	}
	key := lockKey(db.schema + ":" + name)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", key).Scan(&ok); err != nil {
		conn.Release()
		return nil, false, err
	}
	if !ok {
		conn.Release()
		return nil, false, nil
	}
	db.mu.Lock()
	id := db.nextID
	db.nextID++
	var once sync.Once
	release := func() {
		once.Do(func() {
			db.mu.Lock()
			delete(db.held, id)
			db.mu.Unlock()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if _, err := conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", key); err != nil {
				// Never return a session still holding the lock to the
				// pool: closing it is what frees the lock.
				c := conn.Hijack()
				c.Close(ctx)
				return
			}
			conn.Release()
		})
	}
	db.held[id] = release
	db.mu.Unlock()
	return release, true, nil
}

// lockKey maps a lock name to PostgreSQL's int64 advisory lock key space.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte("herald:" + name))
	return int64(h.Sum64())
}

// ---- errors ----

// unavailable reports whether err says the database cannot be used now,
// rather than anything about the statement: no connection (refused, reset,
// cut by a restart or pg_terminate_backend), the server shutting down or
// starting, out of disk or memory, read-only after a failover.
func unavailable(err error) bool {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		return true // whatever the server said, it did not let us in
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code[:2] {
		case "08", // connection exception
			"53", // insufficient resources: disk full, out of memory, too many connections
			"58": // system error: I/O
			return true
		}
		switch pe.Code {
		case "57P01", "57P02", "57P03", // admin / crash shutdown, cannot connect now
			"25006": // read-only transaction (a standby)
			return true
		}
		return false
	}
	var ne net.Error
	return errors.As(err, &ne) || pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		strings.Contains(err.Error(), "conn closed")
}

// notFound is the ENOTFOUND error for a missing thing.
func notFound(what string) error { return herald.Errorf(herald.ENOTFOUND, "%s not found", what) }

// dbErr turns database errors into herald errors where they mean something
// to the caller: a missing row is ENOTFOUND (naming what), a unique clash
// ECONFLICT, a missing parent ENOTFOUND, and data PostgreSQL refuses (a NUL
// character, an invalid JSON text) EINVALID.
func dbErr(err error, what string) error {
	if err == nil {
		return nil
	}
	if unavailable(err) {
		return fmt.Errorf("postgres: %s: %w: %w", what, herald.ErrUnavailable, err)
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(what)
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch {
		case pe.Code == "23505":
			return herald.Errorf(herald.ECONFLICT, "%s already exists", what)
		case pe.Code == "23503":
			return herald.Errorf(herald.ENOTFOUND, "%s refers to something that does not exist (%s)", what, pe.ConstraintName)
		case strings.HasPrefix(pe.Code, "22"):
			return herald.Errorf(herald.EINVALID, "%s: %s", what, pe.Message)
		}
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}
