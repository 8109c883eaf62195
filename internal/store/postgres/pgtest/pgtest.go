// Package pgtest gives tests an empty PostgreSQL database of their own.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// CreateTestDatabase is for tests: it creates an empty database with a
// random name (herald_test_…) on the server of baseURL (a postgres:// URL
// whose user may create databases) and returns its URL, and drop, which
// removes it, disconnecting whoever is still connected. Migrations are not
// applied: Open does that.
func CreateTestDatabase(ctx context.Context, baseURL string) (string, func(), error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", nil, fmt.Errorf("pgtest: %q is not a postgres:// URL", baseURL)
	}
	b := make([]byte, 8)
	rand.Read(b)
	name := "herald_test_" + hex.EncodeToString(b)

	admin := func(ctx context.Context, sql string) error {
		conn, err := pgx.Connect(ctx, baseURL)
		if err != nil {
			return err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		_, err = conn.Exec(ctx, sql)
		return err
	}
	// The name is ours, made of [a-z0-9_]: safe to splice into DDL.
	if err := admin(ctx, "CREATE DATABASE "+name); err != nil {
		return "", nil, fmt.Errorf("pgtest: create database: %w", err)
	}
	drop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
	}
	u.Path = "/" + name
	return u.String(), drop, nil
}

// RefuseSessions makes the PostgreSQL database at dbURL refuse new
// sessions and ends its current ones, as a restart or an outage does;
// restore lets sessions in again.
func RefuseSessions(t testing.TB, dbURL string) (restore func()) {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimPrefix(u.Path, "/")
	u.Path = "/postgres"
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatal(err)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		if _, err := admin.Exec(ctx, sql, args...); err != nil {
			t.Fatal(err)
		}
	}
	exec(fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS false", name))
	exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()", name)
	return func() {
		exec(fmt.Sprintf("ALTER DATABASE %s ALLOW_CONNECTIONS true", name))
		admin.Close(ctx)
	}
}
