package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// endpointsGroup is `herald endpoints …`: subscriptions, with every field
// of an endpoint a flag of create and update.
var endpointsGroup = cliGroup{
	"create": {summary: "Create an endpoint; prints it with its secret", usage: "--project P --url URL [--tenant T] [field flags]",
		project: true, ownURL: true, required: []string{"url"}, flags: cliEndpointsCreate},
	"list": {summary: "List the project's endpoints", usage: "--project P [--tenant T] [--limit N] [--cursor C]", project: true, paged: true,
		flags: cliEndpointsList},
	"get": {summary: "Show an endpoint (credentials redacted, no secret)", usage: "--project P ENDPOINT_ID", project: true, args: []string{"ENDPOINT_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "endpoints", r.args[0]), nil)
		}},
	"update": {summary: "Change the fields given, and only them", usage: "--project P ENDPOINT_ID [field flags]",
		project: true, ownURL: true, args: []string{"ENDPOINT_ID"}, flags: cliEndpointsUpdate},
	"delete": {summary: "Delete an endpoint; its unfinished deliveries are canceled", usage: "--project P ENDPOINT_ID", project: true, args: []string{"ENDPOINT_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.delete(ctx, apiPath(r.project, "endpoints", r.args[0]), r.args[0])
		}},
	"enable": {summary: "Enable an endpoint", usage: "--project P ENDPOINT_ID", project: true, args: []string{"ENDPOINT_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.patch(ctx, apiPath(r.project, "endpoints", r.args[0]), map[string]any{"enabled": true})
		}},
	"disable": {summary: "Disable an endpoint: it receives nothing until enabled", usage: "--project P ENDPOINT_ID", project: true, args: []string{"ENDPOINT_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.patch(ctx, apiPath(r.project, "endpoints", r.args[0]), map[string]any{"enabled": false})
		}},
	"secret": {summary: "Print an endpoint's signing secret", usage: "--project P ENDPOINT_ID", project: true, args: []string{"ENDPOINT_ID"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "endpoints", r.args[0], "secret"), nil)
		}},
	"rotate": {summary: "Rotate the signing secret; the old one keeps signing during the grace period",
		usage: "--project P ENDPOINT_ID [--secret whsec_…] [--grace-period 24h]", project: true, args: []string{"ENDPOINT_ID"},
		flags: cliEndpointsRotate},
	"test": {summary: "Send the type's example (or a ping) now; prints the attempt", usage: "--project P ENDPOINT_ID [--type T]",
		project: true, args: []string{"ENDPOINT_ID"}, flags: cliEndpointsTest},
	"recover": {summary: "Requeue the endpoint's failed deliveries of a window", usage: "--project P ENDPOINT_ID --since TIME [--until TIME]",
		project: true, args: []string{"ENDPOINT_ID"}, required: []string{"since"}, flags: cliEndpointsRecover},
	"stats": {summary: "Deliveries by state, success rate and latency over a window", usage: "--project P ENDPOINT_ID [--since 24h]",
		project: true, args: []string{"ENDPOINT_ID"}, flags: cliEndpointsStats},
}

// endpointFields declares a flag for every writable field of an endpoint
// and collects the ones given into body, as the API names them. On update
// an empty value resets a field to its default (JSON null), an empty
// --event-types or --channels subscribes to all, and an empty --header or
// --metadata removes them all. It returns the check of the values given.
func endpointFields(fs *flag.FlagSet, body map[string]any, update bool) func() error {
	var errs []error
	bad := func(name string, err error) { errs = append(errs, fmt.Errorf("--%s: %w", name, err)) }
	orNull := func(v string) any {
		if v == "" && update {
			return nil
		}
		return v
	}
	str := func(flagName, field, usage string) {
		fs.Func(flagName, usage, func(v string) error { body[field] = orNull(v); return nil })
	}
	str("url", "url", "the endpoint's `URL`, http or https (Herald's own URL is --server here)")
	str("name", "name", "a `NAME` for people")
	str("description", "description", "a `TEXT` describing it")
	str("filter", "filter", "`CEL` expression over type, data, channels, metadata; false skips the event")
	str("timeout", "timeout", "`DURATION` per attempt, at most 60s (default 15s)")
	str("response-mode", "response_mode", "`MODE`: wait (default), ignore or data")
	str("failure-policy", "failure_policy", "`POLICY` of hooks: fail_closed (default) or fail_open")
	str("active-from", "active_from", "start of the validity period, an RFC 3339 `TIME`")
	str("active-until", "active_until", "end of the validity period, an RFC 3339 `TIME`")
	fs.Func("body-template", "`JQ` program over the envelope that makes the body, or @FILE", func(v string) error {
		t, err := cliText("body-template", v)
		if err != nil {
			bad("body-template", err)
		}
		body["body_template"] = t
		return nil
	})
	list := func(flagName, field, usage string) {
		fs.Func(flagName, usage, func(v string) error { body[field] = cliList(v); return nil })
	}
	list("event-types", "event_types", "comma-separated event `TYPES`, user.* patterns allowed; empty = all")
	list("channels", "channels", "comma-separated `CHANNELS`; only events carrying one of them reach it")
	fs.Func("retry-schedule", "comma-separated `DELAYS` between attempts, e.g. 1m,10m,1h; \"none\" = no retries", func(v string) error {
		switch v {
		case "none":
			body["retry_schedule"] = []string{}
		case "":
			body["retry_schedule"] = orNull("")
		default:
			body["retry_schedule"] = cliList(v)
		}
		return nil
	})
	fs.BoolFunc("retry-jitter", "spread each retry by ±20 % (the server's default); --retry-jitter=false follows --retry-schedule exactly", func(v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return err
		}
		body["retry_jitter"] = b
		return nil
	})
	num := func(flagName, field, usage string) {
		fs.Func(flagName, usage, func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil {
				return errors.New("want a whole number")
			}
			body[field] = n
			return nil
		})
	}
	num("order", "order", "`N`: order of application, lower first (default 0)")
	num("rate-limit", "rate_limit", "at most `N` requests per second to it; 0 = none")
	num("max-in-flight", "max_in_flight", "at most `N` concurrent requests to it (default 10)")
	fs.BoolFunc("ordered", "deliver one at a time in ingest order (--ordered=false to stop)", func(v string) error {
		b, err := strconv.ParseBool(v)
		body["ordered"] = b
		return err
	})
	replaces := ""
	if update {
		replaces = ` (the ones given replace all; "" = none)`
	}
	headers := &cliPairs{sep: ":"}
	fs.Var(headers, "header", "`\"NAME: VALUE\"`, repeatable: an extra request header"+replaces)
	metadata := &cliPairs{sep: "="}
	fs.Var(metadata, "metadata", "`K=V`, repeatable: the endpoint's metadata"+replaces)
	var basic, bearer *string
	authHelp := "; @FILE reads it from a file"
	if update {
		authHelp += `; "" removes the credentials`
	}
	fs.Func("basic-auth", "`USER:PASSWORD` sent as HTTP basic authentication"+authHelp, func(v string) error { basic = &v; return nil })
	fs.Func("bearer", "`TOKEN` sent as Authorization: Bearer"+authHelp, func(v string) error { bearer = &v; return nil })
	return func() error {
		if headers.set {
			body["headers"] = headers.vals
		}
		if metadata.set {
			body["metadata"] = metadata.vals
		}
		if err := endpointAuth(body, basic, bearer, update); err != nil {
			errs = append(errs, err)
		}
		if !update {
			for k, v := range body {
				if v == nil {
					delete(body, k)
				}
			}
		}
		return errors.Join(errs...)
	}
}

// endpointAuth sets body's auth from --basic-auth or --bearer.
func endpointAuth(body map[string]any, basic, bearer *string, update bool) error {
	switch {
	case basic != nil && bearer != nil:
		return errors.New("give --basic-auth or --bearer, not both")
	case basic != nil:
		v, err := cliText("basic-auth", *basic)
		if err != nil {
			return err
		}
		if v == "" && update {
			body["auth"] = nil
			return nil
		}
		user, pass, ok := strings.Cut(v, ":")
		if !ok {
			return errors.New("--basic-auth: want USER:PASSWORD")
		}
		body["auth"] = map[string]any{"basic": map[string]string{"username": user, "password": pass}}
	case bearer != nil:
		v, err := cliText("bearer", *bearer)
		if err != nil {
			return err
		}
		if v == "" && update {
			body["auth"] = nil
			return nil
		}
		body["auth"] = map[string]any{"bearer": v}
	}
	return nil
}

func cliEndpointsCreate(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	check := endpointFields(fs, body, false)
	tenantFlag(fs, body, "the `TENANT` that owns it (created if missing); none: project-wide")
	fs.Func("secret", "signing `SECRET` (whsec_…); generated when not given", func(v string) error { body["secret"] = v; return nil })
	fs.BoolFunc("disabled", "create it disabled", func(v string) error {
		b, err := strconv.ParseBool(v)
		body["enabled"] = !b
		return err
	})
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "endpoints"), body)
	}
}

func cliEndpointsList(fs *flag.FlagSet) (func() error, cliCall) {
	q := url.Values{}
	queryFlag(fs, q, "tenant", "tenant_id", "only this `TENANT`'s endpoints")
	return nil, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		for k, v := range r.page {
			q[k] = v
		}
		return c.get(ctx, apiPath(r.project, "endpoints"), q)
	}
}

func cliEndpointsUpdate(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	checkFields := endpointFields(fs, body, true)
	check := func() error {
		if err := checkFields(); err != nil {
			return err
		}
		if len(body) == 0 {
			return errors.New("nothing to change: give the flags of the fields to change (see -h)")
		}
		return nil
	}
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.patch(ctx, apiPath(r.project, "endpoints", r.args[0]), body)
	}
}

func cliEndpointsRotate(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	fs.Func("secret", "the new `SECRET` (whsec_…); generated when not given", func(v string) error { body["secret"] = v; return nil })
	fs.Func("grace-period", "`DURATION` the old secret keeps signing too, e.g. 24h", func(v string) error { body["grace_period"] = v; return nil })
	return nil, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "endpoints", r.args[0], "secret", "rotate"), body)
	}
}

func cliEndpointsTest(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	fs.Func("type", "event `TYPE` whose example is sent (default: a ping)", func(v string) error { body["type"] = v; return nil })
	return nil, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "endpoints", r.args[0], "test"), body)
	}
}

func cliEndpointsRecover(fs *flag.FlagSet) (func() error, cliCall) {
	since := fs.String("since", "", "requeue failures from this time: RFC 3339, or a duration ago (24h) (required)")
	until := fs.String("until", "", "up to this time: RFC 3339, or a duration ago (default: now)")
	body := map[string]any{}
	check := func() error {
		q := url.Values{}
		if err := timeParams(q, map[string]string{"since": *since, "until": *until}); err != nil {
			return err
		}
		for k := range q {
			body[k] = q.Get(k)
		}
		return nil
	}
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "endpoints", r.args[0], "recover"), body)
	}
}

func cliEndpointsStats(fs *flag.FlagSet) (func() error, cliCall) {
	q := url.Values{}
	queryFlag(fs, q, "since", "since", "start of the window: an RFC 3339 `TIME`, or a duration ago (server default 24h)")
	return nil, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.get(ctx, apiPath(r.project, "endpoints", r.args[0], "stats"), q)
	}
}
