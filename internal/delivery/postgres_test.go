package delivery

import (
	"context"
	"encoding/json"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/herald-dev/herald/internal/store/postgres/pgtest"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/jackc/pgx/v5"
)

// twoProcesses opens two handles on one fresh PostgreSQL database: two
// Herald processes sharing it. Skipped unless HERALD_TEST_POSTGRES_URL is set.
func twoProcesses(t *testing.T) (*testBundle, *postgres.DB, *postgres.DB, string) {
	t.Helper()
	base := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("set HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run the PostgreSQL tests")
	}
	ctx := context.Background()
	url, drop, err := pgtest.CreateTestDatabase(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	var dbs [2]*postgres.DB
	for i := range dbs {
		db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 8})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		dbs[i] = db
	}
	b := &testBundle{t: t, ctx: ctx, st: dbs[0]}
	now := time.Now().UTC()
	b.project = &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "test", CreatedAt: now, UpdatedAt: now}
	if err := dbs[0].CreateProject(ctx, b.project); err != nil {
		t.Fatal(err)
	}
	b.e = b.engine(dbs[0], nil)
	return b, dbs[0], dbs[1], url
}

// waitListening waits until a session of the database is listening for
// notifications.
func waitListening(t *testing.T, url string) {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	testkit.WaitFor(t, "LISTEN session", func() bool {
		var n int
		err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND query LIKE 'LISTEN %' AND state = 'idle'`).Scan(&n)
		return err == nil && n > 0
	})
}

func TestPostgresNotifyWakesAnotherProcess(t *testing.T) {
	t.Parallel()
	b, _, db2, url := twoProcesses(t)
	rc := testkit.NewReceiver(t, nil)
	b.endpoint(rc.URL, nil)
	// The second process dispatches and never polls in this test's time:
	// only the first process's notification can wake it.
	e2 := b.engine(db2, func(c *Config) { c.PollInterval = time.Hour })
	b.run(e2)
	waitListening(t, url)
	res := b.ingest("user.created", `{}`) // through the first, which does not dispatch
	testkit.WaitFor(t, "delivery by the other process", func() bool { return rc.Count() == 1 })
	if got := rc.Requests()[0].Header.Get("webhook-id"); got != res.Event.ID {
		t.Errorf("webhook-id = %q", got)
	}
}

func TestPostgresTwoProcessesShareTheWork(t *testing.T) {
	t.Parallel()
	b, db1, db2, _ := twoProcesses(t)
	var mu sync.Mutex
	seen := map[string]int{}
	rc := testkit.NewReceiver(t, nil)
	b.endpoint(rc.URL, nil)
	e1 := b.e
	e2 := b.engine(db2, nil)
	b.run(e1)
	b.run(e2)
	const n = 200
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			e := e1
			if i%2 == 1 {
				e = e2
			}
			if _, err := e.Ingest(b.ctx, b.project, []EventInput{{Type: "user.created", Data: json.RawMessage(`{}`)}}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	testkit.WaitFor(t, "all delivered", func() bool {
		ds, _, err := db1.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{Status: herald.DeliverySucceeded}, store.Page{Limit: 1000})
		return err == nil && len(ds) == n
	})
	for _, r := range rc.Requests() {
		mu.Lock()
		seen[r.Header.Get("webhook-id")]++
		mu.Unlock()
	}
	if len(seen) != n {
		t.Errorf("distinct events received = %d, want %d", len(seen), n)
	}
	for id, c := range seen {
		if c != 1 {
			t.Errorf("event %s received %d times", id, c)
		}
	}
}
