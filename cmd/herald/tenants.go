package main

import (
	"context"
	"flag"
)

// tenantsGroup is `herald tenants …`: a project's customers, each with its
// own endpoints.
var tenantsGroup = cliGroup{
	"put": {summary: "Create a tenant, or replace its name and metadata", usage: "--project P TENANT_ID [--name N] [--metadata K=V]…",
		project: true, args: []string{"TENANT_ID"}, flags: cliTenantsPut},
	"get": {summary: "Show a tenant", usage: "--project P TENANT_ID", project: true, args: []string{"TENANT_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "tenants", r.args[0]), nil)
		}},
	"list": {summary: "List the project's tenants, newest first", usage: "--project P [--limit N] [--cursor C]", project: true, paged: true,
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "tenants"), r.page)
		}},
	"delete": {summary: "Delete a tenant, its endpoints (their unfinished deliveries are canceled) and its portal sessions",
		usage: "--project P TENANT_ID", project: true, args: []string{"TENANT_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.delete(ctx, apiPath(r.project, "tenants", r.args[0]), r.args[0])
		}},
}

func cliTenantsPut(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	fs.Func("name", "a `NAME` for people", func(v string) error { body["name"] = v; return nil })
	metadata := &cliPairs{sep: "="}
	fs.Var(metadata, "metadata", "`K=V`, repeatable: the tenant's metadata (replaces it whole)")
	return nil, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		if metadata.set {
			body["metadata"] = metadata.vals
		}
		return c.do(ctx, "PUT", apiPath(r.project, "tenants", r.args[0]), nil, body)
	}
}

// tenantFlag declares --tenant, the tenant_id of a write, set in body when
// given.
func tenantFlag(fs *flag.FlagSet, body map[string]any, usage string) {
	fs.Func("tenant", usage, func(v string) error { body["tenant_id"] = v; return nil })
}
