package delivery

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"golang.org/x/sync/singleflight"
)

// routeTTL bounds how stale cached endpoints may be. EndpointsChanged
// invalidates at once in this process; other processes sharing the
// database see a change within routeTTL.
const routeTTL = 2 * time.Second

// typeTTL is the same for event types (schemas, strict projects).
const typeTTL = 10 * time.Second

// OperationalPrefix starts the types of Herald's own events. They reach
// only endpoints whose event_types name them with a pattern that starts with
// it, never catch-all endpoints.
const OperationalPrefix = "herald."

// routeCache holds each project's endpoints, and endpoints by id for the
// dispatcher.
//
// An entry past routeTTL is still served while one goroutine reloads it in
// the background (it can only lag behind another process's change, by one
// load); only a missing entry — never loaded, or dropped by a change made
// here — is loaded on the caller's time, once however many callers ask.
// Without this, every request arriving as an entry expired read the store
// at the same moment.
type routeCache struct {
	mu       sync.Mutex
	projects map[string]*projectRoutes
	byID     map[string]*cachedEndpoint
	gen      map[string]uint64 // bumped by EndpointsChanged, so that a load racing a change is not kept
	allGen   uint64            // bumped by every change, for loads by endpoint id
	loads    singleflight.Group
}

type projectRoutes struct {
	eps       []*herald.Endpoint
	loaded    time.Time
	reloading bool
}

type cachedEndpoint struct {
	ep        *herald.Endpoint // nil: not found
	loaded    time.Time
	reloading bool
}

func (c *routeCache) init() {
	c.projects = make(map[string]*projectRoutes)
	c.byID = make(map[string]*cachedEndpoint)
	c.gen = make(map[string]uint64)
}

// EndpointsChanged drops cached routing for the project (call after any
// endpoint create, update or delete).
func (e *Engine) EndpointsChanged(projectID string) {
	e.health.forget(projectID)
	e.invalidate(projectID)
}

// invalidate drops the project's cached endpoints.
func (e *Engine) invalidate(projectID string) {
	c := &e.routes
	c.mu.Lock()
	delete(c.projects, projectID)
	c.gen[projectID]++
	c.allGen++
	for id, ce := range c.byID {
		if ce.ep == nil || ce.ep.ProjectID == projectID {
			delete(c.byID, id)
		}
	}
	c.mu.Unlock()
	e.disp.endpointsChanged()
}

// projectEndpoints returns the project's endpoints, from the cache when it
// has them. The returned endpoints are shared: do not modify them.
func (e *Engine) projectEndpoints(ctx context.Context, projectID string) ([]*herald.Endpoint, error) {
	c := &e.routes
	c.mu.Lock()
	if pr, ok := c.projects[projectID]; ok {
		if time.Since(pr.loaded) >= routeTTL && !pr.reloading {
			pr.reloading = true
			go e.loadProject(context.WithoutCancel(ctx), projectID)
		}
		c.mu.Unlock()
		return pr.eps, nil
	}
	c.mu.Unlock()
	v, err, _ := c.loads.Do("p:"+projectID, func() (any, error) {
		// Shared by every caller waiting: not ended by the first one leaving.
		return e.loadProject(context.WithoutCancel(ctx), projectID)
	})
	if err != nil {
		return nil, err
	}
	return v.([]*herald.Endpoint), nil
}

// loadProject reads the project's endpoints and caches them, unless a
// change was made meanwhile (the next caller loads again).
func (e *Engine) loadProject(ctx context.Context, projectID string) ([]*herald.Endpoint, error) {
	c := &e.routes
	c.mu.Lock()
	gen := c.gen[projectID]
	c.mu.Unlock()
	now := time.Now()
	eps, err := e.store.ProjectEndpoints(ctx, projectID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if pr := c.projects[projectID]; pr != nil {
			pr.reloading = false // the next caller tries again
		}
		return nil, err
	}
	if c.gen[projectID] == gen {
		c.projects[projectID] = &projectRoutes{eps: eps, loaded: now}
		for _, ep := range eps {
			c.byID[ep.ID] = &cachedEndpoint{ep: ep, loaded: now}
		}
	}
	return eps, nil
}

// endpoint returns an endpoint by id, cached like routes; nil when it no
// longer exists.
func (e *Engine) endpoint(ctx context.Context, id string) (*herald.Endpoint, error) {
	c := &e.routes
	c.mu.Lock()
	if ce, ok := c.byID[id]; ok {
		if time.Since(ce.loaded) >= routeTTL && !ce.reloading {
			ce.reloading = true
			go e.loadEndpoint(context.WithoutCancel(ctx), id)
		}
		c.mu.Unlock()
		return ce.ep, nil
	}
	c.mu.Unlock()
	v, err, _ := c.loads.Do("e:"+id, func() (any, error) { return e.loadEndpoint(context.WithoutCancel(ctx), id) })
	if err != nil {
		return nil, err
	}
	return v.(*herald.Endpoint), nil
}

func (e *Engine) loadEndpoint(ctx context.Context, id string) (*herald.Endpoint, error) {
	c := &e.routes
	c.mu.Lock()
	gen := c.allGen
	c.mu.Unlock()
	now := time.Now()
	ep, err := e.store.GetEndpointByID(ctx, id)
	if herald.IsNotFound(err) {
		ep, err = nil, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if err != nil {
		if ce := c.byID[id]; ce != nil {
			ce.reloading = false
		}
		return nil, err
	}
	if c.allGen == gen {
		c.byID[id] = &cachedEndpoint{ep: ep, loaded: now}
	}
	return ep, nil
}

// route returns the endpoints that receive ev now: active, subscribed to
// its type and channels, and passing their filter. A filter that fails to
// evaluate skips its endpoint (and is logged): one endpoint's bad filter
// must not refuse the event for everybody.
func (e *Engine) route(ctx context.Context, ev *herald.Event, now time.Time) ([]*herald.Endpoint, error) {
	eps, err := e.projectEndpoints(ctx, ev.ProjectID)
	if err != nil {
		return nil, err
	}
	var out []*herald.Endpoint
	for _, ep := range eps {
		if !e.matches(ep, ev, now) {
			continue
		}
		out = append(out, ep)
	}
	return out, nil
}

func (e *Engine) matches(ep *herald.Endpoint, ev *herald.Event, now time.Time) bool {
	if ep.Status == herald.EndpointDisabled || !ep.ActiveAt(now) {
		return false
	}
	if !MatchType(ep.EventTypes, ev.Type) || !matchChannels(ep.Channels, ev.Channels) {
		return false
	}
	if ep.Filter != "" {
		f, err := e.filter(ep)
		if err != nil {
			e.log.Warn("endpoint filter does not compile; endpoint skipped", "endpoint_id", ep.ID, "error", err)
			return false
		}
		ok, err := f.Match(ev)
		if err != nil {
			e.log.Warn("endpoint filter failed; endpoint skipped", "endpoint_id", ep.ID, "event_id", ev.ID, "error", err)
			return false
		}
		return ok
	}
	return true
}

// MatchType reports whether an endpoint subscribed to patterns receives
// events of type typ: no patterns means every type, otherwise an exact name
// or a trailing wildcard ("user.*"). Herald's own types (herald.…) match
// only patterns that themselves begin with "herald.".
func MatchType(patterns []string, typ string) bool {
	operational := strings.HasPrefix(typ, OperationalPrefix)
	if len(patterns) == 0 {
		return !operational
	}
	for _, p := range patterns {
		if operational && !strings.HasPrefix(p, OperationalPrefix) {
			continue
		}
		if p == typ || p == "*" {
			return true
		}
		if prefix, ok := strings.CutSuffix(p, "*"); ok && strings.HasPrefix(typ, prefix) {
			return true
		}
	}
	return false
}

func matchChannels(want, have []string) bool {
	if len(want) == 0 {
		return true
	}
	for _, c := range have {
		if slices.Contains(want, c) {
			return true
		}
	}
	return false
}

// typeCache holds each project's event types as looked up by ingest, with
// their compiled schemas.
type typeCache struct {
	mu  sync.Mutex
	m   map[string]map[string]*cachedType // project → name
	gen map[string]uint64
}

type cachedType struct {
	et        *herald.EventType // nil: unknown type
	schema    *herald.Schema
	schemaErr error
	loaded    time.Time
}

func (c *typeCache) init() {
	c.m = make(map[string]map[string]*cachedType)
	c.gen = make(map[string]uint64)
}

// EventTypesChanged drops cached event types and schemas of the project
// (call after any event type create, update or delete).
func (e *Engine) EventTypesChanged(projectID string) {
	c := &e.types
	c.mu.Lock()
	delete(c.m, projectID)
	c.gen[projectID]++
	c.mu.Unlock()
}

func (e *Engine) eventType(ctx context.Context, projectID, name string) (*cachedType, error) {
	c := &e.types
	now := time.Now()
	c.mu.Lock()
	if ct, ok := c.m[projectID][name]; ok && now.Sub(ct.loaded) < typeTTL {
		c.mu.Unlock()
		return ct, nil
	}
	gen := c.gen[projectID]
	c.mu.Unlock()

	et, err := e.store.GetEventType(ctx, projectID, name)
	if herald.IsNotFound(err) {
		et, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	ct := &cachedType{et: et, loaded: now}
	if et != nil && len(et.Schema) > 0 && string(et.Schema) != "null" {
		ct.schema, ct.schemaErr = herald.CompileSchema(et.Schema)
	}
	c.mu.Lock()
	if c.gen[projectID] == gen {
		if c.m[projectID] == nil {
			c.m[projectID] = make(map[string]*cachedType)
		}
		c.m[projectID][name] = ct
	}
	c.mu.Unlock()
	return ct, nil
}
