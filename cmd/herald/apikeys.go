package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// apiKeysGroup is `herald api-keys …`: a project's API keys. The key itself
// is printed once, by create.
var apiKeysGroup = cliGroup{
	"create": {summary: "Make a new API key for the project; prints the key once",
		usage: "--project P [--name N] [--scope S]… [--tenant T] [--expires-at TIME]", project: true, flags: cliAPIKeysCreate},
	"list": {summary: "List the project's API keys (never the keys themselves)", usage: "--project P [--limit N] [--cursor C]",
		project: true, paged: true,
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "api-keys"), r.page)
		}},
	"revoke": {summary: "Revoke an API key: it stops working at once", usage: "--project P KEY_ID", project: true, args: []string{"KEY_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.delete(ctx, apiPath(r.project, "api-keys", r.args[0]), r.args[0])
		}},
}

func cliAPIKeysCreate(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	var scopes []string
	fs.Func("name", "a `NAME` for people", func(v string) error { body["name"] = v; return nil })
	fs.Func("scope", "`SCOPE` the key holds, repeatable or comma-separated: all, read, events:write, hooks:run, endpoints:write, event_types:write, tenants:write, portal:write, keys:write (default: the calling key's own)",
		func(v string) error { scopes = append(scopes, cliList(v)...); return nil })
	tenantFlag(fs, body, "confine the key to this `TENANT`")
	expires := fs.String("expires-at", "", "when the key stops working: RFC 3339, or a duration from now (720h)")
	check := func() error {
		if len(scopes) > 0 {
			body["scopes"] = scopes
		}
		if *expires == "" {
			return nil
		}
		if t, err := time.Parse(time.RFC3339, *expires); err == nil {
			body["expires_at"] = t.UTC().Format(time.RFC3339)
			return nil
		}
		if d, err := time.ParseDuration(*expires); err == nil && d > 0 {
			body["expires_at"] = time.Now().Add(d).UTC().Format(time.RFC3339)
			return nil
		}
		return fmt.Errorf("--expires-at %q: want an RFC 3339 time or a duration from now such as 720h", *expires)
	}
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "api-keys"), body)
	}
}
