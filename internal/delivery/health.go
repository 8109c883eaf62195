package delivery

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/oplog"
	"github.com/herald-dev/herald/internal/store"
)

// healthBook is the circuit breaker and failure accounting of each endpoint
// this process delivers to. After BreakerThreshold consecutive failures the
// breaker opens: the endpoint's waiting deliveries are postponed for
// BreakerCooldown and nothing is sent to it; then one probe goes out, whose
// success closes the breaker and whose failure opens it again. An endpoint
// that has failed every attempt for DisableAfter is disabled.
type healthBook struct {
	deps healthDeps
	mu   sync.Mutex
	m    map[string]*epHealth
	// open holds the endpoints whose breaker is open or half-open, so
	// that the claim loop can pass them over without walking m, which
	// holds every endpoint this process has sent to.
	open map[string]*epHealth
}

// healthDeps is what the health book uses.
type healthDeps struct {
	store            healthStore
	now              func() time.Time
	log              *slog.Logger
	disableAfter     time.Duration
	breakerThreshold int
	breakerCooldown  time.Duration
	// releaseQueuedFunc hands back the endpoint's queued claims (its
	// breaker opened, or it was disabled); kickFunc wakes its lane (the
	// breaker closed).
	releaseQueuedFunc func(endpointID string)
	kickFunc          func(endpointID string)
	// routeChangedFunc drops the cached routes of the endpoint's project
	// and tenant (its status changed).
	routeChangedFunc func(projectID, tenantID string)
	// reportFunc queues an operational event (never blocks).
	reportFunc func(opEvent)
}

// healthStore is the part of store.Store the health book uses.
type healthStore interface {
	UpdateEndpointHealth(ctx context.Context, endpointID string, h store.EndpointHealth) error
	PostponeEndpoint(ctx context.Context, endpointID string, until time.Time) error
	GetEndpointByID(ctx context.Context, id string) (*herald.Endpoint, error)
}

type epHealth struct {
	id           string
	projectID    string
	failures     int
	failingSince *time.Time
	openUntil    time.Time // zero: breaker closed
	probing      bool      // half-open: the probe is out
	disabled     bool
	reason       string // why it was disabled

	// writeMu serializes the endpoint's health writes (see write).
	writeMu sync.Mutex
}

// record is the state as stored; h.mu is held.
func (s *epHealth) record() store.EndpointHealth {
	hs := store.EndpointHealth{
		Status:              herald.EndpointHealthy,
		ConsecutiveFailures: s.failures,
		FailingSince:        s.failingSince,
	}
	if !s.openUntil.IsZero() {
		t := s.openUntil
		hs.Status, hs.PausedUntil = herald.EndpointFailing, &t
	}
	if s.disabled {
		hs.Status, hs.DisabledReason, hs.PausedUntil = herald.EndpointDisabled, s.reason, nil
	}
	return hs
}

// write stores the endpoint's health as it is when the write runs. The
// writes of one endpoint are serialized, so that outcomes applied
// concurrently cannot store an older state last: the first failure's
// count landing after the next failure opened the breaker would end the
// pause in the database while this process holds it.
func (h *healthBook) write(ctx context.Context, ep *herald.Endpoint) (store.EndpointHealth, error) {
	h.mu.Lock()
	s := h.stateLocked(ep)
	h.mu.Unlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	h.mu.Lock()
	hs := s.record()
	h.mu.Unlock()
	return hs, h.deps.store.UpdateEndpointHealth(ctx, ep.ID, hs)
}

func newHealthBook(deps healthDeps) *healthBook {
	return &healthBook{deps: deps, m: make(map[string]*epHealth), open: make(map[string]*epHealth)}
}

// setOpenLocked opens the breaker of s until then (zero: closes it), its
// probe not out; h.mu is held.
func (h *healthBook) setOpenLocked(s *epHealth, until time.Time) {
	s.openUntil, s.probing = until, false
	if until.IsZero() {
		delete(h.open, s.id)
	} else {
		h.open[s.id] = s
	}
}

// pausedIDs appends to dst the endpoints nothing may be sent to now (see
// paused). The claim loop skips them: the database's pause alone does not
// cover them, since another process may have ended it while this
// process's breaker is still open, and the endpoint may have no lane here.
func (h *healthBook) pausedIDs(now time.Time, dst []string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, s := range h.open {
		if now.Before(s.openUntil) || s.probing {
			dst = append(dst, id)
		}
	}
	return dst
}

// stateLocked returns the endpoint's state, seeded from what the database
// says (another process, or before a restart); h.mu is held.
func (h *healthBook) stateLocked(ep *herald.Endpoint) *epHealth {
	s := h.m[ep.ID]
	if s == nil {
		s = &epHealth{id: ep.ID, projectID: ep.ProjectID, failures: ep.ConsecutiveFailures, failingSince: ep.FailingSince,
			disabled: ep.Status == herald.EndpointDisabled, reason: ep.DisabledReason}
		h.m[ep.ID] = s
		if ep.PausedUntil != nil {
			h.setOpenLocked(s, *ep.PausedUntil)
		}
	}
	return s
}

// unprobe forgets an outstanding probe that was not sent after all.
func (h *healthBook) unprobe(id string) {
	h.mu.Lock()
	if s := h.m[id]; s != nil {
		s.probing = false
	}
	h.mu.Unlock()
}

// forget drops the project's disabled endpoints' state, so that one
// re-enabled by an operator starts afresh.
func (h *healthBook) forget(projectID string) {
	h.mu.Lock()
	for id, s := range h.m {
		if s.projectID == projectID && s.disabled {
			delete(h.m, id)
			delete(h.open, id)
		}
	}
	h.mu.Unlock()
}

// adopt takes on a pause another process set (its breaker opened): this
// process's breaker opens until then too, unless it is already open longer.
func (h *healthBook) adopt(id string, until time.Time) {
	h.mu.Lock()
	if s := h.m[id]; s != nil && s.openUntil.Before(until) {
		h.setOpenLocked(s, until)
	}
	h.mu.Unlock()
}

// resume closes the endpoint's breaker because an operator asked to try
// it now (see Engine.EndpointResumed). healthy says an attempt just
// succeeded: the failure count resets too. Otherwise the count is kept, so
// that the first failure after a resume opens the breaker again and the
// endpoint's failing-since clock (for DisableAfter) keeps running. It
// reports whether anything changed (the health is then to be written).
func (h *healthBook) resume(ep *herald.Endpoint, healthy bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.stateLocked(ep)
	changed := !s.openUntil.IsZero() || s.probing || ep.PausedUntil != nil || s.disabled
	h.setOpenLocked(s, time.Time{})
	s.disabled, s.reason = false, ""
	if healthy {
		changed = changed || s.failures > 0
		s.failures, s.failingSince = 0, nil
	}
	return changed
}

// paused reports whether nothing may be sent to the endpoint now (breaker
// open, or half-open with its probe out).
func (h *healthBook) paused(id string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.m[id]
	return s != nil && !s.openUntil.IsZero() && (now.Before(s.openUntil) || s.probing)
}

// allow reports whether one request may be sent to the endpoint now; after
// the cooldown it lets exactly one probe through. When not allowed, until
// is when to ask again (zero: when the probe's result arrives).
func (h *healthBook) allow(id string, now time.Time) (ok bool, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.m[id]
	switch {
	case s == nil || s.openUntil.IsZero():
		return true, time.Time{}
	case now.Before(s.openUntil):
		return false, s.openUntil
	case s.probing:
		return false, time.Time{}
	}
	s.probing = true
	return true, time.Time{}
}

// healthAction is what an outcome asks of the endpoint, done outside h.mu.
type healthAction int

const (
	actNone healthAction = iota
	actPersist
	actClose
	actOpen   // first opening: also emits herald.endpoint.failing
	actReopen // a probe failed
	actDisable
)

// account records one attempt's outcome and returns what it asks of the
// endpoint (for apply) and the endpoint's health; hs.PausedUntil is set
// while the breaker is open.
func (h *healthBook) account(ep *herald.Endpoint, att *herald.Attempt, v verdict, now time.Time) (healthAction, store.EndpointHealth) {
	h.mu.Lock()
	s := h.stateLocked(ep)
	act := actNone
	reason := ""
	switch {
	case s.disabled:
	case v.Success:
		switch {
		case !s.openUntil.IsZero():
			act = actClose // the breaker was open: say so, refresh the status
		case s.failures > 0:
			act = actPersist // only the stored failure count resets
		}
		s.failures, s.failingSince = 0, nil
		h.setOpenLocked(s, time.Time{})
	case v.Disable:
		act, reason = actDisable, "endpoint answered 410 Gone"
	default:
		s.failures++
		if s.failingSince == nil {
			t := now
			s.failingSince = &t
			act = actPersist
		}
		switch {
		case now.Sub(*s.failingSince) >= h.deps.disableAfter:
			act = actDisable
			reason = fmt.Sprintf("every attempt failed for %s (since %s); last error: %s",
				h.deps.disableAfter, s.failingSince.UTC().Format(time.RFC3339), attemptError(att))
		case !s.openUntil.IsZero() && s.probing && !now.Before(s.openUntil):
			h.setOpenLocked(s, now.Add(h.deps.breakerCooldown))
			act = actReopen
		case s.openUntil.IsZero() && s.failures >= h.deps.breakerThreshold:
			h.setOpenLocked(s, now.Add(h.deps.breakerCooldown))
			act = actOpen
		}
	}
	if act == actDisable {
		s.disabled, s.reason = true, reason
	}
	hs := s.record()
	h.mu.Unlock()
	return act, hs
}

// apply carries out an action of account: breaker, health record,
// operational events (queued, never sent from here).
func (h *healthBook) apply(ep *herald.Endpoint, act healthAction, hs store.EndpointHealth) {
	if act == actNone {
		return
	}
	d := &h.deps
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	log := d.log.With(oplog.EndpointID, ep.ID, oplog.ProjectID, ep.ProjectID)
	switch act {
	case actOpen, actReopen:
		// Queued work goes back first, then everything waiting is moved
		// past the cooldown.
		d.releaseQueuedFunc(ep.ID)
		if err := d.store.PostponeEndpoint(ctx, ep.ID, *hs.PausedUntil); err != nil {
			log.Error("postponing deliveries failed", "error", err)
		}
	case actDisable:
		d.releaseQueuedFunc(ep.ID)
	case actPersist:
		if hs.ConsecutiveFailures > 0 && hs.PausedUntil == nil {
			// The health write replaces the endpoint's pause, and another
			// process's breaker may have opened: take its pause on rather
			// than end it (this process then holds off as well).
			if cur, err := d.store.GetEndpointByID(ctx, ep.ID); err == nil && cur.PausedUntil != nil && cur.PausedUntil.After(d.now()) {
				h.adopt(ep.ID, *cur.PausedUntil)
			}
		}
	}
	hs, err := h.write(ctx, ep)
	if err != nil && !herald.IsNotFound(err) {
		log.Error("writing endpoint health failed", "error", err)
	}
	switch act {
	case actOpen:
		log.Warn("endpoint failing: circuit breaker open", "consecutive_failures", hs.ConsecutiveFailures, "until", hs.PausedUntil)
		d.reportFunc(opEvent{projectID: ep.ProjectID, typ: EventEndpointFailing, data: map[string]any{
			"endpoint_id": ep.ID, "url": ep.URL, "consecutive_failures": hs.ConsecutiveFailures,
			"failing_since": hs.FailingSince, "paused_until": hs.PausedUntil,
		}})
	case actClose:
		log.Info("endpoint healthy again")
		d.kickFunc(ep.ID)
	case actDisable:
		log.Warn("endpoint disabled", "reason", hs.DisabledReason)
		d.routeChangedFunc(ep.ProjectID, ep.TenantID)
		d.reportFunc(opEvent{projectID: ep.ProjectID, typ: EventEndpointDisabled, data: map[string]any{
			"endpoint_id": ep.ID, "url": ep.URL, "reason": hs.DisabledReason,
			"failing_since": hs.FailingSince,
		}})
	}
	if act == actOpen || act == actReopen || act == actClose {
		d.routeChangedFunc(ep.ProjectID, ep.TenantID) // the cached status changed
	}
}

func attemptError(att *herald.Attempt) string {
	if att.Error != "" {
		return att.Error
	}
	return fmt.Sprintf("status %d", att.ResponseStatus)
}
