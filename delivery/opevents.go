package delivery

import (
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/oplog"
	"github.com/prometheus/client_golang/prometheus"
)

// Operational event queue tuning.
const (
	// opQueueMax bounds the operational events waiting to be ingested.
	// They are rare (a breaker opening, an endpoint disabled, a delivery
	// given up), so the bound is only reached when ingest cannot keep up
	// at all (the database is down): then the newest are dropped.
	opQueueMax = 1024
	// opTimeout bounds the ingest of one operational event.
	opTimeout = 10 * time.Second
)

// opEvent is one of Herald's own events, waiting to be ingested into its
// project.
type opEvent struct {
	projectID string
	typ       string
	data      map[string]any
}

// opQueue takes Herald's operational events off the send path: the send
// goroutine (through the health book) and the recorder only queue them,
// which never blocks; one goroutine, started when the queue fills and gone
// when it is empty, ingests them in order, routed like any other event (so
// they reach only endpoints that name herald.… types).
//
// A full queue drops the event, counted (herald_operational_events_dropped_total)
// and logged, rather than spill to the database: what the event reports is
// stored anyway (the endpoint's health, the delivery's status), and the
// queue is only full when the database cannot take ingests, when a spill
// would fail too.
type opQueue struct {
	deps    opQueueDeps
	mu      sync.Mutex
	idle    sync.Cond // signalled when the drainer stops
	queue   []opEvent
	running bool // a goroutine drains the queue
}

// opQueueDeps is what the operational event queue uses.
type opQueueDeps struct {
	// ingestFunc ingests events with Herald's own types allowed.
	ingestFunc func(ctx context.Context, p *herald.Project, in []EventInput) ([]IngestResult, error)
	log        *slog.Logger
	dropped    prometheus.Counter
}

func newOpQueue(deps opQueueDeps) *opQueue {
	q := &opQueue{deps: deps}
	q.idle.L = &q.mu
	return q
}

// add queues ev; it never blocks.
func (q *opQueue) add(ev opEvent) {
	q.mu.Lock()
	if len(q.queue) >= opQueueMax {
		q.mu.Unlock()
		q.deps.dropped.Inc()
		q.deps.log.Error("operational event dropped: too many waiting", oplog.ProjectID, ev.projectID, "type", ev.typ, "waiting", opQueueMax)
		return
	}
	q.queue = append(q.queue, ev)
	if !q.running {
		q.running = true
		go q.drain()
	}
	q.mu.Unlock()
}

// drain ingests the queued events until none is left.
func (q *opQueue) drain() {
	for {
		q.mu.Lock()
		if len(q.queue) == 0 {
			q.queue = nil
			q.running = false
			q.idle.Broadcast()
			q.mu.Unlock()
			return
		}
		ev := q.queue[0]
		q.queue[0] = opEvent{}
		q.queue = q.queue[1:]
		q.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
		q.emit(ctx, ev)
		cancel()
	}
}

// wait returns once the queue is empty and its events ingested (Run's
// drain).
func (q *opQueue) wait() {
	q.mu.Lock()
	for q.running {
		q.idle.Wait()
	}
	q.mu.Unlock()
}

// emit ingests one operational event into its project.
func (q *opQueue) emit(ctx context.Context, ev opEvent) {
	log := q.deps.log
	raw, err := json.Marshal(ev.data)
	if err != nil {
		log.Error("encoding operational event failed", "type", ev.typ, "error", err)
		return
	}
	res, err := q.deps.ingestFunc(ctx, &herald.Project{ID: ev.projectID}, []EventInput{{Type: ev.typ, Data: raw}})
	if err == nil && res[0].Err != nil {
		err = res[0].Err
	}
	switch {
	case herald.IsNotFound(err):
		// The project was deleted meanwhile: nobody is left to tell.
		log.Debug("operational event dropped: the project no longer exists", oplog.ProjectID, ev.projectID, "type", ev.typ)
	case err != nil:
		log.Error("emitting operational event failed", oplog.ProjectID, ev.projectID, "type", ev.typ, "error", err)
	}
}

// exhausted is the report of a delivery that will not be attempted again,
// nil for a delivery of one of Herald's own events, so that an endpoint
// subscribed to herald.* that fails cannot feed itself.
func exhausted(ep *herald.Endpoint, d *herald.Delivery, ev *herald.Event, att *herald.Attempt) *opEvent {
	if strings.HasPrefix(ev.Type, OperationalPrefix) {
		return nil
	}
	return &opEvent{projectID: ep.ProjectID, typ: EventDeliveryExhausted, data: map[string]any{
		"delivery_id": d.ID, "event_id": ev.ID, "event_type": ev.Type, "endpoint_id": ep.ID,
		"attempts": att.Number, "last_response_status": att.ResponseStatus, "last_error": attemptError(att),
	}}
}
