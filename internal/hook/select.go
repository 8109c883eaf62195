package hook

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/filter"
)

// validateEventType checks a hook's event type name as ingest does
// (herald.ValidEventTypeName); Herald's own types are not hooks.
func validateEventType(v *herald.Validation, name string) {
	const loc = "path.event_type"
	switch {
	case name == "":
		v.Add(loc, name, "is required")
	case len(name) > herald.EventTypeNameMaxLen:
		v.Add(loc, name[:herald.EventTypeNameMaxLen]+"…", "is too long (%d characters, at most %d)", len(name), herald.EventTypeNameMaxLen)
	case !herald.ValidEventTypeName(name):
		v.Add(loc, name, "may contain only letters, digits and _ . : -")
	case strings.HasPrefix(name, delivery.OperationalPrefix):
		v.Add(loc, name, "names beginning with %q are reserved for Herald's own events", delivery.OperationalPrefix)
	}
}

// candidates returns the endpoints a run considers, in the order they run:
// reachable from tenantID (project-wide, or that tenant's), active at now
// and subscribed to eventType by name, sorted by order, then creation,
// then id. Channels play no part in hooks; filters are evaluated
// at each endpoint's turn, on the data as modified so far.
func candidates(eps []*herald.Endpoint, eventType, tenantID string, now time.Time) []*herald.Endpoint {
	out := make([]*herald.Endpoint, 0, len(eps))
	for _, ep := range eps {
		if ep.Reaches(tenantID) && ep.ActiveAt(now) && subscribed(ep.EventTypes, eventType) {
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
// name or a trailing wildcard ("user.*"), as for queued deliveries
// (delivery.MatchType) — except that a catch-all (no patterns, or a bare
// "*") does not subscribe to hooks: a hook can block an operation, and an
// endpoint should not start doing that by accident because it listens to
// everything.
func subscribed(patterns []string, eventType string) bool {
	if slices.Contains(patterns, "*") {
		patterns = slices.DeleteFunc(slices.Clone(patterns), func(p string) bool { return p == "*" })
	}
	return len(patterns) > 0 && delivery.MatchType(patterns, eventType)
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
