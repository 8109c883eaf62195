package main

import (
	"context"
	"flag"
	"fmt"
	"strconv"
)

// projectsGroup is `herald projects …`. Creating and listing projects
// takes the admin key; a project key may read its own project.
var projectsGroup = cliGroup{
	"create": {summary: "Create a project (admin key); prints its first API key", usage: "--name NAME [--id SLUG] [--strict-event-types]",
		required: []string{"name"}, flags: cliProjectsCreate},
	"list": {summary: "List projects (admin key)", usage: "[--limit N] [--cursor C]", paged: true,
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) { return c.get(ctx, apiPath(""), r.page) }},
	"get": {summary: "Show a project", usage: "PROJECT", args: []string{"PROJECT"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.get(ctx, apiPath(r.args[0]), nil)
		}},
	"update": {summary: "Change a project's name or strictness (admin key)", usage: "PROJECT [--name NAME] [--strict-event-types=true|false]",
		args: []string{"PROJECT"}, flags: cliProjectsUpdate},
	"delete": {summary: "Delete a project and everything in it (admin key)", usage: "PROJECT", args: []string{"PROJECT"},
		call: func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
			return c.delete(ctx, apiPath(r.args[0]), r.args[0])
		}},
}

func cliProjectsCreate(fs *flag.FlagSet) (func() error, cliCall) {
	name := fs.String("name", "", "project name (required)")
	id := fs.String("id", "", "project id, a slug; generated (prj_…) when empty")
	strict := fs.Bool("strict-event-types", false, "refuse events of types the project has not declared")
	return nil, func(ctx context.Context, c *cliClient, _ cliReq) (any, error) {
		body := map[string]any{"name": *name}
		if *id != "" {
			body["id"] = *id
		}
		if *strict {
			body["strict_event_types"] = true
		}
		return c.post(ctx, apiPath(""), body)
	}
}

func cliProjectsUpdate(fs *flag.FlagSet) (func() error, cliCall) {
	body := map[string]any{}
	fs.Func("name", "new `NAME`", func(v string) error { body["name"] = v; return nil })
	fs.Func("strict-event-types", "`true` or false: refuse events of undeclared types", func(v string) error {
		b, err := strconv.ParseBool(v)
		body["strict_event_types"] = b
		return err
	})
	check := func() error {
		if len(body) == 0 {
			return fmt.Errorf("nothing to change: give --name or --strict-event-types")
		}
		return nil
	}
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.patch(ctx, apiPath(r.args[0]), body)
	}
}
