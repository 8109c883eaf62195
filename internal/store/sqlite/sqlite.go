// Package sqlite is Herald's embedded store: one database file, written by
// one connection (SQLite allows one writer at a time, so queuing writes in
// Go is cheaper than retrying SQLITE_BUSY) and read by a small pool.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/authcache"
	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

var _ store.Store = (*DB)(nil)

// Options configures Open. Zero values take the defaults.
type Options struct {
	// Now is the clock; tests inject one. Default time.Now.
	Now func() time.Time
	// Synchronous is PRAGMA synchronous. Default SynchronousDefault (FULL):
	// with WAL, FULL syncs the log at every commit, so an accepted event
	// survives power loss. NORMAL trades that for speed (benchmarks only).
	Synchronous string
	// ReadConns is the size of the read pool. Default ReadConnsDefault.
	ReadConns int
	// Logger reports the database becoming unwritable (its file gone, its
	// disk full) and writable again. Default slog.Default().
	Logger *slog.Logger
}

// Defaults of Options.
const (
	SynchronousDefault = "FULL"
	ReadConnsDefault   = 4
	busyTimeoutMS      = 10000
)

// Tuning of the writer.
const (
	// writeBatchMax bounds the write transactions merged into one commit.
	writeBatchMax = 256
	// writeQueue is how many write transactions may wait for the writer.
	writeQueue = 1024
	// writerCacheKB and readerCacheKB size SQLite's page caches: the
	// writer updates the delivery indexes all the time, and a cache miss
	// is a pread.
	writerCacheKB = 32 << 10
	readerCacheKB = 8 << 10
	// checkpointEvery: the WAL is copied back into the database by a
	// background connection this often (when something was written), so
	// that a commit never pays for a checkpoint. autoCheckpointPages is
	// the writer's own fallback should the background fall behind.
	checkpointEvery     = 200 * time.Millisecond
	autoCheckpointPages = 20000
	walSizeLimit        = 64 << 20
)

func (o *Options) validate() error {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Synchronous == "" {
		o.Synchronous = SynchronousDefault
	}
	o.Synchronous = strings.ToUpper(o.Synchronous)
	switch o.Synchronous {
	case "FULL", "NORMAL", "EXTRA":
	default:
		return fmt.Errorf("sqlite: synchronous %q is not FULL, NORMAL or EXTRA", o.Synchronous)
	}
	if o.ReadConns <= 0 {
		o.ReadConns = ReadConnsDefault
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return nil
}

// DB is a Herald database in one SQLite file. It implements store.Store.
type DB struct {
	path string
	now  func() time.Time
	w    *sql.DB // one connection: every write and write transaction
	r    *sql.DB // query_only pool
	ck   *sql.DB // one connection for background checkpoints

	// Write transactions are queued to one goroutine that merges those
	// waiting into one SQLite transaction (one fsync): see tx.
	writes    chan *writeReq
	writesMu  sync.RWMutex // held for reading while queuing; Close takes it to stop
	closed    bool
	writerEnd chan struct{}
	dirty     atomic.Bool // written since the last checkpoint
	stopCk    chan struct{}
	ckEnd     chan struct{}

	// seq numbers deliveries in ingest order. Writes are serialised on w,
	// so a counter bumped inside a write transaction is monotonic.
	seqMu sync.Mutex
	seq   int64

	stmts statements

	locksMu sync.Mutex
	locks   map[string]bool

	// auth caches API keys and projects; exact, as every write to them
	// goes through this DB and invalidates it after its commit.
	auth *authcache.Cache

	health health
}

// Open opens (creating if needed) and migrates the database at path.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	// Commit with fdatasync(2), as SQLite's own Linux builds do: the WAL's
	// data and size reach the disk exactly as with fsync, without waiting
	// for its timestamps to go through the file system's journal. (Process
	// wide; where it is unavailable SQLite keeps fsync.)
	_, _ = sqlite.Fdatasync(true)
	common := url.Values{}
	common.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeoutMS))
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "synchronous("+opts.Synchronous+")")
	common.Add("_pragma", "temp_store(MEMORY)")

	wq := url.Values{}
	for k, v := range common {
		wq[k] = append([]string(nil), v...)
	}
	wq.Add("_pragma", "journal_mode(WAL)")
	wq.Add("_pragma", fmt.Sprintf("cache_size(-%d)", writerCacheKB))
	wq.Add("_pragma", fmt.Sprintf("wal_autocheckpoint(%d)", autoCheckpointPages))
	wq.Add("_pragma", fmt.Sprintf("journal_size_limit(%d)", walSizeLimit))
	wq.Set("_txlock", "immediate") // a write transaction takes the lock at BEGIN, not at its first write
	w, err := sql.Open("sqlite", "file:"+path+"?"+wq.Encode())
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	// Touch the file through the writer first: it switches it to WAL, which
	// the query_only readers cannot do.
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}

	ck, err := sql.Open("sqlite", "file:"+path+"?"+common.Encode())
	if err != nil {
		w.Close()
		return nil, err
	}
	ck.SetMaxOpenConns(1)
	ck.SetMaxIdleConns(1)
	ck.SetConnMaxIdleTime(0)

	rq := common
	rq.Add("_pragma", fmt.Sprintf("cache_size(-%d)", readerCacheKB))
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", "file:"+path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		ck.Close()
		return nil, err
	}
	r.SetMaxOpenConns(opts.ReadConns)
	r.SetMaxIdleConns(opts.ReadConns)
	r.SetConnMaxIdleTime(0)

	db := &DB{path: path, now: opts.Now, w: w, r: r, ck: ck, locks: map[string]bool{}, auth: authcache.New(0, true),
		writes: make(chan *writeReq, writeQueue), writerEnd: make(chan struct{}),
		stopCk: make(chan struct{}), ckEnd: make(chan struct{})}
	db.health.init(path, opts.Logger)
	go db.writer()
	go db.checkpointer()
	if err := db.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	// The highest seq is the newest row's: seq is reserved and its rows
	// inserted by the one writer, in order, and SQLite gives a new row a
	// rowid above every existing one. Reading the last row is a lookup;
	// MAX(seq) had to read every delivery ever kept (no index has seq over
	// all of them).
	if err := w.QueryRowContext(ctx, `SELECT COALESCE((SELECT seq FROM deliveries ORDER BY rowid DESC LIMIT 1), 0)`).Scan(&db.seq); err != nil {
		db.Close()
		return nil, err
	}
	if err := db.prepare(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func (db *DB) migrate(ctx context.Context) error {
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		return err
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db.w, sub, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		return fmt.Errorf("sqlite: migrations: %w", err)
	}
	if _, err := p.Up(ctx); err != nil {
		return fmt.Errorf("sqlite: migrate %s: %w", db.path, err)
	}
	return nil
}

// Path returns the database file's path.
func (db *DB) Path() string { return db.path }

// Close waits for queued writes, then releases the database.
func (db *DB) Close() error {
	db.writesMu.Lock()
	if db.closed {
		db.writesMu.Unlock()
		return nil
	}
	db.closed = true
	close(db.writes)
	db.writesMu.Unlock()
	<-db.writerEnd
	close(db.stopCk)
	<-db.ckEnd
	db.stmts.close()
	return errors.Join(db.r.Close(), db.ck.Close(), db.w.Close())
}

// Ping checks both connection pools answer and the database can be
// written: its file is still the one opened and, after a write failed for
// want of space or I/O, a small write succeeds again.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.health.file(); err != nil {
		return err
	}
	if db.health.err() != nil {
		if err := db.probe(ctx); err != nil {
			return err
		}
	}
	if err := db.w.PingContext(ctx); err != nil {
		return err
	}
	return db.r.PingContext(ctx)
}

// TryLock takes a named lock. SQLite has one process per file (the writer
// lock would starve a second one), so an in-process lock is the whole story.
func (db *DB) TryLock(ctx context.Context, name string) (func(), bool, error) {
	db.locksMu.Lock()
	defer db.locksMu.Unlock()
	if db.locks[name] {
		return nil, false, nil
	}
	db.locks[name] = true
	var once sync.Once
	return func() {
		once.Do(func() {
			db.locksMu.Lock()
			delete(db.locks, name)
			db.locksMu.Unlock()
		})
	}, true, nil
}

// errClosed is returned by writes after Close.
var errClosed = errors.New("sqlite: database is closed")

// writeReq is one write transaction waiting for the writer.
type writeReq struct {
	fn    func(ctx context.Context, tx *sql.Tx) error
	err   error
	state atomic.Int32 // writeQueued, writeTaken or writeAbandoned
	done  chan struct{}
}

const (
	writeQueued = iota
	writeTaken
	writeAbandoned
)

// tx runs fn in a write transaction and returns once it is committed (or
// rolled back). Concurrent calls are group-committed: the writer goroutine
// runs every fn waiting and commits them together, so that N callers pay
// one fsync instead of N; a failing fn rolls back only its own writes (see
// commitGroup). fn may be run twice, the first run rolled back: it must
// leave no effect outside tx that a second run would not overwrite. fn
// must use the ctx it is given, not its caller's: a caller's cancellation
// must not interrupt the connection in the middle of other callers' writes. A caller whose ctx ends before its
// fn has started gets ctx's error and its fn never runs; once started, the
// caller waits for the outcome, so an error always means nothing was written.
func (db *DB) tx(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.health.gone(); err != nil {
		return err
	}
	return db.health.written(db.queue(ctx, fn))
}

// queue hands fn to the writer and waits for its outcome (see tx).
func (db *DB) queue(ctx context.Context, fn func(ctx context.Context, tx *sql.Tx) error) error {
	r := &writeReq{fn: fn, done: make(chan struct{})}
	db.writesMu.RLock()
	if db.closed {
		db.writesMu.RUnlock()
		return errClosed
	}
	select {
	case db.writes <- r:
		db.writesMu.RUnlock()
	case <-ctx.Done():
		db.writesMu.RUnlock()
		return ctx.Err()
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(writeQueued, writeAbandoned) {
			return ctx.Err()
		}
		<-r.done
		return r.err
	}
}

// exec runs one statement through the writer (see tx).
func (db *DB) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	var res sql.Result
	err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
		var err error
		res, err = tx.ExecContext(ctx, query, args...)
		return err
	})
	return res, err
}

// writer commits queued write transactions in groups until Close.
//
// It runs on an OS thread of its own (runtime.LockOSThread). A group commit
// is up to milliseconds of CPU in one goroutine, and the goroutine that
// wakes the writer is usually running on the thread that was just woken by
// the network: unlocked, the commit then ran on that thread, on the CPU
// where the kernel had just put it, while the thread it had preempted there
// (one of ours, still inside a write to a socket, holding the other P) sat
// waiting behind the commit, the second CPU idle. An execution trace of
// back-to-back hook runs showed exactly that: a hook client's write
// returning 4 ms after its data had been read by the hook. Locked, waking
// the writer wakes its own thread, which the kernel places on an idle CPU,
// and the thread that woke it goes to sleep instead of taking the CPU for
// the commit. The hook benchmark's p99 overhead went from 2.0–2.3 to
// 0.3–0.8 ms. Ingest from another process did not move beyond the noise;
// with the load generator inside the process, where every P is busy and
// each wake-up hands one over to this thread, the burst lost about 7 %
// (docs/CHANGELOG.md, fifth session).
func (db *DB) writer() {
	defer close(db.writerEnd)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var batch []*writeReq
	for {
		if len(batch) == 0 {
			r, ok := <-db.writes
			if !ok {
				return
			}
			batch = append(batch, r)
		}
	fill:
		for len(batch) < writeBatchMax {
			select {
			case r, ok := <-db.writes:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		batch = db.commitGroup(batch)
	}
}

// commitGroup runs the batch's transactions in one SQLite transaction. It
// returns the requests it did not get to (the transaction failed before
// them), to be run in the next one.
//
// It first runs them with no savepoints: a savepoint makes SQLite copy
// every page a fn then changes into the statement journal, which with a
// fn touching many index pages (an event fanned out to a hundred
// endpoints) was a third of the process's CPU. Should a fn fail, that
// transaction is rolled back and the group run again, each fn in its own
// savepoint, so that a failing fn rolls back only its own writes; fns are
// written to be run again (see tx).
func (db *DB) commitGroup(batch []*writeReq) []*writeReq {
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		finishWrites(batch, err)
		return nil
	}
	db.dirty.Store(true)
	var ran []*writeReq
	for i, r := range batch {
		if !r.state.CompareAndSwap(writeQueued, writeTaken) {
			close(r.done) // abandoned by its caller before it started
			continue
		}
		ran = append(ran, r)
		if r.err = r.fn(ctx, tx); r.err != nil {
			tx.Rollback()
			if len(batch) == 1 {
				// Alone: its failure is the transaction's.
				finishWrites(ran, nil)
				return nil
			}
			return db.commitIsolated(ran, batch[i+1:])
		}
	}
	finishWrites(ran, db.commit(tx))
	return nil
}

// commit commits tx unless the database file is no longer the one opened
// (deleted or replaced): what it would commit would be lost with the old
// file. Its outcome tells the health whether the database can be written.
func (db *DB) commit(tx *sql.Tx) error {
	if err := db.health.file(); err != nil {
		tx.Rollback()
		return err
	}
	return db.health.written(tx.Commit())
}

// commitIsolated runs taken (requests already taken from their callers)
// and then rest in one transaction, each in its own savepoint. It returns
// the requests it did not get to.
func (db *DB) commitIsolated(taken, rest []*writeReq) []*writeReq {
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		finishWrites(taken, err)
		return unrun(rest)
	}
	ran := taken
	run := func(r *writeReq) error {
		if _, err := tx.ExecContext(ctx, "SAVEPOINT w"); err != nil {
			return err
		}
		if r.err = r.fn(ctx, tx); r.err != nil {
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO w"); err != nil {
				// The failure ended the whole transaction (I/O error, full
				// disk): everything so far is lost.
				return err
			}
		}
		_, err := tx.ExecContext(ctx, "RELEASE w")
		return err
	}
	for _, r := range taken {
		if err := run(r); err != nil {
			tx.Rollback()
			finishWrites(ran, err)
			return unrun(rest)
		}
	}
	for i, r := range rest {
		if !r.state.CompareAndSwap(writeQueued, writeTaken) {
			close(r.done)
			continue
		}
		ran = append(ran, r)
		if err := run(r); err != nil {
			tx.Rollback()
			finishWrites(ran, err)
			return unrun(rest[i+1:])
		}
	}
	finishWrites(ran, db.commit(tx))
	return nil
}

// finishWrites ends the requests' waits; err, if any, is given to those
// without an error of their own.
func finishWrites(rs []*writeReq, err error) {
	for _, r := range rs {
		if err != nil && r.err == nil {
			r.err = err
		}
		close(r.done)
	}
}

// unrun returns the requests still to run, in order.
func unrun(rs []*writeReq) []*writeReq {
	return append([]*writeReq(nil), rs...)
}

// checkpointer copies the WAL back into the database in the background.
// A checkpoint is milliseconds of CPU too, started by a timer on whatever
// thread ran it: like the writer, it has an OS thread of its own.
func (db *DB) checkpointer() {
	defer close(db.ckEnd)
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for tick := 0; ; tick++ {
		select {
		case <-db.stopCk:
			return
		case <-t.C:
		}
		if tick%fileCheckTicks == 0 {
			// Noticed even with nothing written: /readyz fails, and the
			// log says so, as soon as the file is deleted or replaced.
			db.health.file()
		}
		if !db.dirty.Swap(false) {
			continue
		}
		// PASSIVE never blocks the writer or readers; what it cannot copy
		// now it copies next time.
		if _, err := db.ck.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			db.dirty.Store(true)
		}
	}
}

// nextSeq reserves n delivery sequence numbers; call inside a write tx.
func (db *DB) nextSeq(n int) int64 {
	db.seqMu.Lock()
	defer db.seqMu.Unlock()
	first := db.seq + 1
	db.seq += int64(n)
	return first
}

// notFound maps sql.ErrNoRows to an ENOTFOUND naming the thing.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, sql.ErrNoRows) {
		return herald.Errorf(herald.ENOTFOUND, format+" not found", args...)
	}
	return err
}

// conflict maps a unique-key clash on thing to ECONFLICT, and a missing
// parent (a foreign key) to ENOTFOUND naming the parent.
func conflict(err error, thing, parent string) error {
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return herald.Errorf(herald.ECONFLICT, "%s already exists", thing)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return herald.Errorf(herald.ENOTFOUND, "%s not found (for %s)", parent, thing)
		}
	}
	return err
}

// isForeignKey reports a foreign-key violation (a missing parent row).
func isForeignKey(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// mustAffect returns ENOTFOUND when an UPDATE or DELETE matched no row.
func mustAffect(res sql.Result, err error, format string, args ...any) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return herald.Errorf(herald.ENOTFOUND, format+" not found", args...)
	}
	return nil
}

// Time columns are INTEGER unix nanoseconds.

func ns(t time.Time) int64 { return t.UnixNano() }

func nsPtr(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time { return time.Unix(0, n).UTC() }

func fromNull(n sql.NullInt64) *time.Time {
	if !n.Valid {
		return nil
	}
	t := fromNS(n.Int64)
	return &t
}

func nullStr(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// jsonList and jsonMap encode a list or map column; nil or empty becomes
// an empty one so that readers always get a value to range over. They run
// for every event and attempt (header maps), so plain strings are written
// directly; only a string JSON must escape goes through encoding/json.
// Map keys are sorted, as json.Marshal sorts them.
func jsonList(v []string) string {
	if len(v) == 0 {
		return "[]"
	}
	return jsonStrings(v, false)
}

func jsonMap(v map[string]string) string {
	if len(v) == 0 {
		return "{}"
	}
	var buf [32]string
	kv := buf[:0]
	for k := range v {
		kv = append(kv, k)
	}
	slices.Sort(kv)
	for _, k := range kv[:len(v)] {
		kv = append(kv, k, v[k])
	}
	return jsonStrings(kv[len(v):], true)
}

// jsonStrings writes items as a JSON array, or with pairs as an object of
// key, value, key, value...
func jsonStrings(items []string, pairs bool) string {
	open, end := byte('['), byte(']')
	if pairs {
		open, end = '{', '}'
	}
	n := 2
	for _, s := range items {
		n += len(s) + 3
	}
	var b strings.Builder
	b.Grow(n)
	b.WriteByte(open)
	for i, s := range items {
		switch {
		case i == 0:
		case pairs && i%2 == 1:
			b.WriteByte(':')
		default:
			b.WriteByte(',')
		}
		writeJSONString(&b, s)
	}
	b.WriteByte(end)
	return b.String()
}

// writeJSONString writes s as a JSON string.
func writeJSONString(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			q, _ := json.Marshal(s) // escapes, and replaces invalid UTF-8 as it always did
			b.Write(q)
			return
		}
	}
	b.WriteByte('"')
	b.WriteString(s)
	b.WriteByte('"')
}

func parseList(s string) ([]string, error) {
	v := []string{}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("sqlite: corrupt list column: %w", err)
	}
	return v, nil
}

func parseMap(s string) (map[string]string, error) {
	v := map[string]string{}
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return nil, fmt.Errorf("sqlite: corrupt map column: %w", err)
	}
	return v, nil
}

// idList passes a list of ids as one JSON parameter, read with json_each.
func idList(ids []string) string { return jsonList(ids) }

// clampLimit bounds a page size as the store contract asks.
func clampLimit(n int) int { return herald.PageLimit(n) }

type scanner interface{ Scan(dest ...any) error }
