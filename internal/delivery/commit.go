package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/tracing"
	"github.com/prometheus/client_golang/prometheus"
)

// commitTimeout bounds one InsertEvents call. The callers' contexts are not
// used for it: a batch holds many callers' events.
const commitTimeout = 30 * time.Second

// committer is the group commit: concurrent callers queue their events and
// one of them at a time — the leader — commits everything queued in one
// store.InsertEvents call, as soon as the previous commit is done (no fixed
// delay: under light load a lone event commits at once, under heavy load
// the queue fills while the previous transaction runs). When the leader's
// own events are committed it passes the lead to the oldest waiter, so no
// caller commits for others indefinitely. There is no background goroutine.
type committer struct {
	deps  committerDeps
	mu    sync.Mutex
	queue []*commitReq
	busy  bool // a leader is committing
}

// committerDeps is what the group commit uses.
type committerDeps struct {
	store         eventInserter
	tracer        *tracing.Tracer
	commitSeconds prometheus.Observer // one InsertEvents call's duration
	commitEvents  prometheus.Observer // one InsertEvents call's events
}

// eventInserter is the part of store.Store the group commit writes with.
type eventInserter interface {
	InsertEvents(ctx context.Context, events []*store.NewEvent) ([]store.InsertResult, error)
}

type commitReq struct {
	events  []*store.NewEvent
	results []store.InsertResult
	err     error
	done    chan struct{} // closed when results or err are set
	lead    chan struct{} // closed when this waiter becomes the leader
}

// insert commits events (whose caller waits for its own results).
func (c *committer) insert(ctx context.Context, events []*store.NewEvent) ([]store.InsertResult, error) {
	req := &commitReq{events: events, done: make(chan struct{}), lead: make(chan struct{})}
	c.mu.Lock()
	c.queue = append(c.queue, req)
	if c.busy {
		c.mu.Unlock()
		// Wait even if ctx ends: the events may be in a transaction
		// already, and the caller must learn whether they were stored.
		select {
		case <-req.done:
			return req.results, req.err
		case <-req.lead:
			c.mu.Lock()
		}
	}
	c.busy = true
	c.lead(req)
	return req.results, req.err
}

// lead commits batches until req is done, then hands over. c.mu is held on
// entry and released on return.
func (c *committer) lead(req *commitReq) {
	for {
		select {
		case <-req.done:
			if len(c.queue) > 0 {
				next := c.queue[0]
				c.mu.Unlock()
				close(next.lead)
				return
			}
			c.busy = false
			c.mu.Unlock()
			return
		default:
		}
		var batch []*commitReq
		n := 0
		for len(c.queue) > 0 && (n == 0 || n+len(c.queue[0].events) <= CommitBatchMax) {
			r := c.queue[0]
			c.queue = c.queue[1:]
			batch = append(batch, r)
			n += len(r.events)
		}
		c.mu.Unlock()
		c.commit(batch, n)
		c.mu.Lock()
	}
}

// commit runs one InsertEvents for the batch. Should it fail and hold
// several callers' events, each caller's events are retried alone, so one
// caller's bad input does not fail the others.
func (c *committer) commit(batch []*commitReq, n int) {
	all := make([]*store.NewEvent, 0, n)
	for _, r := range batch {
		all = append(all, r.events...)
	}
	span := c.deps.tracer.StartCommit(all)
	res, err := c.insertEvents(all)
	span.End(err)
	if err != nil && len(batch) > 1 {
		for _, r := range batch {
			r.results, r.err = c.insertEvents(r.events)
			close(r.done)
		}
		return
	}
	off := 0
	for _, r := range batch {
		if err != nil {
			r.err = err
		} else {
			r.results = res[off : off+len(r.events)]
		}
		off += len(r.events)
		close(r.done)
	}
}

func (c *committer) insertEvents(evs []*store.NewEvent) ([]store.InsertResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	start := time.Now()
	res, err := c.deps.store.InsertEvents(ctx, evs)
	c.deps.commitSeconds.Observe(time.Since(start).Seconds())
	c.deps.commitEvents.Observe(float64(len(evs)))
	if err == nil && len(res) != len(evs) {
		err = errShortResults
	}
	return res, err
}
