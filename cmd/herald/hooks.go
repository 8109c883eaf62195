package main

import (
	"context"
	"flag"
)

// hooksGroup is `herald hooks run`: a synchronous hook run, as a product
// asks for one before an operation. A deny is an answer, not an error: it
// is printed, and the command succeeds.
var hooksGroup = cliGroup{
	"run": {summary: "Run the hooks subscribed to an event type and print the verdict",
		usage:   "--project P EVENT_TYPE [--data JSON|@FILE] [--tenant T] [--metadata K=V]… [--timeout 5s]",
		project: true, args: []string{"EVENT_TYPE"}, flags: cliHooksRun},
}

func cliHooksRun(fs *flag.FlagSet) (func() error, cliCall) {
	data := fs.String("data", "{}", "the operation's data, a JSON object, or @FILE")
	timeout := fs.String("timeout", "", "bound of the whole run, e.g. 5s (server default 10s)")
	metadata := &cliPairs{sep: "="}
	fs.Var(metadata, "metadata", "`K=V`, repeatable: metadata of the run")
	body := map[string]any{}
	tenantFlag(fs, body, "run the hooks of this `TENANT`'s endpoints and the project-wide ones (default: project-wide only)")
	check := func() error {
		raw, err := cliJSONObject("data", *data)
		if err != nil {
			return err
		}
		body["data"] = raw
		if *timeout != "" {
			body["timeout"] = *timeout
		}
		if len(metadata.vals) > 0 {
			body["metadata"] = metadata.vals
		}
		return nil
	}
	return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
		return c.post(ctx, apiPath(r.project, "hooks", r.args[0]), body)
	}
}
