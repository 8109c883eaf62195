-- Scoped API keys: a name, the scopes (space-separated; every key made
-- before scopes existed holds "all"), the tenant a key is confined to
-- ('' for none) and when it stops authenticating (NULL: never).

-- +goose Up
ALTER TABLE api_keys
    ADD COLUMN name text NOT NULL DEFAULT '',
    ADD COLUMN scopes text NOT NULL DEFAULT 'all',
    ADD COLUMN tenant_id text NOT NULL DEFAULT '',
    ADD COLUMN expires_at timestamptz;

-- +goose Down
ALTER TABLE api_keys DROP COLUMN expires_at, DROP COLUMN tenant_id, DROP COLUMN scopes, DROP COLUMN name;
