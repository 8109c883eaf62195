package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/herald-dev/herald/client"
)

// Defaults of the API client commands.
const (
	cliServerDefault = "http://127.0.0.1:8080"
	cliTimeout       = 60 * time.Second
)

// runCLI implements `herald projects|endpoints|events|deliveries <verb>`:
// a client of the API that prints each answer as indented JSON. The server
// and key come from --server/--key or HERALD_URL/HERALD_KEY, the project
// from --project or HERALD_PROJECT.
func runCLI(ctx context.Context, resource string, args []string, stdout io.Writer) error {
	return runCLIEnv(ctx, resource, args, stdout, os.Getenv)
}

// cliVerb is one subcommand: what it does and how it is called.
type cliVerb struct {
	usage string
	run   func(ctx context.Context, cl *cliRun, args []string) error
}

// cliVerbs lists the subcommands by resource and verb.
var cliVerbs = map[string]map[string]cliVerb{
	"projects": {
		"create": {"--name NAME [--id SLUG]", cliProjectsCreate},
		"list":   {"[--limit N] [--cursor C]", cliProjectsList},
		"get":    {"ID", cliProjectsGet},
	},
	"endpoints": {
		"create": {"--project P --url URL [--event-types a,b] [--name N] [--timeout 15s] …", cliEndpointsCreate},
		"list":   {"--project P [--limit N] [--cursor C]", cliEndpointsList},
		"get":    {"--project P ID", cliEndpointsGet},
		"delete": {"--project P ID", cliEndpointsDelete},
	},
	"events": {
		"send": {"--project P --type T [--data JSON] [--channels a,b] [--id ID] [--idempotency-key K]", cliEventsSend},
		"list": {"--project P [--type T] [--channel C] [--since TIME] [--until TIME] [--limit N] [--cursor C]", cliEventsList},
		"get":  {"--project P ID", cliEventsGet},
	},
	"deliveries": {
		"list":     {"--project P [--endpoint ID] [--event ID] [--status S] [--limit N] [--cursor C]", cliDeliveriesList},
		"get":      {"--project P ID", cliDeliveriesGet},
		"attempts": {"--project P DELIVERY_ID", cliDeliveriesAttempts},
		"retry":    {"--project P DELIVERY_ID", cliDeliveriesRetry},
	},
}

func runCLIEnv(ctx context.Context, resource string, args []string, stdout io.Writer, getenv func(string) string) error {
	verbs, ok := cliVerbs[resource]
	if !ok {
		return fmt.Errorf("unknown resource %q", resource)
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		cliUsage(stdout, resource, verbs)
		if len(args) == 0 {
			return flag.ErrHelp
		}
		return nil
	}
	verb, ok := verbs[args[0]]
	if !ok {
		cliUsage(stdout, resource, verbs)
		return fmt.Errorf("%s: unknown command %q", resource, args[0])
	}
	cl := &cliRun{name: resource + " " + args[0], usage: verb.usage, getenv: getenv, stdout: stdout}
	err := verb.run(ctx, cl, args[1:])
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		// main prefixes "herald:" already.
		return errors.New(strings.TrimPrefix(apiErr.Error(), "herald: "))
	}
	return err
}

func cliUsage(w io.Writer, resource string, verbs map[string]cliVerb) {
	names := make([]string, 0, len(verbs))
	for v := range verbs {
		names = append(names, v)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "Usage:\n")
	for _, v := range names {
		fmt.Fprintf(w, "  herald %s %s %s\n", resource, v, verbs[v].usage)
	}
	fmt.Fprintf(w, "\nEvery command takes --server URL (HERALD_URL, default %s), --key KEY (HERALD_KEY)\nand, below a project, --project P (HERALD_PROJECT). Answers are printed as JSON.\n", cliServerDefault)
}

// cliRun is one invocation: the flags common to every command and where
// the output goes.
type cliRun struct {
	name, usage string
	getenv      func(string) string
	stdout      io.Writer

	server, key, project string
}

// flags returns the verb's flag set with the common flags on it. withURL
// adds --url as another name of --server; endpoints create uses --url for
// the endpoint instead.
func (cl *cliRun) flags(withProject, withURL bool) *flag.FlagSet {
	fs := flag.NewFlagSet("herald "+cl.name, flag.ContinueOnError)
	fs.SetOutput(cl.stdout)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: herald %s %s\n", cl.name, cl.usage)
		fs.PrintDefaults()
	}
	server := cl.getenv("HERALD_URL")
	if server == "" {
		server = cliServerDefault
	}
	fs.StringVar(&cl.server, "server", server, "Herald's base URL (HERALD_URL)")
	if withURL {
		fs.StringVar(&cl.server, "url", server, "same as --server")
	}
	fs.StringVar(&cl.key, "key", cl.getenv("HERALD_KEY"), "API key, admin or project (HERALD_KEY)")
	if withProject {
		fs.StringVar(&cl.project, "project", cl.getenv("HERALD_PROJECT"), "project id (HERALD_PROJECT)")
	}
	return fs
}

// parse parses args, allowing positional arguments between flags
// ("get ep_1 --project p"), and returns the positional ones.
func (cl *cliRun) parse(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != positional {
		fs.Usage()
		if positional == 0 {
			return nil, fmt.Errorf("%s: unexpected argument %q", cl.name, pos[0])
		}
		return nil, fmt.Errorf("%s: want %d argument(s), got %d", cl.name, positional, len(pos))
	}
	if fs.Lookup("project") != nil && cl.project == "" {
		return nil, fmt.Errorf("%s: --project is required (or set HERALD_PROJECT)", cl.name)
	}
	return pos, nil
}

func (cl *cliRun) client() (*client.Client, error) {
	if cl.key == "" {
		return nil, fmt.Errorf("%s: no API key: use --key or set HERALD_KEY", cl.name)
	}
	return client.New(cl.server, cl.key, client.WithHTTPClient(&http.Client{Timeout: cliTimeout}))
}

// print writes v as indented JSON.
func (cl *cliRun) print(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(cl.stdout, "%s\n", b)
	return err
}

// cliPrintResult prints v unless err is set.
func cliPrintResult[T any](cl *cliRun, v *T, err error) error {
	if err != nil {
		return err
	}
	return cl.print(v)
}

// cliSplitList reads a comma-separated flag value; "" is no items.
func cliSplitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// cliParseTime reads an RFC 3339 time, or a duration meaning "that long
// ago" ("24h"); "" is the zero time.
func cliParseTime(name, v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return time.Now().Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: want an RFC 3339 time or a duration such as 24h", name, v)
}

func cliListFlags(fs *flag.FlagSet, o *client.ListOptions) {
	fs.IntVar(&o.Limit, "limit", 0, "page size (server default 50)")
	fs.StringVar(&o.Cursor, "cursor", "", "next_cursor of the previous page")
}

func cliProjectsCreate(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(false, true)
	var in client.ProjectCreate
	fs.StringVar(&in.Name, "name", "", "project name (required)")
	fs.StringVar(&in.ID, "id", "", "project id, a slug; generated when empty")
	if _, err := cl.parse(fs, args, 0); err != nil {
		return err
	}
	if in.Name == "" {
		return fmt.Errorf("%s: --name is required", cl.name)
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	p, err := c.CreateProject(ctx, in)
	return cliPrintResult(cl, p, err)
}

func cliProjectsList(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(false, true)
	var opts client.ListOptions
	cliListFlags(fs, &opts)
	if _, err := cl.parse(fs, args, 0); err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	page, err := c.ListProjects(ctx, opts)
	return cliPrintResult(cl, page, err)
}

func cliProjectsGet(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(false, true)
	pos, err := cl.parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	p, err := c.GetProject(ctx, pos[0])
	return cliPrintResult(cl, p, err)
}

func cliEndpointsCreate(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, false)
	var in client.EndpointCreate
	var eventTypes, channels string
	var disabled bool
	fs.StringVar(&in.URL, "url", "", "the endpoint's URL (required); Herald's own URL is --server here")
	fs.StringVar(&in.Name, "name", "", "name")
	fs.StringVar(&in.Description, "description", "", "description")
	fs.StringVar(&eventTypes, "event-types", "", "comma-separated event types, user.* patterns allowed; empty = all")
	fs.StringVar(&channels, "channels", "", "comma-separated channels")
	fs.StringVar(&in.Filter, "filter", "", "CEL filter over the event")
	fs.StringVar(&in.Timeout, "timeout", "", "per-attempt timeout, e.g. 15s")
	fs.StringVar(&in.ResponseMode, "response-mode", "", "wait, ignore or data")
	fs.StringVar(&in.FailurePolicy, "failure-policy", "", "hooks: fail_closed or fail_open")
	fs.IntVar(&in.Order, "order", 0, "order of application, lower first")
	fs.StringVar(&in.Secret, "secret", "", "signing secret (whsec_…); generated when empty")
	fs.BoolVar(&disabled, "disabled", false, "create it disabled")
	if _, err := cl.parse(fs, args, 0); err != nil {
		return err
	}
	if in.URL == "" {
		return fmt.Errorf("%s: --url is required", cl.name)
	}
	in.EventTypes = cliSplitList(eventTypes)
	in.Channels = cliSplitList(channels)
	if disabled {
		in.Enabled = client.Ptr(false)
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	ep, err := c.CreateEndpoint(ctx, cl.project, in)
	return cliPrintResult(cl, ep, err)
}

func cliEndpointsList(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	var opts client.ListOptions
	cliListFlags(fs, &opts)
	if _, err := cl.parse(fs, args, 0); err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	page, err := c.ListEndpoints(ctx, cl.project, opts)
	return cliPrintResult(cl, page, err)
}

func cliEndpointsGet(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	pos, err := cl.parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	ep, err := c.GetEndpoint(ctx, cl.project, pos[0])
	return cliPrintResult(cl, ep, err)
}

func cliEndpointsDelete(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	pos, err := cl.parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	if err := c.DeleteEndpoint(ctx, cl.project, pos[0]); err != nil {
		return err
	}
	return cl.print(map[string]string{"deleted": pos[0]})
}

func cliEventsSend(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	var in client.EventInput
	var data, channels string
	fs.StringVar(&in.Type, "type", "", "event type (required)")
	fs.StringVar(&data, "data", "{}", "event data, a JSON object")
	fs.StringVar(&channels, "channels", "", "comma-separated channels")
	fs.StringVar(&in.ID, "id", "", "client event id, also the idempotency key")
	fs.StringVar(&in.IdempotencyKey, "idempotency-key", "", "Idempotency-Key header; random when neither it nor --id is given")
	if _, err := cl.parse(fs, args, 0); err != nil {
		return err
	}
	if in.Type == "" {
		return fmt.Errorf("%s: --type is required", cl.name)
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(data), &obj); err != nil || obj == nil {
		return fmt.Errorf("%s: --data must be a JSON object", cl.name)
	}
	in.Data = json.RawMessage(data)
	in.Channels = cliSplitList(channels)
	c, err := cl.client()
	if err != nil {
		return err
	}
	res, err := c.SendEvent(ctx, cl.project, in)
	if err != nil {
		return err
	}
	return cl.print(struct {
		*client.SendEventResult
		Replayed bool `json:"replayed,omitempty"`
	}{res, res.Replayed})
}

func cliEventsList(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	var opts client.EventListOptions
	var since, until string
	fs.StringVar(&opts.Type, "type", "", "only this event type")
	fs.StringVar(&opts.Channel, "channel", "", "only events carrying this channel")
	fs.StringVar(&since, "since", "", "created at or after: RFC 3339, or a duration ago (24h)")
	fs.StringVar(&until, "until", "", "created before: RFC 3339, or a duration ago")
	cliListFlags(fs, &opts.ListOptions)
	if _, err := cl.parse(fs, args, 0); err != nil {
		return err
	}
	var err error
	if opts.Since, err = cliParseTime("since", since); err != nil {
		return err
	}
	if opts.Until, err = cliParseTime("until", until); err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	page, err := c.ListEvents(ctx, cl.project, opts)
	return cliPrintResult(cl, page, err)
}

func cliEventsGet(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	pos, err := cl.parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	ev, err := c.GetEvent(ctx, cl.project, pos[0])
	return cliPrintResult(cl, ev, err)
}

func cliDeliveriesList(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	var opts client.DeliveryListOptions
	fs.StringVar(&opts.EndpointID, "endpoint", "", "only this endpoint's deliveries")
	fs.StringVar(&opts.EventID, "event", "", "only this event's deliveries")
	fs.StringVar(&opts.Status, "status", "", "pending, in_flight, succeeded, exhausted or canceled")
	cliListFlags(fs, &opts.ListOptions)
	if _, err := cl.parse(fs, args, 0); err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	page, err := c.ListDeliveries(ctx, cl.project, opts)
	return cliPrintResult(cl, page, err)
}

func cliDeliveriesGet(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	pos, err := cl.parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	d, err := c.GetDelivery(ctx, cl.project, pos[0])
	return cliPrintResult(cl, d, err)
}

func cliDeliveriesAttempts(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	var opts client.ListOptions
	cliListFlags(fs, &opts)
	pos, err := cl.parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	page, err := c.ListAttempts(ctx, cl.project, pos[0], opts)
	return cliPrintResult(cl, page, err)
}

func cliDeliveriesRetry(ctx context.Context, cl *cliRun, args []string) error {
	fs := cl.flags(true, true)
	pos, err := cl.parse(fs, args, 1)
	if err != nil {
		return err
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	a, err := c.RetryDelivery(ctx, cl.project, pos[0])
	return cliPrintResult(cl, a, err)
}
