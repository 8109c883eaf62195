package api

import (
	"net/http"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/service"
)

// projectView is a project in responses; APIKey only on creation.
type projectView struct {
	*herald.Project
	APIKey string `json:"api_key,omitempty"`
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, c *call) error {
	p := &herald.Project{}
	if err := s.decodeBody(w, r, false, func(o *object) {
		o.get("name", &p.Name)
		o.get("id", &p.ID)
		o.get("strict_event_types", &p.StrictEventTypes)
		o.readOnly("created_at", "updated_at", "api_key")
	}); err != nil {
		return err
	}
	key, err := s.svc.CreateProject(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, projectView{Project: p, APIKey: key})
	return nil
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	q := newQuery(r, &v, "limit", "cursor")
	page := q.page()
	if err := v.Err(); err != nil {
		return err
	}
	ps, next, err := s.store.ListProjects(r.Context(), page)
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, newList(ps, q.next(next)))
	return nil
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.svc.Project(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.svc.Project(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	if err := s.decodeBody(w, r, false, func(o *object) {
		if o.null("name") {
			p.Name = ""
		}
		o.get("name", &p.Name)
		if o.null("strict_event_types") {
			o.take("strict_event_types")
			p.StrictEventTypes = false
		} else {
			o.get("strict_event_types", &p.StrictEventTypes)
		}
		o.readOnly("id", "created_at", "updated_at", "api_key")
	}); err != nil {
		return err
	}
	if err := s.svc.UpdateProject(r.Context(), p); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.svc.DeleteProject(r.Context(), r.PathValue("project")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// API keys.

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	var in service.APIKeyInput
	if err := s.decodeBody(w, r, true, func(o *object) {
		o.get("name", &in.Name)
		o.get("scopes", &in.Scopes)
		o.get("tenant_id", &in.TenantID)
		var t time.Time
		if o.get("expires_at", &t) {
			in.ExpiresAt = &t
		}
		o.readOnly("id", "key", "prefix", "project_id", "created_at")
	}); err != nil {
		return err
	}
	k, key, err := s.svc.CreateAPIKey(r.Context(), c.project.ID, in)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		*herald.APIKey
		Key string `json:"key"`
	}{k, key})
	return nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	q := newQuery(r, &v, "limit", "cursor")
	page := q.page()
	if err := v.Err(); err != nil {
		return err
	}
	keys, next, err := s.svc.ListAPIKeys(r.Context(), c.project.ID, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(keys, q.next(next)))
	return nil
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.svc.RevokeAPIKey(r.Context(), c.project.ID, r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
