package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
	"github.com/herald-dev/herald/store/postgres"
	"github.com/stretchr/testify/require"
)

// Cluster claims from two processes at once never hold more of an
// endpoint's deliveries than its max_in_flight between them: each claim
// counts the others' claims, and none can commit between another's count
// and its lease.
func TestClusterClaimsHoldMaxInFlightAcrossProcesses(t *testing.T) {
	baseURL(t)
	f := setup(t)
	const maxInFlight = 3
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: f.project.ID, URL: "https://example.com/",
		Enabled: true, MaxInFlight: maxInFlight, Status: herald.EndpointHealthy, CreatedAt: f.now, UpdatedAt: f.now}
	require.NoError(t, f.a.CreateEndpoint(f.ctx, ep))
	const n = 90
	_, err := f.a.InsertEvents(f.ctx, f.events(n, nil, ep))
	require.NoError(t, err)

	var (
		mu       sync.Mutex
		inHand   int
		most     int
		done     int
		wg       sync.WaitGroup
		errs     = make(chan error, 8)
		finished = make(chan struct{})
	)
	for i, db := range []*postgres.DB{f.a, f.b, f.a, f.b, f.a, f.b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("proc-", i)
			for {
				select {
				case <-finished:
					return
				default:
				}
				cs, err := db.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: owner, Now: time.Now(), Lease: time.Hour, Limit: 10, Cluster: true})
				if err != nil {
					errs <- err
					return
				}
				if len(cs) == 0 {
					time.Sleep(time.Millisecond)
					continue
				}
				mu.Lock()
				inHand += len(cs)
				most = max(most, inHand)
				mu.Unlock()
				time.Sleep(2 * time.Millisecond) // "sending"
				var results []*store.AttemptResult
				for _, c := range cs {
					a := &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: f.project.ID, DeliveryID: c.Delivery.ID,
						EventID: c.Delivery.EventID, EndpointID: ep.ID, Number: 1, StartedAt: time.Now(), ResponseStatus: 200}
					results = append(results, &store.AttemptResult{Attempt: a, Status: herald.DeliverySucceeded})
				}
				// Out of hand before the database frees the place: the
				// count here is never above the database's.
				mu.Lock()
				inHand -= len(cs)
				mu.Unlock()
				if err := db.CompleteAttempts(f.ctx, results); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				done += len(cs)
				if done == n {
					close(finished)
				}
				mu.Unlock()
			}
		}()
	}
	select {
	case <-finished:
	case err := <-errs:
		t.Fatal(err)
	case <-time.After(60 * time.Second):
		t.Fatalf("only %d of %d delivered", done, n)
	}
	wg.Wait()
	require.LessOrEqual(t, most, maxInFlight, "claims held at once by the processes together")
	require.Equal(t, maxInFlight, most, "the room was used")
}
