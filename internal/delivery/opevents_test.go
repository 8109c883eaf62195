package delivery

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
	dto "github.com/prometheus/client_model/go"
)

// Queueing an operational event never waits for its ingest: with ingest
// stuck (a slow database), the queue fills to its bound and then drops,
// counted and logged; once ingest moves again every queued event is
// stored, and Run's drain (wait) returns only after that.
func TestOperationalEventsQueueNeverBlocks(t *testing.T) {
	t.Parallel()
	var logs testkit.Buffer
	b := setup(t, func(c *Config) {
		c.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	q := b.e.ops
	gate := make(chan struct{})
	entered := make(chan struct{}, 1)
	ingest := q.deps.ingestFunc
	q.deps.ingestFunc = func(ctx context.Context, p *herald.Project, in []EventInput) ([]IngestResult, error) {
		select {
		case entered <- struct{}{}:
		default:
		}
		<-gate
		return ingest(ctx, p, in)
	}
	ev := func(i int) opEvent {
		return opEvent{projectID: b.project.ID, typ: EventEndpointFailing, data: map[string]any{"n": i}}
	}
	q.add(ev(0))
	<-entered // the drainer holds event 0 and waits for the database
	const extra = 3
	added := make(chan struct{})
	go func() {
		for i := 1; i <= opQueueMax+extra; i++ {
			q.add(ev(i))
		}
		close(added)
	}()
	select {
	case <-added:
	case <-time.After(30 * time.Second):
		t.Fatal("queueing operational events blocked while their ingest was stuck")
	}
	var m dto.Metric
	if err := b.e.m.opDropped.Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetCounter().GetValue(); n != extra {
		t.Errorf("dropped %v events, want %d (those beyond the queue's bound)", n, extra)
	}
	if !bytes.Contains(logs.Bytes(), []byte("operational event dropped")) {
		t.Error("a dropped operational event is not logged")
	}
	close(gate)
	q.wait()
	stored, cursor := 0, ""
	for {
		evs, next, err := b.st.ListEvents(b.ctx, b.project.ID, store.EventFilter{Type: EventEndpointFailing}, store.Page{Limit: 1000, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		stored += len(evs)
		if next == "" {
			break
		}
		cursor = next
	}
	if stored != opQueueMax+1 {
		t.Errorf("%d operational events stored, want %d (the one being ingested and the queue's bound)", stored, opQueueMax+1)
	}
}
