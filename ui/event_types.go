package ui

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
)

type eventTypesData struct {
	Types []*herald.EventType
	Next  string
	Form  *form
}

func (h *handler) eventTypes(w http.ResponseWriter, r *http.Request) {
	h.renderEventTypes(w, r, http.StatusOK, newForm())
}

func (h *handler) renderEventTypes(w http.ResponseWriter, r *http.Request, status int, f *form) {
	prj := projectFrom(r)
	types, next, err := h.st.ListEventTypes(r.Context(), prj.ID, store.Page{Limit: 100, Cursor: r.URL.Query().Get("cursor")})
	if err != nil {
		h.cursorError(w, r, err)
		return
	}
	h.render(w, r, status, "event_types", "Event types", eventTypesData{Types: types, Next: next, Form: f})
}

// eventTypeCreate validates the schema (it must compile) and the example
// (JSON, valid against the schema) before storing.
func (h *handler) eventTypeCreate(w http.ResponseWriter, r *http.Request) {
	prj := projectFrom(r)
	f := newForm()
	for _, k := range []string{"name", "description", "schema", "example"} {
		f.Values[k] = r.PostFormValue(k)
	}
	et := &herald.EventType{ProjectID: prj.ID, Name: strings.TrimSpace(f.V("name")), Description: strings.TrimSpace(f.V("description"))}
	switch {
	case et.Name == "":
		f.add("name", "required")
	case len(et.Name) > herald.EventTypeNameMaxLen:
		f.add("name", fmt.Sprintf("at most %d characters", herald.EventTypeNameMaxLen))
	case !herald.ValidEventTypeName(et.Name):
		f.add("name", "not an event type name (letters, digits and . _ - such as user.created)")
	}
	if len(et.Description) > herald.DescriptionMaxLen {
		f.add("description", fmt.Sprintf("at most %d characters", herald.DescriptionMaxLen))
	}
	var schema *herald.Schema
	if s := strings.TrimSpace(f.V("schema")); s != "" {
		var err error
		if schema, err = herald.CompileSchema(json.RawMessage(s)); err != nil {
			f.add("schema", err.Error())
		} else {
			et.Schema = json.RawMessage(s)
		}
	}
	if s := strings.TrimSpace(f.V("example")); s != "" {
		switch {
		case !json.Valid([]byte(s)):
			f.add("example", "not valid JSON")
		case schema != nil:
			for _, fe := range schema.Validate(json.RawMessage(s), "example") {
				f.add("example", strings.TrimPrefix(fe.Location+": ", "example: ")+fe.Message)
			}
		}
		if json.Valid([]byte(s)) {
			et.Example = json.RawMessage(s)
		}
	}
	if f.HasErrors() {
		h.renderEventTypes(w, r, http.StatusUnprocessableEntity, f)
		return
	}
	now := h.cfg.Now().UTC()
	et.CreatedAt, et.UpdatedAt = now, now
	if err := h.st.CreateEventType(r.Context(), et); err != nil {
		if herald.ErrorCode(err) == herald.ECONFLICT {
			f.add("name", "an event type with this name exists")
			h.renderEventTypes(w, r, http.StatusConflict, f)
			return
		}
		h.storeError(w, r, err)
		return
	}
	h.eng.EventTypesChanged(prj.ID)
	h.flashTo(w, r, "Event type "+et.Name+" created.", "p", prj.ID, "event-types")
}

func (h *handler) eventTypeDelete(w http.ResponseWriter, r *http.Request) {
	prj := projectFrom(r)
	name := r.PathValue("name")
	if err := h.st.DeleteEventType(r.Context(), prj.ID, name); err != nil {
		h.storeError(w, r, err)
		return
	}
	h.eng.EventTypesChanged(prj.ID)
	h.flashTo(w, r, "Event type "+name+" deleted.", "p", prj.ID, "event-types")
}
