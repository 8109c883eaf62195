package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/stretchr/testify/require"
)

// benchFixture is a database with one project and two endpoints.
func benchFixture(b *testing.B) (*fixture, []*herald.Endpoint) {
	url := newDatabase(b)
	now := time.Now().UTC().Truncate(time.Microsecond)
	f := &fixture{ctx: context.Background(), a: open(b, url, postgres.Options{}), b: open(b, url, postgres.Options{}), now: now}
	f.project = &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "bench", CreatedAt: now, UpdatedAt: now}
	require.NoError(b, f.a.CreateProject(f.ctx, f.project))
	var eps []*herald.Endpoint
	for range 2 {
		ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: f.project.ID, URL: "https://example.com/",
			Enabled: true, Status: herald.EndpointHealthy, CreatedAt: now, UpdatedAt: now}
		require.NoError(b, f.a.CreateEndpoint(f.ctx, ep))
		eps = append(eps, ep)
	}
	return f, eps
}

// BenchmarkInsertEvents: one InsertEvents call (one transaction) of a batch
// of events, each with two deliveries, as the ingest group commit makes
// them: with an idempotency key each, and without (keys=no).
func BenchmarkInsertEvents(b *testing.B) {
	baseURL(b)
	for _, size := range []int{1, 64, 200} {
		for _, keys := range []bool{true, false} {
			name := fmt.Sprint("batch=", size)
			if !keys {
				name += ",keys=no"
			}
			b.Run(name, func(b *testing.B) {
				f, eps := benchFixture(b)
				var key func(int) string
				if keys {
					key = func(int) string { return herald.NewID("") }
				}
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					batch := f.events(size, key, eps...)
					b.StartTimer()
					_, err := f.a.InsertEvents(f.ctx, batch)
					require.NoError(b, err)
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
			})
		}
	}
}

// BenchmarkInsertEventsTwoProcesses: two handles (processes) each with
// several concurrent ingest batches of 50, as two herald serve would.
func BenchmarkInsertEventsTwoProcesses(b *testing.B) {
	baseURL(b)
	const size, perProcess = 50, 4
	f, eps := benchFixture(b)
	batches := make(chan []*store.NewEvent, 2*perProcess)
	go func() {
		defer close(batches)
		for range b.N {
			batches <- f.events(size, func(int) string { return herald.NewID("") }, eps...)
		}
	}()
	b.ResetTimer()
	var wg sync.WaitGroup
	for _, db := range []*postgres.DB{f.a, f.b} {
		for range perProcess {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for batch := range batches {
					if _, err := db.InsertEvents(f.ctx, batch); err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
	}
	wg.Wait()
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkClaimComplete: claim up to 100 due deliveries and record their
// attempts in one CompleteAttempts, over a backlog refilled outside the
// timer.
func BenchmarkClaimComplete(b *testing.B) {
	baseURL(b)
	const size = 100
	f, eps := benchFixture(b)
	// a standing backlog, so claims search a realistic queue
	_, err := f.a.InsertEvents(f.ctx, f.events(5000, nil, eps...))
	require.NoError(b, err)
	b.ResetTimer()
	claimed := 0
	for range b.N {
		cs, err := f.a.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: "bench", Now: time.Now(), Lease: time.Minute, Limit: size, PerEndpointLimit: size})
		require.NoError(b, err)
		results := make([]*store.AttemptResult, len(cs))
		for i, c := range cs {
			results[i] = benchResult(c.Delivery, true, time.Time{})
		}
		require.NoError(b, f.a.CompleteAttempts(f.ctx, results))
		claimed += len(cs)
		if len(cs) < size {
			b.StopTimer()
			_, err := f.a.InsertEvents(f.ctx, f.events(5000, nil, eps...))
			require.NoError(b, err)
			b.StartTimer()
		}
	}
	b.ReportMetric(float64(claimed)/b.Elapsed().Seconds(), "deliveries/s")
}

// BenchmarkCompleteAttempts: one CompleteAttempts call recording 64
// attempts of claimed deliveries (half succeeded, half to retry), as the
// recorder makes them; the claims are made outside the timer.
func BenchmarkCompleteAttempts(b *testing.B) {
	baseURL(b)
	const size = 64
	f, eps := benchFixture(b)
	var backlog []*store.Claim
	for range b.N {
		b.StopTimer()
		if len(backlog) < size {
			_, err := f.a.InsertEvents(f.ctx, f.events(2000, nil, eps...))
			require.NoError(b, err)
			cs, err := f.a.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: "bench", Now: time.Now(), Lease: time.Hour, Limit: 4000})
			require.NoError(b, err)
			backlog = append(backlog, cs...)
		}
		results := make([]*store.AttemptResult, size)
		next := time.Now().Add(time.Hour)
		for i, c := range backlog[:size] {
			results[i] = benchResult(c.Delivery, i%2 == 0, next)
		}
		backlog = backlog[size:]
		b.StartTimer()
		require.NoError(b, f.a.CompleteAttempts(f.ctx, results))
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "attempts/s")
}

// benchResult is a finished first attempt of d: succeeded, or failed and to
// be retried at next.
func benchResult(d *herald.Delivery, ok bool, next time.Time) *store.AttemptResult {
	r := &store.AttemptResult{Status: herald.DeliverySucceeded, Attempt: &herald.Attempt{
		ID: herald.NewID(herald.PrefixAttempt), ProjectID: d.ProjectID, DeliveryID: d.ID, EventID: d.EventID,
		EndpointID: d.EndpointID, Number: 1, StartedAt: time.Now(), DurationMS: 3, ResponseStatus: 200,
		RequestURL: "https://example.com/", RequestHeaders: map[string]string{"webhook-id": d.EventID}}}
	if !ok {
		r.Status, r.NextAttemptAt = herald.DeliveryPending, &next
		r.Attempt.ResponseStatus, r.Attempt.ErrorClass, r.Attempt.Error = 503, herald.ErrorStatus, "status 503"
	}
	return r
}

// BenchmarkPostponeEndpoint: the circuit breaker opening (again) on an
// endpoint with a backlog of 10,000 pending deliveries.
func BenchmarkPostponeEndpoint(b *testing.B) {
	baseURL(b)
	f, eps := benchFixture(b)
	_, err := f.a.InsertEvents(f.ctx, f.events(10000, nil, eps[0]))
	require.NoError(b, err)
	b.ResetTimer()
	for i := range b.N {
		require.NoError(b, f.a.PostponeEndpoint(f.ctx, eps[0].ID, f.now.Add(time.Hour+time.Duration(i)*time.Second)))
	}
}

// BenchmarkClaimBehindPaused: claims of 10 while the head of the due
// queue is a paused endpoint's backlog of 10,000 deliveries.
func BenchmarkClaimBehindPaused(b *testing.B) {
	baseURL(b)
	f, eps := benchFixture(b)
	_, err := f.a.InsertEvents(f.ctx, f.events(10000, nil, eps[0]))
	require.NoError(b, err)
	require.NoError(b, f.a.PostponeEndpoint(f.ctx, eps[0].ID, f.now.Add(time.Hour)))
	now := f.now
	f.now = f.now.Add(time.Second) // due after the backlog
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		_, err := f.a.InsertEvents(f.ctx, f.events(10, nil, eps[1]))
		require.NoError(b, err)
		b.StartTimer()
		cs, err := f.a.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: "bench", Now: now.Add(time.Minute), Lease: time.Hour, Limit: 10})
		require.NoError(b, err)
		require.Len(b, cs, 10)
	}
}
