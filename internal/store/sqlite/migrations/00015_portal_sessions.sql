-- Portal sessions: a customer's link to the portal, for one tenant. Only
-- the token's hash is stored. Deleting the tenant (or the project) ends
-- its sessions through the foreign key.

-- +goose Up
CREATE TABLE portal_sessions (
    id          TEXT NOT NULL PRIMARY KEY,
    project_id  TEXT NOT NULL,
    tenant_id   TEXT NOT NULL,
    token_hash  TEXT NOT NULL UNIQUE,
    read_only   INTEGER NOT NULL,
    event_types TEXT, -- JSON array; NULL: the whole catalog
    locale      TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    created_at  INTEGER NOT NULL,
    FOREIGN KEY (project_id, tenant_id) REFERENCES tenants (project_id, id) ON DELETE CASCADE
);
CREATE INDEX portal_sessions_tenant ON portal_sessions (project_id, tenant_id);

-- +goose Down
DROP TABLE portal_sessions;
