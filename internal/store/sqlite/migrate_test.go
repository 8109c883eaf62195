package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"
)

// oldSchema is a database file migrated up to version, with the provider
// that migrated it.
func oldSchema(t *testing.T, version int64) (string, *sql.DB, *goose.Provider) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	old.SetMaxOpenConns(1) // as the writer: a NO TRANSACTION migration's statements share one connection
	t.Cleanup(func() { old.Close() })
	sub, err := fs.Sub(migrations, "migrations")
	require.NoError(t, err)
	pr, err := goose.NewProvider(goose.DialectSQLite3, old, sub, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = pr.UpTo(context.Background(), version)
	require.NoError(t, err)
	return path, old, pr
}

// oldEndpointCols are the columns of 00001's endpoints: the later
// migrations' columns have defaults.
var oldEndpointCols = strings.TrimSuffix(pre00010(endpointCols), ", retry_jitter")

// oldRows are the rows seedOld writes.
type oldRows struct {
	p      *herald.Project
	ep     *herald.Endpoint
	events []*herald.Event
	ds     []*herald.Delivery // succeeded, pending, in flight (lease expired)
	a      *herald.Attempt    // of ds[0]
}

// seedOld writes, with the SQL of the schemas since 00001, a project, an
// endpoint, three events with a delivery each (one delivered, with its
// attempt, one pending, one in flight) into an old database.
// oldAttemptCols are the attempt columns before 00013 added the request body.
const oldAttemptCols = `id, project_id, delivery_id, event_id, endpoint_id, number, trigger, started_at, duration_ms,
	request_url, request_headers, response_status, response_headers, response_body, error_class, error`

func seedOld(t *testing.T, old *sql.DB) oldRows {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "p", CreatedAt: now, UpdatedAt: now}
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: p.ID, URL: "https://example.com/", Enabled: true,
		Status: herald.EndpointHealthy, CreatedAt: now, UpdatedAt: now}
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := old.ExecContext(ctx, q, args...)
		require.NoError(t, err)
	}
	exec(`INSERT INTO projects (id, name, strict_event_types, created_at, updated_at) VALUES (?, ?, 0, ?, ?)`, p.ID, p.Name, ns(now), ns(now))
	cfg, err := endpointConfig(ep)
	require.NoError(t, err)
	exec(`INSERT INTO endpoints (`+oldEndpointCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		append(append([]any{ep.ID, ep.ProjectID}, cfg...), ep.Status, "", 0, nil, nil, ns(now), ns(now))...)
	var events []*herald.Event
	var ds []*herald.Delivery
	for i, status := range []string{herald.DeliverySucceeded, herald.DeliveryPending, herald.DeliveryInFlight} {
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: p.ID, Type: "t", Data: []byte(`{"n":1}`),
			Channels: []string{}, Metadata: map[string]string{}, CreatedAt: now, OccurredAt: now, IdempotencyKey: "", BodyHash: ""}
		exec(`INSERT INTO events (id, project_id, type, data, channels, metadata, occurred_at, created_at, idempotency_key, body_hash, is_hook) VALUES (?,?,?,?,?,?,?,?,?,?,?)`, ev.ID, ev.ProjectID, ev.Type, string(ev.Data), "[]", "{}",
			ns(now), ns(now), "", "", false)
		d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: p.ID, EventID: ev.ID, EndpointID: ep.ID, EventType: "t",
			Status: status, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now}
		if status == herald.DeliveryInFlight {
			lease := now.Add(-time.Minute) // expired: the claim takes it back
			d.LockedBy, d.LockedUntil = "gone", &lease
		}
		exec(`INSERT INTO deliveries (`+pre00010(deliveryCols)+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, d.ID, d.ProjectID, d.EventID, d.EndpointID,
			d.EventType, d.Status, 0, 0, i+1, ns(now), nullStr(d.LockedBy), nsPtr(d.LockedUntil), nil, 0, "", ns(now), ns(now), nil)
		events, ds = append(events, ev), append(ds, d)
	}
	a := &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: p.ID, DeliveryID: ds[0].ID, EventID: events[0].ID, EndpointID: ep.ID,
		Number: 1, Trigger: herald.TriggerScheduled, StartedAt: now, DurationMS: 4, RequestURL: ep.URL,
		RequestHeaders: map[string]string{"Content-Type": "application/json"}, ResponseStatus: 200, ResponseHeaders: map[string]string{}}
	exec(`INSERT INTO attempts (`+oldAttemptCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, a.ID, a.ProjectID, a.DeliveryID, a.EventID, a.EndpointID,
		a.Number, a.Trigger, ns(a.StartedAt), a.DurationMS, a.RequestURL, `{"Content-Type":"application/json"}`, a.ResponseStatus, "{}", "", "", "")
	return oldRows{p: p, ep: ep, events: events, ds: ds, a: a}
}

// pre00010 is a column list as it was before migration 00010 added
// tenant_id.
func pre00010(cols string) string { return strings.TrimSuffix(cols, tenantCol) }

// reopen closes the old database and opens it as a store (which migrates
// it up), and checks its integrity.
func reopen(t *testing.T, old *sql.DB, path string) *DB {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, old.Close())
	db, err := Open(ctx, path, Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	var check string
	require.NoError(t, db.w.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check))
	require.Equal(t, "ok", check)
	return db
}

// TestMigrateFrom00002KeepsRowsAndQueriesWork: a database written at
// migration 00002 (before the endpoint pause and the attempts rebuild)
// opens, migrates, keeps every row, and answers the queries of today's
// schema.
func TestMigrateFrom00002KeepsRowsAndQueriesWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, old, _ := oldSchema(t, 2)
	rows := seedOld(t, old)
	p, ep, events, ds, a := rows.p, rows.ep, rows.events, rows.ds, rows.a
	now := ds[0].CreatedAt
	db := reopen(t, old, path)
	var fkOn int
	require.NoError(t, db.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fkOn))
	require.Equal(t, 1, fkOn, "the rebuild turns foreign keys back on")
	require.ErrorIs(t, db.w.QueryRowContext(ctx, `PRAGMA foreign_key_check`).Scan(new(string)), sql.ErrNoRows)
	for _, ev := range events {
		got, err := db.GetEvent(ctx, p.ID, ev.ID)
		require.NoError(t, err)
		require.Equal(t, ev.ID, got.ID)
	}
	list, _, err := db.ListDeliveries(ctx, p.ID, store.DeliveryFilter{}, store.Page{Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 3)
	atts, err := db.ListAttempts(ctx, p.ID, ds[0].ID)
	require.NoError(t, err)
	require.Len(t, atts, 1)
	require.Equal(t, a.ID, atts[0].ID)
	require.Equal(t, a.RequestHeaders, atts[0].RequestHeaders)

	qs, err := db.QueueStats(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, qs.Pending)
	cs, err := db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "o", Now: time.Now(), Lease: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.ElementsMatch(t, []string{ds[1].ID, ds[2].ID}, claimedIDs(cs), "the pending one, and the expired lease")
	res := benchResults(cs)
	require.NoError(t, db.CompleteAttempts(ctx, res))
	st, err := db.EndpointStats(ctx, p.ID, ep.ID, now.Add(-time.Hour))
	require.NoError(t, err)
	require.Equal(t, 3, st.Deliveries[herald.DeliverySucceeded])
	require.Equal(t, 3, st.Attempts)

	require.NoError(t, db.PostponeEndpoint(ctx, ep.ID, time.Now().Add(time.Hour)))
	_, err = db.InsertEvents(ctx, benchEvents(p, 1, ep))
	require.NoError(t, err)
	cs, err = db.ClaimDeliveries(ctx, store.ClaimParams{Owner: "o", Now: time.Now(), Lease: time.Minute, Limit: 10})
	require.NoError(t, err)
	require.Empty(t, cs, "the endpoint is paused")
	n, err := db.Purge(ctx, time.Now().Add(time.Minute), 10)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	atts, err = db.ListAttempts(ctx, p.ID, ds[0].ID)
	require.NoError(t, err)
	require.Empty(t, atts, "the rebuilt attempts still go with their delivery")
}

// TestMigrate00006UnfinishedEndpointIndex: 00006 leaves only the
// unfinished deliveries in deliveries_endpoint, its Down gives back the
// full index, and the queries that read it answer from either.
func TestMigrate00006UnfinishedEndpointIndex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, old, pr := oldSchema(t, 5)
	rows := seedOld(t, old)
	entries := func() int {
		t.Helper()
		var n int
		require.NoError(t, old.QueryRowContext(ctx, `SELECT SUM(ncell) FROM dbstat WHERE name = 'deliveries_endpoint' AND pagetype = 'leaf'`).Scan(&n))
		return n
	}
	require.Equal(t, 3, entries())
	_, err := pr.UpTo(ctx, 6)
	require.NoError(t, err)
	require.Equal(t, 2, entries(), "the pending and the in-flight delivery, not the succeeded one")
	_, err = pr.DownTo(ctx, 5)
	require.NoError(t, err)
	require.Equal(t, 3, entries())
	db := reopen(t, old, path)
	qs, err := db.QueueStats(ctx)
	require.NoError(t, err)
	require.Equal(t, 2, qs.Pending)
	require.NotNil(t, qs.OldestPending)
	require.True(t, qs.OldestPending.Equal(rows.ds[1].CreatedAt), "%v", qs.OldestPending)
	require.NoError(t, db.DeleteEndpoint(ctx, rows.p.ID, rows.ep.ID))
	for i, want := range []string{herald.DeliverySucceeded, herald.DeliveryCanceled, herald.DeliveryCanceled} {
		d, err := db.GetDelivery(ctx, rows.p.ID, rows.ds[i].ID)
		require.NoError(t, err)
		require.Equal(t, want, d.Status)
	}
	qs, err = db.QueueStats(ctx)
	require.NoError(t, err)
	require.Zero(t, qs.Pending)
	require.Nil(t, qs.OldestPending)
}

func claimedIDs(cs []*store.Claim) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Delivery.ID
	}
	return ids
}
