package delivery

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// ingestOwn ingests Herald's own events (herald.… types).
func (e *Engine) ingestOwn(ctx context.Context, p *herald.Project, in []EventInput) ([]IngestResult, error) {
	return e.ingest(ctx, p, in, true)
}

// ingest is Ingest (engine.go); internal allows Herald's own herald.… types.
func (e *Engine) ingest(ctx context.Context, p *herald.Project, in []EventInput, internal bool) ([]IngestResult, error) {
	if p == nil {
		return nil, herald.Errorf(herald.ENOTFOUND, "project not found")
	}
	if len(in) > herald.EventBatchMaxLen {
		return nil, herald.Errorf(herald.ETOOLARGE, "at most %d events per batch", herald.EventBatchMaxLen)
	}
	now := e.now()
	results := make([]IngestResult, len(in))
	var (
		batch []*store.NewEvent
		index []int // batch position → input position
	)
	for i := range in {
		ev, err := e.validate(ctx, p, &in[i], now, internal)
		if err != nil {
			results[i].Err = err
			continue
		}
		ev.TraceParent = e.cfg.Tracer.TraceParent(ctx)
		eps, err := e.route(ctx, ev, now)
		if err != nil {
			return nil, err
		}
		batch = append(batch, e.newEvent(ev, eps, now))
		index = append(index, i)
	}
	if len(batch) == 0 {
		return results, nil
	}
	ins, err := e.insert(ctx, batch)
	if err != nil {
		return nil, err
	}
	for j, r := range ins {
		i := index[j]
		switch {
		case r.Conflict:
			results[i].Err = herald.Errorf(herald.ECONFLICT, "idempotency key %q was used with a different body", batch[j].Event.IdempotencyKey).WithKind(herald.KindIdempotencyConflict)
		default:
			results[i].Event = r.Event
			results[i].Deliveries = r.Deliveries
			results[i].Replayed = r.Replayed
		}
		if !r.Replayed && !r.Conflict {
			e.m.ingested.Inc()
		}
	}
	return results, nil
}

// validate checks one input and returns the event it becomes.
func (e *Engine) validate(ctx context.Context, p *herald.Project, in *EventInput, now time.Time, internal bool) (*herald.Event, error) {
	var v herald.Validation
	switch {
	case in.Type == "":
		v.Add("type", nil, "is required")
	case len(in.Type) > herald.EventTypeNameMaxLen:
		v.Add("type", in.Type, "is longer than %d characters", herald.EventTypeNameMaxLen)
	case !herald.ValidEventTypeName(in.Type):
		v.Add("type", in.Type, "may contain only letters, digits and _ . : -")
	case !internal && len(in.Type) >= len(OperationalPrefix) && in.Type[:len(OperationalPrefix)] == OperationalPrefix:
		v.Add("type", in.Type, "types beginning with %q are reserved for Herald's own events", OperationalPrefix)
	}
	data := bytes.TrimSpace(in.Data)
	switch {
	case len(data) == 0 || string(data) == "null":
		v.Add("data", nil, "is required and must be a JSON object")
	case data[0] != '{' || !json.Valid(data):
		v.Add("data", nil, "must be a JSON object")
	case !utf8.Valid(data):
		v.Add("data", nil, "is not valid UTF-8")
	}
	herald.ValidateEventChannels(&v, "channels", in.Channels)
	herald.ValidateEventMetadata(&v, "metadata", in.Metadata)
	if len(in.ID) > herald.IdempotencyKeyMaxLen {
		v.Add("id", herald.Clip(in.ID), "is longer than %d characters", herald.IdempotencyKeyMaxLen)
	} else if !herald.IsText(in.ID) {
		v.Add("id", herald.Clip(in.ID), herald.NotText)
	}
	herald.CheckTenantID(&v, "tenant_id", in.TenantID)
	if len(in.IdempotencyKey) > herald.IdempotencyKeyMaxLen {
		v.Add("idempotency_key", nil, "is longer than %d characters", herald.IdempotencyKeyMaxLen)
	} else if !herald.IsText(in.IdempotencyKey) {
		v.Add("idempotency_key", nil, herald.NotText)
	}
	if err := v.Err(); err != nil {
		return nil, err
	}

	if !internal {
		ct, err := e.types.get(ctx, p.ID, in.Type)
		if err != nil {
			return nil, err
		}
		if ct.et == nil && p.StrictEventTypes {
			v.Add("type", in.Type, "is not an event type of this project (the project accepts only declared types)")
		}
		if ct.schemaErr != nil {
			// A stored schema that does not compile is the operator's
			// problem, not the sender's: accept, and say so in the log.
			e.log.Warn("event type schema does not compile; data not validated", "project_id", p.ID, "type", in.Type, "error", ct.schemaErr)
		} else if ct.schema != nil {
			v.Fields = append(v.Fields, ct.schema.Validate(data, "data")...)
		}
		if err := v.Err(); err != nil {
			return nil, err
		}
	}

	ev := &herald.Event{
		ID:             herald.NewID(herald.PrefixEvent),
		ProjectID:      p.ID,
		TenantID:       in.TenantID,
		Type:           in.Type,
		Data:           json.RawMessage(data),
		Channels:       in.Channels,
		Metadata:       in.Metadata,
		OccurredAt:     now.UTC(),
		CreatedAt:      now.UTC(),
		IdempotencyKey: in.IdempotencyKey,
		BodyHash:       in.BodyHash,
	}
	if ev.IdempotencyKey == "" {
		ev.IdempotencyKey = in.ID
	}
	if in.OccurredAt != nil {
		ev.OccurredAt = in.OccurredAt.UTC()
	}
	if ev.IdempotencyKey != "" && ev.BodyHash == "" {
		ev.BodyHash = hashInput(in)
	}
	return ev, nil
}

// hashInput identifies an input when the caller gave no body hash.
func hashInput(in *EventInput) string {
	b, _ := json.Marshal(struct {
		Type       string            `json:"type"`
		Data       json.RawMessage   `json:"data"`
		Channels   []string          `json:"channels"`
		OccurredAt *time.Time        `json:"occurred_at"`
		Metadata   map[string]string `json:"metadata"`
		TenantID   string            `json:"tenant_id,omitempty"` // omitted when empty: hashes of untenanted inputs do not change
	}{in.Type, in.Data, in.Channels, in.OccurredAt, in.Metadata, in.TenantID})
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// newEvent makes the deliveries of ev to eps. Deliveries the dispatcher has
// room for are created already leased to this process, so that after the
// commit they go straight to their lane with no claim query; the others
// (ordered endpoints, full lanes, or no dispatcher running) are pending for
// the claim loop.
func (e *Engine) newEvent(ev *herald.Event, eps []*herald.Endpoint, now time.Time) *store.NewEvent {
	ne := &store.NewEvent{Event: ev, Deliveries: make([]*herald.Delivery, 0, len(eps))}
	for _, ep := range eps {
		ne.Deliveries = append(ne.Deliveries, e.newDelivery(ev, ep, now))
	}
	return ne
}

func (e *Engine) newDelivery(ev *herald.Event, ep *herald.Endpoint, now time.Time) *herald.Delivery {
	d := pendingDelivery(ev, ep, now)
	if !ep.Ordered && e.disp.reserve(ep) {
		until := d.CreatedAt.Add(e.cfg.Lease)
		d.Status = herald.DeliveryInFlight
		d.LockedBy = e.cfg.Owner
		d.LockedUntil = &until
	}
	return d
}

// insert commits events through the group commit, then hands their leased
// deliveries to the dispatcher and wakes it (and, through the store's
// Notifier, other processes) for the pending ones.
func (e *Engine) insert(ctx context.Context, batch []*store.NewEvent) ([]store.InsertResult, error) {
	res, err := e.commit.insert(ctx, batch)
	// pending: other processes may take the new work; wake: this one has
	// room for it (a full lane asks for more when it frees up).
	pending, wake := false, false
	for j, ne := range batch {
		inserted := err == nil && !res[j].Replayed && !res[j].Conflict
		for _, d := range ne.Deliveries {
			leased := d.Status == herald.DeliveryInFlight && d.LockedBy == e.cfg.Owner
			switch {
			case leased && inserted:
				e.disp.handoff(&store.Claim{Delivery: d, Event: ne.Event})
			case leased:
				e.disp.unreserve(d.EndpointID)
			case inserted && d.Status == herald.DeliveryPending:
				pending = true
				wake = wake || e.disp.hasRoom(d.EndpointID)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if wake {
		e.disp.wakeNow()
	}
	if pending {
		e.notes.notify()
	}
	return res, nil
}
