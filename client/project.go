package client

import (
	"context"
	"net/http"
	"time"
)

// Project is a tenant: one product environment.
type Project struct {
	ID               string    `json:"id"`
	Name             string    `json:"name"`
	StrictEventTypes bool      `json:"strict_event_types"`
	CreatedAt        time.Time `json:"created_at"`
	UpdatedAt        time.Time `json:"updated_at,omitzero"`
	// APIKey is the project's first key, returned only by CreateProject.
	APIKey string `json:"api_key,omitempty"`
}

// ProjectCreate is the body of CreateProject.
type ProjectCreate struct {
	// Name is required.
	Name string `json:"name"`
	// ID is an optional caller-chosen slug; the server makes a prj_ id
	// otherwise.
	ID string `json:"id,omitempty"`
	// StrictEventTypes refuses events of types the project has not declared.
	StrictEventTypes bool `json:"strict_event_types,omitempty"`
}

// ProjectUpdate is the body of UpdateProject: only the fields set
// (client.Set) change; client.Null resets strict_event_types to false.
type ProjectUpdate struct {
	Name             Optional[string] `json:"name,omitzero"`
	StrictEventTypes Optional[bool]   `json:"strict_event_types,omitzero"`
}

// API key scopes (docs/API.md, "Scoped API keys").
const (
	ScopeAll             = "all"
	ScopeRead            = "read"
	ScopeEventsWrite     = "events:write"
	ScopeHooksRun        = "hooks:run"
	ScopeEndpointsWrite  = "endpoints:write"
	ScopeEventTypesWrite = "event_types:write"
	ScopeTenantsWrite    = "tenants:write"
	ScopePortalWrite     = "portal:write"
	ScopeKeysWrite       = "keys:write"
)

// APIKey is a project API key. Key, the secret itself, is returned only
// when the key is created.
type APIKey struct {
	ID        string   `json:"id"`
	Key       string   `json:"key,omitempty"`
	ProjectID string   `json:"project_id,omitempty"`
	Prefix    string   `json:"prefix,omitempty"`
	Name      string   `json:"name,omitempty"`
	Scopes    []string `json:"scopes,omitempty"`
	// TenantID, when set, confines the key to that tenant.
	TenantID string `json:"tenant_id,omitempty"`
	// ExpiresAt, when set, is when the key stops working.
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	CreatedAt time.Time  `json:"created_at,omitzero"`
}

// APIKeyCreate is the body of CreateAPIKey; its zero value makes a key
// with the calling key's own scopes, tenant and expiry. A key never gets
// more power than the key that makes it.
type APIKeyCreate struct {
	Name string `json:"name,omitempty"`
	// Scopes are Scope constants; nil takes the calling key's own.
	Scopes []string `json:"scopes,omitempty"`
	// TenantID confines the new key to one tenant.
	TenantID string `json:"tenant_id,omitempty"`
	// ExpiresAt, in the future, is when the key stops working; zero: no
	// later than the calling key.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}

// CreateProject creates a project (admin key). The answer carries the
// project's first API key. It is never repeated after a connection error,
// a 502 or a 504, even with an Idempotency-Key (Herald does not
// deduplicate it by one): check with GetProject or ListProjects before
// calling it again.
func (c *Client) CreateProject(ctx context.Context, in ProjectCreate, reqOpts ...RequestOption) (*Project, error) {
	var out Project
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects"), in: in, out: &out, opts: reqOpts})
	return result(&out, err)
}

// ListProjects lists projects, newest first (admin key).
func (c *Client) ListProjects(ctx context.Context, opts ListOptions, reqOpts ...RequestOption) (*Page[Project], error) {
	var out Page[Project]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects"), query: opts.values(), out: &out, opts: reqOpts})
	return result(&out, err)
}

// GetProject returns a project. A project key may read its own project.
func (c *Client) GetProject(ctx context.Context, project string, reqOpts ...RequestOption) (*Project, error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	var out Project
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project), out: &out, opts: reqOpts})
	return result(&out, err)
}

// UpdateProject changes the fields of in that are set (admin key).
func (c *Client) UpdateProject(ctx context.Context, project string, in ProjectUpdate, reqOpts ...RequestOption) (*Project, error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	var out Project
	_, err := c.do(ctx, call{method: http.MethodPatch, path: path("v1", "projects", project), in: in, out: &out, opts: reqOpts})
	return result(&out, err)
}

// DeleteProject deletes a project and everything it owns (admin key).
func (c *Client) DeleteProject(ctx context.Context, project string, reqOpts ...RequestOption) error {
	if project == "" {
		return errEmpty("project")
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: path("v1", "projects", project), opts: reqOpts})
	return err
}

// CreateAPIKey makes a new API key for the project: scoped, bound to a
// tenant or expiring as in says. The answer carries the key, shown this
// once. It is never repeated after a connection error, a 502 or a 504
// (Herald does not deduplicate it by Idempotency-Key).
func (c *Client) CreateAPIKey(ctx context.Context, project string, in APIKeyCreate, reqOpts ...RequestOption) (*APIKey, error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	var out APIKey
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects", project, "api-keys"), in: in, out: &out, opts: reqOpts})
	return result(&out, err)
}

// ListAPIKeys lists the project's API keys, without the keys themselves.
func (c *Client) ListAPIKeys(ctx context.Context, project string, opts ListOptions, reqOpts ...RequestOption) (*Page[APIKey], error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	var out Page[APIKey]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "api-keys"), query: opts.values(), out: &out, opts: reqOpts})
	return result(&out, err)
}

// DeleteAPIKey revokes one of the project's API keys.
func (c *Client) DeleteAPIKey(ctx context.Context, project, keyID string, reqOpts ...RequestOption) error {
	if project == "" || keyID == "" {
		return errEmpty("project or key id")
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: path("v1", "projects", project, "api-keys", keyID), opts: reqOpts})
	return err
}

// result returns out, or nil and err when the call failed.
func result[T any](out *T, err error) (*T, error) {
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Ptr returns a pointer to v, for the optional fields of create bodies:
// client.EndpointCreate{Enabled: client.Ptr(false)}.
func Ptr[T any](v T) *T { return &v }
