package service

import "context"

// AddTenantCleanup registers a step of DeleteTenant, as a file of the
// package that keeps state per tenant does in its init.
func AddTenantCleanup(f func(s *Service, ctx context.Context, projectID, tenantID string) error) {
	tenantCleanups = append(tenantCleanups, f)
}
