package postgres_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/stretchr/testify/require"
)

// Cluster claims of a rate-limited endpoint from two processes at once
// get turns on one schedule: no two turns closer than 1/rate_limit.
func TestClusterClaimsShareOneScheduleAcrossProcesses(t *testing.T) {
	baseURL(t)
	f := setup(t)
	const rate = 200
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: f.project.ID, URL: "https://example.com/",
		Enabled: true, MaxInFlight: 1000, RateLimit: rate, Status: herald.EndpointHealthy, CreatedAt: f.now, UpdatedAt: f.now}
	require.NoError(t, f.a.CreateEndpoint(f.ctx, ep))
	const n = 600
	_, err := f.a.InsertEvents(f.ctx, f.events(n, nil, ep))
	require.NoError(t, err)

	var (
		mu    sync.Mutex
		turns []time.Time
		wg    sync.WaitGroup
		errs  = make(chan error, 8)
	)
	start := time.Now()
	for i, db := range []*postgres.DB{f.a, f.b, f.a, f.b, f.a, f.b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("proc-", i)
			for time.Since(start) < time.Minute {
				mu.Lock()
				done := len(turns) == n
				mu.Unlock()
				if done {
					return
				}
				cs, err := db.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: owner, Now: time.Now(), Lease: time.Hour, Limit: 50, Cluster: true})
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				for _, c := range cs {
					if c.NotBefore.IsZero() {
						errs <- fmt.Errorf("delivery %s claimed without a turn", c.Delivery.ID)
					}
					turns = append(turns, c.NotBefore)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	require.Len(t, turns, n)
	slices.SortFunc(turns, time.Time.Compare)
	gap := time.Second / rate
	for i := 1; i < len(turns); i++ {
		// PostgreSQL keeps microseconds: a turn may fall 1 µs early.
		require.GreaterOrEqual(t, turns[i].Sub(turns[i-1]), gap-time.Microsecond, "turns %d and %d", i-1, i)
	}
	span := turns[len(turns)-1].Sub(turns[0])
	require.GreaterOrEqual(t, span, time.Duration(n-1)*gap-time.Millisecond)
}
