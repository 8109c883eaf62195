package api

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/service"
	"github.com/herald-dev/herald/internal/store"
)

// eventResult is the answer to an accepted event.
type eventResult struct {
	ID         string    `json:"id"`
	Type       string    `json:"type"`
	CreatedAt  time.Time `json:"created_at"`
	Deliveries int       `json:"deliveries"`
	TenantID   string    `json:"tenant_id,omitempty"`
}

// batchKeyMaxLen bounds a batch's Idempotency-Key: room is left for
// ":<index>" within herald.IdempotencyKeyMaxLen.
const batchKeyMaxLen = herald.IdempotencyKeyMaxLen - 5

func bodyHash(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// decodeEventInput reads one event object. Semantic checks (type name,
// data an object, bounds, schema) are the engine's, so that every way in
// applies the same rules; here only the JSON shape is checked (whatever
// "data" holds is handed on as is).
func decodeEventInput(raw []byte, loc string, v *herald.Validation) delivery.EventInput {
	var in delivery.EventInput
	o, ok := decodeObject(raw, loc, v, false)
	if !ok {
		return in
	}
	o.get("id", &in.ID)
	o.get("type", &in.Type)
	if d, ok := o.raw("data"); ok {
		in.Data = d
	}
	o.get("channels", &in.Channels)
	var t time.Time
	if o.get("occurred_at", &t) {
		t = t.UTC()
		in.OccurredAt = &t
	}
	o.get("metadata", &in.Metadata)
	o.get("tenant_id", &in.TenantID)
	o.done()
	return in
}

func (s *Server) ingest(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	var v herald.Validation
	key := r.Header.Get("Idempotency-Key")
	if len(key) > herald.IdempotencyKeyMaxLen {
		v.Add("header.Idempotency-Key", nil, "at most %d characters", herald.IdempotencyKeyMaxLen)
	}
	in := decodeEventInput(body, "body", &v)
	if err := v.Err(); err != nil {
		return err
	}
	in.IdempotencyKey = key
	if in.IdempotencyKey == "" {
		in.IdempotencyKey = in.ID
	}
	in.BodyHash = bodyHash(body)
	res, err := s.svc.Ingest(r.Context(), c.project, []delivery.EventInput{in})
	if err != nil {
		return err
	}
	if len(res) != 1 {
		return fmt.Errorf("engine returned %d results for one event", len(res))
	}
	if res[0].Err != nil {
		return service.Locate(res[0].Err, "body")
	}
	status := http.StatusAccepted
	if res[0].Replayed {
		status = http.StatusOK
		w.Header().Set("Idempotent-Replayed", "true")
	}
	er, err := s.resultOf(r, c, &res[0])
	if err != nil {
		return err
	}
	writeJSON(w, status, er)
	return nil
}

// resultOf is the answer for an accepted event. A tenant-bound caller is
// told how many of its deliveries are its tenant's, as the event's page
// shows them: the project's own endpoints are not the customer's to know.
func (s *Server) resultOf(r *http.Request, c *call, res *delivery.IngestResult) (eventResult, error) {
	er := eventResult{ID: res.Event.ID, Type: res.Event.Type, CreatedAt: res.Event.CreatedAt, Deliveries: res.Deliveries, TenantID: res.Event.TenantID}
	if c.who.TenantID != "" {
		f := store.DeliveryFilter{EventID: res.Event.ID, TenantID: c.who.TenantID}
		ds, _, err := s.store.ListDeliveries(r.Context(), c.project.ID, f, store.Page{Limit: eventDeliveriesMax})
		if err != nil {
			return er, err
		}
		er.Deliveries = len(ds)
	}
	return er, nil
}

// batchItem is one entry of the batch answer: the accepted event or the
// problem that refused it.
type batchItem struct {
	*eventResult
	Replayed bool     `json:"replayed,omitempty"`
	Error    *Problem `json:"error,omitempty"`
}

// ingestBatch takes {"events":[…]}: each event is accepted or refused on
// its own, and the answer (202) lists the outcomes in order. An event's id
// is its idempotency key; an event without one, in a request with an
// Idempotency-Key header, gets "<header>:<index>", so that a client
// retrying the same batch creates nothing twice.
func (s *Server) ingestBatch(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes*BatchBodyFactor)
	if err != nil {
		return err
	}
	var v herald.Validation
	key := r.Header.Get("Idempotency-Key")
	// The header names the batch; each event without an id gets
	// "<header>:<index>", which must stay within the bound.
	if len(key) > batchKeyMaxLen {
		v.Add("header.Idempotency-Key", nil, "at most %d characters for a batch", batchKeyMaxLen)
	}
	var raws []json.RawMessage
	if o, ok := decodeObject(body, "body", &v, false); ok {
		if !o.get("events", &raws) && !v.Has("body.events") {
			v.Add("body.events", nil, "required: a list of 1 to %d events", herald.EventBatchMaxLen)
		}
		o.done()
	}
	if !v.Has("body.events") && (len(raws) == 0 || len(raws) > herald.EventBatchMaxLen) {
		v.Add("body.events", len(raws), "a batch has 1 to %d events", herald.EventBatchMaxLen)
	}
	if err := v.Err(); err != nil {
		return err
	}

	items := make([]batchItem, len(raws))
	var (
		inputs []delivery.EventInput
		index  []int // inputs position → raws position
	)
	for i, raw := range raws {
		loc := fmt.Sprintf("body.events[%d]", i)
		if int64(len(raw)) > s.cfg.MaxBodyBytes {
			items[i].Error = problemOf(herald.Errorf(herald.ETOOLARGE, "%s is larger than %d bytes", loc, s.cfg.MaxBodyBytes))
			continue
		}
		var iv herald.Validation
		in := decodeEventInput(raw, loc, &iv)
		if err := iv.Err(); err != nil {
			items[i].Error = problemOf(err)
			continue
		}
		in.IdempotencyKey = in.ID
		if in.IdempotencyKey == "" && key != "" {
			in.IdempotencyKey = fmt.Sprintf("%s:%d", key, i)
		}
		in.BodyHash = bodyHash(raw)
		inputs = append(inputs, in)
		index = append(index, i)
	}
	if len(inputs) > 0 {
		res, err := s.svc.Ingest(r.Context(), c.project, inputs)
		if err != nil {
			return err
		}
		if len(res) != len(inputs) {
			return fmt.Errorf("engine returned %d results for %d events", len(res), len(inputs))
		}
		for j := range res {
			i := index[j]
			if res[j].Err != nil {
				items[i].Error = problemOf(service.Locate(res[j].Err, fmt.Sprintf("body.events[%d]", i)))
				continue
			}
			er, err := s.resultOf(r, c, &res[j])
			if err != nil {
				return err
			}
			items[i].eventResult = &er
			items[i].Replayed = res[j].Replayed
		}
	}
	writeJSON(w, http.StatusAccepted, map[string][]batchItem{"data": items})
	return nil
}

// viewEvent prepares an event for a response: empty lists and maps as
// [] and {}, not null.
func viewEvent(ev *herald.Event) *herald.Event {
	if ev.Channels == nil {
		ev.Channels = []string{}
	}
	if ev.Metadata == nil {
		ev.Metadata = map[string]string{}
	}
	return ev
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	q := newQuery(r, &v, "limit", "cursor", "type", "channel", "since", "until", "tenant_id")
	page := q.page()
	f := store.EventFilter{TenantID: q.tenant(r), Type: q.str("type"), Channel: q.str("channel"), Since: q.time("since"), Until: q.time("until")}
	if len(f.Type) > herald.EventTypeNameMaxLen {
		v.Add("query.type", nil, "at most %d characters", herald.EventTypeNameMaxLen)
	}
	if len(f.Channel) > herald.ChannelMaxLen {
		v.Add("query.channel", nil, "at most %d characters", herald.ChannelMaxLen)
	}
	if err := v.Err(); err != nil {
		return err
	}
	evs, next, err := s.store.ListEvents(r.Context(), c.project.ID, f, page)
	if err != nil {
		return listError(err)
	}
	for _, ev := range evs {
		viewEvent(ev)
	}
	writeJSON(w, http.StatusOK, newList(evs, q.next(next)))
	return nil
}

// eventDeliveriesMax bounds the deliveries shown with an event.
const eventDeliveriesMax = 1000

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request, c *call) error {
	ev, err := s.svc.Event(r.Context(), c.project.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	// A tenant-bound caller sees its tenant's deliveries of the event, not
	// those to the project's own endpoints.
	f := store.DeliveryFilter{EventID: ev.ID, TenantID: c.who.TenantID}
	ds, _, err := s.store.ListDeliveries(r.Context(), c.project.ID, f, store.Page{Limit: eventDeliveriesMax})
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []*herald.Delivery{}
	}
	writeJSON(w, http.StatusOK, struct {
		*herald.Event
		Deliveries []*herald.Delivery `json:"deliveries"`
	}{viewEvent(ev), ds})
	return nil
}

func (s *Server) replayEvent(w http.ResponseWriter, r *http.Request, c *call) error {
	ev, err := s.svc.Event(r.Context(), c.project.ID, r.PathValue("id"))
	if err != nil {
		return err
	}
	endpointID := ""
	if err := s.decodeBody(w, r, true, func(o *object) {
		o.get("endpoint_id", &endpointID)
	}); err != nil {
		return err
	}
	n, err := s.svc.ReplayEvent(r.Context(), ev, endpointID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, map[string]int{"deliveries": n})
	return nil
}

// Deliveries.

// filterIDMaxLen bounds an id given as a list filter: longer is no id.
const filterIDMaxLen = 256

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	q := newQuery(r, &v, "limit", "cursor", "endpoint_id", "event_id", "status", "since", "until", "tenant_id")
	page := q.page()
	f := store.DeliveryFilter{
		TenantID:   q.tenant(r),
		EndpointID: q.str("endpoint_id"),
		EventID:    q.str("event_id"),
		Status:     q.str("status"),
		Since:      q.time("since"),
		Until:      q.time("until"),
	}
	if f.Status != "" && !herald.ValidDeliveryStatus(f.Status) {
		v.Add("query.status", herald.Clip(f.Status), "must be one of %s", strings.Join(herald.DeliveryStates, ", "))
	}
	if len(f.EndpointID) > filterIDMaxLen {
		v.Add("query.endpoint_id", nil, "too long")
	}
	if len(f.EventID) > filterIDMaxLen {
		v.Add("query.event_id", nil, "too long")
	}
	if err := v.Err(); err != nil {
		return err
	}
	ds, next, err := s.store.ListDeliveries(r.Context(), c.project.ID, f, page)
	if err != nil {
		return listError(err)
	}
	writeJSON(w, http.StatusOK, newList(ds, q.next(next)))
	return nil
}

func (s *Server) loadDelivery(r *http.Request, c *call) (*herald.Delivery, error) {
	return s.svc.Delivery(r.Context(), c.project.ID, r.PathValue("id"))
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.loadDelivery(r, c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

// listAttempts lists a delivery's attempts, oldest first. The store
// returns them all (a delivery has at most a few hundred); the page's
// cursor is the id of the last attempt shown.
func (s *Server) listAttempts(w http.ResponseWriter, r *http.Request, c *call) error {
	var v herald.Validation
	q := newQuery(r, &v, "limit", "cursor")
	page := q.page()
	if err := v.Err(); err != nil {
		return err
	}
	d, err := s.loadDelivery(r, c)
	if err != nil {
		return err
	}
	atts, next, err := s.svc.ListAttempts(r.Context(), d, page)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, newList(atts, q.next(next)))
	return nil
}

func (s *Server) retryDelivery(w http.ResponseWriter, r *http.Request, c *call) error {
	d, err := s.loadDelivery(r, c)
	if err != nil {
		return err
	}
	if err := s.decodeBody(w, r, true, func(*object) {}); err != nil {
		return err
	}
	att, err := s.svc.RetryDelivery(r.Context(), d)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, att)
	return nil
}

// runHook hands the request to the synchronous hook runner.
func (s *Server) runHook(w http.ResponseWriter, r *http.Request, c *call) error {
	body, err := readBody(w, r, s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	eventType := r.PathValue("event_type")
	if !herald.ValidEventTypeName(eventType) {
		return invalid("path.event_type", herald.Clip(eventType), "not an event type name")
	}
	if s.cfg.Hooks == nil {
		return herald.Errorf(herald.EUNAVAILABLE, "synchronous hooks are not enabled on this server")
	}
	res, err := s.cfg.Hooks(r.Context(), c.project, eventType, body)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}
