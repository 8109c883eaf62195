package delivery

import (
	"sync"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/bodytemplate"
	"github.com/herald-dev/herald/internal/filter"
	"github.com/herald-dev/herald/internal/netguard"
)

// compiledCache keeps compiled filters and templates keyed by their source,
// so that routing and sending do not recompile on every event. Sources are
// few (one per endpoint), so the cache is not bounded beyond dropping it
// all when it grows past a limit.
type compiledCache[T any] struct {
	mu sync.Mutex
	m  map[string]compiled[T]
}

type compiled[T any] struct {
	v   T
	err error
}

const compiledCacheMax = 10000

func (c *compiledCache[T]) get(src string, compile func(string) (T, error)) (T, error) {
	c.mu.Lock()
	if r, ok := c.m[src]; ok {
		c.mu.Unlock()
		return r.v, r.err
	}
	c.mu.Unlock()
	v, err := compile(src)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= compiledCacheMax {
		c.m = make(map[string]compiled[T])
	}
	c.m[src] = compiled[T]{v, err}
	c.mu.Unlock()
	return v, err
}

func (e *Engine) template(ep *herald.Endpoint) (*bodytemplate.Template, error) {
	return e.templates.get(ep.BodyTemplate, bodytemplate.Compile)
}

func (e *Engine) filter(ep *herald.Endpoint) (*filter.Filter, error) {
	return e.filters.get(ep.Filter, filter.Compile)
}

func isBlocked(err error) bool { return netguard.IsBlocked(err) }
