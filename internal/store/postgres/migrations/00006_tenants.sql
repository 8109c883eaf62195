-- Tenants: a project's customers. Endpoints, events and deliveries gain a
-- tenant_id, '' for project-wide (every row that existed before is; with a
-- constant default, ADD COLUMN rewrites no table).
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
-- ingest of untenanted events pays nothing for them.

-- +goose Up
CREATE TABLE tenants (
    project_id text NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
    id         text NOT NULL,
    name       text NOT NULL,
    metadata   jsonb,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    routing_version bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, id)
);
CREATE INDEX tenants_created ON tenants (project_id, created_at DESC, id DESC);
CREATE INDEX tenants_routing ON tenants (project_id, routing_version);
ALTER TABLE projects ADD COLUMN routing_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN wide_version bigint NOT NULL DEFAULT 0,
    ADD COLUMN reset_version bigint NOT NULL DEFAULT 0;

ALTER TABLE endpoints ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE events ADD COLUMN tenant_id text NOT NULL DEFAULT '';
ALTER TABLE deliveries ADD COLUMN tenant_id text NOT NULL DEFAULT '';
CREATE INDEX endpoints_tenant ON endpoints (project_id, tenant_id);
CREATE INDEX events_tenant ON events (project_id, tenant_id, created_at DESC, id DESC) WHERE tenant_id <> '';
CREATE INDEX deliveries_tenant ON deliveries (project_id, tenant_id, created_at DESC, id DESC) WHERE tenant_id <> '';

-- +goose Down
DROP INDEX deliveries_tenant;
DROP INDEX events_tenant;
DROP INDEX endpoints_tenant;
ALTER TABLE deliveries DROP COLUMN tenant_id;
ALTER TABLE events DROP COLUMN tenant_id;
ALTER TABLE endpoints DROP COLUMN tenant_id;
ALTER TABLE projects DROP COLUMN reset_version, DROP COLUMN wide_version, DROP COLUMN routing_version;
DROP TABLE tenants;
