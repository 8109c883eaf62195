package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/oplog"
	"github.com/herald-dev/herald/internal/store"
)

// retry is Retry (engine.go).
func (e *Engine) retry(ctx context.Context, projectID, deliveryID string) (*herald.Attempt, error) {
	d, err := e.store.GetDelivery(ctx, projectID, deliveryID)
	if err != nil {
		return nil, err
	}
	ev, err := e.store.GetEvent(ctx, projectID, d.EventID)
	if err != nil {
		return nil, err
	}
	ep, err := e.store.GetEndpoint(ctx, projectID, d.EndpointID)
	if herald.IsNotFound(err) {
		return nil, herald.Errorf(herald.ENOTFOUND, "the endpoint of delivery %s no longer exists", deliveryID)
	}
	if err != nil {
		return nil, err
	}
	res := e.Send(ctx, SendRequest{Endpoint: ep, Event: ev, Attempt: d.Attempts + 1, Trigger: herald.TriggerManual})
	att := res.Attempt
	att.DeliveryID = d.ID
	now := e.now()
	v := decide(ep, att, now)
	if v.Status != herald.DeliverySucceeded && d.Status != herald.DeliveryPending && d.Status != herald.DeliveryInFlight {
		v.Status, v.Next = herald.DeliveryExhausted, nil
	}
	r := &store.AttemptResult{Attempt: att, Status: v.Status, NextAttemptAt: v.Next, Manual: true}
	if err := e.store.CompleteAttempts(ctx, []*store.AttemptResult{r}); err != nil {
		return nil, err
	}
	e.m.observeAttempt(v.Status, att, ev.CreatedAt, now)
	e.logAttempt(ep, d, att, v)
	if v.Next != nil {
		e.disp.wakeAt(*v.Next)
	}
	if att.Succeeded() {
		// The operator's attempt was the probe: the endpoint answers, so
		// its other deliveries need not wait for the breaker's cooldown.
		e.resume(context.WithoutCancel(ctx), ep, true)
	}
	return att, nil
}

// endpointResumed is EndpointResumed (engine.go).
func (e *Engine) endpointResumed(endpointID string) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ep, err := e.store.GetEndpointByID(ctx, endpointID)
	if err != nil {
		if !herald.IsNotFound(err) {
			e.log.Error("resuming endpoint failed", oplog.EndpointID, endpointID, "error", err)
		}
		return
	}
	e.resume(ctx, ep, false)
}

// resume closes ep's breaker (see EndpointResumed); healthy: an attempt
// just succeeded, so the failure count resets as well.
func (e *Engine) resume(ctx context.Context, ep *herald.Endpoint, healthy bool) {
	if !ep.Enabled || ep.Status == herald.EndpointDisabled {
		return
	}
	if e.health.resume(ep, healthy) {
		if _, err := e.health.write(ctx, ep); err != nil && !herald.IsNotFound(err) {
			e.log.Error("writing endpoint health failed", oplog.ProjectID, ep.ProjectID, oplog.EndpointID, ep.ID, "error", err)
		}
		e.log.Info("endpoint resumed by an operator: circuit breaker closed", oplog.ProjectID, ep.ProjectID, oplog.EndpointID, ep.ID)
		e.routes.invalidate(ep.ProjectID, ep.TenantID) // the cached status changed
	}
	e.disp.kick(ep.ID)
	e.wakeAll()
}

// replay is Replay (engine.go).
func (e *Engine) replay(ctx context.Context, projectID, eventID, endpointID string, tenantOnly bool) (int, error) {
	ev, err := e.store.GetEvent(ctx, projectID, eventID)
	if err != nil {
		return 0, err
	}
	if err := ev.Replayable(); err != nil {
		return 0, err
	}
	now := e.now()
	var eps []*herald.Endpoint
	if endpointID != "" {
		ep, err := e.store.GetEndpoint(ctx, projectID, endpointID)
		if err != nil {
			return 0, err
		}
		if !ep.Enabled || ep.Status == herald.EndpointDisabled {
			return 0, &herald.Error{Code: herald.EINVALID, Message: "the endpoint is disabled",
				Fields: []herald.FieldError{{Location: "endpoint_id", Message: "is disabled", Value: endpointID}}}
		}
		if !ep.Reaches(ev.TenantID) {
			return 0, &herald.Error{Code: herald.EINVALID, Message: "the endpoint belongs to another tenant than the event",
				Fields: []herald.FieldError{{Location: "endpoint_id", Message: "belongs to another tenant than the event", Value: endpointID}}}
		}
		eps = []*herald.Endpoint{ep}
	} else if eps, err = e.route(ctx, ev, now); err != nil {
		return 0, err
	}
	if tenantOnly {
		// (a new slice: eps may be the route cache's)
		eps = slices.DeleteFunc(slices.Clone(eps), func(ep *herald.Endpoint) bool { return ep.TenantID == "" })
	}
	if len(eps) == 0 {
		return 0, nil
	}
	ds := make([]*herald.Delivery, len(eps))
	for i, ep := range eps {
		ds[i] = pendingDelivery(ev, ep, now)
	}
	if err := e.store.InsertDeliveries(ctx, ds); err != nil {
		return 0, err
	}
	e.wakeAll()
	return len(ds), nil
}

// recoverRange is Recover (engine.go).
func (e *Engine) recoverRange(ctx context.Context, projectID, endpointID string, since, until time.Time) (int, error) {
	ep, err := e.store.GetEndpoint(ctx, projectID, endpointID)
	if err != nil {
		return 0, err
	}
	n, err := e.store.RequeueDeliveries(ctx, projectID, endpointID, since, until)
	if err != nil {
		return 0, err
	}
	if n > 0 {
		e.resume(context.WithoutCancel(ctx), ep, false)
	}
	return n, nil
}

// wakeAll wakes this process's claim loop and, through the store's
// Notifier, the others'.
func (e *Engine) wakeAll() {
	e.disp.wakeNow()
	e.notes.notify()
}

// sendTest is Test (engine.go).
func (e *Engine) sendTest(ctx context.Context, projectID, endpointID, eventType string) (*herald.Attempt, error) {
	ep, err := e.store.GetEndpoint(ctx, projectID, endpointID)
	if err != nil {
		return nil, err
	}
	now := e.now().UTC()
	typ := eventType
	var data json.RawMessage
	if typ == "" {
		typ = EventPing
	} else {
		if !herald.ValidEventTypeName(typ) {
			return nil, &herald.Error{Code: herald.EINVALID, Message: "validation failed",
				Fields: []herald.FieldError{{Location: "type", Message: "is not a valid event type name", Value: typ}}}
		}
		et, err := e.store.GetEventType(ctx, projectID, typ)
		if err != nil && !herald.IsNotFound(err) {
			return nil, err
		}
		if et != nil && isObject(et.Example) {
			data = et.Example
		}
	}
	if data == nil {
		data, _ = json.Marshal(map[string]any{
			"message":     "Test webhook from Herald",
			"endpoint_id": ep.ID,
			"sent_at":     now.Format(time.RFC3339),
		})
	}
	ev := &herald.Event{
		ID: herald.NewID(herald.PrefixEvent), ProjectID: projectID, TenantID: ep.TenantID, Type: typ, Data: data,
		OccurredAt: now, CreatedAt: now,
	}
	res := e.Send(ctx, SendRequest{Endpoint: ep, Event: ev, Attempt: 1, Trigger: herald.TriggerTest})
	att := res.Attempt
	d := pendingDelivery(ev, ep, now)
	att.DeliveryID = d.ID
	done := e.now().UTC()
	d.Attempts, d.NextAttemptAt, d.LastAttemptAt = 1, nil, &att.StartedAt
	d.LastStatus, d.LastError, d.UpdatedAt = att.ResponseStatus, att.LastError(), done
	if att.Succeeded() {
		d.Status, d.SucceededAt = herald.DeliverySucceeded, &done
	} else {
		d.Status = herald.DeliveryExhausted
	}
	if _, err := e.commit.insert(ctx, []*store.NewEvent{{Event: ev, Deliveries: []*herald.Delivery{d}, Attempts: []*herald.Attempt{att}}}); err != nil {
		return nil, err
	}
	return att, nil
}

func isObject(raw json.RawMessage) bool {
	b := bytes.TrimSpace(raw)
	return len(b) > 0 && b[0] == '{' && json.Valid(b)
}

// pendingDelivery is a new delivery of ev to ep, due now.
func pendingDelivery(ev *herald.Event, ep *herald.Endpoint, now time.Time) *herald.Delivery {
	now = now.UTC()
	return &herald.Delivery{
		ID:            herald.NewID(herald.PrefixDelivery),
		ProjectID:     ev.ProjectID,
		TenantID:      ep.TenantID, // a delivery belongs to its endpoint's tenant
		EventID:       ev.ID,
		EndpointID:    ep.ID,
		EventType:     ev.Type,
		Status:        herald.DeliveryPending,
		Priority:      ep.Order,
		NextAttemptAt: &now,
		CreatedAt:     now,
		UpdatedAt:     now,
	}
}
