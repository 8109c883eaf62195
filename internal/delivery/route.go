package delivery

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"golang.org/x/sync/singleflight"
)

// routeTTL bounds how stale cached endpoints may be. EndpointsChanged and
// TenantEndpointsChanged invalidate at once in this process; other
// processes sharing the database see a change within routeTTL, by asking
// the store what changed (RoutingChanges) once per routeTTL per project.
const routeTTL = 2 * time.Second

// typeTTL is the same for event types (schemas, strict projects).
const typeTTL = 10 * time.Second

// router holds endpoints for routing, one set per (project, tenant):
// a project's project-wide endpoints under tenant "", each tenant's own
// under its id. An event's candidates are its project's project-wide set
// and, for a tenant's event, that tenant's set: routing reads two small
// sets whatever the number of tenants, and a tenant's set is loaded the
// first time one of its events arrives (TenantEndpoints, an index probe),
// not with the project. The cache also holds endpoints by id for the
// dispatcher.
//
// Sets and endpoints by id are bounded (Config.RouteCacheMax endpoints
// each): past the bound, an eighth of the entries, taken at random, is
// dropped and loaded again when next needed. A project with more tenants
// than fit is served from the store for the tenants that fell out, one
// probe each, never a load of the whole project.
//
// Entries do not expire by age: with 100,000 tenants each set would be
// stale at every use and reloaded once per event. Instead each project is
// watched: its routing version is read before its first set loads, and
// at most once per routeTTL afterwards (in the background, while the
// cache keeps serving) the store says which sets changed since
// (RoutingChanges), and only those are dropped. Changes made in this
// process drop their set at once. A missing set — never loaded, evicted
// or dropped — is loaded on the caller's time, once however many callers
// ask.
//
// A change drops entries by generation, not by walking them: a set or an
// endpoint remembers the generations of its project and of its tenant set
// when it was loaded, and counts as missing once either has moved.
type router struct {
	deps routerDeps

	mu      sync.Mutex
	sets    map[setKey]*routeSet
	setEps  int // endpoints held by sets, for the bound
	byID    map[string]*cachedEndpoint
	watches map[string]*projectWatch
	pgen    map[string]uint64 // by project: bumped by EndpointsChanged
	tgen    map[setKey]uint64 // by set: bumped by TenantEndpointsChanged
	allGen  uint64            // bumped by every change, for endpoints not found
	max     int
	loads   singleflight.Group
}

// projectWatch is what this process knows of a project's routing version.
type projectWatch struct {
	version  int64
	checked  time.Time
	checking bool
}

// setKey names a routing set: a project's tenant, or with tenant "" its
// project-wide endpoints.
type setKey struct{ project, tenant string }

// gens are the generations an entry was loaded under.
type gens struct{ p, t uint64 }

type routeSet struct {
	eps  []*herald.Endpoint
	gens gens
}

type cachedEndpoint struct {
	ep     *herald.Endpoint // nil: not found
	gens   gens             // of its set (ep != nil)
	allGen uint64           // ep == nil
	loaded time.Time        // ep == nil: asked again after routeTTL
}

// routerDeps is what the router uses: the store's routing reads, the
// logger, and what to call when a background check dropped sets (the
// dispatcher's lanes re-read their endpoints).
type routerDeps struct {
	store       routeStore
	log         *slog.Logger
	changedFunc func()
}

type routeStore interface {
	RoutingChanges(ctx context.Context, projectID string, since int64) (*store.RoutingChanges, error)
	TenantEndpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error)
	GetEndpointByID(ctx context.Context, id string) (*herald.Endpoint, error)
}

func newRouter(max int, deps routerDeps) *router {
	c := &router{deps: deps}
	c.init(max)
	return c
}

func (c *router) init(max int) {
	c.sets = make(map[setKey]*routeSet)
	c.byID = make(map[string]*cachedEndpoint)
	c.watches = make(map[string]*projectWatch)
	c.pgen = make(map[string]uint64)
	c.tgen = make(map[setKey]uint64)
	c.max = max
}

func (c *router) gensLocked(k setKey) gens { return gens{c.pgen[k.project], c.tgen[k]} }

// currentLocked reports whether ce was loaded under the generations in
// force.
func (c *router) currentLocked(ce *cachedEndpoint) bool {
	if ce.ep == nil {
		return ce.allGen == c.allGen
	}
	return ce.gens == c.gensLocked(setKey{ce.ep.ProjectID, ce.ep.TenantID})
}

// putSetLocked stores a set, dropping random ones first when the sets
// would hold more than max endpoints.
func (c *router) putSetLocked(k setKey, rs *routeSet) {
	if old := c.sets[k]; old != nil {
		c.setEps -= len(old.eps)
	}
	if c.setEps+len(rs.eps) > c.max {
		n := len(c.sets)/8 + 1
		for ok, old := range c.sets {
			if n == 0 {
				break
			}
			c.setEps -= len(old.eps)
			delete(c.sets, ok)
			n--
		}
	}
	c.sets[k] = rs
	c.setEps += len(rs.eps)
}

// putEndpointLocked stores an endpoint by id, dropping random ones first
// when full.
func (c *router) putEndpointLocked(id string, ce *cachedEndpoint) {
	if _, ok := c.byID[id]; !ok && len(c.byID) >= c.max {
		n := len(c.byID)/8 + 1
		for old := range c.byID {
			if n == 0 {
				break
			}
			delete(c.byID, old)
			n--
		}
	}
	c.byID[id] = ce
}

// endpointsChanged tells the engine that the project's endpoints changed
// (call after an endpoint create, update, delete or health reset, or a
// tenant's delete, once the change is stored). The engine asks the store
// which routing sets changed since it last looked (RoutingChanges) and
// drops those alone: in a project of many tenants, one customer's edit
// does not send every other tenant's events to the store. When it cannot
// tell, it drops every set of the project.
func (e *Engine) endpointsChanged(projectID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c := e.routes; !c.checkProject(ctx, projectID, false) {
		c.mu.Lock()
		c.pgen[projectID]++
		c.allGen++
		c.mu.Unlock()
	}
	e.health.forget(projectID)
	e.disp.endpointsChanged()
}

// tenantEndpointsChanged drops the cached routing of one tenant's
// endpoints, or with tenantID "" of the project-wide ones (call after an
// endpoint of it is created, updated or deleted, or the tenant deleted).
// The other tenants' sets stay: in a project of many tenants, one
// customer's edit does not send every other's events to the store.
func (e *Engine) tenantEndpointsChanged(projectID, tenantID string) {
	e.health.forget(projectID)
	e.routes.invalidate(projectID, tenantID)
}

// invalidate drops one set and its endpoints by id.
func (c *router) invalidate(projectID, tenantID string) {
	c.mu.Lock()
	c.dropSetLocked(setKey{projectID, tenantID})
	c.mu.Unlock()
	c.deps.changedFunc()
}

func (c *router) dropSetLocked(k setKey) {
	c.tgen[k]++
	c.allGen++
	if rs := c.sets[k]; rs != nil {
		c.setEps -= len(rs.eps)
		delete(c.sets, k)
	}
}

// watch makes sure the project's routing version is known before a set of
// it is loaded, and asks the store what changed since, at most once per
// routeTTL, in the background.
func (c *router) watch(ctx context.Context, projectID string) error {
	c.mu.Lock()
	if w := c.watches[projectID]; w != nil {
		if time.Since(w.checked) >= routeTTL && !w.checking {
			w.checking = true
			go c.checkProject(context.WithoutCancel(ctx), projectID, true)
		}
		c.mu.Unlock()
		return nil
	}
	c.mu.Unlock()
	_, err, _ := c.loads.Do("w:"+projectID, func() (any, error) {
		now := time.Now()
		rc, err := c.deps.store.RoutingChanges(context.WithoutCancel(ctx), projectID, -1)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		if c.watches[projectID] == nil {
			// Whatever was read before the version was known cannot be
			// trusted to be newer than it (loadEndpoint's read).
			c.pgen[projectID]++
			c.allGen++
			c.watches[projectID] = &projectWatch{version: rc.Version, checked: now}
		}
		c.mu.Unlock()
		return nil, nil
	})
	return err
}

// checkProject drops the sets of the watched project that changed since
// the version last seen; it reports whether it could (false: not watched,
// or the store did not answer). background: the watch's periodic check,
// which clears its checking flag.
func (c *router) checkProject(ctx context.Context, projectID string, background bool) bool {
	c.mu.Lock()
	w := c.watches[projectID]
	if w == nil {
		c.mu.Unlock()
		return false
	}
	version := w.version
	c.mu.Unlock()
	now := time.Now()
	rc, err := c.deps.store.RoutingChanges(ctx, projectID, version)
	c.mu.Lock()
	if background {
		w.checking, w.checked = false, now
	}
	if err != nil {
		c.mu.Unlock()
		if !herald.IsNotFound(err) {
			c.deps.log.Warn("reading routing changes failed", "project_id", projectID, "error", err)
		}
		return false
	}
	changed := rc.All || rc.Wide || len(rc.Tenants) > 0
	switch {
	case rc.All:
		c.pgen[projectID]++
		c.allGen++
	default:
		if rc.Wide {
			c.dropSetLocked(setKey{projectID, ""})
		}
		for _, t := range rc.Tenants {
			c.dropSetLocked(setKey{projectID, t})
		}
	}
	if rc.Version > w.version {
		w.version = rc.Version
	}
	c.mu.Unlock()
	if changed && background {
		c.deps.changedFunc()
	}
	return true
}

// endpointsFor returns the endpoints an event of tenantID ("" = none) in the
// project can reach: the project-wide ones, then the tenant's own, never
// another tenant's (see herald.Endpoint.Reaches). They come from the
// route cache and are shared with the dispatcher: do not modify them.
// Synchronous hook runs select their endpoints from these.
func (c *router) endpointsFor(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error) {
	wide, own, err := c.candidates(ctx, projectID, tenantID)
	if err != nil || len(own) == 0 {
		return wide, err
	}
	return append(slices.Clip(wide), own...), nil
}

// candidates returns the project-wide endpoints and, for a tenant, the
// tenant's own.
func (c *router) candidates(ctx context.Context, projectID, tenantID string) (wide, own []*herald.Endpoint, err error) {
	if wide, err = c.routeSet(ctx, setKey{projectID, ""}); err != nil || tenantID == "" {
		return wide, nil, err
	}
	own, err = c.routeSet(ctx, setKey{projectID, tenantID})
	return wide, own, err
}

// routeSet returns the set k, from the cache when it has it.
func (c *router) routeSet(ctx context.Context, k setKey) ([]*herald.Endpoint, error) {
	if err := c.watch(ctx, k.project); err != nil {
		return nil, err
	}
	if eps, ok := c.cachedSet(k); ok {
		return eps, nil
	}
	v, err, _ := c.loads.Do("s:"+k.project+"\x00"+k.tenant, func() (any, error) {
		// A load that ended between this caller's miss and its Do has
		// cached the set already: look again before reading.
		if eps, ok := c.cachedSet(k); ok {
			return eps, nil
		}
		// Shared by every caller waiting: not ended by the first one leaving.
		return c.loadSet(context.WithoutCancel(ctx), k)
	})
	if err != nil {
		return nil, err
	}
	return v.([]*herald.Endpoint), nil
}

// cachedSet returns the set k when the cache holds it current.
func (c *router) cachedSet(k setKey) ([]*herald.Endpoint, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rs, ok := c.sets[k]; ok && rs.gens == c.gensLocked(k) {
		return rs.eps, true
	}
	return nil, false
}

// loadSet reads the set k and caches it, with its endpoints by id, unless
// a change was made meanwhile (the next caller loads again).
func (c *router) loadSet(ctx context.Context, k setKey) ([]*herald.Endpoint, error) {
	c.mu.Lock()
	g := c.gensLocked(k)
	c.mu.Unlock()
	eps, err := c.deps.store.TenantEndpoints(ctx, k.project, k.tenant)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gensLocked(k) == g {
		c.putSetLocked(k, &routeSet{eps: eps, gens: g})
		for _, ep := range eps {
			c.putEndpointLocked(ep.ID, &cachedEndpoint{ep: ep, gens: g})
		}
	}
	return eps, nil
}

// endpoint returns an endpoint by id, cached like routes; nil when it no
// longer exists.
//
// Its project is watched as routing's are (see router), so that
// another process's change reaches the dispatcher within routeTTL too; an
// endpoint not found is asked for again after any change made here.
func (c *router) endpoint(ctx context.Context, id string) (*herald.Endpoint, error) {
	c.mu.Lock()
	if ce, ok := c.byID[id]; ok && c.currentLocked(ce) && (ce.ep != nil || time.Since(ce.loaded) < routeTTL) {
		c.mu.Unlock()
		if ce.ep != nil {
			if err := c.watch(ctx, ce.ep.ProjectID); err != nil {
				return nil, err
			}
		}
		return ce.ep, nil
	}
	c.mu.Unlock()
	v, err, _ := c.loads.Do("e:"+id, func() (any, error) { return c.loadEndpoint(context.WithoutCancel(ctx), id) })
	if err != nil {
		return nil, err
	}
	return v.(*herald.Endpoint), nil
}

func (c *router) loadEndpoint(ctx context.Context, id string) (*herald.Endpoint, error) {
	c.mu.Lock()
	all := c.allGen
	c.mu.Unlock()
	ep, err := c.deps.store.GetEndpointByID(ctx, id)
	if herald.IsNotFound(err) {
		ep, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	if ep != nil {
		if err := c.watch(ctx, ep.ProjectID); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.allGen == all {
		ce := &cachedEndpoint{ep: ep, allGen: all, loaded: time.Now()}
		if ep != nil {
			ce.gens = c.gensLocked(setKey{ep.ProjectID, ep.TenantID})
		}
		c.putEndpointLocked(id, ce)
	}
	return ep, nil
}

// route returns the endpoints that receive ev now: active, subscribed to
// its type and channels, and passing their filter. A filter that fails to
// evaluate skips its endpoint (and is logged): one endpoint's bad filter
// must not refuse the event for everybody.
//
// The candidates are the project-wide endpoints and, for an event of a
// tenant, that tenant's: never another tenant's.
func (e *Engine) route(ctx context.Context, ev *herald.Event, now time.Time) ([]*herald.Endpoint, error) {
	wide, own, err := e.routes.candidates(ctx, ev.ProjectID, ev.TenantID)
	if err != nil {
		return nil, err
	}
	var out []*herald.Endpoint
	for _, eps := range [2][]*herald.Endpoint{wide, own} {
		for _, ep := range eps {
			if e.matches(ep, ev, now) {
				out = append(out, ep)
			}
		}
	}
	return out, nil
}

func (e *Engine) matches(ep *herald.Endpoint, ev *herald.Event, now time.Time) bool {
	if !ep.Reaches(ev.TenantID) || ep.Status == herald.EndpointDisabled || !ep.ActiveAt(now) {
		return false
	}
	if !matchType(ep.EventTypes, ev.Type) || !matchChannels(ep.Channels, ev.Channels) {
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

// matchType reports whether an endpoint subscribed to patterns receives
// events of type typ: no patterns means every type, otherwise an exact name
// or a trailing wildcard ("user.*"). Herald's own types (herald.…) match
// only patterns that themselves begin with "herald.".
func matchType(patterns []string, typ string) bool {
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
	store interface {
		GetEventType(ctx context.Context, projectID, name string) (*herald.EventType, error)
	}
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

func (c *typeCache) init(st store.Store) {
	c.store = st
	c.m = make(map[string]map[string]*cachedType)
	c.gen = make(map[string]uint64)
}

// changed drops cached event types and schemas of the project (call after
// any event type create, update or delete).
func (c *typeCache) changed(projectID string) {
	c.mu.Lock()
	delete(c.m, projectID)
	c.gen[projectID]++
	c.mu.Unlock()
}

// get returns the project's event type name as ingest sees it, with its
// compiled schema; an unknown type is cached too (et nil).
func (c *typeCache) get(ctx context.Context, projectID, name string) (*cachedType, error) {
	now := time.Now()
	c.mu.Lock()
	if ct, ok := c.m[projectID][name]; ok && now.Sub(ct.loaded) < typeTTL {
		c.mu.Unlock()
		return ct, nil
	}
	gen := c.gen[projectID]
	c.mu.Unlock()

	et, err := c.store.GetEventType(ctx, projectID, name)
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
