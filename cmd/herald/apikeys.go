package main

import "context"

// apiKeysGroup is `herald api-keys …`: a project's API keys. The key itself
// is printed once, by create.
var apiKeysGroup = cliGroup{
	"create": {summary: "Make a new API key for the project; prints the key once", usage: "--project P", project: true,
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.post(ctx, apiPath(r.project, "api-keys"), nil)
		}},
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
