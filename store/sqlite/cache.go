package sqlite

import (
	"sync"

	"github.com/herald-dev/herald"
)

// authCache keeps the API keys and projects every API request reads (its
// key, then its project), so that authenticating costs no SQL. It is exact,
// not a TTL cache: one process owns an SQLite file, every write to those
// tables goes through this DB and clears the cache after its commit, and a
// read that raced with such a write is not cached (generation check). Only
// hits are cached; entries are copies, so callers cannot alter them.
type authCache struct {
	mu       sync.Mutex
	gen      uint64
	keys     map[string]herald.APIKey // by hash
	projects map[string]herald.Project
}

// authCacheMax bounds each map; past it the map starts over.
const authCacheMax = 10000

func (c *authCache) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// invalidate forgets everything; call after a committed write to api_keys
// or projects.
func (c *authCache) invalidate() {
	c.mu.Lock()
	c.gen++
	c.keys, c.projects = nil, nil
	c.mu.Unlock()
}

func (c *authCache) key(hash string) (*herald.APIKey, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	k, ok := c.keys[hash]
	return &k, ok
}

func (c *authCache) putKey(gen uint64, k *herald.APIKey) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.keys == nil || len(c.keys) >= authCacheMax {
		c.keys = map[string]herald.APIKey{}
	}
	c.keys[k.Hash] = *k
}

func (c *authCache) project(id string) (*herald.Project, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.projects[id]
	return &p, ok
}

func (c *authCache) putProject(gen uint64, p *herald.Project) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.projects == nil || len(c.projects) >= authCacheMax {
		c.projects = map[string]herald.Project{}
	}
	c.projects[p.ID] = *p
}
