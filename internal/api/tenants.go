package api

import (
	"errors"
	"net/http"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
)

// putTenant creates or updates the tenant of the path: 201 when created,
// 200 when updated; the body {"name"?, "metadata"?} may be empty.
func (s *Server) putTenant(w http.ResponseWriter, r *http.Request, c *call) error {
	t := &herald.Tenant{ProjectID: c.project.ID, ID: r.PathValue("tenant_id")}
	if err := s.decodeBody(w, r, true, func(o *object) {
		o.get("name", &t.Name)
		o.get("metadata", &t.Metadata)
		o.readOnly("id", "project_id", "created_at", "updated_at")
	}); err != nil {
		return err
	}
	created, err := s.svc.PutTenant(r.Context(), t)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	writeJSON(w, status, t)
	return nil
}

func (s *Server) getTenant(w http.ResponseWriter, r *http.Request, c *call) error {
	t, err := s.svc.Tenant(r.Context(), c.project.ID, r.PathValue("tenant_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (s *Server) listTenants(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	q := newQuery(r, &v, "limit", "cursor")
	page := q.page()
	if err := v.Err(); err != nil {
		return err
	}
	ts, next, err := s.svc.ListTenants(r.Context(), c.project.ID, page)
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, newList(ts, q.next(next)))
	return nil
}

// deleteTenant deletes the tenant, its endpoints (their unfinished
// deliveries are canceled) and its portal sessions: 204.
func (s *Server) deleteTenant(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.svc.DeleteTenant(r.Context(), c.project.ID, r.PathValue("tenant_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// tenant reads ?tenant_id=, the tenant a list is filtered by: for a
// tenant-bound key its own tenant whatever it asks (another is a 422).
func (q query) tenant(r *http.Request) string {
	t, err := service.ListTenant(r.Context(), q.str("tenant_id"))
	var he *herald.Error
	if errors.As(err, &he) {
		q.v.Fields = append(q.v.Fields, he.Fields...)
	}
	return t
}
