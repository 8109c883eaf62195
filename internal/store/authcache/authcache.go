// Package authcache keeps the API keys and projects that every API request
// reads (its key, then its project), so that authenticating costs no
// database read. A store invalidates it after every write to those tables;
// a read that raced with an invalidation is not cached (generation check).
// Only hits are cached, and entries are copies, so callers cannot alter
// them.
package authcache

import (
	"sync"
	"time"

	"github.com/herald-dev/herald"
)

// Max bounds each map: past it the map starts over.
const Max = 10000

// Cache is the keys and projects cache. The zero value is not usable: see
// New.
type Cache struct {
	ttl time.Duration // 0: entries stay until invalidated

	mu       sync.Mutex
	live     bool // entries may be kept
	gen      uint64
	keys     map[string]entry[herald.APIKey] // by hash
	projects map[string]entry[herald.Project]
}

type entry[T any] struct {
	v  T
	at time.Time
}

// New makes a cache. A store that sees every write (one process owns the
// database) passes ttl 0 and live true: the cache is then exact. A store
// shared with other processes learns of their writes some other way and
// passes a ttl as a backstop, live false until it listens (SetLive).
func New(ttl time.Duration, live bool) *Cache {
	return &Cache{ttl: ttl, live: live}
}

// Invalidate forgets everything; call after a committed write to API keys
// or projects, or on news of one.
func (c *Cache) Invalidate() {
	c.mu.Lock()
	c.gen++
	c.keys, c.projects = nil, nil
	c.mu.Unlock()
}

// SetLive forgets everything and sets whether entries may be kept.
func (c *Cache) SetLive(live bool) {
	c.mu.Lock()
	c.live = live
	c.mu.Unlock()
	c.Invalidate()
}

// Live tells whether entries may be kept.
func (c *Cache) Live() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.live
}

// Key answers a read of the key with this hash from the cache, or with
// read, caching a hit.
func (c *Cache) Key(hash string, read func() (*herald.APIKey, error)) (*herald.APIKey, error) {
	return cached(c, &c.keys, hash, read, cloneKey)
}

// cloneKey copies what an APIKey shares by reference (its scopes and
// expiry), so that neither the cache nor its callers see the other's
// changes.
func cloneKey(k *herald.APIKey) {
	k.Scopes = append([]string(nil), k.Scopes...)
	if k.ExpiresAt != nil {
		t := *k.ExpiresAt
		k.ExpiresAt = &t
	}
}

// Project answers a read of the project from the cache, or with read,
// caching a hit.
func (c *Cache) Project(id string, read func() (*herald.Project, error)) (*herald.Project, error) {
	return cached(c, &c.projects, id, read, func(*herald.Project) {})
}

// cached answers from m or with read; deepen makes a shallow copy of a
// value a deep one.
func cached[T any](c *Cache, m *map[string]entry[T], k string, read func() (*T, error), deepen func(*T)) (*T, error) {
	c.mu.Lock()
	e, ok := (*m)[k]
	gen := c.gen
	c.mu.Unlock()
	if ok && (c.ttl == 0 || time.Since(e.at) <= c.ttl) {
		v := e.v
		deepen(&v)
		return &v, nil
	}
	v, err := read()
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.live && gen == c.gen {
		if *m == nil || len(*m) >= Max {
			*m = map[string]entry[T]{}
		}
		e := entry[T]{v: *v, at: time.Now()}
		deepen(&e.v)
		(*m)[k] = e
	}
	return v, nil
}
