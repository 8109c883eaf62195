package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// eventPageSize is the number of rows on one page of the event log.
const eventPageSize = 50

type deliveryRow struct {
	Delivery *herald.Delivery
	Endpoint *herald.Endpoint // nil when deleted
}

// eventRow is an event of the log with how its deliveries stand.
type eventRow struct {
	*herald.Event
	States []stateCount
}

type eventLogData struct {
	Form       *form
	States     []string
	Endpoints  []*herald.Endpoint
	Deliveries bool // status or endpoint filter: the rows are deliveries
	Events     []eventRow
	Rows       []deliveryRow
	Next       string // the next page's URL, "" on the last page
}

// eventLog lists events newest first. Filtering by delivery status or
// endpoint is a question about deliveries, so those filters list delivery
// rows (each linking to its event) instead of events.
func (h *handler) eventLog(w http.ResponseWriter, r *http.Request) {
	prj := projectFrom(r)
	ctx := r.Context()
	q := r.URL.Query()
	f := newForm()
	for _, k := range []string{"type", "status", "endpoint", "since", "until"} {
		f.Values[k] = strings.TrimSpace(q.Get(k))
	}
	since, until := parseTime(f, "since"), parseTime(f, "until")
	if st := f.Values["status"]; st != "" && !herald.ValidDeliveryStatus(st) {
		f.add("status", "unknown status")
	}
	eps, err := h.st.ProjectEndpoints(ctx, prj.ID)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	eps = visibleEndpoints(r, eps)
	d := eventLogData{Form: f, States: herald.DeliveryStates, Endpoints: eps}
	if f.HasErrors() {
		h.render(w, r, http.StatusUnprocessableEntity, "events", "Event log", d)
		return
	}
	cursor := q.Get("cursor")
	var next string
	if f.Values["status"] != "" || f.Values["endpoint"] != "" {
		d.Deliveries = true
		byID := map[string]*herald.Endpoint{}
		for _, ep := range eps {
			byID[ep.ID] = ep
		}
		filter := store.DeliveryFilter{TenantID: boundTenant(r), EndpointID: f.Values["endpoint"], Status: f.Values["status"], Since: since, Until: until}
		// The store filters deliveries by endpoint and status, not by
		// event type: for a type, read on until the page is full.
		for range 10 {
			var ds []*herald.Delivery
			ds, next, err = h.st.ListDeliveries(ctx, prj.ID, filter, store.Page{Limit: eventPageSize, Cursor: cursor})
			if err != nil {
				h.cursorError(w, r, err)
				return
			}
			for _, dl := range ds {
				if t := f.Values["type"]; t == "" || dl.EventType == t {
					d.Rows = append(d.Rows, deliveryRow{Delivery: dl, Endpoint: byID[dl.EndpointID]})
				}
			}
			cursor = next
			if next == "" || len(d.Rows) >= eventPageSize {
				break
			}
		}
	} else {
		var evs []*herald.Event
		evs, next, err = h.st.ListEvents(ctx, prj.ID, store.EventFilter{TenantID: boundTenant(r), Type: f.Values["type"], Since: since, Until: until},
			store.Page{Limit: eventPageSize, Cursor: cursor})
		if err != nil {
			h.cursorError(w, r, err)
			return
		}
		for _, ev := range evs {
			states, err := h.deliveryStates(r, ev.ID)
			if err != nil {
				h.storeError(w, r, err)
				return
			}
			d.Events = append(d.Events, eventRow{Event: ev, States: states})
		}
	}
	if next != "" {
		nq := url.Values{}
		for k, v := range f.Values {
			if v != "" {
				nq.Set(k, v)
			}
		}
		nq.Set("cursor", next)
		d.Next = h.path("p", prj.ID, "events") + "?" + nq.Encode()
	}
	h.render(w, r, http.StatusOK, "events", "Event log", d)
}

// deliveryStates counts an event's deliveries by state, for the log's
// summary column. One indexed query per row: a page is 50 rows.
func (h *handler) deliveryStates(r *http.Request, eventID string) ([]stateCount, error) {
	ds, _, err := h.st.ListDeliveries(r.Context(), projectFrom(r).ID, store.DeliveryFilter{EventID: eventID, TenantID: boundTenant(r)}, store.Page{Limit: 1000})
	if err != nil {
		return nil, err
	}
	n := map[string]int{}
	for _, d := range ds {
		n[d.Status]++
	}
	var out []stateCount
	for _, s := range herald.DeliveryStates {
		if n[s] > 0 {
			out = append(out, stateCount{State: s, N: n[s]})
		}
	}
	return out, nil
}

type eventData struct {
	Event     *herald.Event
	Rows      []deliveryRow
	Endpoints []*herald.Endpoint
}

func (h *handler) eventDetail(w http.ResponseWriter, r *http.Request) {
	ev, ok := loadPathID(h, w, r, h.svc.Event)
	if !ok {
		return
	}
	prj := projectFrom(r)
	ctx := r.Context()
	ds, _, err := h.st.ListDeliveries(ctx, prj.ID, store.DeliveryFilter{EventID: ev.ID, TenantID: boundTenant(r)}, store.Page{Limit: 200})
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	eps, err := h.st.ProjectEndpoints(ctx, prj.ID)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	eps = visibleEndpoints(r, eps)
	byID := map[string]*herald.Endpoint{}
	for _, ep := range eps {
		byID[ep.ID] = ep
	}
	d := eventData{Event: ev, Endpoints: eps}
	for _, dl := range ds {
		d.Rows = append(d.Rows, deliveryRow{Delivery: dl, Endpoint: byID[dl.EndpointID]})
	}
	h.render(w, r, http.StatusOK, "event", "Event "+ev.ID, d)
}

func (h *handler) eventReplay(w http.ResponseWriter, r *http.Request) {
	ev, ok := loadPathID(h, w, r, h.svc.Event)
	if !ok {
		return
	}
	prj := projectFrom(r)
	n, err := h.svc.ReplayEvent(r.Context(), ev, strings.TrimSpace(r.PostFormValue("endpoint_id")))
	h.engineOutcome(w, r, err, fmt.Sprintf("Replayed: %d new deliveries.", n), "Replay failed: ", "p", prj.ID, "events", ev.ID)
}

// engineOutcome ends a button that asked the engine to act: back to the
// page at path parts, showing done on success or failed and the reason
// otherwise; an internal error is an error page instead.
func (h *handler) engineOutcome(w http.ResponseWriter, r *http.Request, err error, done, failed string, parts ...string) {
	switch {
	case err == nil:
		h.setFlash(w, r, done)
	case herald.ErrorCode(err) == herald.EINTERNAL:
		h.storeError(w, r, err)
		return
	default:
		h.setFlash(w, r, failed+err.Error())
	}
	http.Redirect(w, r, h.path(parts...), http.StatusSeeOther)
}

type attemptView struct {
	*herald.Attempt
	Body string // the response body, pretty-printed when it is JSON
	Sent string // the templated request body, likewise ("" for the envelope)
}

type deliveryData struct {
	Delivery *herald.Delivery
	Event    *herald.Event
	Endpoint *herald.Endpoint // nil when deleted
	Attempts []attemptView
}

func (h *handler) deliveryDetail(w http.ResponseWriter, r *http.Request) {
	dl, ok := loadPathID(h, w, r, h.svc.Delivery)
	if !ok {
		return
	}
	prj := projectFrom(r)
	ctx := r.Context()
	var err error
	d := deliveryData{Delivery: dl}
	if d.Event, err = h.st.GetEvent(ctx, prj.ID, dl.EventID); err != nil && !herald.IsNotFound(err) {
		h.storeError(w, r, err)
		return
	}
	if d.Endpoint, err = h.st.GetEndpoint(ctx, prj.ID, dl.EndpointID); err != nil && !herald.IsNotFound(err) {
		h.storeError(w, r, err)
		return
	}
	atts, err := h.st.ListAttempts(ctx, prj.ID, dl.ID)
	if err != nil {
		h.storeError(w, r, err)
		return
	}
	for _, a := range atts {
		d.Attempts = append(d.Attempts, attemptView{Attempt: a, Body: prettyJSON(a.ResponseBody), Sent: prettyJSON(a.RequestBody)})
	}
	h.render(w, r, http.StatusOK, "delivery", "Delivery "+dl.ID, d)
}

func (h *handler) deliveryRetry(w http.ResponseWriter, r *http.Request) {
	dl, ok := loadPathID(h, w, r, h.svc.Delivery)
	if !ok {
		return
	}
	prj := projectFrom(r)
	att, err := h.svc.RetryDelivery(r.Context(), dl)
	h.engineOutcome(w, r, err, "Retried: "+attemptOutcome(att)+".", "Retry failed: ", "p", prj.ID, "deliveries", dl.ID)
}
