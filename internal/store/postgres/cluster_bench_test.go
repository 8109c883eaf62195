package postgres_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// BenchmarkClusterClaim is the cost of keeping rate_limit for the
// cluster: claims of size deliveries from a backlog of two endpoints,
// alternately as a process alone makes them and as one of several (a
// Cluster claim: the candidates' schedules read; with rate=yes the
// endpoints are rate-limited, so the claim also gives turns and moves the
// schedules). Alternating on one database keeps the two apart from the
// machine's drift; each is reported as ms/claim (alone) and
// ms/cluster-claim. The claims are recorded as finished outside the timer.
func BenchmarkClusterClaim(b *testing.B) {
	baseURL(b)
	for _, size := range []int{1, 64} {
		for _, rate := range []int{0, 100000} {
			b.Run(fmt.Sprintf("size=%d,rate=%v", size, rate > 0), func(b *testing.B) {
				f, eps := benchFixture(b)
				for _, ep := range eps {
					ep.MaxInFlight, ep.RateLimit = herald.MaxInFlightMax, rate
					require.NoError(b, f.a.UpdateEndpoint(f.ctx, ep))
				}
				// A second a claim on the clock: the schedule never holds
				// a claim back.
				now := time.Now()
				pending := 0
				var spent [2]time.Duration
				var count [2]int
				b.ResetTimer()
				for i := range b.N {
					b.StopTimer()
					if pending < size {
						_, err := f.a.InsertEvents(f.ctx, f.events(2000, nil, eps...))
						require.NoError(b, err)
						pending += 4000
					}
					now = now.Add(time.Second)
					cluster := i%2 == 1
					b.StartTimer()
					t0 := time.Now()
					cs, err := f.a.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: "bench", Now: now, Lease: time.Hour,
						Limit: size, PerEndpointLimit: max(size/2, 1), Cluster: cluster})
					d := time.Since(t0)
					b.StopTimer()
					require.NoError(b, err)
					require.NotEmpty(b, cs)
					k := 0
					if cluster {
						k = 1
					}
					spent[k] += d
					count[k]++
					pending -= len(cs)
					results := make([]*store.AttemptResult, len(cs))
					for i, c := range cs {
						results[i] = benchResult(c.Delivery, true, time.Time{})
					}
					require.NoError(b, f.a.CompleteAttempts(f.ctx, results))
					b.StartTimer()
				}
				for k, unit := range []string{"ms/claim", "ms/cluster-claim"} {
					if count[k] > 0 {
						b.ReportMetric(float64(spent[k].Microseconds())/1000/float64(count[k]), unit)
					}
				}
			})
		}
	}
}
