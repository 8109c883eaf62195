package main

import "context"

// clusterGroup is `herald cluster`: the processes alive on the server's
// database (GET /v1/cluster, admin key), oldest first, each with its
// address, start, last heartbeat and the deliveries it holds.
var clusterGroup = cliGroup{
	"": {summary: "List the Herald processes sharing the database, oldest first", usage: "[--server URL] [--key ADMIN_KEY]",
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, "/v1/cluster", nil)
		}},
}
