package delivery

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

// routeReadStore is the real store, counting the routing reads.
type routeReadStore struct {
	store.Store
	setReads     atomic.Int64
	versionReads atomic.Int64
}

func (s *routeReadStore) TenantEndpoints(ctx context.Context, projectID, tenantID string) ([]*herald.Endpoint, error) {
	s.setReads.Add(1)
	return s.Store.TenantEndpoints(ctx, projectID, tenantID)
}

func (s *routeReadStore) RoutingChanges(ctx context.Context, projectID string, since int64) (*store.RoutingChanges, error) {
	s.versionReads.Add(1)
	return s.Store.RoutingChanges(ctx, projectID, since)
}

// Routes are loaded once, kept while nothing changes (however old), and
// follow a change made by another process within routeTTL: the engine
// asks the store what changed, once per routeTTL, not for the endpoints.
func TestRoutesAreKeptUntilAChangeAnotherProcessMadeIsSeen(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.endpoint("http://127.0.0.1:9/hook", nil)
	cs := &routeReadStore{Store: b.st}
	e := b.engine(cs, nil) // b.e stands for another process: its changes do not tell e

	// A cold cache is loaded once, however many ingests ask at once.
	ingestAll := func(want int) {
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				res, err := e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: []byte(`{}`)}})
				if err != nil || res[0].Err != nil || res[0].Deliveries != want {
					t.Errorf("ingest: %v %+v, want %d deliveries", err, res, want)
				}
			})
		}
		wg.Wait()
	}
	ingestAll(1)
	if n := cs.setReads.Load(); n != 1 {
		t.Fatalf("cold cache: %d reads of the project's endpoints, want 1", n)
	}

	// Past routeTTL with nothing changed, the routes stay; the store is
	// asked what changed.
	versions := cs.versionReads.Load()
	testkit.WaitFor(t, "the routing version to be read again", func() bool {
		res, err := e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: []byte(`{}`)}})
		if err != nil || res[0].Err != nil || res[0].Deliveries != 1 {
			t.Fatalf("ingest: %v %+v, want 1 delivery", err, res)
		}
		return cs.versionReads.Load() > versions
	})
	ingestAll(1)
	if n := cs.setReads.Load(); n != 1 {
		t.Fatalf("nothing changed: %d reads of the endpoints, want still 1", n)
	}

	// Another process adds an endpoint: seen within routeTTL.
	b.endpoint("http://127.0.0.1:9/other", nil)
	testkit.WaitWithin(t, routeTTL+time.Minute, "another process's new endpoint routed to", func() bool {
		res, err := e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: []byte(`{}`)}})
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Deliveries == 2
	})

	// A change made here is seen by the next ingest.
	b.endpoint("http://127.0.0.1:9/third", nil)
	e.EndpointsChanged(b.project.ID)
	ingestAll(3)
}

// Another process's change to one tenant's endpoints reloads that
// tenant's set alone.
func TestAnotherProcessesTenantChangeReloadsThatTenantAlone(t *testing.T) {
	t.Parallel()
	b, cs, e, url := twoTenantsCached(t)

	b.tenantEndpoint(url, "a", nil) // through b.e: e is not told
	testkit.WaitFor(t, "a's new endpoint to be routed to", func() bool { return b.ingestFor(e, "a").Deliveries == 3 })
	b.ingestFor(e, "b")
	reads, _ := cs.counts()
	if reads[""] != 1 || reads["b"] != 1 || reads["a"] != 2 {
		t.Fatalf("reads by tenant %v; want a read again, b and the project-wide set once", reads)
	}
}
