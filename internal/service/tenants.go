package service

import (
	"context"
	"maps"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// tenantCleanups run after a tenant is deleted, each given the project and
// tenant ids: what other use cases keep per tenant (the customer portal's
// sessions) ends with it. A file of this package that keeps such state
// appends its step in an init function.
var tenantCleanups []func(s *Service, ctx context.Context, projectID, tenantID string) error

// tenantOf returns ENOTFOUND for a tenant the caller of ctx may not reach:
// a tenant-bound key reaches its own tenant only.
func tenantOf(ctx context.Context, id string) error {
	if !visible(ctx, id) {
		return herald.Errorf(herald.ENOTFOUND, "tenant not found")
	}
	return nil
}

// Tenant returns the project's tenant id; ENOTFOUND "tenant not found"
// when there is none or the caller is bound to another.
func (s *Service) Tenant(ctx context.Context, projectID, id string) (*herald.Tenant, error) {
	if err := tenantOf(ctx, id); err != nil {
		return nil, err
	}
	if !herald.ValidTenantID(id) {
		return nil, herald.Errorf(herald.ENOTFOUND, "tenant not found")
	}
	t, err := s.st.GetTenant(ctx, projectID, id)
	return t, notFound(err, "tenant")
}

// PutTenant creates t in its project, or replaces the name and metadata of
// the tenant with its id, and reports whether it was created; t is the
// stored tenant afterwards. A tenant-bound caller puts only its own.
func (s *Service) PutTenant(ctx context.Context, t *herald.Tenant) (created bool, err error) {
	if err := tenantOf(ctx, t.ID); err != nil {
		return false, err
	}
	if t.Metadata == nil {
		t.Metadata = map[string]string{}
	} else {
		t.Metadata = maps.Clone(t.Metadata)
	}
	if err := t.Validate(); err != nil {
		return false, err
	}
	now := s.Now()
	t.CreatedAt, t.UpdatedAt = now, now
	created, err = s.st.PutTenant(ctx, t)
	return created, notFound(err, "project")
}

// ListTenants returns a page of the project's tenants, newest first, and
// the next cursor; a tenant-bound caller's list holds its tenant alone
// (when it exists).
func (s *Service) ListTenants(ctx context.Context, projectID string, page store.Page) ([]*herald.Tenant, string, error) {
	if bound := boundTenant(ctx); bound != "" {
		if page.Cursor != "" {
			return nil, "", invalid("query.cursor", nil, "not a cursor of this list")
		}
		t, err := s.st.GetTenant(ctx, projectID, bound)
		switch {
		case herald.IsNotFound(err):
			return []*herald.Tenant{}, "", nil
		case err != nil:
			return nil, "", err
		}
		return []*herald.Tenant{t}, "", nil
	}
	return s.st.ListTenants(ctx, projectID, page)
}

// DeleteTenant removes the tenant and its endpoints, whose unfinished
// deliveries become canceled, then ends what else the tenant held
// (tenantCleanups: its portal sessions). Its events stay in the log until
// retention.
func (s *Service) DeleteTenant(ctx context.Context, projectID, id string) error {
	if err := tenantOf(ctx, id); err != nil {
		return err
	}
	if !herald.ValidTenantID(id) {
		return herald.Errorf(herald.ENOTFOUND, "tenant not found")
	}
	if err := s.st.DeleteTenant(ctx, projectID, id); err != nil {
		return notFound(err, "tenant")
	}
	s.eng.EndpointsChanged(projectID)
	for _, clean := range tenantCleanups {
		if err := clean(s, ctx, projectID, id); err != nil {
			return err
		}
	}
	return nil
}
