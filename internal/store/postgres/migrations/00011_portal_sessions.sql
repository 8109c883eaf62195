-- Portal sessions: a customer's link to the portal, for one tenant. Only
-- the token's hash is stored. Deleting the tenant (or the project) ends
-- its sessions through the foreign key.

-- +goose Up
CREATE TABLE portal_sessions (
    id          text PRIMARY KEY,
    project_id  text NOT NULL,
    tenant_id   text NOT NULL,
    token_hash  text NOT NULL UNIQUE,
    read_only   boolean NOT NULL,
    event_types jsonb, -- NULL: the whole catalog
    locale      text NOT NULL,
    expires_at  timestamptz NOT NULL,
    created_at  timestamptz NOT NULL,
    FOREIGN KEY (project_id, tenant_id) REFERENCES tenants (project_id, id) ON DELETE CASCADE
);
CREATE INDEX portal_sessions_tenant ON portal_sessions (project_id, tenant_id);

-- +goose Down
DROP TABLE portal_sessions;
