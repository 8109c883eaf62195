package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/herald-dev/herald/internal/testkit"
)

// These tests run the CLI against a real Herald in this process: the same
// wiring as `herald serve` (newApp, app.serve) on a SQLite file in a
// temporary directory, listening on loopback.

const e2eAdminKey = "hk_admin_cli_e2e"

// startHerald runs Herald until the test ends and returns its base URL.
func startHerald(t *testing.T) string {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Database = "sqlite:" + filepath.Join(t.TempDir(), "herald.db")
	cfg.AdminKey = e2eAdminKey
	cfg.AllowPrivateNetworks = true // the receivers listen on loopback
	cfg.APIRateLimit = 0
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	a, err := newApp(ctx, cfg, logger, io.Discard)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		cancel()
		a.store.Close()
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
		a.store.Close()
	})
	return "http://" + ln.Addr().String()
}

// cliEnv is the environment of a CLI run against url with key.
func cliEnv(url, key string) map[string]string {
	return map[string]string{"HERALD_URL": url, "HERALD_KEY": key}
}

// cliJSON runs a CLI command that must succeed and decodes what it printed.
func cliJSON(t *testing.T, env map[string]string, resource string, args ...string) map[string]any {
	t.Helper()
	out, err := runCLITest(resource, args, env)
	if err != nil {
		t.Fatalf("herald %s %s: %v\n%s", resource, strings.Join(args, " "), err, out)
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("herald %s %s printed no JSON object: %v\n%s", resource, strings.Join(args, " "), err, out)
	}
	return m
}

// cliFails runs a CLI command that must fail and returns its error text.
func cliFails(t *testing.T, env map[string]string, resource string, args ...string) string {
	t.Helper()
	out, err := runCLITest(resource, args, env)
	if err == nil {
		t.Fatalf("herald %s %s succeeded:\n%s", resource, strings.Join(args, " "), out)
	}
	return err.Error()
}

// items returns the "data" list of a printed page.
func items(t *testing.T, page map[string]any) []map[string]any {
	t.Helper()
	raw, ok := page["data"].([]any)
	if !ok {
		t.Fatalf("no data list in %v", page)
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		out[i] = r.(map[string]any)
	}
	return out
}

// cliProject creates a project with the CLI and returns the environment of
// its key, with HERALD_PROJECT set.
func cliProject(t *testing.T, url, slug string) map[string]string {
	t.Helper()
	p := cliJSON(t, cliEnv(url, e2eAdminKey), "projects", "create", "--name", "Project "+slug, "--id", slug)
	key, _ := p["api_key"].(string)
	if !strings.HasPrefix(key, "hk_") {
		t.Fatalf("project without an api_key: %v", p)
	}
	env := cliEnv(url, key)
	env["HERALD_PROJECT"] = slug
	return env
}

func TestCLIE2EProjects(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	admin := cliEnv(url, e2eAdminKey)

	shop := cliJSON(t, admin, "projects", "create", "--name", "Shop", "--id", "shop")
	if shop["id"] != "shop" || shop["name"] != "Shop" || shop["created_at"] == nil {
		t.Fatalf("projects create printed %v", shop)
	}
	key, _ := shop["api_key"].(string)
	if !strings.HasPrefix(key, "hk_") {
		t.Fatalf("api_key = %v", shop["api_key"])
	}
	other := cliJSON(t, admin, "projects", "create", "--name", "Forum")
	if id, _ := other["id"].(string); !strings.HasPrefix(id, "prj_") {
		t.Fatalf("a project without --id got id %v", other["id"])
	}

	all := items(t, cliJSON(t, admin, "projects", "list"))
	if len(all) != 2 {
		t.Fatalf("projects list: %d projects, want 2", len(all))
	}
	// Flags instead of the environment; --url is another name of --server.
	first := cliJSON(t, nil, "projects", "list", "--url", url, "--key", e2eAdminKey, "--limit", "1")
	if len(items(t, first)) != 1 || first["next_cursor"] == nil {
		t.Fatalf("projects list --limit 1 printed %v", first)
	}
	second := cliJSON(t, admin, "projects", "list", "--limit", "1", "--cursor", first["next_cursor"].(string))
	if got := items(t, second); len(got) != 1 || got[0]["id"] == items(t, first)[0]["id"] {
		t.Fatalf("the second page repeats the first: %v", second)
	}
	if raw, ok := second["next_cursor"]; !ok || raw != nil {
		t.Fatalf("the last page's next_cursor is %#v, want null as the API answers", raw)
	}

	own := cliJSON(t, cliEnv(url, key), "projects", "get", "shop")
	if own["name"] != "Shop" || own["api_key"] != nil {
		t.Fatalf("projects get printed %v", own)
	}
	if msg := cliFails(t, cliEnv(url, key), "projects", "get", other["id"].(string)); !strings.HasPrefix(msg, "404") {
		t.Fatalf("another project's key: %q, want a 404", msg)
	}
	if msg := cliFails(t, cliEnv(url, "hk_wrong"), "projects", "list"); !strings.HasPrefix(msg, "401") {
		t.Fatalf("an unknown key: %q, want a 401", msg)
	}
}

func TestCLIE2EEndpoints(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newReceiver(t)

	ep := cliJSON(t, env, "endpoints", "create", "--url", rcv.url, "--event-types", "order.*,user.created",
		"--name", "CRM", "--timeout", "5s")
	id, _ := ep["id"].(string)
	secret, _ := ep["secret"].(string)
	if !strings.HasPrefix(id, "ep_") || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("endpoints create printed %v", ep)
	}
	if ep["url"] != rcv.url || ep["name"] != "CRM" || ep["timeout"] != "5s" || ep["status"] != "healthy" {
		t.Fatalf("endpoints create printed %v", ep)
	}
	if types, _ := json.Marshal(ep["event_types"]); string(types) != `["order.*","user.created"]` {
		t.Fatalf("event_types = %s", types)
	}

	msg := cliFails(t, env, "endpoints", "create", "--url", "ftp://example.com/x")
	if !strings.HasPrefix(msg, "422") || !strings.Contains(msg, "body.url") {
		t.Fatalf("a bad URL: %q, want a 422 naming body.url", msg)
	}

	list := items(t, cliJSON(t, env, "endpoints", "list"))
	if len(list) != 1 || list[0]["id"] != id {
		t.Fatalf("endpoints list: %v", list)
	}
	got := cliJSON(t, env, "endpoints", "get", id)
	if got["name"] != "CRM" || got["secret"] != nil {
		t.Fatalf("endpoints get printed %v", got)
	}

	deleted := cliJSON(t, env, "endpoints", "delete", id)
	if deleted["deleted"] != id {
		t.Fatalf("endpoints delete printed %v", deleted)
	}
	if msg := cliFails(t, env, "endpoints", "get", id); !strings.HasPrefix(msg, "404") {
		t.Fatalf("a deleted endpoint: %q, want a 404", msg)
	}
	if len(items(t, cliJSON(t, env, "endpoints", "list"))) != 0 {
		t.Fatal("endpoints list still shows the deleted endpoint")
	}
}

func TestCLIE2EEventsAndDeliveries(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newReceiver(t)
	ep := cliJSON(t, env, "endpoints", "create", "--url", rcv.url, "--event-types", "order.*")
	epID := ep["id"].(string)

	sent := cliJSON(t, env, "events", "send", "--type", "order.paid", "--data", `{"order_id":"o_1"}`, "--channels", "acct_42")
	evID, _ := sent["id"].(string)
	if !strings.HasPrefix(evID, "evt_") || sent["type"] != "order.paid" || sent["deliveries"] != 1.0 || sent["replayed"] != nil {
		t.Fatalf("events send printed %v", sent)
	}

	// The same Idempotency-Key and body: the original event, marked replayed.
	once := cliJSON(t, env, "events", "send", "--type", "order.shipped", "--idempotency-key", "ship-o_1")
	twice := cliJSON(t, env, "events", "send", "--type", "order.shipped", "--idempotency-key", "ship-o_1")
	if twice["id"] != once["id"] || twice["replayed"] != true {
		t.Fatalf("a repeated send printed %v after %v", twice, once)
	}
	if msg := cliFails(t, env, "events", "send", "--type", "order.shipped", "--idempotency-key", "ship-o_1", "--data", `{"other":1}`); !strings.HasPrefix(msg, "409") {
		t.Fatalf("a reused key with another body: %q, want a 409", msg)
	}

	paid := items(t, cliJSON(t, env, "events", "list", "--type", "order.paid", "--since", "1h"))
	if len(paid) != 1 || paid[0]["id"] != evID {
		t.Fatalf("events list --type order.paid: %v", paid)
	}
	if inChannel := items(t, cliJSON(t, env, "events", "list", "--channel", "acct_42")); len(inChannel) != 1 {
		t.Fatalf("events list --channel: %v", inChannel)
	}

	// Wait until both deliveries are recorded as succeeded, reading them as
	// a user would: the receiver's answer comes before the record of it.
	testkit.WaitFor(t, "both deliveries to succeed", func() bool {
		return len(items(t, cliJSON(t, env, "deliveries", "list", "--endpoint", epID, "--status", "succeeded"))) == 2
	})
	ds := items(t, cliJSON(t, env, "deliveries", "list", "--event", evID))
	if len(ds) != 1 {
		t.Fatalf("deliveries list --event: %v", ds)
	}
	dlvID := ds[0]["id"].(string)
	unique, _, missing := rcv.counts()
	if unique != 2 || len(missing([]string{evID, once["id"].(string)})) != 0 {
		t.Fatalf("the receiver got %d events; missing %v", unique, missing([]string{evID, once["id"].(string)}))
	}

	ev := cliJSON(t, env, "events", "get", evID)
	if data, _ := json.Marshal(ev["data"]); string(data) != `{"order_id":"o_1"}` {
		t.Fatalf("events get: data %s", data)
	}
	if ds, _ := ev["deliveries"].([]any); len(ds) != 1 {
		t.Fatalf("events get: deliveries %v", ev["deliveries"])
	}

	d := cliJSON(t, env, "deliveries", "get", dlvID)
	if d["status"] != "succeeded" || d["endpoint_id"] != epID || d["event_id"] != evID || d["attempts"] != 1.0 {
		t.Fatalf("deliveries get printed %v", d)
	}
	if byStatus := items(t, cliJSON(t, env, "deliveries", "list", "--endpoint", epID, "--status", "pending")); len(byStatus) != 0 {
		t.Fatalf("deliveries list --endpoint --status pending: %v, want none", byStatus)
	}
	if msg := cliFails(t, env, "deliveries", "list", "--status", "lost"); !strings.HasPrefix(msg, "422") || !strings.Contains(msg, "query.status") {
		t.Fatalf("a bad status: %q", msg)
	}

	attempts := items(t, cliJSON(t, env, "deliveries", "attempts", dlvID))
	if len(attempts) != 1 || attempts[0]["attempt"] != 1.0 || attempts[0]["response_status"] != 204.0 || attempts[0]["request_url"] != rcv.url {
		t.Fatalf("deliveries attempts: %v", attempts)
	}

	retried := cliJSON(t, env, "deliveries", "retry", dlvID)
	if retried["attempt"] != 2.0 || retried["trigger"] != "manual" || retried["response_status"] != 204.0 {
		t.Fatalf("deliveries retry printed %v", retried)
	}
	if got := items(t, cliJSON(t, env, "deliveries", "attempts", dlvID)); len(got) != 2 {
		t.Fatalf("after a retry, %d attempts", len(got))
	}
	if _, total, _ := rcv.counts(); total != 3 {
		t.Fatalf("the receiver got %d requests, want 3 (two events and the retry)", total)
	}

	if msg := cliFails(t, env, "events", "get", "evt_missing"); !strings.HasPrefix(msg, "404") {
		t.Fatalf("a missing event: %q", msg)
	}
}

func TestCLIE2EWithoutServerSaysSo(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t) // nothing listens there any more
	_, err := runCLITest("projects", []string{"list"}, cliEnv("http://"+addr, e2eAdminKey))
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("error = %v, want a refused connection", err)
	}
}

func TestCLIE2EProjectsUpdateAndDelete(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	admin := cliEnv(url, e2eAdminKey)
	cliJSON(t, admin, "projects", "create", "--name", "Shop", "--id", "shop")

	up := cliJSON(t, admin, "projects", "update", "shop", "--name", "Shop EU", "--strict-event-types=true")
	if up["name"] != "Shop EU" || up["strict_event_types"] != true {
		t.Fatalf("projects update printed %v", up)
	}
	if got := cliJSON(t, admin, "projects", "get", "shop"); got["name"] != "Shop EU" {
		t.Fatalf("projects get after update: %v", got)
	}
	if msg := cliFails(t, admin, "projects", "update", "shop"); !strings.Contains(msg, "nothing to change") {
		t.Fatalf("an update without flags: %q", msg)
	}
	if got := cliJSON(t, admin, "projects", "delete", "shop"); got["deleted"] != "shop" {
		t.Fatalf("projects delete printed %v", got)
	}
	if msg := cliFails(t, admin, "projects", "get", "shop"); !strings.HasPrefix(msg, "404") {
		t.Fatalf("a deleted project: %q", msg)
	}
}

func TestCLIE2EAPIKeys(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")

	created := cliJSON(t, env, "api-keys", "create")
	keyID, _ := created["id"].(string)
	key, _ := created["key"].(string)
	if keyID == "" || !strings.HasPrefix(key, "hk_") {
		t.Fatalf("api-keys create printed %v", created)
	}
	second := cliEnv(url, key)
	second["HERALD_PROJECT"] = "shop"
	if got := cliJSON(t, second, "projects", "get", "shop"); got["id"] != "shop" {
		t.Fatalf("the new key cannot read its project: %v", got)
	}
	list := items(t, cliJSON(t, env, "api-keys", "list"))
	if len(list) != 2 {
		t.Fatalf("api-keys list: %v, want the first key and the new one", list)
	}
	for _, k := range list {
		if k["key"] != nil || k["hash"] != nil {
			t.Fatalf("api-keys list shows a key: %v", k)
		}
	}
	if got := cliJSON(t, env, "api-keys", "revoke", keyID); got["deleted"] != keyID {
		t.Fatalf("api-keys revoke printed %v", got)
	}
	if msg := cliFails(t, second, "projects", "get", "shop"); !strings.HasPrefix(msg, "401") {
		t.Fatalf("a revoked key: %q, want a 401", msg)
	}
}

func TestCLIE2EEventTypes(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	schema := `{"required":["user_id"],"type":"object"}`

	created := cliJSON(t, env, "event-types", "create", "--name", "user.created", "--description", "a user signed up",
		"--schema", schema, "--example", `{"user_id":"u_1"}`)
	if created["name"] != "user.created" || jsonOf(t, created["schema"]) != schema || jsonOf(t, created["example"]) != `{"user_id":"u_1"}` {
		t.Fatalf("event-types create printed %v", created)
	}
	if msg := cliFails(t, env, "events", "send", "--type", "user.created", "--data", `{"name":"x"}`); !strings.HasPrefix(msg, "422") {
		t.Fatalf("data against the schema: %q, want a 422", msg)
	}
	if list := items(t, cliJSON(t, env, "event-types", "list")); len(list) != 1 || list[0]["name"] != "user.created" {
		t.Fatalf("event-types list: %v", list)
	}
	up := cliJSON(t, env, "event-types", "update", "user.created", "--description", "signed up", "--schema", "")
	if up["description"] != "signed up" || up["schema"] != nil || up["example"] == nil {
		t.Fatalf("event-types update printed %v", up)
	}
	cliJSON(t, env, "events", "send", "--type", "user.created", "--data", `{"name":"x"}`) // no schema any more
	if got := cliJSON(t, env, "event-types", "get", "user.created"); got["description"] != "signed up" {
		t.Fatalf("event-types get printed %v", got)
	}
	if msg := cliFails(t, env, "event-types", "create", "--name", "x.y", "--schema", "{"); !strings.Contains(msg, "--schema is not valid JSON") {
		t.Fatalf("a bad schema: %q", msg)
	}
	if got := cliJSON(t, env, "event-types", "delete", "user.created"); got["deleted"] != "user.created" {
		t.Fatalf("event-types delete printed %v", got)
	}
	if msg := cliFails(t, env, "event-types", "get", "user.created"); !strings.HasPrefix(msg, "404") {
		t.Fatalf("a deleted event type: %q", msg)
	}
}

func TestCLIE2EEventsReplayAndBatch(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newHookReceiver(t)
	first := cliJSON(t, env, "endpoints", "create", "--url", rcv.url)["id"].(string)
	cliJSON(t, env, "endpoints", "create", "--url", rcv.url+"?second")

	file := filepath.Join(t.TempDir(), "events.json")
	if err := os.WriteFile(file, []byte(`[{"type":"a.one","data":{"n":1}},{"type":"a.two","data":{"n":2}},{"type":"","data":{}}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	batch := cliJSON(t, env, "events", "batch", "--file", file)
	results, _ := batch["data"].([]any)
	if len(results) != 3 || results[0].(map[string]any)["id"] == nil || results[2].(map[string]any)["error"] == nil {
		t.Fatalf("events batch printed %v", batch)
	}
	evID := results[0].(map[string]any)["id"].(string)
	testkit.WaitFor(t, "the batch's four deliveries", func() bool {
		return len(items(t, cliJSON(t, env, "deliveries", "list", "--status", "succeeded"))) == 4
	})

	all := cliJSON(t, env, "events", "replay", evID)
	if all["deliveries"] != 2.0 {
		t.Fatalf("events replay printed %v, want 2 deliveries", all)
	}
	one := cliJSON(t, env, "events", "replay", evID, "--endpoint", first)
	if one["deliveries"] != 1.0 {
		t.Fatalf("events replay --endpoint printed %v, want 1 delivery", one)
	}
	testkit.WaitFor(t, "the replays to be delivered", func() bool {
		return len(items(t, cliJSON(t, env, "deliveries", "list", "--event", evID, "--status", "succeeded"))) == 5
	})
	if msg := cliFails(t, env, "events", "replay", "evt_missing"); !strings.HasPrefix(msg, "404") {
		t.Fatalf("replay of a missing event: %q", msg)
	}
}

func TestCLIE2EHooksRun(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newHookReceiver(t)
	cliJSON(t, env, "endpoints", "create", "--url", rcv.url, "--event-types", "before_signup", "--response-mode", "data")

	rcv.set(http.StatusOK, `{"status":"ok","data":{"nickname":"Neo"}}`)
	allowed := cliJSON(t, env, "hooks", "run", "before_signup", "--data", `{"email":"a@example.com"}`, "--metadata", "request_id=r1", "--timeout", "5s")
	if allowed["allowed"] != true || jsonOf(t, allowed["data"]) != `{"email":"a@example.com","nickname":"Neo"}` {
		t.Fatalf("hooks run printed %v", allowed)
	}
	if _, r, body := rcv.requests(); r == nil || !strings.Contains(body, `"a@example.com"`) || r.Header.Get("webhook-signature") == "" {
		t.Fatalf("the hook got %s", body)
	}

	// A deny is the answer, printed; the command succeeds.
	rcv.set(http.StatusOK, `{"status":"error","code":"taken","message":"Email taken"}`)
	denied := cliJSON(t, env, "hooks", "run", "before_signup", "--data", `{"email":"a@example.com"}`)
	if denied["allowed"] != false || denied["code"] != "taken" || denied["message"] != "Email taken" {
		t.Fatalf("hooks run printed %v", denied)
	}
	if msg := cliFails(t, env, "hooks", "run", "before_signup", "--data", `[1]`); !strings.Contains(msg, "--data must be a JSON object") {
		t.Fatalf("hooks run with a list: %q", msg)
	}
}
