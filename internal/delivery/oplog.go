package delivery

import (
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/oplog"
)

// logAttempt writes what an operator needs about a failed attempt, at
// info (rate-limited per endpoint), and about a delivery that will not be
// attempted again, at warn (every one). A success writes nothing. The
// error is the transport error without the URL (see oplog.WithoutURL).
func (e *Engine) logAttempt(ep *herald.Endpoint, d *herald.Delivery, att *herald.Attempt, v verdict) {
	exhausted := v.Status == herald.DeliveryExhausted
	if v.Success {
		return
	}
	suppressed := 0
	if !exhausted {
		var ok bool
		if ok, suppressed = e.failLog.Allow(ep.ID, time.Now()); !ok {
			return
		}
	}
	attrs := []any{
		oplog.ProjectID, ep.ProjectID, oplog.EndpointID, ep.ID, oplog.DeliveryID, d.ID, oplog.EventID, att.EventID,
		oplog.AttemptID, att.ID, oplog.ErrorClass, att.ErrorClass, "attempt", att.Number, "trigger", att.Trigger,
	}
	if att.ResponseStatus != 0 {
		attrs = append(attrs, "status", att.ResponseStatus)
	}
	if msg := oplog.WithoutURL(att.Error); msg != "" {
		attrs = append(attrs, "error", msg)
	}
	if exhausted {
		e.log.Warn("delivery exhausted: no attempt left", attrs...)
		return
	}
	if v.Next != nil {
		attrs = append(attrs, "next_attempt_at", v.Next.UTC())
	}
	if suppressed > 0 {
		attrs = append(attrs, oplog.Suppressed, suppressed)
	}
	msg := "delivery attempt failed"
	if att.ErrorClass == herald.ErrorTemplate {
		msg = "delivery attempt failed: body template error"
	}
	e.log.Info(msg, attrs...)
}
