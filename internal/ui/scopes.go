package ui

import (
	"net/http"
	"slices"
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
)

// pageScopes maps each dashboard route that changes something (method and
// pattern below the prefix) to the API key scope it needs, as the API's
// route table does for its routes. A GET needs read; a POST not listed
// here needs all, so that a new form stays closed to narrower keys until
// it is given its scope.
var pageScopes = map[string]string{
	"POST /p/{project}/endpoints/new":             herald.ScopeEndpointsWrite,
	"POST /p/{project}/endpoints/{id}/edit":       herald.ScopeEndpointsWrite,
	"POST /p/{project}/endpoints/{id}/test":       herald.ScopeEndpointsWrite,
	"POST /p/{project}/endpoints/{id}/recover":    herald.ScopeEndpointsWrite,
	"POST /p/{project}/endpoints/{id}/secret":     herald.ScopeEndpointsWrite,
	"POST /p/{project}/endpoints/{id}/rotate":     herald.ScopeEndpointsWrite,
	"POST /p/{project}/endpoints/{id}/enable":     herald.ScopeEndpointsWrite,
	"POST /p/{project}/endpoints/{id}/disable":    herald.ScopeEndpointsWrite,
	"POST /p/{project}/endpoints/{id}/delete":     herald.ScopeEndpointsWrite,
	"POST /p/{project}/events/{id}/replay":        herald.ScopeEndpointsWrite,
	"POST /p/{project}/deliveries/{id}/retry":     herald.ScopeEndpointsWrite,
	"POST /p/{project}/event-types":               herald.ScopeEventTypesWrite,
	"POST /p/{project}/event-types/{name}/delete": herald.ScopeEventTypesWrite,
	// The forms that lead to a change are hidden without its scope.
	"GET /p/{project}/endpoints/new":       herald.ScopeEndpointsWrite,
	"GET /p/{project}/endpoints/{id}/edit": herald.ScopeEndpointsWrite,
}

// pageScope returns the scope the request's route needs.
func (h *handler) pageScope(r *http.Request) string {
	method, pattern, _ := strings.Cut(r.Pattern, " ")
	key := method + " " + strings.TrimPrefix(pattern, h.cfg.Prefix)
	if sc, ok := pageScopes[key]; ok {
		return sc
	}
	if method == http.MethodGet || method == http.MethodHead {
		return herald.ScopeRead
	}
	return herald.ScopeAll
}

// keyOf returns what the session's key may do; nil for no session.
func keyOf(r *http.Request) *service.Principal {
	if p := principalFrom(r); p != nil {
		return &p.Key
	}
	return nil
}

// boundTenant returns the tenant the session's key is confined to, "" for
// none.
func boundTenant(r *http.Request) string {
	if k := keyOf(r); k != nil {
		return k.TenantID
	}
	return ""
}

// visibleEndpoints drops the endpoints a tenant-bound key does not see.
func visibleEndpoints(r *http.Request, eps []*herald.Endpoint) []*herald.Endpoint {
	t := boundTenant(r)
	if t == "" {
		return eps
	}
	return slices.DeleteFunc(slices.Clone(eps), func(ep *herald.Endpoint) bool { return ep.TenantID != t })
}

// Can reports, for the templates, whether the session's key holds scope:
// what it cannot do is not shown.
func (v view) Can(scope string) bool {
	return v.key == nil || v.key.Allows(scope)
}
