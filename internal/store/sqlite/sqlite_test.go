package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/storetest"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"
)

func openTemp(t testing.TB, opts Options) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "herald.db"), opts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) store.Store { return openTemp(t, Options{}) })
}

// TestBulkConflictNamesItsRow: rows are written many to a statement, and
// a clash still names the row it is about, not just the statement's.
func TestBulkConflictNamesItsRow(t *testing.T) {
	t.Parallel()
	db, p, eps := benchDBOn(&testing.B{}, openTemp(t, Options{Synchronous: "NORMAL"}), 1)
	batch := benchEvents(p, 100, eps...)
	for _, ne := range batch {
		ne.Event.IdempotencyKey = "" // a key would make the copy a replay
	}
	dup := *batch[10].Event
	batch[70].Event = &dup
	batch[70].Deliveries[0].EventID = dup.ID
	_, err := db.InsertEvents(context.Background(), batch)
	require.Equal(t, herald.ECONFLICT, herald.ErrorCode(err))
	require.ErrorContains(t, err, "event "+dup.ID+" already exists")
}

func TestReopenKeepsDataAndMigrationsAreNoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	require.Equal(t, path, db.Path())
	now := time.Now().UTC()
	p := &herald.Project{ID: "prj_keep", Name: "keep", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, db.CreateProject(ctx, p))
	require.NoError(t, db.Close())

	db, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer db.Close()
	got, err := db.GetProject(ctx, "prj_keep")
	require.NoError(t, err)
	require.Equal(t, "keep", got.Name)

	sub, err := fs.Sub(migrations, "migrations")
	require.NoError(t, err)
	pr, err := goose.NewProvider(goose.DialectSQLite3, db.w, sub, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	pending, err := pr.HasPending(ctx)
	require.NoError(t, err)
	require.False(t, pending)
	res, err := pr.Up(ctx)
	require.NoError(t, err)
	require.Empty(t, res, "re-running migrations applies nothing")
}

// TestSeqContinuesAfterReopen: ordered delivery relies on seq growing
// across restarts.
func TestSeqContinuesAfterReopen(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	insert := func(db *DB) int64 {
		now := time.Now().UTC()
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: "prj_s", Type: "t", Data: json.RawMessage(`{}`), CreatedAt: now, OccurredAt: now}
		d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: "prj_s", EventID: ev.ID, EndpointID: "ep_x", Status: herald.DeliveryPending, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now}
		_, err := db.InsertEvents(ctx, []*store.NewEvent{{Event: ev, Deliveries: []*herald.Delivery{d}}})
		require.NoError(t, err)
		got, err := db.GetDelivery(ctx, "prj_s", d.ID)
		require.NoError(t, err)
		return got.Seq
	}
	db, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	require.NoError(t, db.CreateProject(ctx, &herald.Project{ID: "prj_s", Name: "s"}))
	var last int64
	for range 5 {
		seq := insert(db)
		require.Greater(t, seq, last)
		last = seq
	}
	require.NoError(t, db.Close())
	db, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer db.Close()
	require.Greater(t, insert(db), last)
	var maxSeq int64
	require.NoError(t, db.r.QueryRowContext(ctx, `SELECT MAX(seq) FROM deliveries`).Scan(&maxSeq))
	require.Equal(t, maxSeq, db.seq, "the counter resumes at the highest seq stored")
}

func TestDurabilityPragmas(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTemp(t, Options{})
	var mode string
	require.NoError(t, db.w.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)
	require.NoError(t, db.r.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode))
	require.Equal(t, "wal", mode)

	var sync, fk, queryOnly int
	require.NoError(t, db.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
	require.Equal(t, 2, sync, "FULL on the writer")
	require.NoError(t, db.r.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
	require.Equal(t, 2, sync, "FULL on the readers")
	require.NoError(t, db.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fk))
	require.Equal(t, 1, fk)
	require.NoError(t, db.r.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&queryOnly))
	require.Equal(t, 1, queryOnly, "readers cannot write")
	require.NoError(t, db.w.QueryRowContext(ctx, `PRAGMA query_only`).Scan(&queryOnly))
	require.Equal(t, 0, queryOnly)

	normal := openTemp(t, Options{Synchronous: "normal"})
	require.NoError(t, normal.w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&sync))
	require.Equal(t, 1, sync, "NORMAL when asked")

	_, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), Options{Synchronous: "OFF"})
	require.ErrorContains(t, err, "synchronous")
}

// TestClockDecidesIdempotencyWindow: the injected clock, not the wall
// clock, says when an idempotency key is free again.
func TestClockDecidesIdempotencyWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Now().UTC()
	clock := now
	db := openTemp(t, Options{Now: func() time.Time { return clock }})
	require.NoError(t, db.CreateProject(ctx, &herald.Project{ID: "prj_c", Name: "c", CreatedAt: now, UpdatedAt: now}))
	ev := func(hash string) *store.NewEvent {
		return &store.NewEvent{Event: &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: "prj_c", Type: "t", Data: json.RawMessage(`{}`),
			CreatedAt: now, OccurredAt: now, IdempotencyKey: "k", BodyHash: hash}}
	}
	_, err := db.InsertEvents(ctx, []*store.NewEvent{ev("a")})
	require.NoError(t, err)
	res, err := db.InsertEvents(ctx, []*store.NewEvent{ev("b")})
	require.NoError(t, err)
	require.True(t, res[0].Conflict)
	clock = now.Add(store.IdempotencyWindow + time.Second)
	res, err = db.InsertEvents(ctx, []*store.NewEvent{ev("b")})
	require.NoError(t, err)
	require.False(t, res[0].Conflict || res[0].Replayed)
}

func TestMissingParentNotFound(t *testing.T) {
	t.Parallel()
	db := openTemp(t, Options{})
	err := db.CreateEndpoint(context.Background(), &herald.Endpoint{ID: "ep_x", ProjectID: "prj_missing"})
	require.Equal(t, herald.ENOTFOUND, herald.ErrorCode(err))
	require.ErrorContains(t, err, "project prj_missing not found")
}

// benchStore opens a store with one project and endpoint for benchmarks.
func benchStore(b *testing.B, sync string) (*DB, *herald.Endpoint) {
	db := openTemp(b, Options{Synchronous: sync})
	ctx := context.Background()
	now := time.Now().UTC()
	require.NoError(b, db.CreateProject(ctx, &herald.Project{ID: "prj_bench", Name: "bench", CreatedAt: now, UpdatedAt: now}))
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: "prj_bench", URL: "https://example.com", Enabled: true,
		Status: herald.EndpointHealthy, CreatedAt: now, UpdatedAt: now}
	require.NoError(b, db.CreateEndpoint(ctx, ep))
	return db, ep
}

func benchBatch(ep *herald.Endpoint, n int) []*store.NewEvent {
	now := time.Now().UTC()
	batch := make([]*store.NewEvent, n)
	for i := range batch {
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: ep.ProjectID, Type: "user.created",
			Data: json.RawMessage(`{"user_id":"u_1","email":"a@example.com","plan":"pro"}`), Channels: []string{"acct_1"},
			Metadata: map[string]string{"request_id": "r"}, OccurredAt: now, CreatedAt: now,
			IdempotencyKey: herald.NewID(""), BodyHash: "h"}
		d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: ep.ProjectID, EventID: ev.ID, EndpointID: ep.ID,
			EventType: ev.Type, Status: herald.DeliveryPending, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now}
		batch[i] = &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}}
	}
	return batch
}

// BenchmarkInsertEvents measures ingest: one transaction (one fsync with
// synchronous=FULL) per call, each event with one delivery.
func BenchmarkInsertEvents(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		for _, size := range []int{1, 64, 256} {
			b.Run(fmt.Sprintf("sync=%s/batch=%d", sync, size), func(b *testing.B) {
				db, ep := benchStore(b, sync)
				ctx := context.Background()
				var cpu time.Duration
				b.ResetTimer()
				for b.Loop() {
					b.StopTimer()
					batch := benchBatch(ep, size)
					b.StartTimer()
					c0 := cpuNow()
					if _, err := db.InsertEvents(ctx, batch); err != nil {
						b.Fatal(err)
					}
					cpu += cpuNow() - c0
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*size), "cpu-us/event")
			})
		}
	}
}

// BenchmarkClaimComplete measures the dispatch side: claim a batch of 64
// due deliveries, then record a successful attempt for each in one call.
func BenchmarkClaimComplete(b *testing.B) {
	const batch = 64
	db, ep := benchStore(b, "FULL")
	ctx := context.Background()
	// Keep a backlog of due work so each iteration claims a full batch.
	refill := func() {
		for range 8 {
			if _, err := db.InsertEvents(ctx, benchBatch(ep, 256)); err != nil {
				b.Fatal(err)
			}
		}
	}
	refill()
	done := 0
	var cpu time.Duration
	b.ResetTimer()
	for b.Loop() {
		c0 := cpuNow()
		now := time.Now().UTC()
		cs, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "bench", Now: now, Lease: time.Minute, Limit: batch})
		if err != nil {
			b.Fatal(err)
		}
		if len(cs) < batch {
			b.StopTimer()
			refill()
			b.StartTimer()
			continue
		}
		results := make([]*store.AttemptResult, len(cs))
		for i, c := range cs {
			results[i] = &store.AttemptResult{Status: herald.DeliverySucceeded, Attempt: &herald.Attempt{
				ID: herald.NewID(herald.PrefixAttempt), ProjectID: c.Delivery.ProjectID, DeliveryID: c.Delivery.ID, EventID: c.Event.ID,
				EndpointID: c.Delivery.EndpointID, Number: 1, Trigger: herald.TriggerScheduled, StartedAt: now, DurationMS: 3,
				RequestURL: ep.URL, ResponseStatus: 200}}
		}
		if err := db.CompleteAttempts(ctx, results); err != nil {
			b.Fatal(err)
		}
		cpu += cpuNow() - c0
		done += len(cs)
	}
	b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(done), "cpu-us/event")
}

// TestClaimFindsWorkBehindSkippedBacklog: when the head of the due queue
// is a skipped endpoint's backlog, longer than the claim looks ahead, the
// claim still finds the other endpoints' due deliveries behind it.
func TestClaimFindsWorkBehindSkippedBacklog(t *testing.T) {
	t.Parallel()
	db := openTemp(t, Options{Synchronous: "NORMAL"})
	ctx := context.Background()
	now := time.Now().UTC()
	p := &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "p", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, db.CreateProject(ctx, p))
	busy, quiet := &herald.Endpoint{}, &herald.Endpoint{}
	for _, ep := range []*herald.Endpoint{busy, quiet} {
		*ep = herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: p.ID, URL: "https://example.com/",
			Enabled: true, Status: herald.EndpointHealthy, CreatedAt: now, UpdatedAt: now}
		require.NoError(t, db.CreateEndpoint(ctx, ep))
	}
	enqueue := func(ep *herald.Endpoint, n int, due time.Time) (ids []string) {
		var batch []*store.NewEvent
		for range n {
			ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: p.ID, Type: "t", Data: json.RawMessage(`{}`), CreatedAt: now, OccurredAt: now}
			d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: p.ID, EventID: ev.ID, EndpointID: ep.ID,
				Status: herald.DeliveryPending, NextAttemptAt: &due, CreatedAt: now, UpdatedAt: now}
			batch = append(batch, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}})
			ids = append(ids, d.ID)
		}
		_, err := db.InsertEvents(ctx, batch)
		require.NoError(t, err)
		return ids
	}
	enqueue(busy, 100, now.Add(-time.Minute)) // older: first in due order
	want := enqueue(quiet, 3, now.Add(-time.Second))

	cs, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "o", Now: now, Lease: time.Minute, Limit: 10,
		PerEndpointLimit: 5, SkipEndpoints: []string{busy.ID}})
	require.NoError(t, err)
	var got []string
	for _, c := range cs {
		got = append(got, c.Delivery.ID)
	}
	require.ElementsMatch(t, want, got)
}

// TestAuthCacheForgetsRevokedKeysAndDeletedProjects: the authentication
// reads are cached, and a revoked key or a deleted or renamed project is
// seen at once.
func TestAuthCacheForgetsRevokedKeysAndDeletedProjects(t *testing.T) {
	t.Parallel()
	db := openTemp(t, Options{Synchronous: "NORMAL"})
	ctx := context.Background()
	now := time.Now().UTC()
	p := &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "before", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, db.CreateProject(ctx, p))
	k := &herald.APIKey{ID: herald.NewID("key_"), ProjectID: p.ID, Hash: herald.HashKey("secret"), Prefix: "hk_x", CreatedAt: now}
	require.NoError(t, db.CreateAPIKey(ctx, k))

	for range 2 { // the second reads come from the cache
		got, err := db.GetAPIKeyByHash(ctx, k.Hash)
		require.NoError(t, err)
		require.Equal(t, p.ID, got.ProjectID)
		gp, err := db.GetProject(ctx, p.ID)
		require.NoError(t, err)
		require.Equal(t, "before", gp.Name)
		gp.Name = "changed by a caller" // must not reach the cache
	}
	gp, err := db.GetProject(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "before", gp.Name)

	p.Name = "after"
	require.NoError(t, db.UpdateProject(ctx, p))
	gp, err = db.GetProject(ctx, p.ID)
	require.NoError(t, err)
	require.Equal(t, "after", gp.Name)

	require.NoError(t, db.DeleteAPIKey(ctx, p.ID, k.ID))
	_, err = db.GetAPIKeyByHash(ctx, k.Hash)
	require.True(t, herald.IsNotFound(err), "revoked key: %v", err)

	require.NoError(t, db.DeleteProject(ctx, p.ID))
	_, err = db.GetProject(ctx, p.ID)
	require.True(t, herald.IsNotFound(err), "deleted project: %v", err)
}

// TestCompleteAttemptsSkipsDeletedDeliveries: a result whose delivery was
// deleted meanwhile (its project went away) is dropped, and the other
// results of the batch are still recorded.
func TestCompleteAttemptsSkipsDeletedDeliveries(t *testing.T) {
	t.Parallel()
	db := openTemp(t, Options{Synchronous: "NORMAL"})
	ctx := context.Background()
	now := time.Now().UTC()
	for range 2 {
		p := &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "p", CreatedAt: now, UpdatedAt: now}
		require.NoError(t, db.CreateProject(ctx, p))
		ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: p.ID, URL: "https://example.com/",
			Enabled: true, Status: herald.EndpointHealthy, CreatedAt: now, UpdatedAt: now}
		require.NoError(t, db.CreateEndpoint(ctx, ep))
		_, err := db.InsertEvents(ctx, benchEvents(p, 1, ep))
		require.NoError(t, err)
	}
	claims, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "o", Now: time.Now(), Lease: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Len(t, claims, 2)
	require.NoError(t, db.DeleteProject(ctx, claims[0].Delivery.ProjectID))

	require.NoError(t, db.CompleteAttempts(ctx, benchResults(claims)))
	kept := claims[1].Delivery
	got, err := db.GetDelivery(ctx, kept.ProjectID, kept.ID)
	require.NoError(t, err)
	require.Equal(t, herald.DeliverySucceeded, got.Status)
}

// TestGroupCommitIsolatesAFailingWrite queues several write transactions
// behind a blocked one, so that the writer takes them as one group, and
// makes one of them fail after it wrote: its rows must be gone, every
// other transaction's committed, each caller told its own outcome.
func TestGroupCommitIsolatesAFailingWrite(t *testing.T) {
	t.Parallel()
	db := openTemp(t, Options{})
	ctx := context.Background()
	put := func(ctx context.Context, tx *sql.Tx, key string) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value) VALUES (?, 'v')`, key)
		return err
	}
	release := make(chan struct{})
	running := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		first <- db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
			close(running)
			<-release
			return put(ctx, tx, "k0")
		})
	}()
	// Wait until the writer runs the first transaction, then queue the group.
	select {
	case <-running:
	case <-time.After(time.Minute):
		t.Fatal("the writer never ran the first transaction")
	}
	boom := errors.New("boom")
	const n = 6
	type outcome struct {
		i   int
		err error
	}
	errs := make(chan outcome, n)
	for i := 1; i <= n; i++ {
		go func() {
			err := db.tx(ctx, func(ctx context.Context, tx *sql.Tx) error {
				if err := put(ctx, tx, fmt.Sprintf("k%d", i)); err != nil {
					return err
				}
				if i == 3 {
					return boom // after its write
				}
				return nil
			})
			errs <- outcome{i, err}
		}()
	}
	require.Eventually(t, func() bool { return len(db.writes) == n }, time.Minute, time.Millisecond)
	close(release)
	require.NoError(t, <-first)
	for range n {
		r := <-errs
		if r.i == 3 {
			require.ErrorIs(t, r.err, boom)
		} else {
			require.NoError(t, r.err, "transaction %d", r.i)
		}
	}
	var keys []string
	rows, err := db.r.QueryContext(ctx, `SELECT key FROM settings WHERE key LIKE 'k%' ORDER BY key`)
	require.NoError(t, err)
	for rows.Next() {
		var k string
		require.NoError(t, rows.Scan(&k))
		keys = append(keys, k)
	}
	require.NoError(t, rows.Err())
	require.Equal(t, []string{"k0", "k1", "k2", "k4", "k5", "k6"}, keys)
}
