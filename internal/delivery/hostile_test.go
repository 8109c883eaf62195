package delivery

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/herald-dev/herald/internal/store/postgres/pgtest"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/jackc/pgx/v5"
)

// eachStore runs test on an engine over a SQLite file and, when
// HERALD_TEST_POSTGRES_URL is set, over a fresh PostgreSQL database. dsn
// names the database: "sqlite:PATH" or the postgres:// URL.
func eachStore(t *testing.T, mutate func(*Config), test func(t *testing.T, b *testBundle, dsn string)) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		b := setup(t, mutate)
		test(t, b, "sqlite:"+b.path)
	})
	t.Run("postgres", func(t *testing.T) {
		t.Parallel()
		b, url := setupPostgres(t, mutate)
		test(t, b, url)
	})
}

// refuseAttempts installs a trigger in the database at dsn that refuses
// to insert an attempt whose error is text: a row the database will not
// take, whatever the batch around it.
func refuseAttempts(t *testing.T, dsn, text string) {
	t.Helper()
	ctx := context.Background()
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if _, err := db.ExecContext(ctx, `CREATE TRIGGER refuse_attempt BEFORE INSERT ON attempts
			WHEN NEW.error = '`+text+`' BEGIN SELECT RAISE(ABORT, 'refused by the test'); END`); err != nil {
			t.Fatal(err)
		}
		return
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION refuse_attempt() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN IF NEW.error = '`+text+`' THEN RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$;
		CREATE TRIGGER refuse_attempt BEFORE INSERT ON attempts FOR EACH ROW EXECUTE FUNCTION refuse_attempt()`); err != nil {
		t.Fatal(err)
	}
}

// postgresIfAny is setupPostgres when HERALD_TEST_POSTGRES_URL is set.
func postgresIfAny(t testing.TB, mutate func(*Config)) (*testBundle, bool) {
	if os.Getenv("HERALD_TEST_POSTGRES_URL") == "" {
		return nil, false
	}
	b, _ := setupPostgres(t, mutate)
	return b, true
}

// setupPostgres is setup over a fresh PostgreSQL database; it also returns
// the database's URL.
func setupPostgres(t testing.TB, mutate func(*Config)) (*testBundle, string) {
	t.Helper()
	base := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if base == "" {
		t.Skip("set HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run the PostgreSQL tests")
	}
	return setupPostgresOn(t, base, mutate)
}

// setupPostgresOn is setupPostgres on the server of base.
func setupPostgresOn(t testing.TB, base string, mutate func(*Config)) (*testBundle, string) {
	t.Helper()
	ctx := context.Background()
	url, drop, err := pgtest.CreateTestDatabase(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(drop)
	db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 8})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	b := &testBundle{t: t, ctx: ctx, st: db}
	now := time.Now().UTC()
	b.project = &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "test", CreatedAt: now, UpdatedAt: now}
	if err := db.CreateProject(ctx, b.project); err != nil {
		t.Fatal(err)
	}
	b.e = b.engine(db, mutate)
	return b, url
}

// patient keeps failing endpoints in service: no breaker, no disabling.
func patient(c *Config) {
	c.BreakerThreshold = 1 << 30
	c.DisableAfter = 1000 * time.Hour
}

// once makes an endpoint's deliveries end after their first attempt.
func once(ep *herald.Endpoint) { ep.RetrySchedule = []herald.Duration{} }

// finished reports whether every delivery of the project is succeeded or
// exhausted, and there are n of them.
func (b *testBundle) finished(n int) bool {
	ds, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{}, store.Page{Limit: 1000})
	if err != nil || len(ds) != n {
		return false
	}
	for _, d := range ds {
		if d.Status != herald.DeliverySucceeded && d.Status != herald.DeliveryExhausted {
			return false
		}
	}
	return true
}

// storable fails the test unless what a stored attempt holds from the
// receiver is valid UTF-8, free of NUL and within its bounds.
func storable(t *testing.T, a *herald.Attempt) {
	t.Helper()
	text := func(what, s string, max int) {
		t.Helper()
		if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
			t.Errorf("attempt %s: %s is not valid UTF-8 text: %q", a.ID, what, s)
		}
		if len(s) > max {
			t.Errorf("attempt %s: %s is %d bytes, more than %d", a.ID, what, len(s), max)
		}
	}
	text("error", a.Error, ErrorMax)
	text("response body", a.ResponseBody, ResponseBodyMax)
	size := 0
	for k, v := range a.ResponseHeaders {
		text("response header name", k, ResponseHeadersMax)
		text("response header "+k, v, ResponseHeadersMax)
		size += len(k) + len(v)
	}
	if size > ResponseHeadersMax {
		t.Errorf("attempt %s: response headers are %d bytes, more than %d", a.ID, size, ResponseHeadersMax)
	}
}

// A receiver that redirects to a Location of bytes that are not UTF-8 gets
// its attempts recorded (the text made valid), and the results written in
// the same batches as its own are not lost with them: the healthy
// endpoint's deliveries succeed once each, none is sent twice.
func TestHostileRedirectIsRecordedAndSparesTheOthers(t *testing.T) {
	t.Parallel()
	eachStore(t, patient, func(t *testing.T, b *testBundle, _ string) {
		hostile := testkit.NewReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) {
			w.Header()["Location"] = []string{"/x\xff\xfe\xfd"}
			w.WriteHeader(http.StatusFound)
		})
		healthy := testkit.NewReceiver(t, nil)
		bad := b.endpoint(hostile.URL, once)
		b.endpoint(healthy.URL, once)
		b.run(b.e)
		const n = 100
		in := make([]EventInput, n)
		for i := range in {
			in[i] = EventInput{Type: "user.created", Data: []byte(`{}`)}
		}
		if _, err := b.e.Ingest(b.ctx, b.project, in); err != nil {
			t.Fatal(err)
		}
		testkit.WaitFor(t, "every delivery finished", func() bool { return b.finished(2 * n) })
		seen := map[string]int{}
		for _, r := range healthy.Requests() {
			seen[r.Header.Get("webhook-id")]++
		}
		if len(seen) != n {
			t.Errorf("healthy endpoint received %d distinct events, want %d", len(seen), n)
		}
		for id, c := range seen {
			if c != 1 {
				t.Errorf("event %s sent %d times to the healthy endpoint", id, c)
			}
		}
		as, err := b.st.ListEndpointAttempts(b.ctx, b.project.ID, bad.ID, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if len(as) != n {
			t.Errorf("hostile endpoint's attempts recorded: %d, want %d", len(as), n)
		}
		for _, a := range as {
			storable(t, a)
			if a.ErrorClass != herald.ErrorRedirect || !strings.Contains(a.Error, "/x\uFFFD") {
				t.Errorf("attempt: class %q, error %q; want a redirect naming /x\uFFFD…", a.ErrorClass, a.Error)
			}
		}
	})
}

// One result the database refuses fails alone: the other results of its
// batch are written.
func TestOneRefusedResultFailsAlone(t *testing.T) {
	t.Parallel()
	eachStore(t, nil, func(t *testing.T, b *testBundle, dsn string) {
		refuseAttempts(t, dsn, "refuse me")
		rc := testkit.NewReceiver(t, nil)
		b.endpoint(rc.URL, nil)
		const n = 20
		for range n {
			b.ingest("user.created", `{}`)
		}
		// Claimed as the engine would, the engine not running.
		claims, err := b.st.ClaimDeliveries(b.ctx, store.ClaimParams{Owner: b.e.cfg.Owner, Now: time.Now(), Lease: time.Minute, Limit: n})
		if err != nil || len(claims) != n {
			t.Fatalf("claimed %d, err %v", len(claims), err)
		}
		rec := newRecorder(b.e.recDeps)
		b.e.rec = rec
		go rec.run()
		for i, c := range claims {
			att := &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: b.project.ID, DeliveryID: c.Delivery.ID,
				EventID: c.Event.ID, EndpointID: c.Delivery.EndpointID, Number: 1, Trigger: herald.TriggerScheduled,
				StartedAt: time.Now().UTC(), ResponseStatus: 200, RequestHeaders: map[string]string{}}
			if i == n/2 {
				att.Error = "refuse me"
			}
			rec.add(recorded{r: &store.AttemptResult{Attempt: att, Status: herald.DeliverySucceeded}, until: time.Now().Add(time.Minute)})
		}
		rec.close()
		ok := b.deliveries(store.DeliveryFilter{Status: herald.DeliverySucceeded})
		if len(ok) != n-1 {
			t.Errorf("deliveries recorded as succeeded: %d, want %d (all but the refused one)", len(ok), n-1)
		}
		if d, err := b.st.GetDelivery(b.ctx, b.project.ID, claims[n/2].Delivery.ID); err != nil || d.Status != herald.DeliveryInFlight {
			t.Errorf("refused result's delivery: %+v, %v; want still in flight (sent again when its lease ends)", d, err)
		}
	})
}

// A PostgreSQL outage longer than the recorder's old patience (its
// sessions terminated, new ones refused for a few seconds, as during a
// restart) does not lose the results of the attempts made meanwhile: the
// recorder keeps trying while their leases last, so nothing is sent twice.
func TestRecorderOutlastsAPostgresOutage(t *testing.T) {
	t.Parallel()
	b, dbURL := setupPostgres(t, nil)
	release := make(chan struct{})
	var releaseOnce sync.Once
	answer := func() { releaseOnce.Do(func() { close(release) }) }
	rc := testkit.NewReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) { <-release })
	t.Cleanup(answer) // (before the receiver closes, should the test stop early)
	b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.MaxInFlight = 100 })
	b.run(b.e)
	const n = 20
	for range n {
		b.ingest("user.created", `{}`)
	}
	testkit.WaitFor(t, "every delivery sent", func() bool { return rc.Count() == n })

	restore := pgtest.RefuseSessions(t, dbURL)
	answer() // the answers come while the database is away
	outage := 4 * time.Second
	time.Sleep(outage) // the outage itself, not a wait for a condition
	restore()

	testkit.WaitFor(t, "every delivery recorded as succeeded", func() bool {
		ds, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{Status: herald.DeliverySucceeded}, store.Page{Limit: 1000})
		return err == nil && len(ds) == n
	})
	if got := rc.Count(); got != n {
		t.Errorf("requests received = %d, want %d (none sent twice)", got, n)
	}
}

// A real PostgreSQL restart (a server of the test's own, stopped for a few
// seconds, then started) while results wait: the recorder outlasts it, and
// nothing is sent twice.
func TestRecorderOutlastsAPostgresRestart(t *testing.T) {
	t.Parallel()
	base, stop, start := privatePostgres(t)
	b, _ := setupPostgresOn(t, base, nil)
	release := make(chan struct{})
	var releaseOnce sync.Once
	answer := func() { releaseOnce.Do(func() { close(release) }) }
	rc := testkit.NewReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) { <-release })
	t.Cleanup(answer)
	b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.MaxInFlight = 100 })
	b.run(b.e)
	const n = 20
	for range n {
		b.ingest("user.created", `{}`)
	}
	testkit.WaitFor(t, "every delivery sent", func() bool { return rc.Count() == n })
	stop()
	answer()                    // the answers come while the server is down
	time.Sleep(4 * time.Second) // the restart's length: the fault, not a wait for a condition
	start()
	testkit.WaitFor(t, "every delivery recorded as succeeded", func() bool {
		ds, _, err := b.st.ListDeliveries(b.ctx, b.project.ID, store.DeliveryFilter{Status: herald.DeliverySucceeded}, store.Page{Limit: 1000})
		return err == nil && len(ds) == n
	})
	if got := rc.Count(); got != n {
		t.Errorf("requests received = %d, want %d (none sent twice)", got, n)
	}
}

// privatePostgres runs a PostgreSQL server of the test's own (initdb and
// pg_ctl from PATH; as the postgres user when the test runs as root), so
// that it can be stopped and started. It returns its base URL. Skipped
// with the other PostgreSQL tests, or where the tools are missing.
func privatePostgres(t *testing.T) (base string, stop, start func()) {
	t.Helper()
	if os.Getenv("HERALD_TEST_POSTGRES_URL") == "" {
		t.Skip("set HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run the PostgreSQL tests")
	}
	initdb, err := exec.LookPath("initdb")
	if err != nil {
		t.Skip("initdb is not on PATH")
	}
	pgctl, err := exec.LookPath("pg_ctl")
	if err != nil {
		t.Skip("pg_ctl is not on PATH")
	}
	dir, err := os.MkdirTemp("", "herald-pg")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	run := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(name, args...)
		if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
			u, err := user.Lookup("postgres")
			if err != nil {
				t.Skip("running as root with no postgres user to run PostgreSQL as")
			}
			uid, _ := strconv.Atoi(u.Uid)
			gid, _ := strconv.Atoi(u.Gid)
			if err := os.Chown(dir, uid, gid); err != nil {
				t.Fatal(err)
			}
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, out)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	data := filepath.Join(dir, "data")
	run(initdb, "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off", port, dir)
	start = func() { run(pgctl, "-D", data, "-l", filepath.Join(dir, "log"), "-o", opts, "-w", "start") }
	stop = func() { run(pgctl, "-D", data, "-m", "fast", "-w", "stop") }
	start()
	t.Cleanup(func() { exec.Command(pgctl, "-D", data, "-m", "immediate", "stop").Run() })
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), stop, start
}
