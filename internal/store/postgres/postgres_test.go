package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/herald-dev/herald/internal/store/postgres/pgtest"
	"github.com/herald-dev/herald/internal/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
)

const urlEnv = "HERALD_TEST_POSTGRES_URL"

// baseURL is the server the tests create their databases on.
func baseURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(urlEnv)
	if u == "" {
		t.Skip("set HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run the PostgreSQL tests")
	}
	return u
}

// newDatabase creates an empty database of its own for t, dropped at the
// end.
func newDatabase(t testing.TB) string {
	t.Helper()
	url, drop, err := pgtest.CreateTestDatabase(context.Background(), baseURL(t))
	require.NoError(t, err)
	t.Cleanup(drop)
	return url
}

// open opens a handle on url, closed at the end of t. Two handles on one
// url are two Herald processes sharing a database.
func open(t testing.TB, url string, opts postgres.Options) *postgres.DB {
	t.Helper()
	if opts.MaxConns == 0 {
		opts.MaxConns = 8
	}
	db, err := postgres.Open(context.Background(), url, opts)
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	return db
}

// TestConformance gives each of the suite's many subtests a schema of its
// own in one database: CREATE DATABASE copies a template and costs a second
// or more on a busy disk, CREATE SCHEMA almost nothing. The
// PostgreSQL-specific tests below, which watch database-wide things
// (notifications, sessions), get a database each.
func TestConformance(t *testing.T) {
	storetest.Run(t, schemaStores(t))
}

// schemaStores opens stores for the conformance suite, each in a schema of
// its own in one database of t.
func schemaStores(t *testing.T) func(t *testing.T) store.Store {
	url := newDatabase(t)
	admin, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(admin.Close)
	return func(t *testing.T) store.Store {
		schema := "s_" + strings.ToLower(herald.NewID(""))
		_, err := admin.Exec(context.Background(), "CREATE SCHEMA "+schema)
		require.NoError(t, err)
		t.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
		u, err := neturl.Parse(url)
		require.NoError(t, err)
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return open(t, u.String(), postgres.Options{})
	}
}

// fixture is one project with endpoints, shared by two handles.
type fixture struct {
	ctx     context.Context
	url     string
	a, b    *postgres.DB
	now     time.Time
	project *herald.Project
}

func setup(t *testing.T) *fixture {
	t.Helper()
	t.Parallel()
	url := newDatabase(t)
	f := &fixture{ctx: context.Background(), url: url, a: open(t, url, postgres.Options{}), b: open(t, url, postgres.Options{}),
		now: time.Now().UTC().Truncate(time.Microsecond)}
	f.project = &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "p", CreatedAt: f.now, UpdatedAt: f.now}
	require.NoError(t, f.a.CreateProject(f.ctx, f.project))
	return f
}

// sqlConn is a plain connection to url, for looking behind the store.
func sqlConn(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (f *fixture) endpoint(t *testing.T, ordered bool) *herald.Endpoint {
	t.Helper()
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: f.project.ID, URL: "https://example.com/",
		Enabled: true, Ordered: ordered, Status: herald.EndpointHealthy, CreatedAt: f.now, UpdatedAt: f.now}
	require.NoError(t, f.a.CreateEndpoint(f.ctx, ep))
	return ep
}

// events makes n events, each with a pending delivery due now to every
// endpoint.
func (f *fixture) events(n int, key func(i int) string, eps ...*herald.Endpoint) []*store.NewEvent {
	var out []*store.NewEvent
	for i := range n {
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: f.project.ID, Type: "user.created",
			Data: json.RawMessage(`{"i":` + fmt.Sprint(i) + `}`), CreatedAt: f.now, OccurredAt: f.now, BodyHash: "h"}
		if key != nil {
			ev.IdempotencyKey = key(i)
		}
		ne := &store.NewEvent{Event: ev}
		for _, ep := range eps {
			ne.Deliveries = append(ne.Deliveries, &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: f.project.ID,
				EventID: ev.ID, EndpointID: ep.ID, EventType: ev.Type, Status: herald.DeliveryPending, NextAttemptAt: &f.now,
				CreatedAt: f.now, UpdatedAt: f.now})
		}
		out = append(out, ne)
	}
	return out
}

// Two processes claiming at once never hold the same delivery, and never
// two deliveries of an ordered endpoint at a time, which they get in ingest
// order.
func TestTwoProcessesNeverClaimTheSameDelivery(t *testing.T) {
	baseURL(t)
	f := setup(t)
	free1, free2, ord := f.endpoint(t, false), f.endpoint(t, false), f.endpoint(t, true)
	evs := f.events(150, nil, free1, free2, ord)
	_, err := f.a.InsertEvents(f.ctx, evs)
	require.NoError(t, err)
	var orderedSeq []int64
	total := 0
	for _, ne := range evs {
		total += len(ne.Deliveries)
		orderedSeq = append(orderedSeq, ne.Deliveries[2].Seq)
	}

	var (
		mu        sync.Mutex
		claimed   = map[string]string{} // delivery → owner
		ordInHand int                   // deliveries of ord claimed and not yet completed
		ordSeen   []int64
		wg        sync.WaitGroup
		errs      = make(chan error, 4)
	)
	for i, db := range []*postgres.DB{f.a, f.b, f.a, f.b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprint("proc-", i)
			for idle := 0; idle < 3; {
				cs, err := db.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: owner, Now: time.Now(), Lease: time.Hour, Limit: 10, PerEndpointLimit: 5})
				if err != nil {
					errs <- err
					return
				}
				if len(cs) == 0 {
					idle++
					time.Sleep(5 * time.Millisecond)
					continue
				}
				idle = 0
				var results []*store.AttemptResult
				mu.Lock()
				for _, c := range cs {
					d := c.Delivery
					if prev, dup := claimed[d.ID]; dup {
						errs <- fmt.Errorf("%s claimed by %s and %s", d.ID, prev, owner)
					}
					claimed[d.ID] = owner
					if d.EndpointID == ord.ID {
						ordInHand++
						ordSeen = append(ordSeen, d.Seq)
						if ordInHand > 1 {
							errs <- fmt.Errorf("two deliveries of the ordered endpoint in flight")
						}
					}
					results = append(results, &store.AttemptResult{Status: herald.DeliverySucceeded, Attempt: &herald.Attempt{
						ID: herald.NewID(herald.PrefixAttempt), ProjectID: d.ProjectID, DeliveryID: d.ID, EventID: d.EventID,
						EndpointID: d.EndpointID, Number: 1, StartedAt: time.Now(), ResponseStatus: 200}})
				}
				mu.Unlock()
				// Count the ordered delivery as done before its completion
				// commits: the next one may be claimed only after.
				mu.Lock()
				for _, c := range cs {
					if c.Delivery.EndpointID == ord.ID {
						ordInHand--
					}
				}
				mu.Unlock()
				if err := db.CompleteAttempts(f.ctx, results); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, claimed, total, "every delivery claimed")
	require.Equal(t, orderedSeq, ordSeen, "the ordered endpoint's deliveries in ingest order")
	owners := map[string]bool{}
	for _, o := range claimed {
		owners[o] = true
	}
	require.Greater(t, len(owners), 1, "the work was shared")
}

// The idempotency key is a database constraint: two processes ingesting the
// same keys at once accept each key once.
func TestIdempotencyKeyUniqueAcrossProcesses(t *testing.T) {
	baseURL(t)
	f := setup(t)
	const n = 50
	key := func(i int) string { return fmt.Sprint("key-", i) }
	var wg sync.WaitGroup
	results := make([][]store.InsertResult, 4)
	errs := make([]error, 4)
	for i, db := range []*postgres.DB{f.a, f.b, f.a, f.b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = db.InsertEvents(f.ctx, f.events(n, key))
		}()
	}
	wg.Wait()
	accepted := map[string]string{}
	for i := range results {
		require.NoError(t, errs[i])
		for j, r := range results[i] {
			require.False(t, r.Conflict)
			if !r.Replayed {
				require.NotContains(t, accepted, key(j), "key accepted twice")
				accepted[key(j)] = r.Event.ID
			}
		}
	}
	require.Len(t, accepted, n)
	for i := range results {
		for j, r := range results[i] {
			require.Equal(t, accepted[key(j)], r.Event.ID, "every answer names the accepted event")
		}
	}
}

// A Notify on one process wakes a Wakeups listener on another.
func TestNotifyWakesOtherProcess(t *testing.T) {
	baseURL(t)
	f := setup(t)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	wake := f.b.Wakeups(ctx)
	// LISTEN starts in the background: notify until it is heard.
	requireWoken(t, f.a, wake)
}

// A listener whose connection is killed reconnects and hears later
// notifications.
func TestWakeupsReconnect(t *testing.T) {
	baseURL(t)
	f := setup(t)
	ctx, cancel := context.WithCancel(f.ctx)
	defer cancel()
	wake := f.b.Wakeups(ctx)
	requireWoken(t, f.a, wake)

	var killed int
	require.NoError(t, sqlConn(t, f.url).QueryRow(f.ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = current_database() AND query LIKE 'LISTEN%'`).Scan(&killed))
	require.Equal(t, 1, killed)
	drain(wake)
	requireWoken(t, f.a, wake) // the reconnect's own wake-up, or a notification
	requireWoken(t, f.a, wake) // a notification: the reconnect wakes once
}

func drain(ch <-chan struct{}) {
	select {
	case <-ch:
	default:
	}
}

func requireWoken(t *testing.T, notifier *postgres.DB, wake <-chan struct{}) {
	t.Helper()
	deadline := time.After(time.Minute)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		require.NoError(t, notifier.Notify(context.Background()))
		select {
		case <-wake:
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("no wake-up")
		}
	}
}

// A lock one process holds is refused to the other until released, and a
// closed process's locks are freed.
func TestTryLockExclusiveAcrossProcesses(t *testing.T) {
	baseURL(t)
	f := setup(t)
	release, ok, err := f.a.TryLock(f.ctx, "maintenance")
	require.NoError(t, err)
	require.True(t, ok)
	_, ok, err = f.b.TryLock(f.ctx, "maintenance")
	require.NoError(t, err)
	require.False(t, ok, "held by the other process")
	release()
	release() // twice is harmless
	releaseB, ok, err := f.b.TryLock(f.ctx, "maintenance")
	require.NoError(t, err)
	require.True(t, ok, "released")
	releaseB()

	_, ok, err = f.a.TryLock(f.ctx, "retention")
	require.NoError(t, err)
	require.True(t, ok)
	require.NoError(t, f.a.Close(), "Close does not wait for a held lock")
	releaseB, ok, err = f.b.TryLock(f.ctx, "retention")
	require.NoError(t, err)
	require.True(t, ok, "freed when its holder closed")
	releaseB()
}

// Several processes starting at once on an empty database all migrate it
// without error.
func TestConcurrentMigrations(t *testing.T) {
	t.Parallel()
	url := newDatabase(t)
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 2})
			if err == nil {
				err = db.Ping(context.Background())
				db.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	files, err := filepath.Glob("migrations/*.sql")
	require.NoError(t, err)
	var versions, distinct int
	require.NoError(t, sqlConn(t, url).QueryRow(context.Background(),
		"SELECT count(*), count(DISTINCT version_id) FROM herald_schema_version WHERE version_id > 0").Scan(&versions, &distinct))
	require.Equal(t, len(files), versions, "each migration applied once")
	require.Equal(t, len(files), distinct, "each migration applied once")
}

// Errors name the thing and carry herald codes.
func TestErrors(t *testing.T) {
	baseURL(t)
	f := setup(t)
	_, err := f.a.GetEndpoint(f.ctx, f.project.ID, "ep_nope")
	require.Equal(t, herald.ENOTFOUND, herald.ErrorCode(err))
	require.Contains(t, err.Error(), "ep_nope")
	require.Equal(t, herald.ECONFLICT, herald.ErrorCode(f.a.CreateProject(f.ctx, f.project)))
	_, _, err = f.a.ListProjects(f.ctx, store.Page{Cursor: "not a cursor!"})
	require.Equal(t, herald.EINVALID, herald.ErrorCode(err))
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: "prj_missing", URL: "https://example.com/",
		CreatedAt: f.now, UpdatedAt: f.now}
	require.Equal(t, herald.ENOTFOUND, herald.ErrorCode(f.a.CreateEndpoint(f.ctx, ep)), "a missing project")
	bad := &herald.Project{ID: "prj_nul\x00", Name: "x"}
	require.Equal(t, herald.EINVALID, herald.ErrorCode(f.a.CreateProject(f.ctx, bad)), "text PostgreSQL refuses")
}

// A delivery deleted by a transaction that commits while CompleteAttempts
// waits for it is skipped like one deleted before: the batch's other
// results are recorded, with no foreign key error.
func TestCompleteAttemptsSkipsDeliveryDeletedMeanwhile(t *testing.T) {
	baseURL(t)
	f := setup(t)
	ep := f.endpoint(t, false)
	evs := f.events(2, nil, ep)
	_, err := f.a.InsertEvents(f.ctx, evs)
	require.NoError(t, err)
	_, err = f.a.ClaimDeliveries(f.ctx, store.ClaimParams{Owner: "a", Now: time.Now(), Lease: time.Hour, Limit: 10})
	require.NoError(t, err)
	gone, kept := evs[0].Deliveries[0], evs[1].Deliveries[0]

	// Another session deletes the first delivery's event and holds its
	// transaction open.
	conn := sqlConn(t, f.url)
	tx, err := conn.Begin(f.ctx)
	require.NoError(t, err)
	_, err = tx.Exec(f.ctx, "DELETE FROM events WHERE id = $1", gone.EventID)
	require.NoError(t, err)

	result := func(d *herald.Delivery) *store.AttemptResult {
		return &store.AttemptResult{Status: herald.DeliverySucceeded, Attempt: &herald.Attempt{
			ID: herald.NewID(herald.PrefixAttempt), ProjectID: d.ProjectID, DeliveryID: d.ID, EventID: d.EventID,
			EndpointID: d.EndpointID, Number: 1, StartedAt: time.Now(), ResponseStatus: 200}}
	}
	done := make(chan error, 1)
	go func() { done <- f.b.CompleteAttempts(f.ctx, []*store.AttemptResult{result(gone), result(kept)}) }()

	// Commit the delete once CompleteAttempts waits on its row lock.
	waiting := sqlConn(t, f.url)
	require.Eventually(t, func() bool {
		var n int
		err := waiting.QueryRow(f.ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE 'INSERT INTO attempts%'`).Scan(&n)
		return err == nil && n == 1
	}, time.Minute, 10*time.Millisecond, "CompleteAttempts waits for the deleting transaction")
	require.NoError(t, tx.Commit(f.ctx))
	require.NoError(t, <-done)

	d, err := f.a.GetDelivery(f.ctx, f.project.ID, kept.ID)
	require.NoError(t, err)
	require.Equal(t, herald.DeliverySucceeded, d.Status)
	atts, err := f.a.ListAttempts(f.ctx, f.project.ID, gone.ID)
	require.NoError(t, err)
	require.Empty(t, atts)
}
