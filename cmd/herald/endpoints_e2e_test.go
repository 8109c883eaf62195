package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/herald-dev/herald/internal/testkit"
)

// hookReceiver answers with a status and body the test sets, and keeps
// every request it gets.
type hookReceiver struct {
	url string

	mu     sync.Mutex
	status int
	answer string
	got    []*http.Request
	bodies []string
}

func newHookReceiver(t *testing.T) *hookReceiver {
	t.Helper()
	h := &hookReceiver{status: http.StatusNoContent}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.got = append(h.got, r)
		h.bodies = append(h.bodies, string(b))
		status, answer := h.status, h.answer
		h.mu.Unlock()
		if answer != "" {
			w.Header().Set("Content-Type", "application/json")
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, answer)
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/hook"
	return h
}

func (h *hookReceiver) set(status int, answer string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.status, h.answer = status, answer
}

// requests returns how many requests arrived, and the last one with its body.
func (h *hookReceiver) requests() (int, *http.Request, string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.got) == 0 {
		return 0, nil, ""
	}
	return len(h.got), h.got[len(h.got)-1], h.bodies[len(h.bodies)-1]
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestCLIE2EEndpointFieldsAreFlags(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newHookReceiver(t)
	tmpl := filepath.Join(t.TempDir(), "body.jq")
	if err := os.WriteFile(tmpl, []byte("{kind: .type, payload: .data}\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	ep := cliJSON(t, env, "endpoints", "create", "--url", rcv.url,
		"--name", "CRM", "--description", "the CRM's hook",
		"--event-types", "order.*", "--channels", "acct_1,acct_2", "--filter", `data.total > 10`,
		"--active-from", "2026-01-01T00:00:00Z", "--active-until", "2099-01-01T00:00:00Z",
		"--order", "3", "--timeout", "5s", "--response-mode", "data", "--failure-policy", "fail_open",
		"--retry-schedule", "1m,10m", "--rate-limit", "7", "--max-in-flight", "2", "--ordered",
		"--header", "X-Team: billing", "--header", "X-Env: test",
		"--bearer", "tok_123", "--body-template", "@"+tmpl,
		"--metadata", "owner=ops", "--disabled")
	id := ep["id"].(string)
	for field, want := range map[string]string{
		"name": `"CRM"`, "description": `"the CRM's hook"`, "event_types": `["order.*"]`, "channels": `["acct_1","acct_2"]`,
		"filter": `"data.total \u003e 10"`, "active_from": `"2026-01-01T00:00:00Z"`, "active_until": `"2099-01-01T00:00:00Z"`,
		"order": `3`, "timeout": `"5s"`, "response_mode": `"data"`, "failure_policy": `"fail_open"`,
		"retry_schedule": `["1m0s","10m0s"]`, "rate_limit": `7`, "max_in_flight": `2`, "ordered": `true`,
		"headers": `{"X-Env":"********","X-Team":"********"}` /* values are credentials: masked on read */, "body_template": `"{kind: .type, payload: .data}"`,
		"metadata": `{"owner":"ops"}`, "enabled": `false`,
	} {
		if got := jsonOf(t, ep[field]); got != want && !(field == "retry_schedule" && got == `["1m","10m"]`) {
			t.Errorf("created %s = %s, want %s", field, got, want)
		}
	}
	if auth := jsonOf(t, ep["auth"]); !strings.Contains(auth, "bearer") || strings.Contains(auth, "tok_123") {
		t.Errorf("auth = %s, want a redacted bearer", auth)
	}

	// Update changes the fields given and only them; "" resets.
	up := cliJSON(t, env, "endpoints", "update", id, "--name", "CRM 2", "--retry-schedule", "none",
		"--active-until", "", "--header", "", "--bearer", "", "--event-types", "")
	if up["name"] != "CRM 2" || jsonOf(t, up["retry_schedule"]) != `[]` || up["active_until"] != nil ||
		up["headers"] != nil && jsonOf(t, up["headers"]) != `{}` || up["auth"] != nil || jsonOf(t, up["event_types"]) != `[]` {
		t.Errorf("update printed %v", up)
	}
	if up["description"] != "the CRM's hook" || up["rate_limit"] != 7.0 || up["active_from"] != "2026-01-01T00:00:00Z" {
		t.Errorf("update changed fields it was not given: %v", up)
	}
	up = cliJSON(t, env, "endpoints", "update", id, "--basic-auth", "ann:pw", "--ordered=false", "--metadata", "")
	if auth := jsonOf(t, up["auth"]); !strings.Contains(auth, `"username":"ann"`) || strings.Contains(auth, `"pw"`) {
		t.Errorf("basic auth = %s", auth)
	}
	if up["ordered"] != false || up["metadata"] != nil && jsonOf(t, up["metadata"]) != `{}` {
		t.Errorf("update printed %v", up)
	}

	if msg := cliFails(t, env, "endpoints", "update", id, "--timeout", "5 minutes"); !strings.HasPrefix(msg, "422") || !strings.Contains(msg, "body.timeout") {
		t.Errorf("a bad timeout: %q, want a 422 naming body.timeout", msg)
	}
	if msg := cliFails(t, env, "endpoints", "update", id); !strings.Contains(msg, "nothing to change") {
		t.Errorf("an update without flags: %q", msg)
	}
	if msg := cliFails(t, env, "endpoints", "update", id, "--bearer", "a", "--basic-auth", "b:c"); !strings.Contains(msg, "not both") {
		t.Errorf("two kinds of auth: %q", msg)
	}
}

func TestCLIE2EEndpointsEnableAndDisable(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newHookReceiver(t)
	id := cliJSON(t, env, "endpoints", "create", "--url", rcv.url)["id"].(string)

	off := cliJSON(t, env, "endpoints", "disable", id)
	if off["enabled"] != false || off["status"] != "disabled" {
		t.Fatalf("disable printed %v", off)
	}
	if sent := cliJSON(t, env, "events", "send", "--type", "a.b"); sent["deliveries"] != 0.0 {
		t.Fatalf("a disabled endpoint got a delivery: %v", sent)
	}
	on := cliJSON(t, env, "endpoints", "enable", id)
	if on["enabled"] != true || on["status"] != "healthy" {
		t.Fatalf("enable printed %v", on)
	}
	if sent := cliJSON(t, env, "events", "send", "--type", "a.b"); sent["deliveries"] != 1.0 {
		t.Fatalf("an enabled endpoint got no delivery: %v", sent)
	}
	if msg := cliFails(t, env, "endpoints", "enable", "ep_missing"); !strings.HasPrefix(msg, "404") {
		t.Fatalf("enable of a missing endpoint: %q", msg)
	}
}

func TestCLIE2EEndpointsSecretAndRotate(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newHookReceiver(t)
	ep := cliJSON(t, env, "endpoints", "create", "--url", rcv.url)
	id, first := ep["id"].(string), ep["secret"].(string)

	if got := cliJSON(t, env, "endpoints", "secret", id); got["secret"] != first {
		t.Fatalf("endpoints secret printed %v, want %s", got, first)
	}
	rotated := cliJSON(t, env, "endpoints", "rotate", id, "--grace-period", "1h")
	second, _ := rotated["secret"].(string)
	if !strings.HasPrefix(second, "whsec_") || second == first || rotated["previous_secret_until"] == nil {
		t.Fatalf("rotate printed %v", rotated)
	}
	const chosen = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	if got := cliJSON(t, env, "endpoints", "rotate", id, "--secret", chosen); got["secret"] != chosen {
		t.Fatalf("rotate --secret printed %v", got)
	}
	if got := cliJSON(t, env, "endpoints", "secret", id); got["secret"] != chosen {
		t.Fatalf("after rotate, secret %v", got)
	}
}

func TestCLIE2EEndpointsTest(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newHookReceiver(t)
	cliJSON(t, env, "event-types", "create", "--name", "order.paid", "--example", `{"order_id":"o_example"}`)
	id := cliJSON(t, env, "endpoints", "create", "--url", rcv.url)["id"].(string)

	att := cliJSON(t, env, "endpoints", "test", id, "--type", "order.paid")
	if att["response_status"] != 204.0 || att["trigger"] == nil {
		t.Fatalf("endpoints test printed %v", att)
	}
	n, _, body := rcv.requests()
	if n != 1 || !strings.Contains(body, `"o_example"`) || !strings.Contains(body, `"order.paid"`) {
		t.Fatalf("the receiver got %d requests, the last %s; want the type's example", n, body)
	}
	cliJSON(t, env, "endpoints", "test", id) // a ping
	if n, _, _ := rcv.requests(); n != 2 {
		t.Fatalf("after a ping, %d requests", n)
	}
}

func TestCLIE2EEndpointsRecoverAndStats(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	rcv := newHookReceiver(t)
	rcv.set(http.StatusInternalServerError, "")
	id := cliJSON(t, env, "endpoints", "create", "--url", rcv.url, "--retry-schedule", "none")["id"].(string)
	evID := cliJSON(t, env, "events", "send", "--type", "order.paid")["id"].(string)

	testkit.WaitFor(t, "the delivery to be exhausted", func() bool {
		return len(items(t, cliJSON(t, env, "deliveries", "list", "--event", evID, "--status", "exhausted"))) == 1
	})
	rcv.set(http.StatusNoContent, "")
	rec := cliJSON(t, env, "endpoints", "recover", id, "--since", "1h")
	if rec["requeued"] != 1.0 {
		t.Fatalf("recover printed %v", rec)
	}
	testkit.WaitFor(t, "the recovered delivery to succeed", func() bool {
		return len(items(t, cliJSON(t, env, "deliveries", "list", "--event", evID, "--status", "succeeded"))) == 1
	})

	stats := cliJSON(t, env, "endpoints", "stats", id, "--since", "1h")
	if stats["attempts"] != 2.0 || stats["succeeded"] != 1.0 || stats["failed"] != 1.0 {
		t.Fatalf("stats printed %v", stats)
	}
	if msg := cliFails(t, env, "endpoints", "recover", id); !strings.Contains(msg, "--since is required") {
		t.Fatalf("recover without --since: %q", msg)
	}
	if msg := cliFails(t, env, "endpoints", "recover", id, "--since", "yesterday"); !strings.Contains(msg, "RFC 3339") {
		t.Fatalf("recover --since yesterday: %q", msg)
	}
}
