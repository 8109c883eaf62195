package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store/authcache"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// authChannel announces a change to API keys or projects (a revoked key, a
// deleted or changed project): every process drops its cached copies.
const authChannel = "herald_auth"

// authCacheTTL is how long a cached key or project is trusted at all, a
// backstop should the listener's connection die without an error reaching
// it.
const authCacheTTL = time.Minute

// authCache keeps the API keys and projects every API request reads
// (authcache.Cache), so that authenticating costs no round trip. Other
// processes write the same tables, so an entry is trusted only while this
// process listens on authChannel: writers notify in their own transaction,
// and on the notification every entry goes. A process thus stops accepting
// a key revoked elsewhere once the notification arrives (milliseconds),
// and at once for its own writes. While the listener is down nothing is
// cached.
type authCache struct {
	start sync.Once // starts the listener on the first read
	*authcache.Cache
}

// cachedKey and cachedProject answer a read from the cache, or with read;
// the first read starts the listener.
func (db *DB) cachedKey(hash string, read func() (*herald.APIKey, error)) (*herald.APIKey, error) {
	db.auth.start.Do(db.watchAuth)
	return db.auth.Key(hash, read)
}

func (db *DB) cachedProject(id string, read func() (*herald.Project, error)) (*herald.Project, error) {
	db.auth.start.Do(db.watchAuth)
	return db.auth.Project(id, read)
}

// watchAuth keeps a LISTEN on authChannel until the DB is closed,
// reconnecting with a growing pause; each notification, and each change of
// the listener's state, invalidates the cache.
func (db *DB) watchAuth() {
	select {
	case <-db.closed:
		return
	default:
	}
	ctx, cancel := context.WithCancel(context.Background())
	db.listeners.Add(2)
	go func() {
		defer db.listeners.Done()
		<-db.closed
		cancel()
	}()
	go func() {
		defer db.listeners.Done()
		c := &db.auth
		pause := 100 * time.Millisecond
		for ctx.Err() == nil {
			db.listen(ctx, authChannel, func() {
				pause = 100 * time.Millisecond
				c.SetLive(true)
			}, c.Invalidate)
			c.SetLive(false)
			select {
			case <-ctx.Done():
			case <-time.After(pause):
			}
			pause = min(2*pause, 5*time.Second)
		}
	}()
}

// authWrite runs a write to API keys or projects and announces it on
// authChannel in the same transaction (other processes hear it on commit),
// then drops this process's cached copies.
func (db *DB) authWrite(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	b.Queue("SELECT pg_notify($1, '')", authChannel)
	tag, err := db.execBatch(ctx, b)
	db.auth.Invalidate()
	return tag, err
}
