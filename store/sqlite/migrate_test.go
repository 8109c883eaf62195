package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/store"
	"github.com/pressly/goose/v3"
	"github.com/stretchr/testify/require"
)

// TestMigrateFrom00002KeepsRowsAndQueriesWork: a database written at
// migration 00002 (before the endpoint pause and the attempts rebuild)
// opens, migrates, keeps every row, and answers the queries of today's
// schema.
func TestMigrateFrom00002KeepsRowsAndQueriesWork(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "herald.db")
	old, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)")
	require.NoError(t, err)
	sub, err := fs.Sub(migrations, "migrations")
	require.NoError(t, err)
	pr, err := goose.NewProvider(goose.DialectSQLite3, old, sub, goose.WithDisableGlobalRegistry(true))
	require.NoError(t, err)
	_, err = pr.UpTo(ctx, 2)
	require.NoError(t, err)

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
	exec(`INSERT INTO endpoints (`+endpointCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		append(append([]any{ep.ID, ep.ProjectID}, cfg...), ep.Status, "", 0, nil, nil, ns(now), ns(now))...)
	// Three events: one delivered (with its attempt), one pending, one in flight.
	var events []*herald.Event
	var ds []*herald.Delivery
	for i, status := range []string{herald.DeliverySucceeded, herald.DeliveryPending, herald.DeliveryInFlight} {
		ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: p.ID, Type: "t", Data: []byte(`{"n":1}`),
			Channels: []string{}, Metadata: map[string]string{}, CreatedAt: now, OccurredAt: now, IdempotencyKey: "", BodyHash: ""}
		exec(`INSERT INTO events (`+eventCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)`, ev.ID, ev.ProjectID, ev.Type, string(ev.Data), "[]", "{}",
			ns(now), ns(now), "", "", false)
		d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: p.ID, EventID: ev.ID, EndpointID: ep.ID, EventType: "t",
			Status: status, NextAttemptAt: &now, CreatedAt: now, UpdatedAt: now}
		if status == herald.DeliveryInFlight {
			lease := now.Add(-time.Minute) // expired: the claim takes it back
			d.LockedBy, d.LockedUntil = "gone", &lease
		}
		exec(`INSERT INTO deliveries (`+deliveryCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, d.ID, d.ProjectID, d.EventID, d.EndpointID,
			d.EventType, d.Status, 0, 0, i+1, ns(now), nullStr(d.LockedBy), nsPtr(d.LockedUntil), nil, 0, "", ns(now), ns(now), nil)
		events, ds = append(events, ev), append(ds, d)
	}
	a := &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: p.ID, DeliveryID: ds[0].ID, EventID: events[0].ID, EndpointID: ep.ID,
		Number: 1, Trigger: herald.TriggerScheduled, StartedAt: now, DurationMS: 4, RequestURL: ep.URL,
		RequestHeaders: map[string]string{"Content-Type": "application/json"}, ResponseStatus: 200, ResponseHeaders: map[string]string{}}
	exec(`INSERT INTO attempts (`+attemptCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, a.ID, a.ProjectID, a.DeliveryID, a.EventID, a.EndpointID,
		a.Number, a.Trigger, ns(a.StartedAt), a.DurationMS, a.RequestURL, `{"Content-Type":"application/json"}`, a.ResponseStatus, "{}", "", "", "")
	require.NoError(t, old.Close())

	db, err := Open(ctx, path, Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	defer db.Close()
	var check string
	require.NoError(t, db.w.QueryRowContext(ctx, `PRAGMA integrity_check`).Scan(&check))
	require.Equal(t, "ok", check)
	var fkOn int
	require.NoError(t, db.w.QueryRowContext(ctx, `PRAGMA foreign_keys`).Scan(&fkOn))
	require.Equal(t, 1, fkOn, "the rebuild turns foreign keys back on")
	require.ErrorIs(t, db.w.QueryRowContext(ctx, `PRAGMA foreign_key_check`).Scan(&check), sql.ErrNoRows)
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

func claimedIDs(cs []*store.Claim) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.Delivery.ID
	}
	return ids
}
