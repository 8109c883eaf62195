package delivery

import (
	"context"
	"sync"
	"time"
)

// Maintenance tuning.
const (
	maintenanceInterval = time.Minute
	purgeBatch          = 500
	purgePause          = 50 * time.Millisecond
	queueStatsInterval  = 5 * time.Second
)

// run dispatches until ctx ends, then drains: no more claims, attempts in
// flight finish (cut off after DrainTimeout and handed back), queued claims
// are handed back, and the recorder writes its last results.
func (e *Engine) run(ctx context.Context) error {
	e.rec = newRecorder(e.recDeps)
	go e.rec.run()
	sendCtx, cancelSends := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSends()

	var wg sync.WaitGroup
	// Joining a cluster: the others must see this process (and shrink
	// their shares) before it dispatches (cluster.go).
	e.members.join(ctx)
	wg.Go(func() { e.members.heartbeats(ctx) })
	e.disp.start(ctx, sendCtx)
	wg.Go(func() { e.disp.claimLoop(ctx) })
	wg.Go(func() { e.maintain(ctx) })
	wg.Go(func() { e.queueStats(ctx) })
	wg.Go(func() { e.endValidity(ctx) })
	<-ctx.Done()
	wg.Wait()

	e.log.Info("delivery engine draining", "timeout", e.cfg.DrainTimeout)
	e.disp.stop(e.cfg.DrainTimeout, cancelSends)
	e.rec.close()
	e.ops.wait() // the operational events the last results reported
	e.members.leave()
	return nil
}

// maintain purges events past retention, on one process at a time.
func (e *Engine) maintain(ctx context.Context) { every(ctx, maintenanceInterval, e.purge) }

// every runs fn every interval (first after one) until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func(context.Context)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn(ctx)
	}
}

func (e *Engine) purge(ctx context.Context) {
	release, ok, err := e.store.TryLock(ctx, "maintenance")
	if err != nil {
		e.log.Warn("maintenance lock failed", "error", err)
		return
	}
	if !ok {
		return
	}
	defer release()
	before := e.now().Add(-e.cfg.Retention)
	total := 0
	for ctx.Err() == nil {
		n, err := e.store.Purge(ctx, before, purgeBatch)
		if err != nil {
			e.log.Warn("retention purge failed", "error", err)
			break
		}
		total += n
		if n < purgeBatch {
			break
		}
		// Small batches with pauses keep the writer free for ingest.
		select {
		case <-ctx.Done():
		case <-time.After(purgePause):
		}
	}
	if total > 0 {
		e.log.Info("retention purge", "events", total, "before", before)
	}
}

// queueStats refreshes the queue gauges.
func (e *Engine) queueStats(ctx context.Context) {
	t := time.NewTicker(queueStatsInterval)
	defer t.Stop()
	for {
		qs, err := e.store.QueueStats(ctx)
		if err == nil {
			e.m.queueDepth.Set(float64(qs.Pending))
			age := 0.0
			if qs.OldestPending != nil {
				age = max(e.now().Sub(*qs.OldestPending).Seconds(), 0)
			}
			e.m.oldestPending.Set(age)
			e.m.refreshBacklog(ctx, e.store, e.now())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
