package hook

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/herald-dev/herald/internal/delivery"
	"github.com/herald-dev/herald/internal/oplog"
	"github.com/herald-dev/herald/internal/store"
)

// Tuning of the background recorder.
const (
	// recordQueueMax bounds the runs waiting to be stored. When it is full
	// a run is stored before its answer, as a run that queues a delivery
	// is: the queue slows callers down instead of growing or dropping.
	recordQueueMax = 256
	// recordBatchMax bounds the runs of one commit.
	recordBatchMax = 64
	// recordLinger is how long the recorder waits for more runs before it
	// commits the first one. Most of a small commit's CPU is the commit
	// itself (a WAL write per page, an fsync), so runs that arrive a
	// millisecond apart, as hooks on another host answer, are much cheaper
	// stored together: with hooks in another process a run took 1.0–1.15 ms
	// of wall time back to back without it, 0.88–0.93 ms with 2 ms. The
	// records are the runs' log, already answered; 2 ms more before they
	// are durable changes nothing for the caller.
	recordLinger = 2 * time.Millisecond
)

// recorder stores the records of runs that queued nothing, after their
// answer: one goroutine drains a bounded queue and stores whatever has
// accumulated in one commit, so that the answer does not wait for an fsync.
type recorder struct {
	eng *delivery.Engine
	log *slog.Logger

	mu     sync.RWMutex // read-held while queueing, so that close cannot race a send
	closed bool
	queue  chan recordJob
	done   chan struct{} // closed when the goroutine has stored everything and exited
}

// recordJob is a run to store, or a flush marker.
type recordJob struct {
	run     *store.NewEvent
	flushed chan struct{} // closed once every run queued before the marker is stored
}

func newRecorder(eng *delivery.Engine, log *slog.Logger) *recorder {
	rc := &recorder{eng: eng, log: log, queue: make(chan recordJob, recordQueueMax), done: make(chan struct{})}
	go rc.loop()
	return rc
}

// add queues a run's record. It reports false when the record was not
// queued (the queue is full, or the runner is closed): the caller stores it
// itself.
func (rc *recorder) add(ne *store.NewEvent) bool {
	rc.mu.RLock()
	defer rc.mu.RUnlock()
	if rc.closed {
		return false
	}
	select {
	case rc.queue <- recordJob{run: ne}:
		return true
	default:
		return false
	}
}

// flush waits until every run queued before the call is stored (or its
// failure logged).
func (rc *recorder) flush(ctx context.Context) error {
	rc.mu.RLock()
	if rc.closed {
		rc.mu.RUnlock()
		return rc.wait(ctx)
	}
	j := recordJob{flushed: make(chan struct{})}
	select {
	case rc.queue <- j:
	case <-ctx.Done():
		rc.mu.RUnlock()
		return ctx.Err()
	}
	rc.mu.RUnlock()
	select {
	case <-j.flushed:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops queueing (later runs are stored before their answer) and
// waits until the queued runs are stored.
func (rc *recorder) close(ctx context.Context) error {
	rc.mu.Lock()
	if !rc.closed {
		rc.closed = true
		close(rc.queue)
	}
	rc.mu.Unlock()
	return rc.wait(ctx)
}

func (rc *recorder) wait(ctx context.Context) error {
	select {
	case <-rc.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// loop stores queued runs until the queue is closed and empty.
func (rc *recorder) loop() {
	defer close(rc.done)
	batch := make([]*store.NewEvent, 0, recordBatchMax)
	var flushes []chan struct{}
	take := func(j recordJob) {
		if j.run != nil {
			batch = append(batch, j.run)
		}
		if j.flushed != nil {
			flushes = append(flushes, j.flushed)
		}
	}
	linger := time.NewTimer(recordLinger)
	linger.Stop()
	for j := range rc.queue {
		take(j)
		// What queues during the linger, or queued while the previous
		// commit ran, goes in this one; a flush marker ends the wait.
		if j.flushed == nil {
			linger.Reset(recordLinger)
		}
	more:
		for len(batch) < recordBatchMax && len(flushes) == 0 {
			select {
			case j, ok := <-rc.queue:
				if !ok {
					break more
				}
				take(j)
			case <-linger.C:
				break more
			}
		}
		linger.Stop()
		rc.store(batch)
		for _, f := range flushes {
			close(f)
		}
		clear(batch)
		batch, flushes = batch[:0], flushes[:0]
	}
}

// store commits a batch of runs. Should the commit fail, each run is
// retried alone, so that one bad record does not lose the others; a run
// that still fails is logged: its caller has its verdict already.
func (rc *recorder) store(batch []*store.NewEvent) {
	if len(batch) == 0 {
		return
	}
	// The group commit bounds the commit itself; no caller waits here.
	ctx := context.Background()
	if _, err := rc.eng.Insert(ctx, batch); err == nil {
		return
	} else if len(batch) == 1 {
		rc.failed(batch[0], err)
		return
	}
	for _, ne := range batch {
		if _, err := rc.eng.Insert(ctx, []*store.NewEvent{ne}); err != nil {
			rc.failed(ne, err)
		}
	}
}

func (rc *recorder) failed(ne *store.NewEvent, err error) {
	ev := ne.Event
	rc.log.Error("hook run not stored after its answer", oplog.ProjectID, ev.ProjectID, oplog.EventID, ev.ID, "event_type", ev.Type, "error", err)
}
