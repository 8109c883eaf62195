package postgres

import (
	"context"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// authChannel announces a change to API keys or projects (a revoked key, a
// deleted or changed project): every process drops its cached copies.
const authChannel = "herald_auth"

// Auth cache bounds: entries per map (past it the map starts over), and how
// long an entry is trusted at all, a backstop should the listener's
// connection die without an error reaching it.
const (
	authCacheMax = 10000
	authCacheTTL = time.Minute
)

// authCache keeps the API keys and projects every API request reads (its
// key, then its project), so that authenticating costs no round trip. Other
// processes write the same tables, so an entry is trusted only while this
// process listens on authChannel: writers notify in their own transaction,
// and on the notification every entry goes. A process thus stops accepting
// a key revoked elsewhere once the notification arrives (milliseconds),
// and at once for its own writes. While the listener is down nothing is
// cached. A read that raced with an invalidation is not cached (generation
// check). Only hits are cached; entries are copies.
type authCache struct {
	start sync.Once

	mu       sync.Mutex
	live     bool // listening on authChannel
	gen      uint64
	keys     map[string]cacheEntry[herald.APIKey] // by hash
	projects map[string]cacheEntry[herald.Project]
}

type cacheEntry[T any] struct {
	v  T
	at time.Time
}

// invalidate forgets everything.
func (c *authCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.keys, c.projects = nil, nil
	c.mu.Unlock()
}

// setLive forgets everything and sets whether entries may be kept.
func (c *authCache) setLive(live bool) {
	c.mu.Lock()
	c.live = live
	c.mu.Unlock()
	c.invalidate()
}

// generation is what put must be given for a read that starts now.
func (c *authCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// lookup returns a copy of the entry for k in m, if fresh.
func lookup[T any](c *authCache, m *map[string]cacheEntry[T], k string) (*T, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := (*m)[k]
	if !ok || time.Since(e.at) > authCacheTTL {
		return nil, false
	}
	v := e.v
	return &v, true
}

// put keeps a copy of v under k in m, unless the cache was invalidated
// since gen or is not live.
func put[T any](c *authCache, m *map[string]cacheEntry[T], gen uint64, k string, v *T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.live || gen != c.gen {
		return
	}
	if *m == nil || len(*m) >= authCacheMax {
		*m = map[string]cacheEntry[T]{}
	}
	(*m)[k] = cacheEntry[T]{v: *v, at: time.Now()}
}

// cached answers a read of k in m from the cache, or with read, caching a
// hit. The first read starts the listener.
func cached[T any](db *DB, m *map[string]cacheEntry[T], k string, read func() (*T, error)) (*T, error) {
	c := &db.auth
	c.start.Do(db.watchAuth)
	if v, ok := lookup(c, m, k); ok {
		return v, nil
	}
	gen := c.generation()
	v, err := read()
	if err == nil {
		put(c, m, gen, k, v)
	}
	return v, err
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
				c.setLive(true)
			}, c.invalidate)
			c.setLive(false)
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
	db.auth.invalidate()
	return tag, err
}
