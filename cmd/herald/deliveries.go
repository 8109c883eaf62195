package main

import (
	"context"
	"flag"
	"net/url"
)

// deliveriesGroup is `herald deliveries …`: each event's deliveries to
// each endpoint, their attempts, and manual retries.
var deliveriesGroup = cliGroup{
	"list": {summary: "List deliveries, newest first", usage: "--project P [--tenant T] [--endpoint ID] [--event ID] [--status S] [--limit N] [--cursor C]",
		project: true, paged: true, flags: cliDeliveriesList},
	"get": {summary: "Show a delivery", usage: "--project P DELIVERY_ID", project: true, args: []string{"DELIVERY_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "deliveries", r.args[0]), nil)
		}},
	"attempts": {summary: "List a delivery's attempts, oldest first", usage: "--project P DELIVERY_ID [--limit N] [--cursor C]",
		project: true, args: []string{"DELIVERY_ID"}, paged: true,
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "deliveries", r.args[0], "attempts"), r.page)
		}},
	"retry": {summary: "Make one attempt now, also of an exhausted delivery; prints the attempt", usage: "--project P DELIVERY_ID",
		project: true, args: []string{"DELIVERY_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.post(ctx, apiPath(r.project, "deliveries", r.args[0], "retry"), nil)
		}},
}

func cliDeliveriesList(fs *flag.FlagSet) (func() error, cliCall) {
	q := url.Values{}
	queryFlag(fs, q, "tenant", "tenant_id", "only the deliveries to this `TENANT`'s endpoints")
	queryFlag(fs, q, "endpoint", "endpoint_id", "only this endpoint `ID`'s deliveries")
	queryFlag(fs, q, "event", "event_id", "only this event `ID`'s deliveries")
	queryFlag(fs, q, "status", "status", "`STATUS`: pending, in_flight, succeeded, exhausted or canceled")
	return nil, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		for k, v := range r.page {
			q[k] = v
		}
		return c.get(ctx, apiPath(r.project, "deliveries"), q)
	}
}

// queryFlag declares a flag that sets a query parameter when given.
func queryFlag(fs *flag.FlagSet, q url.Values, name, param, usage string) {
	fs.Func(name, usage, func(v string) error {
		if v != "" {
			q.Set(param, v)
		}
		return nil
	})
}
