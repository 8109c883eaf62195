package api

import (
	"context"
	"net/http"
	"time"

	"github.com/herald-dev/herald"
)

// projectView is a project in responses; APIKey only on creation.
type projectView struct {
	*herald.Project
	APIKey string `json:"api_key,omitempty"`
}

func (s *Server) createProject(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	p := &herald.Project{}
	if o, ok := decodeObject(body, "body", &v, false); ok {
		o.get("name", &p.Name)
		o.get("id", &p.ID)
		o.get("strict_event_types", &p.StrictEventTypes)
		o.readOnly("created_at", "updated_at", "api_key")
		o.done()
	}
	checkProjectName(&v, p.Name)
	if p.ID != "" && !herald.ValidProjectID(p.ID) {
		v.Add("body.id", clip(p.ID), "1 to 63 lowercase letters, digits, '_' or '-', starting with a letter or digit")
	}
	if err := v.Err(); err != nil {
		return err
	}
	if p.ID == "" {
		p.ID = herald.NewID(herald.PrefixProject)
	}
	now := s.now().UTC()
	p.CreatedAt, p.UpdatedAt = now, now
	if err := s.store.CreateProject(r.Context(), p); err != nil {
		if herald.ErrorCode(err) == herald.ECONFLICT {
			return herald.Errorf(herald.ECONFLICT, "a project with id %q exists", p.ID).WithKind(herald.KindProjectExists)
		}
		return err
	}
	key, err := s.newAPIKey(r.Context(), p.ID, now)
	if err != nil {
		// A project nobody can reach with a project key is useless: undo.
		_ = s.store.DeleteProject(context.WithoutCancel(r.Context()), p.ID)
		return err
	}
	writeJSON(w, http.StatusCreated, projectView{Project: p, APIKey: key.key})
	return nil
}

func checkProjectName(v *herald.Validation, name string) {
	switch {
	case name == "":
		if !hasError(v, "body.name") {
			v.Add("body.name", nil, "required")
		}
	case len(name) > herald.ProjectNameMaxLen:
		v.Add("body.name", nil, "at most %d characters", herald.ProjectNameMaxLen)
	}
}

func (s *Server) listProjects(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	page := newQuery(r, &v).page()
	if err := v.Err(); err != nil {
		return err
	}
	ps, next, err := s.store.ListProjects(r.Context(), page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(ps, next))
	return nil
}

func (s *Server) loadProject(ctx context.Context, id string) (*herald.Project, error) {
	p, err := s.store.GetProject(ctx, id)
	if herald.IsNotFound(err) {
		return nil, notFound("project")
	}
	return p, err
}

func (s *Server) getProject(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.loadProject(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) updateProject(w http.ResponseWriter, r *http.Request, c *call) error {
	p, err := s.loadProject(r.Context(), r.PathValue("project"))
	if err != nil {
		return err
	}
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	if o, ok := decodeObject(body, "body", &v, false); ok {
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
		o.done()
	}
	checkProjectName(&v, p.Name)
	if err := v.Err(); err != nil {
		return err
	}
	p.UpdatedAt = s.now().UTC()
	if err := s.store.UpdateProject(r.Context(), p); err != nil {
		if herald.IsNotFound(err) {
			return notFound("project")
		}
		return err
	}
	s.eventTypesChanged(p.ID) // strict_event_types is part of ingest validation
	writeJSON(w, http.StatusOK, p)
	return nil
}

func (s *Server) deleteProject(w http.ResponseWriter, r *http.Request, c *call) error {
	id := r.PathValue("project")
	if err := s.store.DeleteProject(r.Context(), id); err != nil {
		if herald.IsNotFound(err) {
			return notFound("project")
		}
		return err
	}
	s.engine.EndpointsChanged(id)
	s.eventTypesChanged(id)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// API keys.

// APIKeysMax is the most API keys a project may have at once.
const APIKeysMax = 100

type newKey struct {
	*herald.APIKey
	key string
}

// keyPrefixLen is how much of a key its Prefix keeps: the "hk_" and a few
// random characters, enough to tell keys apart in a list, far too few to
// guess the rest.
const keyPrefixLen = len(herald.ProjectKeyPrefix) + 6

func (s *Server) newAPIKey(ctx context.Context, projectID string, now time.Time) (*newKey, error) {
	key := herald.NewKey(herald.ProjectKeyPrefix)
	k := &herald.APIKey{
		ID:        herald.NewID(herald.PrefixKey),
		ProjectID: projectID,
		Hash:      herald.HashKey(key),
		Prefix:    key[:keyPrefixLen],
		CreatedAt: now,
	}
	if err := s.store.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	return &newKey{APIKey: k, key: key}, nil
}

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	if o, ok := decodeObject(body, "body", &v, true); ok {
		o.done() // no fields yet; refuse what a client may think it can set
	}
	if err := v.Err(); err != nil {
		return err
	}
	// Keys are listed unpaged and each may hold a rate-limit bucket: a
	// bound keeps both small. Concurrent creates may overshoot it by a few.
	keys, err := s.store.ListAPIKeys(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	if len(keys) >= APIKeysMax {
		return herald.Errorf(herald.ECONFLICT, "the project has %d API keys, the most allowed; revoke one first", len(keys)).WithKind(herald.KindAPIKeyLimit)
	}
	k, err := s.newAPIKey(r.Context(), c.project.ID, s.now().UTC())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, struct {
		*herald.APIKey
		Key string `json:"key"`
	}{k.APIKey, k.key})
	return nil
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	newQuery(r, &v).page() // validated for uniformity; the list is short and unpaged
	if err := v.Err(); err != nil {
		return err
	}
	keys, err := s.store.ListAPIKeys(r.Context(), c.project.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(keys, ""))
	return nil
}

func (s *Server) deleteAPIKey(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteAPIKey(r.Context(), c.project.ID, r.PathValue("id")); err != nil {
		if herald.IsNotFound(err) {
			return notFound("API key")
		}
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
