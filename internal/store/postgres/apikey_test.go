package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store/postgres"
	"github.com/stretchr/testify/require"
)

// TestMigrate00010KeysMadeBeforeScopesHoldAll: a key stored before scoped
// keys migrates to one with every power: scopes "all", no tenant, no
// expiry, no name.
func TestMigrate00010KeysMadeBeforeScopesHoldAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := newDatabase(t)
	require.NoError(t, postgres.MigrateTo(ctx, url, 9))
	conn := sqlConn(t, url)
	now := time.Now().UTC()
	for _, q := range []string{
		`INSERT INTO projects (id, name, created_at, updated_at) VALUES ('p', 'p', $1, $1)`,
		`INSERT INTO api_keys (id, project_id, hash, prefix, created_at) VALUES ('key_old', 'p', 'h_old', 'hk_old', $1)`,
	} {
		_, err := conn.Exec(ctx, q, now)
		require.NoError(t, err, q)
	}
	db, err := postgres.Open(ctx, url, postgres.Options{MaxConns: 4})
	require.NoError(t, err)
	t.Cleanup(func() { db.Close() })
	k, err := db.GetAPIKeyByHash(ctx, "h_old")
	require.NoError(t, err)
	require.Equal(t, []string{herald.ScopeAll}, k.Scopes)
	require.Empty(t, k.TenantID)
	require.Empty(t, k.Name)
	require.Nil(t, k.ExpiresAt)
}
