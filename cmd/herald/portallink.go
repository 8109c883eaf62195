package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/herald-dev/herald/client"
)

// portalLinkVerb is `herald portal-link`: a customer portal link for one
// tenant, printed alone on a line (the expiry goes to stderr), so that a
// script can hand it on.
func portalLinkVerb(stderr io.Writer) cliVerb {
	return cliVerb{
		summary: "Print a customer portal link for a tenant (created if missing)",
		usage:   "--project P --tenant T [--expires-in 1h] [--read-only] [--event-types a,b] [--locale en|fr|ru]",
		project: true, required: []string{"tenant"},
		flags: func(fs *flag.FlagSet) (func() error, cliCall) {
			tenant := fs.String("tenant", "", "the tenant's id")
			expires := fs.String("expires-in", "", "how long the link works, 1s to 168h (server default 1h)")
			readOnly := fs.Bool("read-only", false, "the customer sees everything and changes nothing")
			types := fs.String("event-types", "", "comma-separated event types the customer may subscribe to (default: the whole catalog)")
			locale := fs.String("locale", "", "en, fr or ru (default: the browser's language)")
			check := func() error {
				if strings.TrimSpace(*tenant) == "" {
					return errors.New("--tenant is empty")
				}
				return nil
			}
			return check, func(ctx context.Context, c *cliClient, r cliReq) (any, error) {
				body := map[string]any{"tenant_id": *tenant}
				if *expires != "" {
					body["expires_in"] = *expires
				}
				if *readOnly {
					body["read_only"] = true
				}
				if *types != "" {
					list := []string{}
					for _, t := range strings.Split(*types, ",") {
						if t = strings.TrimSpace(t); t != "" {
							list = append(list, t)
						}
					}
					body["event_types"] = list
				}
				if *locale != "" {
					body["locale"] = *locale
				}
				raw, err := c.post(ctx, apiPath(r.project, "portal-sessions"), body)
				if err != nil {
					return nil, err
				}
				var link struct {
					URL       string `json:"url"`
					ExpiresAt string `json:"expires_at"`
				}
				if err := json.Unmarshal(raw.(json.RawMessage), &link); err != nil || link.URL == "" {
					return nil, fmt.Errorf("portal-link: the server answered without a link: %s", raw)
				}
				fmt.Fprintf(stderr, "The link works until %s.\n", link.ExpiresAt)
				return plainText(link.URL), nil
			}
		},
	}
}

// plainText is printed as it is, not as JSON.
type plainText string

func runPortalLink(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return runPortalLinkEnv(ctx, args, stdout, stderr, os.Getenv)
}

func runPortalLinkEnv(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	if len(args) > 0 && isHelp(args[0]) {
		args = []string{"-h"}
	}
	cl := &cliRun{name: "portal-link", verb: portalLinkVerb(stderr), getenv: getenv, stdout: stdout}
	err := cl.run(ctx, args)
	var apiErr *client.Error
	if errors.As(err, &apiErr) {
		return errors.New(strings.TrimPrefix(apiErr.Error(), "herald: "))
	}
	return err
}
