package sealed_test

import (
	"context"
	"database/sql"
	"fmt"
	neturl "net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/secret"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/herald-dev/herald/internal/store/postgres/pgtest"
	"github.com/herald-dev/herald/internal/store/sealed"
	"github.com/herald-dev/herald/internal/store/sqlite"
	"github.com/herald-dev/herald/internal/store/storetest"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
	_ "modernc.org/sqlite" // database/sql driver "sqlite", to look behind the store
)

const (
	key      = "test-key-0123456789abcdef0123456789"
	otherKey = "another-key-0123456789abcdef012345"
	urlEnv   = "HERALD_TEST_POSTGRES_URL"
)

// pgURL is a database of this test binary's own on the server named by
// HERALD_TEST_POSTGRES_URL, or "" when that is unset. Each store gets a
// schema in it (CREATE DATABASE is slow, CREATE SCHEMA is not).
var pgURL string

func TestMain(m *testing.M) {
	code := func() int {
		if base := os.Getenv(urlEnv); base != "" {
			url, drop, err := pgtest.CreateTestDatabase(context.Background(), base)
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 1
			}
			defer drop()
			pgURL = url
		}
		return m.Run()
	}()
	os.Exit(code)
}

func cipher(t testing.TB, k string) *secret.Cipher {
	t.Helper()
	c, err := secret.NewCipher(k)
	require.NoError(t, err)
	return c
}

// backend is a real database under the wrapper.
type backend struct {
	name string
	// open returns a plain store over a fresh, empty database and a
	// function that dumps the endpoints table, every column of every row,
	// as text read around the store.
	open func(t *testing.T) (store.Store, func() string)
}

func openSQLite(t *testing.T) (store.Store, func() string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "herald.db")
	st, err := sqlite.Open(context.Background(), path, sqlite.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	dump := func() string {
		db, err := sql.Open("sqlite", path)
		require.NoError(t, err)
		defer db.Close()
		rows, err := db.Query(`SELECT * FROM endpoints`)
		require.NoError(t, err)
		defer rows.Close()
		cols, err := rows.Columns()
		require.NoError(t, err)
		var out strings.Builder
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				fmt.Fprintf(&out, "%s=%v\n", cols[i], v)
			}
		}
		require.NoError(t, rows.Err())
		return out.String()
	}
	return st, dump
}

func openPostgres(t *testing.T) (store.Store, func() string) {
	t.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pgURL)
	require.NoError(t, err)
	schema := "s_" + strings.ToLower(herald.NewID(""))
	_, err = admin.Exec(ctx, "CREATE SCHEMA "+schema)
	require.NoError(t, err)
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		admin.Close(context.Background())
	})
	u, err := neturl.Parse(pgURL)
	require.NoError(t, err)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(ctx, u.String(), postgres.Options{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	dump := func() string {
		// A row cast to text is every column of it, as PostgreSQL keeps it.
		rows, err := admin.Query(ctx, "SELECT e::text FROM "+schema+".endpoints e")
		require.NoError(t, err)
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		require.NoError(t, err)
		return strings.Join(lines, "\n")
	}
	return st, dump
}

// backends are SQLite always, PostgreSQL when HERALD_TEST_POSTGRES_URL is
// set.
func backends() []backend {
	bs := []backend{{"SQLite", openSQLite}}
	if pgURL != "" {
		bs = append(bs, backend{"PostgreSQL", openPostgres})
	}
	return bs
}

// each runs fn as a parallel subtest per backend.
func each(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func TestConformanceSQLite(t *testing.T) {
	t.Parallel()
	c := cipher(t, key)
	storetest.Run(t, func(t *testing.T) store.Store {
		st, _ := openSQLite(t)
		return sealed.New(st, c)
	})
}

func TestConformancePostgres(t *testing.T) {
	if pgURL == "" {
		t.Skip("set HERALD_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable to run the suite over PostgreSQL")
	}
	t.Parallel()
	c := cipher(t, key)
	storetest.Run(t, func(t *testing.T) store.Store {
		st, _ := openPostgres(t)
		return sealed.New(st, c)
	})
}

// Distinctive plaintexts, so that a search of the table cannot match by
// accident.
const (
	plainSecret   = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtMQ=="
	plainPrevious = "whsec_cHJldmlvdXMtcHJldmlvdXMtcHJldmlv"
	plainPassword = "hunter2-password-f00d"
	plainBearer   = "bearer-token-b4d-c0ffee"
	plainHeader   = "header-api-key-5ca1ab1e"
)

func project(t *testing.T, st store.Store) *herald.Project {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	p := &herald.Project{ID: herald.NewID(herald.PrefixProject), Name: "p", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, st.CreateProject(context.Background(), p))
	return p
}

// endpoint is an endpoint of p carrying every kind of secret.
func endpoint(p *herald.Project) *herald.Endpoint {
	now := time.Now().UTC().Truncate(time.Microsecond)
	return &herald.Endpoint{
		ID: herald.NewID(herald.PrefixEndpoint), ProjectID: p.ID, URL: "https://example.com/hook",
		Enabled: true, Status: herald.EndpointHealthy,
		Auth:                &herald.Auth{Basic: &herald.BasicAuth{Username: "svc", Password: plainPassword}, Bearer: plainBearer},
		Headers:             map[string]string{"X-Api-Key": plainHeader, "X-Empty": ""},
		Metadata:            map[string]string{},
		Secret:              plainSecret,
		PreviousSecret:      plainPrevious,
		PreviousSecretUntil: &now,
		CreatedAt:           now, UpdatedAt: now,
	}
}

// requireSecrets checks ep carries the plaintexts endpoint gave it.
func requireSecrets(t *testing.T, ep *herald.Endpoint) {
	t.Helper()
	require.Equal(t, plainSecret, ep.Secret)
	require.Equal(t, plainPrevious, ep.PreviousSecret)
	require.NotNil(t, ep.Auth)
	require.NotNil(t, ep.Auth.Basic)
	require.Equal(t, "svc", ep.Auth.Basic.Username)
	require.Equal(t, plainPassword, ep.Auth.Basic.Password)
	require.Equal(t, plainBearer, ep.Auth.Bearer)
	require.Equal(t, map[string]string{"X-Api-Key": plainHeader, "X-Empty": ""}, ep.Headers)
}

// requireSealed checks the table holds none of the plaintexts, and holds
// ciphertext instead.
func requireSealed(t *testing.T, dump string) {
	t.Helper()
	for _, p := range []string{plainSecret, plainPrevious, plainPassword, plainBearer, plainHeader} {
		require.NotContains(t, dump, p)
	}
	// Secret, previous secret, password, bearer, header: at least five
	// ciphertexts per row.
	require.GreaterOrEqual(t, strings.Count(dump, secret.Prefix), 5, dump)
	require.Contains(t, dump, "svc", "the username is not a secret and stays readable")
}

func TestSecretsAreEncryptedAtRest(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, dump := b.open(t)
		st := sealed.New(inner, cipher(t, key))
		p := project(t, st)
		ep := endpoint(p)
		require.NoError(t, st.CreateEndpoint(ctx, ep))
		requireSealed(t, dump())

		got, err := st.GetEndpoint(ctx, p.ID, ep.ID)
		require.NoError(t, err)
		requireSecrets(t, got)
		got, err = st.GetEndpointByID(ctx, ep.ID)
		require.NoError(t, err)
		requireSecrets(t, got)
		list, _, err := st.ListEndpoints(ctx, p.ID, store.EndpointFilter{}, store.Page{Limit: 10})
		require.NoError(t, err)
		require.Len(t, list, 1)
		requireSecrets(t, list[0])
		all, err := st.ProjectEndpoints(ctx, p.ID)
		require.NoError(t, err)
		require.Len(t, all, 1)
		requireSecrets(t, all[0])

		// The backend sees ciphertext, not the plaintext.
		raw, err := inner.GetEndpointByID(ctx, ep.ID)
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(raw.Secret, secret.Prefix), raw.Secret)
		require.True(t, strings.HasPrefix(raw.Auth.Basic.Password, secret.Prefix), raw.Auth.Basic.Password)
		require.True(t, strings.HasPrefix(raw.Auth.Bearer, secret.Prefix), raw.Auth.Bearer)
		require.True(t, strings.HasPrefix(raw.Headers["X-Api-Key"], secret.Prefix), raw.Headers["X-Api-Key"])
		require.Equal(t, "", raw.Headers["X-Empty"], "an empty value stays empty")
	})
}

func TestUpdateEndpointEncryptsNewSecrets(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, dump := b.open(t)
		st := sealed.New(inner, cipher(t, key))
		p := project(t, st)
		ep := endpoint(p)
		ep.Secret, ep.Auth, ep.Headers = "whsec_b2xkb2xkb2xkb2xkb2xkb2xkb2xk", nil, nil
		require.NoError(t, st.CreateEndpoint(ctx, ep))

		up := endpoint(p)
		up.ID, up.CreatedAt = ep.ID, ep.CreatedAt
		require.NoError(t, st.UpdateEndpoint(ctx, up))
		requireSealed(t, dump())
		got, err := st.GetEndpoint(ctx, p.ID, ep.ID)
		require.NoError(t, err)
		requireSecrets(t, got)
	})
}

func TestCallersEndpointKeepsPlaintext(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, _ := b.open(t)
		st := sealed.New(inner, cipher(t, key))
		p := project(t, st)
		ep := endpoint(p)
		auth, basic, headers := ep.Auth, ep.Auth.Basic, ep.Headers
		require.NoError(t, st.CreateEndpoint(ctx, ep))
		requireSecrets(t, ep)
		require.Same(t, auth, ep.Auth)
		require.Same(t, basic, ep.Auth.Basic)
		require.Equal(t, fmt.Sprintf("%p", headers), fmt.Sprintf("%p", ep.Headers), "the caller's map is the caller's")

		ep.URL = "https://example.org/moved"
		require.NoError(t, st.UpdateEndpoint(ctx, ep))
		requireSecrets(t, ep)
	})
}

func TestWrongKeyIsAClearError(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, _ := b.open(t)
		p := project(t, inner)
		ep := endpoint(p)
		require.NoError(t, sealed.New(inner, cipher(t, key)).CreateEndpoint(ctx, ep))

		wrong := sealed.New(inner, cipher(t, otherKey))
		check := func(err error) {
			t.Helper()
			require.Error(t, err)
			require.ErrorIs(t, err, secret.ErrDecrypt)
			require.Contains(t, err.Error(), "cannot decrypt endpoint "+ep.ID+": wrong HERALD_ENCRYPTION_KEY?")
		}
		got, err := wrong.GetEndpoint(ctx, p.ID, ep.ID)
		check(err)
		require.Nil(t, got, "no endpoint with garbage secrets")
		_, err = wrong.GetEndpointByID(ctx, ep.ID)
		check(err)
		list, _, err := wrong.ListEndpoints(ctx, p.ID, store.EndpointFilter{}, store.Page{Limit: 10})
		check(err)
		require.Nil(t, list)
		all, err := wrong.ProjectEndpoints(ctx, p.ID)
		check(err)
		require.Nil(t, all)
	})
}

func TestMissingKeyRefusesEncryptedValues(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, _ := b.open(t)
		p := project(t, inner)
		ep := endpoint(p)
		require.NoError(t, sealed.New(inner, cipher(t, key)).CreateEndpoint(ctx, ep))

		_, err := sealed.New(inner, nil).GetEndpoint(ctx, p.ID, ep.ID)
		require.ErrorIs(t, err, secret.ErrNoKey)
		require.Contains(t, err.Error(), "cannot decrypt endpoint "+ep.ID+": its secrets are encrypted but HERALD_ENCRYPTION_KEY is not set")
	})
}

func TestPlaintextRowsStillRead(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, dump := b.open(t)
		p := project(t, inner)
		ep := endpoint(p)
		require.NoError(t, inner.CreateEndpoint(ctx, ep), "written before encryption was turned on")
		require.Contains(t, dump(), plainSecret)

		st := sealed.New(inner, cipher(t, key))
		got, err := st.GetEndpoint(ctx, p.ID, ep.ID)
		require.NoError(t, err)
		requireSecrets(t, got)
		all, err := st.ProjectEndpoints(ctx, p.ID)
		require.NoError(t, err)
		requireSecrets(t, all[0])

		// The next write encrypts it.
		require.NoError(t, st.UpdateEndpoint(ctx, got))
		requireSealed(t, dump())
		got, err = st.GetEndpoint(ctx, p.ID, ep.ID)
		require.NoError(t, err)
		requireSecrets(t, got)
	})
}

func TestNilCipherStoresPlaintext(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, dump := b.open(t)
		st := sealed.New(inner, nil)
		p := project(t, st)
		ep := endpoint(p)
		require.NoError(t, st.CreateEndpoint(ctx, ep))
		require.Contains(t, dump(), plainSecret)
		got, err := st.GetEndpoint(ctx, p.ID, ep.ID)
		require.NoError(t, err)
		requireSecrets(t, got)
	})
}

// chanNotifier adds a store.Notifier to a real store, as PostgreSQL's has,
// so the SQLite-only run checks the wrapper keeps it too.
type chanNotifier struct {
	store.Store
	ch chan struct{}
}

func (n *chanNotifier) Notify(context.Context) error {
	select {
	case n.ch <- struct{}{}:
	default:
	}
	return nil
}

func (n *chanNotifier) Wakeups(context.Context) <-chan struct{} { return n.ch }

func TestNotifierIsKept(t *testing.T) {
	t.Parallel()
	inner, _ := openSQLite(t)
	_, ok := sealed.New(inner, cipher(t, key)).(store.Notifier)
	require.False(t, ok, "a backend without notifications must not look like it has them")

	st := sealed.New(&chanNotifier{Store: inner, ch: make(chan struct{}, 1)}, cipher(t, key))
	n, ok := st.(store.Notifier)
	require.True(t, ok)
	wake := n.Wakeups(context.Background())
	require.NoError(t, n.Notify(context.Background()))
	select {
	case <-wake:
	case <-time.After(time.Minute):
		t.Fatal("no wake-up through the wrapper")
	}
	// And it is still the sealing store.
	p := project(t, st)
	ep := endpoint(p)
	require.NoError(t, st.CreateEndpoint(context.Background(), ep))
	raw, err := inner.GetEndpointByID(context.Background(), ep.ID)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(raw.Secret, secret.Prefix))
}

func TestPostgresNotifierIsKept(t *testing.T) {
	if pgURL == "" {
		t.Skip("set HERALD_TEST_POSTGRES_URL to run the PostgreSQL tests")
	}
	t.Parallel()
	inner, _ := openPostgres(t)
	n, ok := sealed.New(inner, cipher(t, key)).(store.Notifier)
	require.True(t, ok)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wake := n.Wakeups(ctx)
	// Wakeups listens asynchronously: notify until a wake-up arrives.
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(time.Minute)
	for {
		require.NoError(t, n.Notify(ctx))
		select {
		case <-wake:
			return
		case <-tick.C:
		case <-deadline:
			t.Fatal("no wake-up through the wrapper")
		}
	}
}

// The errors of a backend pass through unchanged.
func TestBackendErrorsPassThrough(t *testing.T) {
	t.Parallel()
	each(t, func(t *testing.T, b backend) {
		ctx := context.Background()
		inner, _ := b.open(t)
		st := sealed.New(inner, cipher(t, key))
		p := project(t, st)
		_, err := st.GetEndpoint(ctx, p.ID, "ep_missing")
		require.True(t, herald.IsNotFound(err), "%v", err)
		ep := endpoint(p)
		require.NoError(t, st.CreateEndpoint(ctx, ep))
		dup := endpoint(p)
		dup.ID = ep.ID
		require.Equal(t, herald.ECONFLICT, herald.ErrorCode(st.CreateEndpoint(ctx, dup)))
		missing := endpoint(p)
		missing.ID = "ep_missing"
		require.True(t, herald.IsNotFound(st.UpdateEndpoint(ctx, missing)))
	})
}
