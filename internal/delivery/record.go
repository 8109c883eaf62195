package delivery

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// Recorder tuning.
const (
	recordBatchMax = 500
	recordQueue    = 8192
	// recordLinger is how long the recorder waits for more results after
	// the first: a result is not on anyone's critical path, while every
	// write is a commit (an fsync) that ingest, waiting for its own
	// commit, would queue behind. Under light load this turns one commit
	// per delivery into one per linger; 20 ms (rather than 5) took light
	// load's end-to-end p50 from 2.8–3.1 ms to 2.5–2.8 ms. The cost: a
	// delivery's state reads as in flight that much longer, and a crash
	// in that window sends it again (at least once holds either way).
	recordLinger = 20 * time.Millisecond
	// recordTimeout bounds one CompleteAttempts call.
	recordTimeout = 30 * time.Second
	// recordBackoffMin and recordBackoffMax bound the wait between the
	// tries of a write the database could not take.
	recordBackoffMin = 50 * time.Millisecond
	recordBackoffMax = 2 * time.Second
)

// recorder writes attempt results in batches: one goroutine takes whatever
// results have accumulated while the previous CompleteAttempts ran and
// writes them in one call.
type recorder struct {
	deps    recorderDeps
	ch      chan recorded
	done    chan struct{}
	closing chan struct{} // closed by close: stop waiting for the database soon
}

// recorderDeps is what the recorder uses.
type recorderDeps struct {
	store        attemptCompleter
	log          *slog.Logger
	lease        time.Duration // a result whose lease is unknown is tried this long
	drainTimeout time.Duration // on close, the database is waited for this long
	// wakeAtFunc and wakeNowFunc wake the claim loop: at a retry's time,
	// or at once when an ordered endpoint's next delivery is claimable.
	wakeAtFunc  func(time.Time)
	wakeNowFunc func()
	// reportFunc queues an operational event (never blocks).
	reportFunc func(opEvent)
}

// attemptCompleter is the part of store.Store the recorder writes with.
type attemptCompleter interface {
	CompleteAttempts(ctx context.Context, results []*store.AttemptResult) error
}

type recorded struct {
	r       *store.AttemptResult
	ordered bool
	until   time.Time // the end of the delivery's lease: worth trying until then
	report  *opEvent  // queued once the result is written (e.g. exhaustion)
}

func newRecorder(deps recorderDeps) *recorder {
	return &recorder{deps: deps, ch: make(chan recorded, recordQueue), done: make(chan struct{}), closing: make(chan struct{})}
}

func (r *recorder) add(x recorded) { r.ch <- x }

// close flushes what is queued and waits for the last write; with the
// database unavailable it gives up after the engine's drain timeout (the
// results' deliveries are sent again once their leases end).
func (r *recorder) close() {
	close(r.closing)
	close(r.ch)
	<-r.done
}

func (r *recorder) run() {
	defer close(r.done)
	batch := make([]recorded, 0, recordBatchMax)
	linger := time.NewTimer(recordLinger)
	linger.Stop()
	for first := range r.ch {
		batch = append(batch[:0], first)
		linger.Reset(recordLinger)
	fill:
		for len(batch) < recordBatchMax && !batch[len(batch)-1].ordered {
			// (an ordered endpoint's next delivery waits for this write:
			// no lingering then)
			select {
			case x, ok := <-r.ch:
				if !ok {
					break fill
				}
				batch = append(batch, x)
			case <-linger.C:
				break fill
			}
		}
		linger.Stop()
		r.write(batch)
	}
}

// write stores the batch's results. A batch the database refuses is
// written again result by result, so that one result it cannot take fails
// alone (and is given up: its delivery is sent again when its lease ends).
// While the database is unavailable (a restart, a lost connection, a full
// disk) the results are tried again, backing off, for as long as their
// leases last: giving up earlier would only have the deliveries sent again.
func (r *recorder) write(batch []recorded) {
	start := time.Now()
	todo, err := r.try(batch)
	var drainEnd time.Time
	for wait := recordBackoffMin; len(todo) > 0; wait = min(2*wait, recordBackoffMax) {
		now := time.Now()
		if drainEnd.IsZero() && isClosed(r.closing) {
			drainEnd = now.Add(r.deps.drainTimeout)
		}
		live := todo[:0:0]
		for _, x := range todo {
			until := x.until
			if until.IsZero() { // (lease unknown: a whole one)
				until = start.Add(r.deps.lease)
			}
			if next := now.Add(wait); next.Before(until) && (drainEnd.IsZero() || next.Before(drainEnd)) {
				live = append(live, x)
			}
		}
		if n := len(todo) - len(live); n > 0 {
			r.deps.log.Error("recording attempts failed: the database stayed unavailable; the deliveries will be sent again when their leases end",
				"count", n, "error", err)
		}
		if len(live) == 0 {
			break
		}
		r.deps.log.Warn("recording attempts failed; trying again", "count", len(live), "in", wait, "error", err)
		time.Sleep(wait)
		todo, err = r.try(live)
	}
	wake := false
	for _, x := range batch {
		if x.ordered {
			wake = true // the endpoint's next delivery is claimable now
		}
		if x.r.NextAttemptAt != nil {
			r.deps.wakeAtFunc(*x.r.NextAttemptAt)
		}
		if x.report != nil {
			r.deps.reportFunc(*x.report)
		}
	}
	if wake {
		r.deps.wakeNowFunc()
	}
}

// try writes xs in one call, and should the database refuse it, each
// result alone. It returns the results to try again (the database was
// unavailable) and the error that says why; a result refused alone is
// logged and given up.
func (r *recorder) try(xs []recorded) ([]recorded, error) {
	err := r.complete(xs)
	switch {
	case err == nil:
		return nil, nil
	case retryable(err):
		return xs, err
	case len(xs) == 1:
		a := xs[0].r.Attempt
		r.deps.log.Error("recording an attempt failed; its delivery will be sent again when its lease ends",
			"delivery_id", a.DeliveryID, "attempt_id", a.ID, "error", err)
		return nil, nil
	}
	var again []recorded
	var last error
	for _, x := range xs {
		if a, err := r.try([]recorded{x}); len(a) > 0 {
			again, last = append(again, a...), err
		}
	}
	return again, last
}

// complete makes one CompleteAttempts call for xs.
func (r *recorder) complete(xs []recorded) error {
	rs := make([]*store.AttemptResult, len(xs))
	for i, x := range xs {
		rs[i] = x.r
	}
	ctx, cancel := context.WithTimeout(context.Background(), recordTimeout)
	defer cancel()
	return r.deps.store.CompleteAttempts(ctx, rs)
}

// retryable reports whether a failed write may succeed if tried again as
// it is: the database was unavailable or too slow, not refusing the data.
func retryable(err error) bool {
	return errors.Is(err, herald.ErrUnavailable) || errors.Is(err, context.DeadlineExceeded)
}

// complete applies the retry policy to a dispatched attempt, queues its
// result for the recorder, and updates metrics and health.
func (e *Engine) complete(ep *herald.Endpoint, c *store.Claim, att *herald.Attempt) {
	now := e.now()
	v := decide(ep, att, now)
	act, hs := e.health.account(ep, att, v, now)
	if v.Next != nil && hs.PausedUntil != nil && v.Next.Before(*hs.PausedUntil) {
		// The breaker is open: the retry waits for the probe like the
		// endpoint's other deliveries (in every process).
		t := *hs.PausedUntil
		v.Next = &t
	}
	x := recorded{r: &store.AttemptResult{Attempt: att, Status: v.Status, NextAttemptAt: v.Next}, ordered: ep.Ordered,
		until: time.Now().Add(e.cfg.Lease)}
	if lu := c.Delivery.LockedUntil; lu != nil {
		// (on the wall clock, which the recorder's retries run on)
		x.until = time.Now().Add(lu.Sub(now))
	}
	if v.Status == herald.DeliveryExhausted {
		// Reported once stored, so that the report's reader finds the
		// delivery exhausted.
		x.report = exhausted(ep, c.Delivery, c.Event, att)
	}
	e.rec.add(x)
	e.logAttempt(ep, c.Delivery, att, v)
	e.m.observeAttempt(v.Status, att, c.Event.CreatedAt, now)
	e.health.apply(ep, act, hs)
}
