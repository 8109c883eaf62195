package main

import (
	"net/http"
	"strings"
	"testing"

	"github.com/herald-dev/herald/internal/testkit"
)

func TestCLIE2ETenants(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")

	put := cliJSON(t, env, "tenants", "put", "acme", "--name", "Acme", "--metadata", "plan=pro")
	if put["id"] != "acme" || put["name"] != "Acme" || put["metadata"].(map[string]any)["plan"] != "pro" {
		t.Fatalf("tenants put printed %v", put)
	}
	if got := cliJSON(t, env, "tenants", "get", "acme"); got["name"] != "Acme" {
		t.Fatalf("tenants get printed %v", got)
	}
	rcvA, rcvB := newReceiver(t), newReceiver(t)
	epA := cliJSON(t, env, "endpoints", "create", "--url", rcvA.url, "--tenant", "acme")
	if epA["tenant_id"] != "acme" {
		t.Fatalf("endpoints create --tenant printed %v", epA)
	}
	cliJSON(t, env, "endpoints", "create", "--url", rcvB.url, "--tenant", "globex")
	if list := items(t, cliJSON(t, env, "tenants", "list")); len(list) != 2 {
		t.Fatalf("tenants list: %v, want acme and globex (made by its endpoint)", list)
	}
	if list := items(t, cliJSON(t, env, "endpoints", "list", "--tenant", "acme")); len(list) != 1 || list[0]["id"] != epA["id"] {
		t.Fatalf("endpoints list --tenant acme: %v", list)
	}
	ev := cliJSON(t, env, "events", "send", "--type", "order.paid", "--tenant", "acme")
	if ev["tenant_id"] != "acme" {
		t.Fatalf("events send --tenant printed %v", ev)
	}
	testkit.WaitFor(t, "acme's delivery", func() bool { _, n, _ := rcvA.counts(); return n == 1 })
	if _, n, _ := rcvB.counts(); n != 0 {
		t.Fatal("another tenant's endpoint received acme's event")
	}
	if list := items(t, cliJSON(t, env, "events", "list", "--tenant", "acme")); len(list) != 1 || list[0]["id"] != ev["id"] {
		t.Fatalf("events list --tenant acme: %v", list)
	}
	if list := items(t, cliJSON(t, env, "deliveries", "list", "--tenant", "globex")); len(list) != 0 {
		t.Fatalf("deliveries list --tenant globex: %v, want none", list)
	}
	if got := cliJSON(t, env, "tenants", "delete", "globex"); got["deleted"] != "globex" {
		t.Fatalf("tenants delete printed %v", got)
	}
	if msg := cliFails(t, env, "tenants", "get", "globex"); !strings.HasPrefix(msg, "404") {
		t.Fatalf("a deleted tenant: %q", msg)
	}
}

func TestCLIE2EScopedAPIKeys(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")

	k := cliJSON(t, env, "api-keys", "create", "--name", "support", "--scope", "read", "--tenant", "acme", "--expires-at", "1h")
	if k["name"] != "support" || k["tenant_id"] != "acme" || k["expires_at"] == nil {
		t.Fatalf("api-keys create printed %v", k)
	}
	if s, _ := k["scopes"].([]any); len(s) != 1 || s[0] != "read" {
		t.Fatalf("api-keys create --scope read printed scopes %v", k["scopes"])
	}
	scoped := cliEnv(url, k["key"].(string))
	scoped["HERALD_PROJECT"] = "shop"
	cliJSON(t, scoped, "events", "list")
	if msg := cliFails(t, scoped, "events", "send", "--type", "x"); !strings.HasPrefix(msg, "403") || !strings.Contains(msg, "events:write") {
		t.Fatalf("a read key sending: %q, want a 403 naming events:write", msg)
	}
	if msg := cliFails(t, env, "api-keys", "create", "--scope", "everything"); !strings.HasPrefix(msg, "422") {
		t.Fatalf("an unknown scope: %q, want a 422", msg)
	}
	if msg := cliFails(t, env, "api-keys", "create", "--expires-at", "soon"); !strings.Contains(msg, "--expires-at") {
		t.Fatalf("a bad --expires-at: %q", msg)
	}

	// A tenant-bound key's hook runs are its tenant's, through the server's
	// own wiring of hooks.
	hk := cliJSON(t, env, "api-keys", "create", "--scope", "hooks:run", "--tenant", "acme")
	req, _ := http.NewRequest("POST", url+"/v1/projects/shop/hooks/user.created", strings.NewReader(`{"data":{},"tenant_id":"globex"}`))
	req.Header.Set("Authorization", "Bearer "+hk["key"].(string))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnprocessableEntity {
		t.Fatalf("a tenant-bound key running another tenant's hooks: %d, want 422", res.StatusCode)
	}
}

// hooks run --tenant runs the hooks of that tenant's endpoints and the
// project-wide ones, never another tenant's.
func TestCLIE2EHooksRunForATenant(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	acme, globex := newHookReceiver(t), newHookReceiver(t)
	cliJSON(t, env, "endpoints", "create", "--url", acme.url, "--event-types", "before_signup", "--tenant", "acme")
	cliJSON(t, env, "endpoints", "create", "--url", globex.url, "--event-types", "before_signup", "--tenant", "globex")

	res := cliJSON(t, env, "hooks", "run", "before_signup", "--data", `{"email":"a@example.com"}`, "--tenant", "acme")
	if res["allowed"] != true || len(res["results"].([]any)) != 1 {
		t.Fatalf("hooks run --tenant acme printed %v, want one allowed call", res)
	}
	if n, _, body := acme.requests(); n != 1 || !strings.Contains(body, `"tenant_id":"acme"`) {
		t.Fatalf("acme's hook got %d calls, last %s", n, body)
	}
	if n, _, _ := globex.requests(); n != 0 {
		t.Fatalf("globex's hook was called %d times for acme's run", n)
	}
	if msg := cliFails(t, env, "hooks", "run", "before_signup", "--tenant", "no spaces"); !strings.HasPrefix(msg, "422") {
		t.Fatalf("a bad tenant id: %q", msg)
	}
}

// endpoints create/update --retry-jitter reach the server: false is kept,
// and an endpoint created without the flag has the default, true.
func TestCLIE2ERetryJitter(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	plain := cliJSON(t, env, "endpoints", "create", "--url", "https://example.com/a")
	if plain["retry_jitter"] != true {
		t.Fatalf("created without --retry-jitter: retry_jitter %v, want the default true", plain["retry_jitter"])
	}
	exact := cliJSON(t, env, "endpoints", "create", "--url", "https://example.com/b", "--retry-jitter=false", "--retry-schedule", "1h,1h")
	if exact["retry_jitter"] != false {
		t.Fatalf("created with --retry-jitter=false: %v", exact["retry_jitter"])
	}
	up := cliJSON(t, env, "endpoints", "update", exact["id"].(string), "--retry-jitter")
	if up["retry_jitter"] != true {
		t.Fatalf("updated with --retry-jitter: %v", up["retry_jitter"])
	}
}

// herald cluster lists the processes on the database: here the one
// serving, with its heartbeat; a project key is refused.
func TestCLIE2ECluster(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	var list []map[string]any
	testkit.WaitFor(t, "the process's first heartbeat", func() bool {
		list = items(t, cliJSON(t, cliEnv(url, e2eAdminKey), "cluster"))
		return len(list) == 1
	})
	if id, _ := list[0]["id"].(string); id == "" || list[0]["last_heartbeat_at"] == nil || list[0]["heartbeat_age_ms"] == nil {
		t.Fatalf("herald cluster printed %v", list[0])
	}
	env := cliProject(t, url, "shop")
	if msg := cliFails(t, env, "cluster"); !strings.HasPrefix(msg, "403") {
		t.Fatalf("herald cluster with a project key: %q, want a 403", msg)
	}
	if msg := cliFails(t, cliEnv(url, e2eAdminKey), "cluster", "extra"); !strings.Contains(msg, "unexpected argument") {
		t.Fatalf("herald cluster extra: %q", msg)
	}
}
