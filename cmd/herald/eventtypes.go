package main

import (
	"context"
	"flag"
	"fmt"
)

// eventTypesGroup is `herald event-types …`: the project's catalog of
// event types, with their JSON Schemas and examples.
var eventTypesGroup = cliGroup{
	"create": {summary: "Declare an event type", usage: "--project P --name NAME [--description D] [--schema JSON|@FILE] [--example JSON|@FILE]",
		project: true, required: []string{"name"}, flags: cliEventTypesCreate},
	"list": {summary: "List the project's event types", usage: "--project P [--limit N] [--cursor C]", project: true, paged: true,
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "event-types"), r.page)
		}},
	"get": {summary: "Show an event type", usage: "--project P NAME", project: true, args: []string{"NAME"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.project, "event-types", r.args[0]), nil)
		}},
	"update": {summary: "Change an event type's description, schema or example", usage: "--project P NAME [--description D] [--schema JSON|@FILE] [--example JSON|@FILE]",
		project: true, args: []string{"NAME"}, flags: cliEventTypesUpdate},
	"delete": {summary: "Delete an event type", usage: "--project P NAME", project: true, args: []string{"NAME"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.delete(ctx, apiPath(r.project, "event-types", r.args[0]), r.args[0])
		}},
}

// eventTypeFlags are the fields of an event type. On update, only the
// flags given are sent, and an empty --schema or --example removes it.
func eventTypeFlags(fs *flag.FlagSet, body map[string]any, update bool) func() error {
	var errs []error
	fs.Func("description", "a `TEXT` describing it", func(v string) error { body["description"] = v; return nil })
	for _, name := range []string{"schema", "example"} {
		help := "a JSON Schema the data of events of this type must match: `JSON`, or @FILE"
		if name == "example" {
			help = "a sample data object, sent by endpoints test: `JSON`, or @FILE"
		}
		if update {
			help += `; "" removes it`
		}
		fs.Func(name, help, func(v string) error {
			if v == "" && update {
				body[name] = nil
				return nil
			}
			raw, err := cliJSONValue(name, v)
			if err != nil {
				errs = append(errs, err)
			}
			body[name] = raw
			return nil
		})
	}
	return func() error {
		if len(errs) > 0 {
			return errs[0]
		}
		return nil
	}
}

func cliEventTypesCreate(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	fs.Func("name", "event type `NAME`, such as user.created (required)", func(v string) error { body["name"] = v; return nil })
	check := eventTypeFlags(fs, body, false)
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "event-types"), body)
	}
}

func cliEventTypesUpdate(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	checkFields := eventTypeFlags(fs, body, true)
	check := func() error {
		if err := checkFields(); err != nil {
			return err
		}
		if len(body) == 0 {
			return fmt.Errorf("nothing to change: give --description, --schema or --example")
		}
		return nil
	}
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.patch(ctx, apiPath(r.project, "event-types", r.args[0]), body)
	}
}
