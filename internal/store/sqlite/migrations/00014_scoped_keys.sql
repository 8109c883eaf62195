-- Scoped API keys: a name, the scopes (space-separated; every key made
-- before scopes existed holds "all"), the tenant a key is confined to
-- ('' for none) and when it stops authenticating (NULL: never).

-- +goose Up
ALTER TABLE api_keys ADD COLUMN name TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT 'all';
ALTER TABLE api_keys ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN expires_at;
ALTER TABLE api_keys DROP COLUMN tenant_id;
ALTER TABLE api_keys DROP COLUMN scopes;
ALTER TABLE api_keys DROP COLUMN name;
