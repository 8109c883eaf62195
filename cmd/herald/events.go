package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
)

// eventsGroup is `herald events …`: sending events, reading the log, and
// replaying an event to its endpoints.
var eventsGroup = cliGroup{
	"send": {summary: "Send one event; prints its id and how many deliveries it made",
		usage:   "--project P --type T [--data JSON|@FILE] [--channels a,b] [--metadata K=V]… [--occurred-at TIME] [--id ID] [--idempotency-key K] [--tenant T]",
		project: true, required: []string{"type"}, flags: cliEventsSend},
	"batch": {summary: "Send up to 1000 events from a JSON file: a list of events, or {\"events\": […]}",
		usage: "--project P --file FILE|-", project: true, required: []string{"file"}, flags: cliEventsBatch},
	"list": {summary: "List events, newest first", usage: "--project P [--tenant T] [--type T] [--channel C] [--since TIME] [--until TIME] [--limit N] [--cursor C]",
		project: true, paged: true, flags: cliEventsList},
	"get": {summary: "Show an event with its deliveries", usage: "--project P EVENT_ID", project: true, args: []string{"EVENT_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "events", r.args[0]), nil)
		}},
	"replay": {summary: "Deliver an event again: to every matching endpoint, or to one",
		usage: "--project P EVENT_ID [--endpoint ID]", project: true, args: []string{"EVENT_ID"}, flags: cliEventsReplay},
}

func cliEventsSend(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	var idemKey string
	fs.Func("type", "event `TYPE` (required)", func(v string) error { body["type"] = v; return nil })
	data := fs.String("data", "{}", "event data, a JSON object, or @FILE")
	fs.Func("channels", "comma-separated `CHANNELS`", func(v string) error { body["channels"] = cliList(v); return nil })
	metadata := &cliPairs{sep: "="}
	fs.Var(metadata, "metadata", "`K=V`, repeatable: the event's metadata")
	occurred := fs.String("occurred-at", "", "when it happened, RFC 3339 (default: now)")
	fs.Func("id", "client event `ID`, also the idempotency key", func(v string) error { body["id"] = v; return nil })
	fs.StringVar(&idemKey, "idempotency-key", "", "Idempotency-Key header; random when neither it nor --id is given")
	tenantFlag(fs, body, "the `TENANT` the event is for: its endpoints and the project-wide ones")
	check := func() error {
		raw, err := cliJSONObject("data", *data)
		if err != nil {
			return err
		}
		body["data"] = raw
		if len(metadata.vals) > 0 {
			body["metadata"] = metadata.vals
		}
		if *occurred != "" {
			body["occurred_at"] = *occurred
		}
		return nil
	}
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		if idemKey == "" && body["id"] == nil {
			idemKey = cliIdempotencyKey()
		}
		if idemKey != "" {
			c.header = map[string][]string{"Idempotency-Key": {idemKey}}
		}
		raw, err := c.do(ctx, "POST", apiPath(r.project, "events"), nil, body)
		if err != nil || !c.replayed {
			return raw, err
		}
		// A repeat of an earlier send: say so, as the header does.
		var out map[string]any
		if err := json.Unmarshal(raw, &out); err != nil {
			return raw, nil
		}
		out["replayed"] = true
		return out, nil
	}
}

func cliEventsBatch(fs *flag.FlagSet) (func() error, cliCall) {
	file := fs.String("file", "", `JSON file of events, "-" for stdin (required)`)
	var body map[string]json.RawMessage
	check := func() error {
		raw, err := cliJSONValue("file", "@"+*file)
		if err != nil {
			return err
		}
		var list []json.RawMessage
		if json.Unmarshal(raw, &list) == nil {
			b, _ := json.Marshal(list)
			body = map[string]json.RawMessage{"events": b}
			return nil
		}
		if json.Unmarshal(raw, &body) != nil || body["events"] == nil {
			return fmt.Errorf(`--file: want a JSON list of events or {"events": […]}`)
		}
		return nil
	}
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "events", "batch"), body)
	}
}

func cliEventsList(fs *flag.FlagSet) (func() error, cliCall) {
	q := url.Values{}
	queryFlag(fs, q, "type", "type", "only this event `TYPE`")
	queryFlag(fs, q, "tenant", "tenant_id", "only this `TENANT`'s events")
	queryFlag(fs, q, "channel", "channel", "only events carrying this `CHANNEL`")
	since := fs.String("since", "", "created at or after: RFC 3339, or a duration ago (24h)")
	until := fs.String("until", "", "created before: RFC 3339, or a duration ago")
	check := func() error { return timeParams(q, map[string]string{"since": *since, "until": *until}) }
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		for k, v := range r.page {
			q[k] = v
		}
		return c.get(ctx, apiPath(r.project, "events"), q)
	}
}

// timeParams sets the given times (flag name → value) as parameters of
// the same names; empty values are left out.
func timeParams(q url.Values, times map[string]string) error {
	for name, v := range times {
		if v == "" {
			continue
		}
		t, err := cliTime(name, v)
		if err != nil {
			return err
		}
		q.Set(name, t)
	}
	return nil
}

func cliEventsReplay(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	fs.Func("endpoint", "replay to this endpoint `ID` only", func(v string) error { body["endpoint_id"] = v; return nil })
	return nil, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "events", r.args[0], "replay"), body)
	}
}
