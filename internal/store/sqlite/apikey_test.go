package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/stretchr/testify/require"
)

// TestMigrate00014KeysMadeBeforeScopesHoldAll: a key stored before scoped
// keys migrates to one with every power: scopes "all", no tenant, no
// expiry, no name.
func TestMigrate00014KeysMadeBeforeScopesHoldAll(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path, old, _ := oldSchema(t, 13)
	now := time.Now().UTC()
	_, err := old.ExecContext(ctx, `INSERT INTO projects (id, name, created_at, updated_at) VALUES ('p', 'p', ?, ?)`, ns(now), ns(now))
	require.NoError(t, err)
	_, err = old.ExecContext(ctx, `INSERT INTO api_keys (id, project_id, hash, prefix, created_at) VALUES ('key_old', 'p', 'h_old', 'hk_old', ?)`, ns(now))
	require.NoError(t, err)
	db := reopen(t, old, path)
	k, err := db.GetAPIKeyByHash(ctx, "h_old")
	require.NoError(t, err)
	require.Equal(t, []string{herald.ScopeAll}, k.Scopes)
	require.Empty(t, k.TenantID)
	require.Empty(t, k.Name)
	require.Nil(t, k.ExpiresAt)
	require.True(t, k.Allows(herald.ScopeKeysWrite))
}
