package delivery

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
)

// routeReadStore is the real store, counting the routing reads.
type routeReadStore struct {
	store.Store
	projectReads atomic.Int64
}

func (s *routeReadStore) TenantEndpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error) {
	s.projectReads.Add(1)
	return s.Store.TenantEndpoints(ctx, projectID, tenantID)
}

func TestExpiredRoutesAreReloadedOnceWhileServed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.endpoint("http://127.0.0.1:9/hook", nil)
	cs := &routeReadStore{Store: b.st}
	e := b.engine(cs, nil)

	// A cold cache is loaded once, however many ingests ask at once.
	ingestAll := func() {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				res, err := e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: []byte(`{}`)}})
				if err != nil || res[0].Err != nil || res[0].Deliveries != 1 {
					t.Errorf("ingest: %v %+v", err, res)
				}
			})
		}
		wg.Wait()
	}
	ingestAll()
	if n := cs.projectReads.Load(); n != 1 {
		t.Fatalf("cold cache: %d reads of the project's endpoints, want 1", n)
	}

	// Past routeTTL the cached endpoints are still served while one
	// reload runs.
	time.Sleep(routeTTL + 100*time.Millisecond)
	ingestAll()
	deadline := time.Now().Add(5 * time.Second)
	for cs.projectReads.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := cs.projectReads.Load(); n != 2 {
		t.Fatalf("expired cache: %d reads in all, want 2 (one reload)", n)
	}

	// A change made here is seen by the next ingest: it reads again.
	b.endpoint("http://127.0.0.1:9/other", nil)
	e.EndpointsChanged(b.project.ID)
	res, err := e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: []byte(`{}`)}})
	if err != nil || res[0].Deliveries != 2 {
		t.Fatalf("after a change: %v, %d deliveries, want 2", err, res[0].Deliveries)
	}
}
