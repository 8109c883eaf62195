package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// benchDB is a database (synchronous=FULL, the default) with one project
// and n endpoints.
func benchDB(b testing.TB, n int) (*DB, *herald.Project, []*herald.Endpoint) {
	return benchDBOn(b, openTemp(b, Options{}), n)
}

// benchDBOn adds one project and n endpoints to db.
func benchDBOn(b testing.TB, db *DB, n int) (*DB, *herald.Project, []*herald.Endpoint) {
	ctx := context.Background()
	now := time.Now().UTC()
	p := &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "bench", CreatedAt: now, UpdatedAt: now}
	require.NoError(b, db.CreateProject(ctx, p))
	eps := make([]*herald.Endpoint, n)
	for i := range eps {
		eps[i] = &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: p.ID, URL: "https://example.com/",
			Enabled: true, Status: herald.EndpointHealthy, CreatedAt: now, UpdatedAt: now}
		require.NoError(b, db.CreateEndpoint(ctx, eps[i]))
	}
	return db, p, eps
}

// benchEvents makes size events, each with an idempotency key and one
// pending delivery per endpoint, as the ingest group commit makes them.
func benchEvents(p *herald.Project, size int, eps ...*herald.Endpoint) []*store.NewEvent {
	now := time.Now().UTC()
	out := make([]*store.NewEvent, size)
	for i := range out {
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: p.ID, Type: "bench.created",
			Data:      json.RawMessage(`{"bench_id":"` + herald.NewID("") + `","sent_ns":1763892000000000000}`),
			CreatedAt: now, OccurredAt: now, IdempotencyKey: herald.NewID(""), BodyHash: "0123456789abcdef"}
		ne := &store.NewEvent{Event: ev}
		for _, ep := range eps {
			ne.Deliveries = append(ne.Deliveries, &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: p.ID,
				EventID: ev.ID, EndpointID: ep.ID, EventType: ev.Type, Status: herald.DeliveryPending, NextAttemptAt: &now,
				CreatedAt: now, UpdatedAt: now})
		}
		out[i] = ne
	}
	return out
}

// benchResults makes a succeeded attempt for each claim, with the headers
// a delivery records.
func benchResults(cs []*store.Claim) []*store.AttemptResult {
	results := make([]*store.AttemptResult, len(cs))
	for i, c := range cs {
		d := c.Delivery
		results[i] = &store.AttemptResult{Status: herald.DeliverySucceeded, Attempt: &herald.Attempt{
			ID: herald.NewID(herald.PrefixAttempt), ProjectID: d.ProjectID, DeliveryID: d.ID, EventID: d.EventID,
			EndpointID: d.EndpointID, Number: 1, Trigger: herald.TriggerScheduled, StartedAt: time.Now(), DurationMS: 1,
			RequestURL: "https://example.com/", ResponseStatus: 200,
			RequestHeaders: map[string]string{"Content-Type": "application/json", "User-Agent": "Herald/dev", "Webhook-Id": d.EventID,
				"Webhook-Timestamp": "1763892000", "Webhook-Signature": "[redacted]", "Webhook-Attempt": "1"},
			ResponseHeaders: map[string]string{"Date": "Sun, 23 Nov 2026 10:00:00 GMT", "Content-Length": "0"}}}
	}
	return results
}

// BenchmarkCompleteAttempts: record 100 attempts (with the request and
// response headers a delivery keeps) and move their deliveries on, in one
// transaction: the recorder's unit.
func BenchmarkCompleteAttempts(b *testing.B) {
	const size = 100
	db, p, eps := benchDB(b, 1)
	ctx := context.Background()
	done := 0
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		_, err := db.InsertEvents(ctx, benchEvents(p, size, eps...))
		require.NoError(b, err)
		cs, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "bench", Now: time.Now(), Lease: time.Minute, Limit: size})
		require.NoError(b, err)
		results := benchResults(cs)
		b.StartTimer()
		c0 := cpuNow()
		require.NoError(b, db.CompleteAttempts(ctx, results))
		cpu += cpuNow() - c0
		done += len(results)
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "attempts/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(done), "cpu-us/attempt")
}

// BenchmarkClaimSkippedBacklog: a claim that finds nothing because the one
// endpoint with work (a backlog of 20,000) is full and skipped — what the
// dispatcher asks whenever a busy lane is at capacity. Its cost must not
// grow with the backlog.
func BenchmarkClaimSkippedBacklog(b *testing.B) {
	db, eps := benchBacklog(b)
	benchEmptyClaims(b, db, []string{eps[0].ID})
}

// BenchmarkClaimPausedBacklog: the same, the endpoint paused
// (PostponeEndpoint) rather than skipped, as another process sees it.
func BenchmarkClaimPausedBacklog(b *testing.B) {
	db, eps := benchBacklog(b)
	require.NoError(b, db.PostponeEndpoint(context.Background(), eps[0].ID, time.Now().Add(time.Hour)))
	benchEmptyClaims(b, db, nil)
}

// BenchmarkPostponeEndpoint: the breaker opens on an endpoint with a
// backlog of 20,000 pending deliveries.
func BenchmarkPostponeEndpoint(b *testing.B) {
	db, eps := benchBacklog(b)
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	b.ResetTimer()
	for range b.N {
		until = until.Add(time.Second)
		require.NoError(b, db.PostponeEndpoint(ctx, eps[0].ID, until))
	}
}

// benchBacklog is a database with two endpoints, the first with 20,000
// due deliveries.
func benchBacklog(b *testing.B) (*DB, []*herald.Endpoint) {
	db, p, eps := benchDB(b, 2)
	ctx := context.Background()
	for range 40 {
		_, err := db.InsertEvents(ctx, benchEvents(p, 500, eps[0]))
		require.NoError(b, err)
	}
	return db, eps
}

// benchEmptyClaims claims, skipping skip, and requires nothing claimed.
func benchEmptyClaims(b *testing.B, db *DB, skip []string) {
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		cs, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "bench", Now: time.Now(), Lease: time.Minute, Limit: 256,
			PerEndpointLimit: 20, SkipEndpoints: skip})
		require.NoError(b, err)
		require.Empty(b, cs)
	}
}

// cpuNow is the process's CPU time so far (user + system, every thread):
// the writer's cost per event, which wall time hides behind fsync.
func cpuNow() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSuccessPath is the burst path the writer runs per event: insert
// events each with one delivery already leased to this process (as ingest
// creates them when the lane has room), then record a successful attempt
// for each. The events carry no idempotency key, like whbench's. Batches
// of 8 are what a burst of 64 clients commits at a time with an fsync per
// commit; 64 is a busier writer. grouped: the insert of a batch and the
// completion of the one before meet in the writer and share a commit, each
// in its savepoint, as ingest and the recorder do under load.
// cpu-us/event counts only the timed calls.
func BenchmarkSuccessPath(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, size := range []int{8, 64} {
			b.Run(fmt.Sprintf("sync=%s/batch=%d", sync, size), func(b *testing.B) {
				benchSuccessPath(b, sync, size, false)
			})
		}
		b.Run(fmt.Sprintf("sync=%s/batch=8/grouped", sync), func(b *testing.B) {
			benchSuccessPath(b, sync, 8, true)
		})
	}
}

func benchSuccessPath(b *testing.B, sync string, size int, grouped bool) {
	db, p, eps := benchDBOn(b, openTemp(b, Options{Synchronous: sync}), 1)
	ctx := context.Background()
	var cpu time.Duration
	done := 0
	var prev []*store.AttemptResult
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		batch := benchEvents(p, size, eps...)
		until := time.Now().Add(time.Minute)
		var cs []*store.Claim
		for _, ne := range batch {
			ne.Event.IdempotencyKey = ""
			for _, d := range ne.Deliveries {
				d.Status, d.LockedBy, d.LockedUntil = herald.DeliveryInFlight, "bench", &until
				cs = append(cs, &store.Claim{Delivery: d, Event: ne.Event})
			}
		}
		results := benchResults(cs)
		b.StartTimer()
		c0 := cpuNow()
		if grouped {
			benchGroup(b, db, batch, prev)
			prev = results
		} else {
			_, err := db.InsertEvents(ctx, batch)
			require.NoError(b, err)
			require.NoError(b, db.CompleteAttempts(ctx, results))
		}
		cpu += cpuNow() - c0
		done += size
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(done), "cpu-us/event")
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "events/s")
}

// benchGroup holds the writer while InsertEvents(batch) and
// CompleteAttempts(results) queue, so that they share its next commit.
func benchGroup(b *testing.B, db *DB, batch []*store.NewEvent, results []*store.AttemptResult) {
	ctx := context.Background()
	held, release := make(chan struct{}), make(chan struct{})
	go db.tx(ctx, func(context.Context, *sql.Tx) error {
		close(held)
		<-release
		return nil
	})
	<-held
	errs := make(chan error, 2)
	go func() {
		_, err := db.InsertEvents(ctx, batch)
		errs <- err
	}()
	go func() { errs <- db.CompleteAttempts(ctx, results) }()
	for len(db.writes) < 1+min(len(results), 1) {
		runtime.Gosched()
	}
	close(release)
	require.NoError(b, <-errs)
	require.NoError(b, <-errs)
}

// BenchmarkClaimDrain: the claims that drain one endpoint's backlog of
// 20,480 due deliveries, 64 at a time (what a lane of max_in_flight 64
// asks for once it has sent half of what it holds), each followed by the
// completion of what it claimed. cpu-us/delivery counts the claims only.
var claimDrainSize = 64

func BenchmarkClaimDrain(b *testing.B) {
	db, p, eps := benchDB(b, 1)
	ctx := context.Background()
	var cpu time.Duration
	done := 0
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if done%20480 == 0 {
			b.StopTimer()
			for range 40 {
				_, err := db.InsertEvents(ctx, benchEvents(p, 512, eps...))
				require.NoError(b, err)
			}
			b.StartTimer()
		}
		c0 := cpuNow()
		cs, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "bench", Now: time.Now(), Lease: time.Minute, Limit: claimDrainSize,
			PerEndpointLimit: 256})
		require.NoError(b, err)
		cpu += cpuNow() - c0
		require.Len(b, cs, claimDrainSize)
		done += len(cs)
		b.StopTimer()
		require.NoError(b, db.CompleteAttempts(ctx, benchResults(cs)))
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Microseconds())/float64(done), "cpu-us/delivery")
}

// BenchmarkEndpointStats: the dashboard's summary of an endpoint over the
// last day, when the endpoint also has 100,000 older deliveries. Its cost
// must follow the window, not the endpoint's history.
func BenchmarkEndpointStats(b *testing.B) {
	db, p, eps := benchDB(b, 1)
	ctx := context.Background()
	old := time.Now().UTC().Add(-72 * time.Hour)
	for range 100 {
		batch := benchEvents(p, 1000, eps...)
		for _, ne := range batch {
			ne.Event.CreatedAt, ne.Event.IdempotencyKey = old, ""
			for _, d := range ne.Deliveries {
				d.CreatedAt, d.UpdatedAt = old, old
			}
		}
		_, err := db.InsertEvents(ctx, batch)
		require.NoError(b, err)
	}
	_, err := db.InsertEvents(ctx, benchEvents(p, 1000, eps...))
	require.NoError(b, err)
	since := time.Now().Add(-24 * time.Hour)
	b.ResetTimer()
	for range b.N {
		st, err := db.EndpointStats(ctx, p.ID, eps[0].ID, since)
		require.NoError(b, err)
		require.Equal(b, 1000, st.Deliveries[herald.DeliveryPending])
	}
}
