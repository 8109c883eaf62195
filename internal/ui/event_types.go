package ui

import (
	"encoding/json"
	"errors"
	"net/http"
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
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

// eventTypeCreate hands the form to the service, which applies the API's
// rules (a schema that compiles, an example that is a JSON object valid
// against it).
func (h *handler) eventTypeCreate(w http.ResponseWriter, r *http.Request) {
	prj := projectFrom(r)
	f := newForm()
	for _, k := range []string{"name", "description", "schema", "example"} {
		f.Values[k] = r.PostFormValue(k)
	}
	et := &herald.EventType{ProjectID: prj.ID, Name: strings.TrimSpace(f.V("name")), Description: strings.TrimSpace(f.V("description"))}
	if s := strings.TrimSpace(f.V("schema")); s != "" {
		et.Schema = json.RawMessage(s)
	}
	if s := strings.TrimSpace(f.V("example")); s != "" {
		et.Example = json.RawMessage(s)
	}
	err := h.svc.CreateEventType(r.Context(), et)
	var he *herald.Error
	switch {
	case err == nil:
		h.flashTo(w, r, "Event type "+et.Name+" created.", "p", prj.ID, "event-types")
	case herald.ErrorCode(err) == herald.ECONFLICT:
		f.add("name", "an event type with this name exists")
		h.renderEventTypes(w, r, http.StatusConflict, f)
	case errors.As(err, &he) && he.Code == herald.EINVALID:
		for _, fe := range he.Fields {
			// "body.example.user_id" → the example input, "user_id: …".
			field, rest, _ := strings.Cut(strings.TrimPrefix(fe.Location, "body."), ".")
			msg := fe.Message
			if rest != "" {
				msg = rest + ": " + msg
			}
			f.add(field, msg)
		}
		h.renderEventTypes(w, r, http.StatusUnprocessableEntity, f)
	default:
		h.storeError(w, r, err)
	}
}

func (h *handler) eventTypeDelete(w http.ResponseWriter, r *http.Request) {
	prj := projectFrom(r)
	name := r.PathValue("name")
	if err := h.svc.DeleteEventType(r.Context(), prj.ID, name); err != nil {
		h.storeError(w, r, err)
		return
	}
	h.flashTo(w, r, "Event type "+name+" deleted.", "p", prj.ID, "event-types")
}
