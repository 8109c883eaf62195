package delivery

import (
	"context"
	"sync"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
)

// Recorder tuning.
const (
	recordBatchMax = 500
	recordQueue    = 8192
	recordRetries  = 5
	// recordLinger is how long the recorder waits for more results after
	// the first: a result is not on anyone's critical path, while every
	// write is a commit (an fsync) that ingest, waiting for its own
	// commit, would queue behind. Under light load this turns one commit
	// per delivery into one per linger; 20 ms (rather than 5) took light
	// load's end-to-end p50 from 2.8–3.1 ms to 2.5–2.8 ms. The cost: a
	// delivery's state reads as in flight that much longer, and a crash
	// in that window sends it again (at least once holds either way).
	recordLinger = 20 * time.Millisecond
)

// recorder writes attempt results in batches: one goroutine takes whatever
// results have accumulated while the previous CompleteAttempts ran and
// writes them in one call.
type recorder struct {
	e     *Engine
	ch    chan recorded
	done  chan struct{}
	after sync.WaitGroup
}

type recorded struct {
	r       *store.AttemptResult
	ordered bool
	after   func() // run once the result is written (e.g. report exhaustion)
}

func newRecorder(e *Engine) *recorder {
	return &recorder{e: e, ch: make(chan recorded, recordQueue), done: make(chan struct{})}
}

func (r *recorder) add(x recorded) { r.ch <- x }

// close flushes what is queued and waits for the last write.
func (r *recorder) close() {
	close(r.ch)
	<-r.done
	r.after.Wait()
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

func (r *recorder) write(batch []recorded) {
	e := r.e
	rs := make([]*store.AttemptResult, len(batch))
	for i, x := range batch {
		rs[i] = x.r
	}
	var err error
	for try := range recordRetries {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err = e.store.CompleteAttempts(ctx, rs)
		cancel()
		if err == nil {
			break
		}
		time.Sleep(time.Duration(try+1) * 100 * time.Millisecond)
	}
	if err != nil {
		// The deliveries stay in flight under this process's lease; when it
		// expires they are claimed and sent again: at least once holds.
		e.log.Error("recording attempts failed", "count", len(rs), "error", err)
	}
	wake := false
	for _, x := range batch {
		if x.ordered {
			wake = true // the endpoint's next delivery is claimable now
		}
		if x.r.NextAttemptAt != nil {
			e.disp.wakeAt(*x.r.NextAttemptAt)
		}
		if x.after != nil {
			r.after.Go(x.after)
		}
	}
	if wake {
		e.disp.wakeNow()
	}
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
	x := recorded{r: &store.AttemptResult{Attempt: att, Status: v.Status, NextAttemptAt: v.Next}, ordered: ep.Ordered}
	if v.Status == herald.DeliveryExhausted {
		// Reported once stored, so that the report's reader finds the
		// delivery exhausted.
		x.after = func() { e.emitExhausted(ep, c.Delivery, c.Event, att) }
	}
	e.rec.add(x)
	e.count(v, c.Event, now)
	e.health.apply(ep, act, hs)
}

// count updates the attempt metrics.
func (e *Engine) count(v verdict, ev *herald.Event, now time.Time) {
	switch v.Status {
	case herald.DeliverySucceeded:
		e.m.attempts.WithLabelValues(outcomeSuccess).Inc()
		e.m.latency.Observe(now.Sub(ev.CreatedAt).Seconds())
	case herald.DeliveryPending:
		e.m.attempts.WithLabelValues(outcomeRetry).Inc()
	default:
		e.m.attempts.WithLabelValues(outcomeExhausted).Inc()
	}
}
