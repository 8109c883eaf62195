package client

import (
	"context"
	"net/http"
	"time"
)

// Tenant is one customer of the product inside a project. Its endpoints
// receive only its own events (and it sees only its own endpoints, events
// and deliveries); endpoints without a tenant are project-wide.
type Tenant struct {
	ProjectID string            `json:"project_id"`
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Metadata  map[string]string `json:"metadata"`
	CreatedAt time.Time         `json:"created_at"`
	UpdatedAt time.Time         `json:"updated_at"`
	// Created is true when PutTenant's answer was 201 (created), false on
	// 200 (updated). A PUT repeated by the client after a lost answer can
	// see 200 for a tenant its first request created.
	Created bool `json:"-"`
}

// TenantPut is the body of PutTenant. It replaces the tenant's name and
// metadata whole.
type TenantPut struct {
	Name     string            `json:"name,omitempty"`
	Metadata map[string]string `json:"metadata,omitempty"`
}

// PutTenant creates the tenant id (the product's own id for its customer:
// 1 to 128 characters of A–Z a–z 0–9 . _ : -), or replaces its name and
// metadata. It is safe to repeat.
func (c *Client) PutTenant(ctx context.Context, project, id string, in TenantPut, reqOpts ...RequestOption) (*Tenant, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or tenant id")
	}
	var out Tenant
	var status int
	_, err := c.do(ctx, call{method: http.MethodPut, path: path("v1", "projects", project, "tenants", id), in: in, out: &out, status: &status, opts: reqOpts})
	if err != nil {
		return nil, err
	}
	out.Created = status == http.StatusCreated
	return &out, nil
}

// GetTenant returns one tenant.
func (c *Client) GetTenant(ctx context.Context, project, id string, reqOpts ...RequestOption) (*Tenant, error) {
	if project == "" || id == "" {
		return nil, errEmpty("project or tenant id")
	}
	var out Tenant
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "tenants", id), out: &out, opts: reqOpts})
	return result(&out, err)
}

// ListTenants lists the project's tenants, newest first.
func (c *Client) ListTenants(ctx context.Context, project string, opts ListOptions, reqOpts ...RequestOption) (*Page[Tenant], error) {
	if project == "" {
		return nil, errEmpty("project")
	}
	var out Page[Tenant]
	_, err := c.do(ctx, call{method: http.MethodGet, path: path("v1", "projects", project, "tenants"), query: opts.values(), out: &out, opts: reqOpts})
	return result(&out, err)
}

// DeleteTenant deletes a tenant and its endpoints (their unfinished
// deliveries are canceled) and ends its portal sessions; its events stay
// until retention.
func (c *Client) DeleteTenant(ctx context.Context, project, id string, reqOpts ...RequestOption) error {
	if project == "" || id == "" {
		return errEmpty("project or tenant id")
	}
	_, err := c.do(ctx, call{method: http.MethodDelete, path: path("v1", "projects", project, "tenants", id), opts: reqOpts})
	return err
}
