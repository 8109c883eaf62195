package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
	"github.com/stretchr/testify/require"
)

// BenchmarkClusterClaim is the cost of keeping rate_limit for the
// cluster: claims of size deliveries from a backlog of two endpoints, as a
// process alone makes them (cluster=no) and as one of several
// (cluster=yes: the endpoints' schedules read; with rate=yes the endpoints
// are rate-limited, so the claim also gives turns and moves the
// schedules). The claims are recorded as finished outside the timer.
func BenchmarkClusterClaim(b *testing.B) {
	baseURL(b)
	for _, size := range []int{1, 64} {
		for _, mode := range []struct {
			name    string
			cluster bool
			rate    int
		}{{"cluster=no", false, 0}, {"cluster=yes", true, 0}, {"cluster=yes,rate=yes", true, 100000}} {
			b.Run(fmt.Sprintf("size=%d,%s", size, mode.name), func(b *testing.B) {
				f, eps := benchFixture(b)
				for _, ep := range eps {
					ep.MaxInFlight, ep.RateLimit = herald.MaxInFlightMax, mode.rate
					require.NoError(b, f.a.UpdateEndpoint(f.ctx, ep))
				}
				// A turn a second ahead at most: fake the clock forward so
				// that the schedule never holds a claim back.
				now := time.Now()
				pending := 0
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					if pending < size {
						_, err := f.a.InsertEvents(f.ctx, f.events(2000, nil, eps...))
						require.NoError(b, err)
						pending += 4000
					}
					b.StartTimer()
					now = now.Add(time.Second)
					cs, err := f.a.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: "bench", Now: now, Lease: time.Hour,
						Limit: size, PerEndpointLimit: max(size/2, 1), Cluster: mode.cluster})
					require.NoError(b, err)
					b.StopTimer()
					require.NotEmpty(b, cs)
					pending -= len(cs)
					results := make([]*store.AttemptResult, len(cs))
					for i, c := range cs {
						results[i] = benchResult(c.Delivery, true, time.Time{})
					}
					require.NoError(b, f.a.CompleteAttempts(f.ctx, results))
					b.StartTimer()
				}
			})
		}
	}
}
