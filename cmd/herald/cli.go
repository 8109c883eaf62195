package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
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
	cliMaxAnswer     = 64 << 20 // an answer larger than this is refused
)

// The API client is one command group per resource, each in its own file
// (projects.go, endpoints.go, …); a group is a table of verbs.
var cliGroups = map[string]cliGroup{
	"projects":    projectsGroup,
	"api-keys":    apiKeysGroup,
	"tenants":     tenantsGroup,
	"event-types": eventTypesGroup,
	"endpoints":   endpointsGroup,
	"events":      eventsGroup,
	"deliveries":  deliveriesGroup,
	"hooks":       hooksGroup,
	"cluster":     clusterGroup,
}

// cliGroup is a resource's commands: `herald <group> <verb> …`. A group
// whose only verb is "" is a command of its own: `herald <group> [flags]`.
type cliGroup map[string]cliVerb

// cliVerb is one subcommand: its usage, what it takes, and the call it
// makes. Every verb takes --server, --key and, below a project, --project;
// the runner parses them, checks the arguments, and prints the answer, so a
// verb states only what is its own.
type cliVerb struct {
	summary  string   // one line, for the group's usage
	usage    string   // the arguments after the verb
	project  bool     // below a project: --project (HERALD_PROJECT) is required
	ownURL   bool     // --url is the verb's own flag, not another name of --server
	args     []string // names of the positional arguments, all required
	paged    bool     // takes --limit and --cursor
	required []string // own flags that must be given

	// call makes the API call and returns what to print. A verb with
	// flags of its own has flags instead: it declares them on fs and
	// returns check, run on the parsed flags before anything is sent (nil
	// for none), and the call that reads them.
	call  cliCall
	flags func(fs *flag.FlagSet) (check func() error, call cliCall)
}

// cliCall is a verb's API call; it returns what to print.
type cliCall func(ctx context.Context, c *cliClient, r cliReq) (any, error)

// cliReq is what the runner parsed for a verb's call.
type cliReq struct {
	project string
	args    []string   // the positional arguments, as many as the verb names
	page    url.Values // --limit, --cursor
}

// runCLI implements `herald <group> <verb>`: a client of the API that
// prints each answer as indented JSON, as the server sent it. The server
// and key come from --server/--key or HERALD_URL/HERALD_KEY, the project
// from --project or HERALD_PROJECT.
func runCLI(ctx context.Context, group string, args []string, stdout, stderr io.Writer) error {
	return runCLIEnv(ctx, group, args, stdout, stderr, os.Getenv)
}

func runCLIEnv(ctx context.Context, group string, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	verbs, ok := cliGroups[group]
	if !ok {
		return fmt.Errorf("unknown command %q", group)
	}
	if verb, ok := verbs[""]; ok {
		return runVerb(ctx, group, verb, args, stdout, getenv)
	}
	if len(args) == 0 {
		cliUsage(stderr, group, verbs)
		return errUsage
	}
	if isHelp(args[0]) {
		cliUsage(stdout, group, verbs)
		return flag.ErrHelp
	}
	verb, ok := verbs[args[0]]
	if !ok {
		cliUsage(stderr, group, verbs)
		return fmt.Errorf("%s: unknown command %q", group, args[0])
	}
	return runVerb(ctx, group+" "+args[0], verb, args[1:], stdout, getenv)
}

// runVerb runs one verb, named name in messages, on its arguments.
func runVerb(ctx context.Context, name string, verb cliVerb, args []string, stdout io.Writer, getenv func(string) string) error {
	cl := &cliRun{name: name, verb: verb, getenv: getenv, stdout: stdout}
	err := cl.run(ctx, args)
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		// main prefixes "herald:" already.
		return errors.New(strings.TrimPrefix(apiErr.Error(), "herald: "))
	}
	return err
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func cliUsage(w io.Writer, group string, verbs cliGroup) {
	names := make([]string, 0, len(verbs))
	for v := range verbs {
		names = append(names, v)
	}
	sort.Strings(names)
	fmt.Fprintf(w, "Usage: herald %s <command> [flags]\n\n", group)
	for _, v := range names {
		fmt.Fprintf(w, "  %-9s %s\n", v, verbs[v].summary)
	}
	fmt.Fprintf(w, "\nRun \"herald %s <command> -h\" for a command's flags. Every command takes\n--server URL (HERALD_URL, default %s), --key KEY (HERALD_KEY)\nand, below a project, --project P (HERALD_PROJECT). Answers are printed as JSON.\n", group, cliServerDefault)
}

// cliRun is one invocation: the flags common to every command and where
// the output goes.
type cliRun struct {
	name   string
	verb   cliVerb
	getenv func(string) string
	stdout io.Writer

	server, key, project string
}

// run parses the verb's flags and arguments, checks them, calls the API
// and prints the answer. Nothing is sent until the input is complete.
func (cl *cliRun) run(ctx context.Context, args []string) error {
	verb := cl.verb
	fs := cl.flags()
	var limit int
	var cursor string
	if verb.paged {
		fs.IntVar(&limit, "limit", 0, "page size (server default 50)")
		fs.StringVar(&cursor, "cursor", "", "next_cursor of the previous page")
	}
	call := verb.call
	var check func() error
	if verb.flags != nil {
		check, call = verb.flags(fs)
	}
	pos, err := cl.parse(fs, args)
	if err != nil {
		return err
	}
	for _, name := range verb.required {
		if !flagSet(fs, name) {
			return fmt.Errorf("%s: --%s is required", cl.name, name)
		}
	}
	if check != nil {
		if err := check(); err != nil {
			return fmt.Errorf("%s: %w", cl.name, err)
		}
	}
	if cl.key == "" {
		return fmt.Errorf("%s: no API key: use --key or set HERALD_KEY", cl.name)
	}
	r := cliReq{project: cl.project, args: pos, page: url.Values{}}
	if limit != 0 {
		r.page.Set("limit", fmt.Sprint(limit))
	}
	if cursor != "" {
		r.page.Set("cursor", cursor)
	}
	c := &cliClient{base: strings.TrimRight(cl.server, "/"), key: cl.key, http: &http.Client{Timeout: cliTimeout}}
	v, err := call(ctx, c, r)
	if err != nil {
		return err
	}
	return cl.print(v)
}

// flags returns the verb's flag set with the common flags on it. Their
// defaults come from the environment after parsing, so that -h never
// prints a key. --url is another name of --server, but for endpoints
// create and update, where it is the endpoint's.
func (cl *cliRun) flags() *flag.FlagSet {
	fs := flag.NewFlagSet("herald "+cl.name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: herald %s %s\n\n%s.\n\nFlags:\n", cl.name, cl.verb.usage, cl.verb.summary)
		fs.PrintDefaults()
	}
	fs.StringVar(&cl.server, "server", "", "Herald's base URL (HERALD_URL; default "+cliServerDefault+")")
	if !cl.verb.ownURL {
		fs.StringVar(&cl.server, "url", "", "same as --server")
	}
	fs.StringVar(&cl.key, "key", "", "API key, admin or project (HERALD_KEY)")
	if cl.verb.project {
		fs.StringVar(&cl.project, "project", "", "project id (HERALD_PROJECT)")
	}
	return fs
}

// parse parses args, allowing positional arguments between flags
// ("get ep_1 --project p"), fills the common flags left empty from the
// environment, and returns the positional arguments.
func (cl *cliRun) parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args, cl.stdout); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if want := len(cl.verb.args); len(pos) != want {
		if want == 0 {
			return nil, fmt.Errorf("%s: unexpected argument %q", cl.name, pos[0])
		}
		return nil, fmt.Errorf("%s: want %d argument(s) (%s), got %d", cl.name, want, strings.Join(cl.verb.args, " "), len(pos))
	}
	for _, p := range pos {
		if p == "" {
			return nil, fmt.Errorf("%s: an empty argument", cl.name)
		}
	}
	fill := func(dst *string, env, def string) {
		if *dst == "" {
			*dst = cl.getenv(env)
		}
		if *dst == "" {
			*dst = def
		}
	}
	fill(&cl.server, "HERALD_URL", cliServerDefault)
	fill(&cl.key, "HERALD_KEY", "")
	if cl.verb.project {
		if fill(&cl.project, "HERALD_PROJECT", ""); cl.project == "" {
			return nil, fmt.Errorf("%s: --project is required (or set HERALD_PROJECT)", cl.name)
		}
	}
	return pos, nil
}

// print writes v as indented JSON; a json.RawMessage is the server's
// answer, printed as it came.
func (cl *cliRun) print(v any) error {
	if t, ok := v.(plainText); ok {
		_, err := fmt.Fprintln(cl.stdout, string(t))
		return err
	}
	var b []byte
	if raw, ok := v.(json.RawMessage); ok {
		var buf bytes.Buffer
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("%s: the server answered with invalid JSON: %w", cl.name, err)
		}
		b = buf.Bytes()
	} else {
		var err error
		if b, err = json.MarshalIndent(v, "", "  "); err != nil {
			return err
		}
	}
	_, err := fmt.Fprintf(cl.stdout, "%s\n", b)
	return err
}

// flagSet reports whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

// cliClient makes the API calls of the CLI in plain HTTP, so that it
// prints every field the server answers with and can send what a typed
// client cannot (null to reset a field).
type cliClient struct {
	base, key string
	http      *http.Client
	header    http.Header // extra request headers of the next call
	replayed  bool        // the last answer carried Idempotent-Replayed: true
}

// do sends one request and returns the answer's body; a refusal is a
// *client.Error, as the Go SDK returns it.
func (c *cliClient) do(ctx context.Context, method, path string, query url.Values, in any) (json.RawMessage, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, err
		}
		body = bytes.NewReader(b)
	}
	target := c.base + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.key)
	req.Header.Set("Accept", "application/json, application/problem+json")
	req.Header.Set("User-Agent", "herald-cli/"+heraldVersion())
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range c.header {
		req.Header[k] = v
	}
	c.header = nil
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, cliMaxAnswer))
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, cliProblem(resp, data)
	}
	c.replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil
	}
	return json.RawMessage(data), nil
}

// cliProblem reads a refusal: a problem document, or whatever the body
// says (a proxy's page, say) under the status.
func cliProblem(resp *http.Response, data []byte) *client.Error {
	e := &client.Error{}
	if json.Unmarshal(data, e) != nil {
		e = &client.Error{Detail: strings.TrimSpace(string(data))}
		if len(e.Detail) > 200 {
			e.Detail = e.Detail[:200] + "…"
		}
	}
	if e.Status == 0 {
		e.Status = resp.StatusCode
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	return e
}

func (c *cliClient) get(ctx context.Context, path string, query url.Values) (any, error) {
	return c.do(ctx, http.MethodGet, path, query, nil)
}

func (c *cliClient) post(ctx context.Context, path string, in any) (any, error) {
	if in == nil {
		in = struct{}{}
	}
	return c.do(ctx, http.MethodPost, path, nil, in)
}

func (c *cliClient) patch(ctx context.Context, path string, in any) (any, error) {
	return c.do(ctx, http.MethodPatch, path, nil, in)
}

// delete deletes and prints {"deleted": id}: the API answers 204.
func (c *cliClient) delete(ctx context.Context, path, id string) (any, error) {
	if _, err := c.do(ctx, http.MethodDelete, path, nil, nil); err != nil {
		return nil, err
	}
	return map[string]string{"deleted": id}, nil
}

// apiPath joins escaped segments below /v1/projects/{project}; an empty
// project is the projects collection.
func apiPath(project string, segments ...string) string {
	var b strings.Builder
	b.WriteString("/v1/projects")
	for _, s := range append([]string{project}, segments...) {
		if s != "" {
			b.WriteString("/" + url.PathEscape(s))
		}
	}
	return b.String()
}

// Flag values shared by the groups.

// cliList reads a comma-separated flag value; "" is no items (an empty,
// non-nil list, which clears the field on update).
func cliList(s string) []string {
	out := []string{}
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// cliPairs is a repeatable flag of NAME<sep>VALUE pairs, such as
// --header "X-Team: billing" or --metadata env=prod. One empty value
// stands for the empty map.
type cliPairs struct {
	sep  string
	vals map[string]string
	set  bool
}

func (p *cliPairs) String() string { return "" }

func (p *cliPairs) Set(v string) error {
	if p.vals == nil {
		p.vals = map[string]string{}
	}
	p.set = true
	if v == "" {
		return nil
	}
	k, val, ok := strings.Cut(v, p.sep)
	k = strings.TrimSpace(k)
	if !ok || k == "" {
		return fmt.Errorf("want NAME%sVALUE", p.sep)
	}
	if p.sep == ":" {
		val = strings.TrimSpace(val)
	}
	p.vals[k] = val
	return nil
}

// cliJSONValue reads a JSON flag value: inline JSON, or @FILE to read it
// from a file ("@-" is stdin).
func cliJSONValue(name, v string) (json.RawMessage, error) {
	b, err := cliText(name, v)
	if err != nil {
		return nil, err
	}
	if !json.Valid([]byte(b)) {
		return nil, fmt.Errorf("--%s is not valid JSON", name)
	}
	return json.RawMessage(b), nil
}

// cliJSONObject is cliJSONValue for a value that must be an object.
func cliJSONObject(name, v string) (json.RawMessage, error) {
	b, err := cliText(name, v)
	if err != nil {
		return nil, err
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(b), &obj) != nil || obj == nil {
		return nil, fmt.Errorf("--%s must be a JSON object", name)
	}
	return json.RawMessage(b), nil
}

// cliText reads a text flag value, or with @FILE the file's content.
func cliText(name, v string) (string, error) {
	file, ok := strings.CutPrefix(v, "@")
	if !ok {
		return v, nil
	}
	var b []byte
	var err error
	if file == "-" {
		b, err = io.ReadAll(os.Stdin)
	} else {
		b, err = os.ReadFile(file)
	}
	if err != nil {
		return "", fmt.Errorf("--%s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// cliTime reads an RFC 3339 time, or a duration meaning "that long ago"
// ("24h").
func cliTime(name, v string) (string, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC().Format(time.RFC3339Nano), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return time.Now().Add(-d).UTC().Format(time.RFC3339Nano), nil
	}
	return "", fmt.Errorf("--%s %q: want an RFC 3339 time or a duration such as 24h", name, v)
}

// cliIdempotencyKey is the key of a send that gave none, so that the
// client's own retries cannot duplicate the event.
func cliIdempotencyKey() string { return rand.Text() }
