package api

import (
	"encoding/json"
	"net/http"

	"github.com/herald-dev/herald"
)

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request, c *call) error {
	et := &herald.EventType{ProjectID: c.project.ID}
	if err := s.decodeBody(w, r, false, func(o *object) {
		o.get("name", &et.Name)
		o.get("description", &et.Description)
		if raw, ok := o.raw("schema"); ok {
			et.Schema = raw
		}
		if raw, ok := o.raw("example"); ok {
			et.Example = raw
		}
		o.readOnly("created_at", "updated_at")
	}); err != nil {
		return err
	}
	if err := s.svc.CreateEventType(r.Context(), et); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, et)
	return nil
}

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	q := newQuery(r, &v, "limit", "cursor")
	page := q.page()
	if err := v.Err(); err != nil {
		return err
	}
	ets, next, err := s.store.ListEventTypes(r.Context(), c.project.ID, page)
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, newList(ets, q.next(next)))
	return nil
}

func (s *Server) loadEventType(r *http.Request, c *call) (*herald.EventType, error) {
	return s.svc.EventType(r.Context(), c.project.ID, r.PathValue("name"))
}

func (s *Server) getEventType(w http.ResponseWriter, r *http.Request, c *call) error {
	et, err := s.loadEventType(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, et)
	return nil
}

func (s *Server) updateEventType(w http.ResponseWriter, r *http.Request, c *call) error {
	et, err := s.loadEventType(r, c)
	if err != nil {
		return err
	}
	if err := s.decodeBody(w, r, false, func(o *object) {
		if o.null("description") {
			et.Description = ""
		}
		o.get("description", &et.Description)
		for _, f := range []struct {
			name string
			dst  *json.RawMessage
		}{{"schema", &et.Schema}, {"example", &et.Example}} {
			if o.null(f.name) {
				*f.dst = nil // null clears
			}
			if raw, ok := o.raw(f.name); ok {
				*f.dst = raw
			}
		}
		var name string
		if o.get("name", &name) && name != et.Name {
			o.v.Add("body.name", herald.Clip(name), "an event type cannot be renamed (create another)")
		}
		o.readOnly("created_at", "updated_at")
	}); err != nil {
		return err
	}
	if err := s.svc.UpdateEventType(r.Context(), et); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, et)
	return nil
}

func (s *Server) deleteEventType(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.svc.DeleteEventType(r.Context(), c.project.ID, r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
