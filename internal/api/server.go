// Package api is Herald's HTTP API: the management API under /v1 (projects,
// API keys, event types, endpoints, events, deliveries, hooks), the
// compatibility subscription route, health, metrics and the OpenAPI
// document. Errors are RFC 9457 problem documents; the mapping from
// herald error codes to status codes lives in one place (problem.go).
//
// The OpenAPI document (openapi.json, embedded) is kept by hand and is the
// contract; a test keeps it and the route table in step.
//
// Rules of the API (docs/API.md has the full contract):
//
//   - Access: the admin key reaches everything. A project key reaches its
//     own project's routes (api-keys included); on another project it gets
//     404, as if the project did not exist. On POST/GET /v1/projects, and
//     on PATCH/DELETE of its own project, it gets 403: nothing is hidden
//     there, the route just needs the admin key.
//   - Scopes: each route of a project names the scope a project key needs
//     (the route table, routeTable); a key without it gets 403
//     scope-required naming the scope. A tenant-bound key's calls carry
//     its principal in the request context, and internal/service confines
//     them to its tenant (others' resources are 404). An expired key is a
//     401.
//   - Request bodies: any Content-Type is read as JSON. Unknown fields,
//     wrong types and read-only fields (id, status, created_at…) are 422s
//     naming the field. Bodies over MaxBodyBytes are 413; the batch route
//     takes BatchBodyFactor times as much, each event still within
//     MaxBodyBytes.
//   - PATCH changes only the fields present; null resets a field to its
//     default (clears optional ones). An endpoint's secret changes only
//     through …/secret/rotate. enabled:false marks the endpoint disabled
//     ("disabled by a user") and cancels its pending deliveries;
//     enabled:true on a disabled endpoint makes it healthy again.
//   - Credentials: responses show an endpoint's basic password, bearer
//     token and custom header values as "********"; that value sent back in
//     a PATCH keeps the stored one. The secret is in the create answer and
//     GET …/secret only.
//   - Rules live below the API, in internal/service (the use cases the
//     dashboard calls too); handlers decode, call it and encode.
//   - Batch idempotency: an event's id is its key; events without one, in a
//     request with an Idempotency-Key header, get "<header>:<index>".
//   - Idempotency-Key on the other POSTs that create or act (endpoints,
//     event types, replay, retry, recover): see keyed.
//   - The API rate limit is a token bucket per key (burst: one second's
//     worth), taken after the key is authenticated, so unknown keys hold
//     no limiter state; health, readiness, metrics and the OpenAPI
//     document are neither authenticated nor limited.
//   - A project has at most APIKeysMax API keys; creating one more is a
//     409 until one is revoked.
package api

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/netguard"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// HookFunc runs the synchronous hooks of eventType with the raw request
// body and returns the verdict, encoded as the 200 response's JSON. Its
// *herald.Error errors become problem documents.
type HookFunc func(ctx context.Context, p *herald.Project, eventType string, body []byte) (any, error)

// Config configures a Server.
type Config struct {
	// Store is required: the API reads through it.
	Store store.Store
	// Engine runs ingest, retries, replays and tests (through Service);
	// required unless Service is given.
	Engine *delivery.Engine
	// Service runs every change; default service.New over Store, Engine,
	// Guard, AdminKeyHash and Now. Give the dashboard's own to share it.
	Service *service.Service
	// Guard checks endpoint URLs (when Service is built here); default
	// netguard.New(false, nil), which refuses private networks.
	Guard *netguard.Guard
	// Hooks runs synchronous hooks; nil answers 503 on the hooks route.
	Hooks HookFunc
	// UI, when set, is mounted at /ui/ (it sees the full path).
	UI http.Handler
	// Portal, when set, is the customer portal, mounted at /portal/ (it
	// sees the full path).
	Portal http.Handler
	// PublicURL is the base URL of portal links ("https://hooks.example");
	// empty: the scheme and host the request came to.
	PublicURL string
	// AdminKeyHash is herald.HashKey of the admin key (see EnsureAdminKey).
	// Empty: no admin key is accepted.
	AdminKeyHash string
	// MaxBodyBytes bounds request bodies; default MaxBodyBytesDefault. The
	// batch ingest route allows BatchBodyFactor times as much.
	MaxBodyBytes int64
	// RateLimit is the requests per second allowed per API key (the burst
	// is one second's worth); 0 means RateLimitDefault, < 0 no limit.
	RateLimit float64
	// Registerer receives the HTTP metrics; nil = not registered.
	Registerer prometheus.Registerer
	// Gatherer is served at /metrics; default prometheus.DefaultGatherer.
	Gatherer prometheus.Gatherer
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// Ready reports readiness for /readyz; default Store.Ping.
	Ready func(ctx context.Context) error
}

// Defaults of Config.
const (
	MaxBodyBytesDefault = 1 << 20
	// BatchBodyFactor: the batch route takes up to 1000 events, so its body
	// may be this many times MaxBodyBytes (16 MiB by default). Each event
	// of a batch is still bounded by MaxBodyBytes.
	BatchBodyFactor  = 16
	RateLimitDefault = 1000
)

// Server is the HTTP API. It is an http.Handler.
type Server struct {
	cfg    Config
	store  store.Store
	svc    *service.Service
	log    *slog.Logger
	now    func() time.Time
	mux    *http.ServeMux
	routes []route
	// patterns are the registered mux patterns: the only route labels.
	patterns map[string]bool
	limiter  *limiter
	metrics  *httpMetrics
}

// New returns a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: Config.Store is required")
	}
	if cfg.Engine == nil && cfg.Service == nil {
		return nil, errors.New("api: Config.Engine or Config.Service is required")
	}
	if cfg.Guard == nil {
		cfg.Guard = netguard.New(false, nil)
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = MaxBodyBytesDefault
	}
	if cfg.RateLimit == 0 {
		cfg.RateLimit = RateLimitDefault
	}
	if cfg.Gatherer == nil {
		cfg.Gatherer = prometheus.DefaultGatherer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Ready == nil {
		cfg.Ready = cfg.Store.Ping
	}
	if cfg.Service == nil {
		svc, err := service.New(service.Config{Store: cfg.Store, Engine: cfg.Engine, Guard: cfg.Guard, AdminKeyHash: cfg.AdminKeyHash, Now: cfg.Now})
		if err != nil {
			return nil, err
		}
		cfg.Service = svc
	}
	s := &Server{
		cfg:   cfg,
		store: cfg.Store,
		svc:   cfg.Service,
		log:   cfg.Logger,
		now:   cfg.Now,
		mux:   http.NewServeMux(),
	}
	if cfg.RateLimit > 0 {
		s.limiter = newLimiter(cfg.RateLimit, time.Now)
	}
	m, err := newHTTPMetrics(cfg.Registerer)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.routes = s.routeTable()
	s.patterns = map[string]bool{}
	for _, rt := range s.routes {
		pattern := rt.method + " " + rt.path
		s.mux.Handle(pattern, s.wrap(rt))
		s.patterns[pattern] = true
	}
	if cfg.UI != nil {
		s.mux.Handle("/ui/", cfg.UI)
		s.patterns["/ui/"] = true
	}
	if cfg.Portal != nil {
		s.mux.Handle("/portal/", cfg.Portal)
		s.patterns["/portal/"] = true
	}
	return s, nil
}

// access says who may call a route.
type access int

const (
	public        access = iota // no key
	adminOnly                   // the admin key; a project key gets 403
	projectRead                 // the admin key, or the project's own key
	projectAdmin                // the admin key; the project's own key gets 403
	projectScoped               // the admin key, or the project's own key; the project is loaded
)

// route is one entry of the API.
type route struct {
	method string
	path   string
	access access
	// scope is what a scoped project key needs (herald.Scope…); the
	// admin key and unscoped keys hold every scope.
	scope string
	h     func(w http.ResponseWriter, r *http.Request, c *call) error
}

// call is what a handler knows about the caller.
type call struct {
	admin     bool
	projectID string            // of the caller's key ("" for admin)
	project   *herald.Project   // for project routes: the project of the path
	who       service.Principal // the caller; also in the request's context
}

// routeTable is the API: each route with who may call it and, for a
// scoped project key, the scope it needs (the one place that maps routes
// to scopes; "" needs none beyond the access).
func (s *Server) routeTable() []route {
	const (
		read         = herald.ScopeRead
		eventsW      = herald.ScopeEventsWrite
		hooksRun     = herald.ScopeHooksRun
		endpointsW   = herald.ScopeEndpointsWrite
		eventTypesW  = herald.ScopeEventTypesWrite
		tenantsW     = herald.ScopeTenantsWrite
		keysW        = herald.ScopeKeysWrite
		portalW      = herald.ScopePortalWrite
		noScope      = ""
		projectPaths = "/v1/projects/{project}"
	)
	return []route{
		{"GET", "/healthz", public, noScope, s.healthz},
		{"GET", "/readyz", public, noScope, s.readyz},
		{"GET", "/metrics", public, noScope, s.serveMetrics},
		{"GET", "/openapi.json", public, noScope, s.openapi},

		{"POST", "/v1/projects", adminOnly, noScope, s.createProject},
		{"GET", "/v1/projects", adminOnly, noScope, s.listProjects},
		{"GET", "/v1/cluster", adminOnly, noScope, s.cluster},
		{"GET", projectPaths, projectRead, read, s.getProject},
		{"PATCH", projectPaths, projectAdmin, noScope, s.updateProject},
		{"DELETE", projectPaths, projectAdmin, noScope, s.deleteProject},

		{"POST", projectPaths + "/api-keys", projectScoped, keysW, s.createAPIKey},
		{"GET", projectPaths + "/api-keys", projectScoped, read, s.listAPIKeys},
		{"DELETE", projectPaths + "/api-keys/{id}", projectScoped, keysW, s.deleteAPIKey},

		{"PUT", projectPaths + "/tenants/{tenant_id}", projectScoped, tenantsW, s.putTenant},
		{"GET", projectPaths + "/tenants", projectScoped, read, s.listTenants},
		{"GET", projectPaths + "/tenants/{tenant_id}", projectScoped, read, s.getTenant},
		{"DELETE", projectPaths + "/tenants/{tenant_id}", projectScoped, tenantsW, s.deleteTenant},

		{"POST", projectPaths + "/event-types", projectScoped, eventTypesW, s.keyed(s.createEventType, nil)},
		{"GET", projectPaths + "/event-types", projectScoped, read, s.listEventTypes},
		{"GET", projectPaths + "/event-types/{name}", projectScoped, read, s.getEventType},
		{"PATCH", projectPaths + "/event-types/{name}", projectScoped, eventTypesW, s.updateEventType},
		{"DELETE", projectPaths + "/event-types/{name}", projectScoped, eventTypesW, s.deleteEventType},

		{"POST", projectPaths + "/endpoints", projectScoped, endpointsW, s.keyed(s.createEndpoint, s.createdEndpointAgain)},
		{"GET", projectPaths + "/endpoints", projectScoped, read, s.listEndpoints},
		{"GET", projectPaths + "/endpoints/{id}", projectScoped, read, s.getEndpoint},
		{"PATCH", projectPaths + "/endpoints/{id}", projectScoped, endpointsW, s.updateEndpoint},
		{"DELETE", projectPaths + "/endpoints/{id}", projectScoped, endpointsW, s.deleteEndpoint},
		{"GET", projectPaths + "/endpoints/{id}/secret", projectScoped, endpointsW, s.getEndpointSecret},
		{"POST", projectPaths + "/endpoints/{id}/secret/rotate", projectScoped, endpointsW, s.rotateEndpointSecret},
		{"POST", projectPaths + "/endpoints/{id}/test", projectScoped, endpointsW, s.testEndpoint},
		{"POST", projectPaths + "/endpoints/{id}/recover", projectScoped, endpointsW, s.keyed(s.recoverEndpoint, nil)},
		{"GET", projectPaths + "/endpoints/{id}/stats", projectScoped, read, s.endpointStats},

		{"POST", projectPaths + "/events", projectScoped, eventsW, s.ingest},
		{"POST", projectPaths + "/events/batch", projectScoped, eventsW, s.ingestBatch},
		{"GET", projectPaths + "/events", projectScoped, read, s.listEvents},
		{"GET", projectPaths + "/events/{id}", projectScoped, read, s.getEvent},
		{"POST", projectPaths + "/events/{id}/replay", projectScoped, endpointsW, s.keyed(s.replayEvent, nil)},

		{"GET", projectPaths + "/deliveries", projectScoped, read, s.listDeliveries},
		{"GET", projectPaths + "/deliveries/{id}", projectScoped, read, s.getDelivery},
		{"GET", projectPaths + "/deliveries/{id}/attempts", projectScoped, read, s.listAttempts},
		{"POST", projectPaths + "/deliveries/{id}/retry", projectScoped, endpointsW, s.keyed(s.retryDelivery, nil)},

		{"POST", projectPaths + "/hooks/{event_type}", projectScoped, hooksRun, s.runHook},

		{"POST", projectPaths + "/portal-sessions", projectScoped, portalW, s.createPortalSession},
		{"GET", projectPaths + "/portal", projectScoped, read, s.getPortalSettings},
		{"PUT", projectPaths + "/portal", projectScoped, herald.ScopeAll, s.putPortalSettings},

		{"POST", "/projects/{project}/events/{event_type}/webhooks", projectScoped, endpointsW, s.subscribe},
	}
}

// ServeHTTP routes the request, answering unknown routes with 404 and
// known paths with the wrong method with 405, both as problem documents,
// and records metrics and a debug log line.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	r = withRequestID(w, r)
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(r.Context(), "handler panic", slog.String("route", s.routeOf(r)), slog.Any("panic", v))
			if !sw.wrote {
				writeProblem(sw, newProblem(http.StatusInternalServerError, "internal error"))
			}
		}
		s.observe(r, sw.status(), time.Since(start))
	}()
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.unmatched(sw, r)
		return
	}
	s.mux.ServeHTTP(sw, r)
}

// unmatched answers a request no route takes: 405 when the path exists
// with other methods, 404 otherwise.
func (s *Server) unmatched(w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		if m == r.Method {
			continue
		}
		r2 := r.Clone(r.Context())
		r2.Method = m
		if _, p := s.mux.Handler(r2); p != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, fmt.Sprintf("%s is not allowed here; allowed: %s", r.Method, strings.Join(allow, ", "))))
		return
	}
	writeProblem(w, newProblem(http.StatusNotFound, "no such route"))
}

// wrap authenticates and rate limits the caller as the route requires,
// then runs its handler and turns its error into a problem document.
func (s *Server) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c := &call{}
		if rt.access != public {
			if err := s.admit(r, rt, c); err != nil {
				s.writeErrorOrLimit(w, r, err)
				return
			}
			r = r.WithContext(service.WithPrincipal(r.Context(), c.who))
		}
		if err := rt.h(w, r, c); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// errForbidden is the refusal of a project key on an admin route that is
// not about a project (or is about its own project: its existence is no
// secret to its key).
type errForbidden struct{ msg string }

func (e errForbidden) Error() string { return e.msg }

// errRateLimited carries the Retry-After of a 429.
type errRateLimited struct{ retryAfter time.Duration }

func (e errRateLimited) Error() string { return "rate limited" }

func (s *Server) writeErrorOrLimit(w http.ResponseWriter, r *http.Request, err error) {
	var forbidden errForbidden
	var limited errRateLimited
	switch {
	case errors.As(err, &forbidden):
		writeProblem(w, newProblem(http.StatusForbidden, forbidden.msg))
	case errors.As(err, &limited):
		secs := int64((limited.retryAfter + time.Second - 1) / time.Second)
		if secs < 1 {
			secs = 1
		}
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		writeProblem(w, newProblem(http.StatusTooManyRequests, fmt.Sprintf("too many requests for this API key; retry in %d s", secs)))
	default:
		s.writeError(w, r, err)
	}
}

// admit checks the caller's key against the route's access and scope and
// fills c.
func (s *Server) admit(r *http.Request, rt route, c *call) error {
	a := rt.access
	key, ok := bearerKey(r)
	if !ok {
		return herald.Errorf(herald.EUNAUTHORIZED, "missing API key: send Authorization: Bearer <key>")
	}
	hash := herald.HashKey(key)
	who, err := s.svc.AuthenticateHash(r.Context(), hash)
	if err != nil {
		return err
	}
	projectID, admin := who.ProjectID, who.Admin
	if s.limiter != nil {
		if wait := s.limiter.allow(hash); wait > 0 {
			return errRateLimited{retryAfter: wait}
		}
	}
	c.admin, c.projectID, c.who = admin, projectID, who
	pathProject := r.PathValue("project")
	switch a {
	case adminOnly:
		if !admin {
			return errForbidden{"this route needs the admin key"}
		}
	case projectRead, projectAdmin, projectScoped:
		if !admin && projectID != pathProject {
			return notFound("project")
		}
		if a == projectAdmin && !admin {
			return errForbidden{"changing or deleting a project needs the admin key"}
		}
		if err := who.Require(rt.scope); rt.scope != "" && err != nil {
			return err
		}
		if a == projectScoped {
			p, err := s.svc.Project(r.Context(), pathProject)
			if err != nil {
				return err
			}
			c.project = p
		}
	}
	return nil
}

// bearerKey returns the key of an "Authorization: Bearer <key>" header.
func bearerKey(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, key, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	key = strings.TrimSpace(key)
	return key, key != ""
}

// routeOf returns the route pattern of a matched request without its
// method, for logs and metric labels (never the raw path, whose ids would
// make unbounded label values).
func (s *Server) routeOf(r *http.Request) string {
	switch {
	case r.Pattern == "":
		return "unmatched"
	case !s.patterns[r.Pattern]:
		return "other" // e.g. the mux's redirect to a cleaned path
	}
	_, path, ok := strings.Cut(r.Pattern, " ")
	if !ok {
		path = r.Pattern
	}
	return path
}

// statusWriter records the status code of a response.
type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.code, w.wrote = http.StatusOK, true
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) status() int {
	if !w.wrote {
		return http.StatusOK
	}
	return w.code
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Health, readiness, metrics.

func (s *Server) healthz(w http.ResponseWriter, r *http.Request, _ *call) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	if err := s.cfg.Ready(ctx); err != nil {
		s.log.WarnContext(r.Context(), "not ready", slog.Any("error", err))
		writeProblem(w, newProblem(http.StatusServiceUnavailable, "not ready"))
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request, _ *call) error {
	promhttp.HandlerFor(s.cfg.Gatherer, promhttp.HandlerOpts{}).ServeHTTP(w, r)
	return nil
}
