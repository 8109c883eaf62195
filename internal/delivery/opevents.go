package delivery

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
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

// drain ingests the queued events until none is left: what accumulated
// while the previous ingest ran goes in one Ingest call per project (one
// group commit, as a burst of exhausted deliveries needs).
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
		n := min(len(q.queue), herald.EventBatchMaxLen)
		batch := slices.Clone(q.queue[:n])
		clear(q.queue[:n])
		q.queue = q.queue[n:]
		q.mu.Unlock()
		for len(batch) > 0 {
			// The first event's project, in order; the rest wait their turn.
			same, rest := batch[:0:0], batch[:0]
			for _, ev := range batch {
				if ev.projectID == batch[0].projectID {
					same = append(same, ev)
				} else {
					rest = append(rest, ev)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			q.emit(ctx, same)
			cancel()
			batch = rest
		}
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

// emit ingests operational events of one project.
func (q *opQueue) emit(ctx context.Context, evs []opEvent) {
	log := q.deps.log
	in := make([]EventInput, 0, len(evs))
	for _, ev := range evs {
		raw, err := json.Marshal(ev.data)
		if err != nil {
			log.Error("encoding operational event failed", "type", ev.typ, "error", err)
			continue
		}
		in = append(in, EventInput{Type: ev.typ, Data: raw})
	}
	if len(in) == 0 {
		return
	}
	projectID := evs[0].projectID
	res, err := q.deps.ingestFunc(ctx, &herald.Project{ID: projectID}, in)
	for i := range in {
		err := err
		if err == nil {
			err = res[i].Err
		}
		switch {
		case herald.IsNotFound(err):
			// The project was deleted meanwhile: nobody is left to tell.
			log.Debug("operational event dropped: the project no longer exists", oplog.ProjectID, projectID, "type", in[i].Type)
		case err != nil:
			log.Error("emitting operational event failed", oplog.ProjectID, projectID, "type", in[i].Type, "error", err)
		}
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
