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

// cliVerb is one subcommand: its usage, what it takes, and the call it
// makes. Every verb takes --server (also --url, but for endpoints create),
// --key and, below a project, --project; the runner parses them, builds the
// client and prints the answer, so a verb states only what is its own.
type cliVerb struct {
	usage    string
	project  bool     // below a project: --project (HERALD_PROJECT) is required
	ownURL   bool     // --url is the verb's own flag, not another name of --server
	id       bool     // takes one positional argument, an id
	paged    bool     // takes --limit and --cursor
	required []string // own flags that must not be empty

	// call makes the API call and returns what to print. A verb with
	// flags of its own has flags instead: it declares them on fs and
	// returns check, run on the parsed flags before the client is built
	// (nil for none), and the call that reads them.
	call  cliCall
	flags func(fs *flag.FlagSet) (check func(name string) error, call cliCall)
}

// cliCall is a verb's API call; it returns what to print.
type cliCall func(ctx context.Context, c *client.Client, r cliReq) (any, error)

// cliReq is what the runner parsed for a verb's call.
type cliReq struct {
	project, id string
	page        client.ListOptions // --limit, --cursor
}

// cliVerbs lists the subcommands by resource and verb.
var cliVerbs = map[string]map[string]cliVerb{
	"projects": {
		"create": {usage: "--name NAME [--id SLUG]", required: []string{"name"}, flags: cliProjectsCreate},
		"list": {usage: "[--limit N] [--cursor C]", paged: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) { return c.ListProjects(ctx, r.page) }},
		"get": {usage: "ID", id: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) { return c.GetProject(ctx, r.id) }},
	},
	"endpoints": {
		"create": {usage: "--project P --url URL [--event-types a,b] [--name N] [--timeout 15s] …", project: true, ownURL: true,
			required: []string{"url"}, flags: cliEndpointsCreate},
		"list": {usage: "--project P [--limit N] [--cursor C]", project: true, paged: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
				return c.ListEndpoints(ctx, r.project, r.page)
			}},
		"get": {usage: "--project P ID", project: true, id: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
				return c.GetEndpoint(ctx, r.project, r.id)
			}},
		"delete": {usage: "--project P ID", project: true, id: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
				if err := c.DeleteEndpoint(ctx, r.project, r.id); err != nil {
					return nil, err
				}
				return map[string]string{"deleted": r.id}, nil
			}},
	},
	"events": {
		"send": {usage: "--project P --type T [--data JSON] [--channels a,b] [--id ID] [--idempotency-key K]", project: true,
			required: []string{"type"}, flags: cliEventsSend},
		"list": {usage: "--project P [--type T] [--channel C] [--since TIME] [--until TIME] [--limit N] [--cursor C]", project: true,
			paged: true, flags: cliEventsList},
		"get": {usage: "--project P ID", project: true, id: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
				return c.GetEvent(ctx, r.project, r.id)
			}},
	},
	"deliveries": {
		"list": {usage: "--project P [--endpoint ID] [--event ID] [--status S] [--limit N] [--cursor C]", project: true,
			paged: true, flags: cliDeliveriesList},
		"get": {usage: "--project P ID", project: true, id: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
				return c.GetDelivery(ctx, r.project, r.id)
			}},
		"attempts": {usage: "--project P DELIVERY_ID", project: true, id: true, paged: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
				return c.ListAttempts(ctx, r.project, r.id, r.page)
			}},
		"retry": {usage: "--project P DELIVERY_ID", project: true, id: true,
			call: func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
				return c.RetryDelivery(ctx, r.project, r.id)
			}},
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
	err := cl.run(ctx, verb, args[1:])
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

// run parses the verb's flags and arguments, checks them, calls the API
// and prints the answer. Nothing is sent until the input is complete.
func (cl *cliRun) run(ctx context.Context, verb cliVerb, args []string) error {
	fs := cl.flags(verb.project, !verb.ownURL)
	var r cliReq
	if verb.paged {
		fs.IntVar(&r.page.Limit, "limit", 0, "page size (server default 50)")
		fs.StringVar(&r.page.Cursor, "cursor", "", "next_cursor of the previous page")
	}
	call := verb.call
	var check func(string) error
	if verb.flags != nil {
		check, call = verb.flags(fs)
	}
	positional := 0
	if verb.id {
		positional = 1
	}
	pos, err := cl.parse(fs, args, positional)
	if err != nil {
		return err
	}
	for _, name := range verb.required {
		if fs.Lookup(name).Value.String() == "" {
			return fmt.Errorf("%s: --%s is required", cl.name, name)
		}
	}
	if check != nil {
		if err := check(cl.name); err != nil {
			return err
		}
	}
	c, err := cl.client()
	if err != nil {
		return err
	}
	r.project = cl.project
	if verb.id {
		r.id = pos[0]
	}
	v, err := call(ctx, c, r)
	if err != nil {
		return err
	}
	return cl.print(v)
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

func cliProjectsCreate(fs *flag.FlagSet) (func(string) error, cliCall) {
	var in client.ProjectCreate
	fs.StringVar(&in.Name, "name", "", "project name (required)")
	fs.StringVar(&in.ID, "id", "", "project id, a slug; generated when empty")
	return nil, func(ctx context.Context, c *client.Client, _ cliReq) (any, error) {
		return c.CreateProject(ctx, in)
	}
}

func cliEndpointsCreate(fs *flag.FlagSet) (func(string) error, cliCall) {
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
	return nil, func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
		in.EventTypes = cliSplitList(eventTypes)
		in.Channels = cliSplitList(channels)
		if disabled {
			in.Enabled = client.Ptr(false)
		}
		return c.CreateEndpoint(ctx, r.project, in)
	}
}

func cliEventsSend(fs *flag.FlagSet) (func(string) error, cliCall) {
	var in client.EventInput
	var data, channels string
	fs.StringVar(&in.Type, "type", "", "event type (required)")
	fs.StringVar(&data, "data", "{}", "event data, a JSON object")
	fs.StringVar(&channels, "channels", "", "comma-separated channels")
	fs.StringVar(&in.ID, "id", "", "client event id, also the idempotency key")
	fs.StringVar(&in.IdempotencyKey, "idempotency-key", "", "Idempotency-Key header; random when neither it nor --id is given")
	check := func(name string) error {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal([]byte(data), &obj); err != nil || obj == nil {
			return fmt.Errorf("%s: --data must be a JSON object", name)
		}
		return nil
	}
	return check, func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
		in.Data = json.RawMessage(data)
		in.Channels = cliSplitList(channels)
		res, err := c.SendEvent(ctx, r.project, in)
		if err != nil {
			return nil, err
		}
		return struct {
			*client.SendEventResult
			Replayed bool `json:"replayed,omitempty"`
		}{res, res.Replayed}, nil
	}
}

func cliEventsList(fs *flag.FlagSet) (func(string) error, cliCall) {
	var opts client.EventListOptions
	var since, until string
	fs.StringVar(&opts.Type, "type", "", "only this event type")
	fs.StringVar(&opts.Channel, "channel", "", "only events carrying this channel")
	fs.StringVar(&since, "since", "", "created at or after: RFC 3339, or a duration ago (24h)")
	fs.StringVar(&until, "until", "", "created before: RFC 3339, or a duration ago")
	check := func(string) error {
		var err error
		if opts.Since, err = cliParseTime("since", since); err != nil {
			return err
		}
		opts.Until, err = cliParseTime("until", until)
		return err
	}
	return check, func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
		opts.ListOptions = r.page
		return c.ListEvents(ctx, r.project, opts)
	}
}

func cliDeliveriesList(fs *flag.FlagSet) (func(string) error, cliCall) {
	var opts client.DeliveryListOptions
	fs.StringVar(&opts.EndpointID, "endpoint", "", "only this endpoint's deliveries")
	fs.StringVar(&opts.EventID, "event", "", "only this event's deliveries")
	fs.StringVar(&opts.Status, "status", "", "pending, in_flight, succeeded, exhausted or canceled")
	return nil, func(ctx context.Context, c *client.Client, r cliReq) (any, error) {
		opts.ListOptions = r.page
		return c.ListDeliveries(ctx, r.project, opts)
	}
}
