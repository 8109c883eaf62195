package hook

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/filter"
)

// EventTypeMaxLen is the longest event type name.
const EventTypeMaxLen = 128

// reservedPrefix starts the names of Herald's own operational events,
// which are never hooks.
const reservedPrefix = "herald."

// validateEventType checks a hook's event type name like ingest does:
// non-empty, at most 128 characters of [A-Za-z0-9_.:-].
func validateEventType(v *herald.Validation, name string) {
	const loc = "path.event_type"
	switch {
	case name == "":
		v.Add(loc, name, "is required")
		return
	case len(name) > EventTypeMaxLen:
		v.Add(loc, name, "is too long (%d characters, at most %d)", len(name), EventTypeMaxLen)
		return
	case strings.HasPrefix(name, reservedPrefix):
		v.Add(loc, name, "names beginning with %q are reserved for Herald's own events", reservedPrefix)
		return
	}
	for _, c := range name {
		if !nameChar(c) {
			v.Add(loc, name, "may contain only letters, digits and _ . : - (found %q)", c)
			return
		}
	}
}

func nameChar(c rune) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '_' || c == '.' || c == ':' || c == '-'
}

// candidates returns the endpoints a run considers, in the order they run:
// active at now and subscribed to eventType by name, sorted by order, then
// creation, then id. Channels play no part in hooks; filters are evaluated
// at each endpoint's turn, on the data as modified so far.
func candidates(eps []*herald.Endpoint, eventType string, now time.Time) []*herald.Endpoint {
	out := make([]*herald.Endpoint, 0, len(eps))
	for _, ep := range eps {
		if ep.ActiveAt(now) && subscribed(ep.EventTypes, eventType) {
			out = append(out, ep)
		}
	}
	slices.SortStableFunc(out, func(a, b *herald.Endpoint) int {
		return cmp.Or(
			cmp.Compare(a.Order, b.Order),
			a.CreatedAt.Compare(b.CreatedAt),
			strings.Compare(a.ID, b.ID),
		)
	})
	return out
}

// subscribed reports whether patterns name eventType explicitly: the exact
// name or a trailing wildcard ("user.*"). Unlike queued deliveries, an
// empty list (a catch-all endpoint) does not subscribe to hooks: a hook
// blocks an operation, and an endpoint should not start doing that by
// accident because it listens to everything.
func subscribed(patterns []string, eventType string) bool {
	for _, p := range patterns {
		if p == eventType {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && prefix != "" && strings.HasPrefix(eventType, prefix) {
			return true
		}
	}
	return false
}

// filterCache keeps compiled filters by source: compiling CEL costs far
// more than evaluating it. Sources are few (one per endpoint); the cache is
// dropped whole when it grows past filterCacheMax.
type filterCache struct {
	mu sync.Mutex
	m  map[string]compiledFilter
}

type compiledFilter struct {
	f   *filter.Filter
	err error
}

const filterCacheMax = 10000

func (c *filterCache) get(src string) (*filter.Filter, error) {
	c.mu.Lock()
	r, ok := c.m[src]
	c.mu.Unlock()
	if ok {
		return r.f, r.err
	}
	f, err := filter.Compile(src)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= filterCacheMax {
		c.m = make(map[string]compiledFilter)
	}
	c.m[src] = compiledFilter{f, err}
	c.mu.Unlock()
	return f, err
}

// match evaluates the filter src on ev.
func (r *Runner) match(src string, ev *herald.Event) (bool, error) {
	f, err := r.filters.get(src)
	if err != nil {
		return false, fmt.Errorf("filter: %w", err)
	}
	return f.Match(ev)
}
