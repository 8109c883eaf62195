-- Tenants: a project's customers. Endpoints, events and deliveries gain a
-- tenant_id, '' for project-wide (every row that existed before is).
--
-- Routing loads an event's candidates per tenant (endpoints_tenant: the
-- project-wide ones under ''). The event and delivery lists filter by
-- tenant through partial indexes that hold only tenants' rows, so that
-- ingest of untenanted events pays nothing for them; the queries name
-- the condition (tenant_id <> '') so that SQLite takes them.

-- +goose Up
CREATE TABLE tenants (
    project_id TEXT NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id         TEXT NOT NULL,
    name       TEXT NOT NULL,
    metadata   TEXT NOT NULL, -- JSON map
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX tenants_list ON tenants (project_id, created_at, id);

ALTER TABLE endpoints ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN tenant_id TEXT NOT NULL DEFAULT '';
CREATE INDEX endpoints_tenant ON endpoints (project_id, tenant_id, id);
CREATE INDEX events_tenant ON events (project_id, tenant_id, id) WHERE tenant_id <> '';
CREATE INDEX deliveries_tenant ON deliveries (project_id, tenant_id, id) WHERE tenant_id <> '';

-- +goose Down
DROP INDEX deliveries_tenant;
DROP INDEX events_tenant;
DROP INDEX endpoints_tenant;
ALTER TABLE deliveries DROP COLUMN tenant_id;
ALTER TABLE events DROP COLUMN tenant_id;
ALTER TABLE endpoints DROP COLUMN tenant_id;
DROP TABLE tenants;
