package main

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
)

// `herald portal-link` prints a link that opens the portal for the tenant.
func TestPortalLinkPrintsAWorkingLink(t *testing.T) {
	base := startHerald(t)
	env := cliEnv(base, e2eAdminKey)
	cliJSON(t, env, "projects", "create", "--id", "shop", "--name", "Shop")
	getenv := func(k string) string { return env[k] }
	var out, errOut bytes.Buffer
	err := runPortalLinkEnv(context.Background(), []string{"--project", "shop", "--tenant", "acme", "--expires-in", "10m", "--locale", "fr"}, &out, &errOut, getenv)
	if err != nil {
		t.Fatalf("portal-link: %v (%s)", err, errOut.String())
	}
	link := strings.TrimSpace(out.String())
	if !strings.HasPrefix(link, base+"/portal/s/hpt_") || strings.Contains(link, "\n") {
		t.Fatalf("printed %q, want one link under %s/portal/s/", out.String(), base)
	}
	if !strings.Contains(errOut.String(), "works until") {
		t.Errorf("stderr: %q", errOut.String())
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/portal/endpoints" {
		t.Fatalf("opening the link: %d %s", res.StatusCode, res.Header.Get("Location"))
	}

	// Refusals name the problem, without sending half a request.
	err = runPortalLinkEnv(context.Background(), []string{"--project", "shop"}, &out, &errOut, getenv)
	if err == nil || !strings.Contains(err.Error(), "--tenant is required") {
		t.Errorf("no tenant: %v", err)
	}
	err = runPortalLinkEnv(context.Background(), []string{"--project", "shop", "--tenant", "acme", "--expires-in", "400h"}, &out, &errOut, getenv)
	if err == nil || !strings.Contains(err.Error(), "expires_in") {
		t.Errorf("too long: %v", err)
	}
}
