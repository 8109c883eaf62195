package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
)

// cliFake stands in for the few API routes the CLI calls. It records each
// request and answers from a table keyed by "METHOD path".
type cliFake struct {
	url     string
	answers map[string]string // "METHOD /path" → JSON; "" answers 204

	mu   sync.Mutex
	seen []*http.Request
	body []string
}

func newCLIFake(t *testing.T, answers map[string]string) *cliFake {
	t.Helper()
	f := &cliFake{answers: answers}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.seen = append(f.seen, r)
		f.body = append(f.body, string(body))
		f.mu.Unlock()
		answer, ok := f.answers[r.Method+" "+r.URL.Path]
		switch {
		case !ok:
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = io.WriteString(w, `{"type":"about:blank","title":"Not Found","status":404,"detail":"no such resource"}`)
		case answer == "":
			w.WriteHeader(http.StatusNoContent)
		default:
			w.Header().Set("Content-Type", "application/json")
			if r.Method == http.MethodPost {
				w.WriteHeader(http.StatusCreated)
			}
			_, _ = io.WriteString(w, answer)
		}
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// last returns the last request and its body.
func (f *cliFake) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		t.Fatal("no request reached the server")
	}
	return f.seen[len(f.seen)-1], f.body[len(f.body)-1]
}

// runCLITest runs the CLI with an environment of only env.
func runCLITest(resource string, args []string, env map[string]string) (string, error) {
	var out bytes.Buffer
	err := runCLIEnv(context.Background(), resource, args, &out, io.Discard, func(k string) string { return env[k] })
	return out.String(), err
}

func assertJSONBody(t *testing.T, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("body %q: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("body = %s, want %s", got, want)
	}
}

func TestCLIProjectsCreateUsesEnvironment(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, map[string]string{
		"POST /v1/projects": `{"id":"shop","name":"Shop","created_at":"2026-11-23T10:00:00Z","api_key":"hk_new"}`,
	})
	out, err := runCLITest("projects", []string{"create", "--name", "Shop", "--id", "shop"},
		map[string]string{"HERALD_URL": f.url, "HERALD_KEY": "hk_admin_x"})
	if err != nil {
		t.Fatal(err)
	}
	r, body := f.last(t)
	if got := r.Header.Get("Authorization"); got != "Bearer hk_admin_x" {
		t.Errorf("Authorization = %q", got)
	}
	assertJSONBody(t, body, `{"name":"Shop","id":"shop"}`)
	if !strings.Contains(out, "\n  \"api_key\": \"hk_new\"") {
		t.Fatalf("output is not the indented project:\n%s", out)
	}
}

func TestCLIFlagsOverrideEnvironment(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, map[string]string{"GET /v1/projects": `{"data":[],"next_cursor":null}`})
	_, err := runCLITest("projects", []string{"list", "--url", f.url, "--key", "hk_flag", "--limit", "5"},
		map[string]string{"HERALD_URL": "http://127.0.0.1:1", "HERALD_KEY": "hk_env"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := f.last(t)
	if r.Header.Get("Authorization") != "Bearer hk_flag" || r.URL.RawQuery != "limit=5" {
		t.Fatalf("request %s with %q", r.URL, r.Header.Get("Authorization"))
	}
}

func TestCLIEndpointsCreateTakesURLAsTheEndpoint(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, map[string]string{
		"POST /v1/projects/shop/endpoints": `{"id":"ep_1","url":"https://example.com/h","secret":"whsec_x"}`,
	})
	out, err := runCLITest("endpoints", []string{"create", "--server", f.url, "--project", "shop",
		"--url", "https://example.com/h", "--event-types", "user.*, order.paid", "--name", "CRM", "--timeout", "30s"},
		map[string]string{"HERALD_KEY": "hk_p"})
	if err != nil {
		t.Fatal(err)
	}
	_, body := f.last(t)
	assertJSONBody(t, body, `{"url":"https://example.com/h","event_types":["user.*","order.paid"],"name":"CRM","timeout":"30s"}`)
	if !strings.Contains(out, `"secret": "whsec_x"`) {
		t.Fatalf("output:\n%s", out)
	}
}

func TestCLIEndpointsGetAndDeleteTakeTheIDAnywhere(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, map[string]string{
		"GET /v1/projects/shop/endpoints/ep_1":    `{"id":"ep_1"}`,
		"DELETE /v1/projects/shop/endpoints/ep_1": "",
	})
	env := map[string]string{"HERALD_URL": f.url, "HERALD_KEY": "k", "HERALD_PROJECT": "shop"}
	if out, err := runCLITest("endpoints", []string{"get", "ep_1"}, env); err != nil || !strings.Contains(out, `"id": "ep_1"`) {
		t.Fatalf("get: %v\n%s", err, out)
	}
	out, err := runCLITest("endpoints", []string{"delete", "ep_1", "--project", "shop"}, env)
	if err != nil || !strings.Contains(out, `"deleted": "ep_1"`) {
		t.Fatalf("delete: %v\n%s", err, out)
	}
	if r, _ := f.last(t); r.Method != http.MethodDelete {
		t.Fatalf("last request %s", r.Method)
	}
}

func TestCLIEventsSend(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, map[string]string{
		"POST /v1/projects/shop/events": `{"id":"evt_1","type":"order.paid","created_at":"2026-11-23T10:00:00Z","deliveries":2}`,
	})
	out, err := runCLITest("events", []string{"send", "--project", "shop", "--type", "order.paid",
		"--data", `{"amount":42}`, "--channels", "acct_1"}, map[string]string{"HERALD_URL": f.url, "HERALD_KEY": "k"})
	if err != nil {
		t.Fatal(err)
	}
	r, body := f.last(t)
	assertJSONBody(t, body, `{"type":"order.paid","data":{"amount":42},"channels":["acct_1"]}`)
	if r.Header.Get("Idempotency-Key") == "" {
		t.Error("no Idempotency-Key")
	}
	var res struct {
		ID         string `json:"id"`
		Deliveries int    `json:"deliveries"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || res.ID != "evt_1" || res.Deliveries != 2 {
		t.Fatalf("output %q: %v", out, err)
	}
}

func TestCLIEventsSendRefusesDataThatIsNotAnObject(t *testing.T) {
	t.Parallel()
	for _, data := range []string{`[1]`, `null`, `{"a":`, `42`} {
		_, err := runCLITest("events", []string{"send", "--project", "p", "--type", "t", "--data", data},
			map[string]string{"HERALD_URL": "http://127.0.0.1:1", "HERALD_KEY": "k"})
		if err == nil || !strings.Contains(err.Error(), "JSON object") {
			t.Errorf("--data %s: error = %v", data, err)
		}
	}
}

func TestCLIEventsAndDeliveriesListPassFilters(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, map[string]string{
		"GET /v1/projects/shop/events":     `{"data":[{"id":"evt_1"}],"next_cursor":"c2"}`,
		"GET /v1/projects/shop/deliveries": `{"data":[{"id":"dlv_1","status":"exhausted"}],"next_cursor":null}`,
	})
	env := map[string]string{"HERALD_URL": f.url, "HERALD_KEY": "k", "HERALD_PROJECT": "shop"}

	out, err := runCLITest("events", []string{"list", "--type", "order.paid", "--since", "2026-11-23T10:00:00Z"}, env)
	if err != nil {
		t.Fatal(err)
	}
	r, _ := f.last(t)
	if q := r.URL.Query(); q.Get("type") != "order.paid" || q.Get("since") != "2026-11-23T10:00:00Z" {
		t.Errorf("events query = %s", r.URL.RawQuery)
	}
	if !strings.Contains(out, `"next_cursor": "c2"`) {
		t.Errorf("output:\n%s", out)
	}

	out, err = runCLITest("deliveries", []string{"list", "--status", "exhausted", "--endpoint", "ep_1"}, env)
	if err != nil {
		t.Fatal(err)
	}
	r, _ = f.last(t)
	if r.URL.RawQuery != "endpoint_id=ep_1&status=exhausted" {
		t.Errorf("deliveries query = %s", r.URL.RawQuery)
	}
	if !strings.Contains(out, `"status": "exhausted"`) {
		t.Errorf("output:\n%s", out)
	}
}

func TestCLIReportsTheProblem(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, nil)
	_, err := runCLITest("endpoints", []string{"get", "ep_missing"},
		map[string]string{"HERALD_URL": f.url, "HERALD_KEY": "k", "HERALD_PROJECT": "shop"})
	if err == nil || err.Error() != "404 Not Found: no such resource" {
		t.Fatalf("error = %v", err)
	}
}

func TestCLIRefusesMissingInputsBeforeCalling(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, nil)
	env := map[string]string{"HERALD_URL": f.url, "HERALD_KEY": "k"}
	for _, tc := range []struct {
		resource string
		args     []string
		env      map[string]string
		want     string
	}{
		{"endpoints", []string{"list"}, env, "--project is required"},
		{"projects", []string{"list"}, map[string]string{"HERALD_URL": f.url}, "no API key"},
		{"projects", []string{"create"}, env, "--name is required"},
		{"endpoints", []string{"create", "--project", "p"}, env, "--url is required"},
		{"events", []string{"send", "--project", "p"}, env, "--type is required"},
		{"events", []string{"get", "--project", "p"}, env, "want 1 argument"},
		{"projects", []string{"list", "extra"}, env, "unexpected argument"},
		{"projects", []string{"rename"}, env, "unknown command"},
	} {
		_, err := runCLITest(tc.resource, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: error = %v, want %q", tc.resource, tc.args, err, tc.want)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) != 0 {
		t.Fatalf("%d requests sent", len(f.seen))
	}
}

func TestCLIWithoutVerbPrintsUsageOnStderr(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	err := runCLIEnv(context.Background(), "deliveries", nil, &stdout, &stderr, func(string) string { return "" })
	if !errors.Is(err, errUsage) || exitCode(err, io.Discard) != 2 {
		t.Fatalf("error = %v, want errUsage (exit 2)", err)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout: %q", stdout.String())
	}
	out := stderr.String()
	for _, want := range []string{"herald deliveries <command>", "  list ", "  retry ", "HERALD_URL"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage lacks %q:\n%s", want, out)
		}
	}
}

// --retry-jitter is sent only when given, so that the server's default
// (true) holds otherwise, and --retry-jitter=false sends false.
func TestCLIRetryJitterIsSentOnlyWhenGiven(t *testing.T) {
	t.Parallel()
	f := newCLIFake(t, map[string]string{
		"POST /v1/projects/shop/endpoints":       `{"id":"ep_1"}`,
		"PATCH /v1/projects/shop/endpoints/ep_1": `{"id":"ep_1"}`,
	})
	env := map[string]string{"HERALD_URL": f.url, "HERALD_KEY": "hk_k", "HERALD_PROJECT": "shop"}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"create", "--url", "https://example.com/h"}, `{"url":"https://example.com/h"}`},
		{[]string{"create", "--url", "https://example.com/h", "--retry-jitter=false"}, `{"url":"https://example.com/h","retry_jitter":false}`},
		{[]string{"update", "ep_1", "--retry-jitter"}, `{"retry_jitter":true}`},
		{[]string{"update", "ep_1", "--retry-jitter=false", "--name", "n"}, `{"name":"n","retry_jitter":false}`},
	} {
		if out, err := runCLITest("endpoints", tc.args, env); err != nil {
			t.Fatalf("endpoints %v: %v\n%s", tc.args, err, out)
		}
		_, body := f.last(t)
		assertJSONBody(t, body, tc.want)
	}
	if _, err := runCLITest("endpoints", []string{"update", "ep_1", "--retry-jitter=maybe"}, env); err == nil {
		t.Fatal("--retry-jitter=maybe was accepted")
	}
}
