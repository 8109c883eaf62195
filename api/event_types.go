package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/herald-dev/herald"
)

// eventTypesChanged tells the engine to drop its cached event types (and
// strict_event_types) of the project.
func (s *Server) eventTypesChanged(projectID string) { s.engine.EventTypesChanged(projectID) }

func (s *Server) createEventType(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	et := &herald.EventType{ProjectID: c.project.ID}
	if o, ok := decodeObject(body, "body", &v, false); ok {
		o.get("name", &et.Name)
		o.get("description", &et.Description)
		if raw, ok := o.raw("schema"); ok {
			et.Schema = compactJSON(raw)
		}
		if raw, ok := o.raw("example"); ok {
			et.Example = compactJSON(raw)
		}
		o.readOnly("created_at", "updated_at")
		o.done()
	}
	switch {
	case hasError(&v, "body.name"):
	case et.Name == "":
		v.Add("body.name", nil, "required")
	case !herald.ValidEventTypeName(et.Name):
		v.Add("body.name", clip(et.Name), "1 to %d characters: dot-separated parts of letters, digits, '_' and '-' (e.g. \"user.created\")", herald.EventTypeNameMaxLen)
	}
	checkEventType(&v, et)
	if err := v.Err(); err != nil {
		return err
	}
	now := s.now().UTC()
	et.CreatedAt, et.UpdatedAt = now, now
	if err := s.store.CreateEventType(r.Context(), et); err != nil {
		if herald.ErrorCode(err) == herald.ECONFLICT {
			return herald.Errorf(herald.ECONFLICT, "event type %q exists", et.Name).WithKind(herald.KindEventTypeExists)
		}
		return err
	}
	s.eventTypesChanged(et.ProjectID)
	writeJSON(w, http.StatusCreated, et)
	return nil
}

// checkEventType validates the description, compiles the schema and checks
// the example against it.
func checkEventType(v *herald.Validation, et *herald.EventType) {
	if len(et.Description) > herald.DescriptionMaxLen {
		v.Add("body.description", nil, "at most %d characters", herald.DescriptionMaxLen)
	}
	var schema *herald.Schema
	if et.Schema != nil {
		if t := jsonType(et.Schema); t != "object" && t != "boolean" {
			v.Add("body.schema", nil, "a JSON Schema is an object (or a boolean)")
		} else if s, err := herald.CompileSchema(et.Schema); err != nil {
			v.Add("body.schema", nil, "%s", err.Error())
		} else {
			schema = s
		}
	}
	if et.Example != nil {
		if jsonType(et.Example) != "object" {
			v.Add("body.example", nil, "an example is event data: a JSON object")
		} else if schema != nil {
			v.Fields = append(v.Fields, schema.Validate(et.Example, "body.example")...)
		}
	}
}

// jsonType returns the JSON type of a valid JSON value.
func jsonType(raw json.RawMessage) string {
	b := bytes.TrimSpace(raw)
	if len(b) == 0 {
		return ""
	}
	switch b[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// compactJSON stores JSON without the client's whitespace.
func compactJSON(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

func (s *Server) listEventTypes(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	page := newQuery(r, &v).page()
	if err := v.Err(); err != nil {
		return err
	}
	ets, next, err := s.store.ListEventTypes(r.Context(), c.project.ID, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(ets, next))
	return nil
}

func (s *Server) loadEventType(r *http.Request, c *call) (*herald.EventType, error) {
	et, err := s.store.GetEventType(r.Context(), c.project.ID, r.PathValue("name"))
	if herald.IsNotFound(err) {
		return nil, notFound("event type")
	}
	return et, err
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
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	if o, ok := decodeObject(body, "body", &v, false); ok {
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
				*f.dst = compactJSON(raw)
			}
		}
		var name string
		if o.get("name", &name) && name != et.Name {
			v.Add("body.name", clip(name), "an event type cannot be renamed (create another)")
		}
		o.readOnly("created_at", "updated_at")
		o.done()
	}
	checkEventType(&v, et)
	if err := v.Err(); err != nil {
		return err
	}
	et.UpdatedAt = s.now().UTC()
	if err := s.store.UpdateEventType(r.Context(), et); err != nil {
		if herald.IsNotFound(err) {
			return notFound("event type")
		}
		return err
	}
	s.eventTypesChanged(et.ProjectID)
	writeJSON(w, http.StatusOK, et)
	return nil
}

func (s *Server) deleteEventType(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := s.store.DeleteEventType(r.Context(), c.project.ID, r.PathValue("name")); err != nil {
		if herald.IsNotFound(err) {
			return notFound("event type")
		}
		return err
	}
	s.eventTypesChanged(c.project.ID)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
