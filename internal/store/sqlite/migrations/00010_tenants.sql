-- Tenants: a project's customers. Endpoints, events and deliveries gain a
-- tenant_id, '' for project-wide (every row that existed before is).
--
-- Routing versions: every change to a project's endpoints that routing
-- sees increments projects.routing_version and stamps the new value on
-- what changed (the tenant's routing_version, the project's wide_version
-- for its project-wide endpoints, reset_version when a tenant is deleted),
-- so that a process caching routes asks "what changed since version v"
-- with one lookup per project (RoutingChanges) instead of reloading every
-- tenant's endpoints.
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
    routing_version INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, id)
) WITHOUT ROWID;
CREATE INDEX tenants_list ON tenants (project_id, created_at, id);
CREATE INDEX tenants_routing ON tenants (project_id, routing_version);
ALTER TABLE projects ADD COLUMN routing_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN wide_version INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN reset_version INTEGER NOT NULL DEFAULT 0;

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
ALTER TABLE projects DROP COLUMN reset_version;
ALTER TABLE projects DROP COLUMN wide_version;
ALTER TABLE projects DROP COLUMN routing_version;
DROP TABLE tenants;
