package delivery

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// sendTo makes one Send of a test event to an endpoint at url.
func sendTo(t *testing.T, b *testBundle, url string, mutate func(*herald.Endpoint)) (*SendResult, *herald.Endpoint, *herald.Event) {
	t.Helper()
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: b.project.ID, URL: url,
		Enabled: true, Secret: webhook.NewSecret(), ResponseMode: herald.ResponseWait, Timeout: herald.Duration(5 * time.Second)}
	if mutate != nil {
		mutate(ep)
	}
	ev := testEvent(b.project.ID)
	res := b.e.Send(context.Background(), SendRequest{Endpoint: ep, Event: ev, Attempt: 1})
	if res == nil || res.Attempt == nil {
		t.Fatal("Send returned no attempt")
	}
	return res, ep, ev
}

func TestSendSignatureVerifiesWithStandardWebhooksAndSvix(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	res, ep, _ := sendTo(t, b, rc.URL, nil)
	if !res.Attempt.Succeeded() {
		t.Fatalf("attempt failed: %+v", res.Attempt)
	}
	got := rc.Requests()[0]
	sw, err := standardwebhooks.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Verify(got.Body, got.Header); err != nil {
		t.Errorf("standard-webhooks refuses the delivery: %v", err)
	}
	sv, err := svix.NewWebhook(ep.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if err := sv.Verify(got.Body, got.Header); err != nil {
		t.Errorf("svix refuses the delivery: %v", err)
	}
}

func TestSendSecretRotationBothSignaturesVerify(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	old := webhook.NewSecret()
	until := time.Now().Add(time.Hour)
	_, ep, _ := sendTo(t, b, rc.URL, func(ep *herald.Endpoint) { ep.PreviousSecret, ep.PreviousSecretUntil = old, &until })
	got := rc.Requests()[0]
	if n := len(strings.Fields(got.Header.Get("webhook-signature"))); n != 2 {
		t.Fatalf("signatures during grace = %d, want 2", n)
	}
	for _, secret := range []string{ep.Secret, old} {
		sw, _ := standardwebhooks.NewWebhook(secret)
		if err := sw.Verify(got.Body, got.Header); err != nil {
			t.Errorf("secret %s…: standard-webhooks refuses: %v", secret[:10], err)
		}
		sv, _ := svix.NewWebhook(secret)
		if err := sv.Verify(got.Body, got.Header); err != nil {
			t.Errorf("secret %s…: svix refuses: %v", secret[:10], err)
		}
	}

	// After the grace period only the new secret signs.
	past := time.Now().Add(-time.Second)
	sendTo(t, b, rc.URL, func(e *herald.Endpoint) { *e = *ep; e.PreviousSecret, e.PreviousSecretUntil = old, &past })
	if n := len(strings.Fields(rc.Requests()[1].Header.Get("webhook-signature"))); n != 1 {
		t.Errorf("signatures after grace = %d, want 1", n)
	}
}

func TestSendHeadersAndEnvelope(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	ep := &herald.Endpoint{ID: "ep_1", URL: rc.URL, Enabled: true, Secret: webhook.NewSecret()}
	ev := testEvent(b.project.ID)
	before := time.Now().Unix()
	b.e.Send(context.Background(), SendRequest{Endpoint: ep, Event: ev, Attempt: 3, Header: map[string]string{"Herald-Deadline-Ms": "500"}})
	got := rc.Requests()[0]
	h := got.Header
	want := map[string]string{
		"Content-Type":       "application/json",
		"User-Agent":         "Herald/" + herald.Version,
		"webhook-id":         ev.ID,
		"webhook-attempt":    "3",
		"Herald-Deadline-Ms": "500",
	}
	for k, v := range want {
		if h.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, h.Get(k), v)
		}
	}
	ts, err := strconv.ParseInt(h.Get("webhook-timestamp"), 10, 64)
	if err != nil || ts < before || ts > time.Now().Unix() {
		t.Errorf("webhook-timestamp = %q, want the Unix time of the attempt", h.Get("webhook-timestamp"))
	}
	if !strings.HasPrefix(h.Get("webhook-signature"), "v1,") {
		t.Errorf("webhook-signature = %q", h.Get("webhook-signature"))
	}
	var env map[string]any
	if err := json.Unmarshal(got.Body, &env); err != nil {
		t.Fatal(err)
	}
	wantEnv := map[string]any{
		"id": ev.ID, "type": "user.created", "timestamp": ev.CreatedAt.Format(time.RFC3339),
		"project_id": b.project.ID, "data": map[string]any{"user_id": "u_1"},
		"channels": []any{"acct_42"}, "metadata": map[string]any{"request_id": "r1"},
	}
	if a, w := mustJSON(env), mustJSON(wantEnv); a != w {
		t.Errorf("envelope\n got %s\nwant %s", a, w)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestSendBodyTemplate(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	res, _, ev := sendTo(t, b, rc.URL, func(ep *herald.Endpoint) {
		ep.BodyTemplate = `{event_type: .type, event_time: .timestamp, project_id: .project_id, data: .data}`
	})
	if !res.Attempt.Succeeded() {
		t.Fatalf("attempt failed: %+v", res.Attempt)
	}
	var got map[string]any
	if err := json.Unmarshal(rc.Requests()[0].Body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"event_type": "user.created", "event_time": ev.CreatedAt.Format(time.RFC3339),
		"project_id": b.project.ID, "data": map[string]any{"user_id": "u_1"}}
	if mustJSON(got) != mustJSON(want) {
		t.Errorf("body = %s, want %s", mustJSON(got), mustJSON(want))
	}

	bad, _, _ := sendTo(t, b, rc.URL, func(ep *herald.Endpoint) { ep.BodyTemplate = `error("no")` })
	if bad.Attempt.ErrorClass != herald.ErrorTemplate {
		t.Errorf("failing template: class %q, want %q", bad.Attempt.ErrorClass, herald.ErrorTemplate)
	}
}

func TestSendAuthAndCustomHeadersAreSentAndRedactedInTheRecord(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	res, _, _ := sendTo(t, b, rc.URL, func(ep *herald.Endpoint) {
		ep.Auth = &herald.Auth{Bearer: "tok_secret"}
		ep.Headers = map[string]string{"X-Api-Key": "k_secret", "Accept-Language": "en"}
	})
	h := rc.Requests()[0].Header
	if h.Get("Authorization") != "Bearer tok_secret" || h.Get("X-Api-Key") != "k_secret" || h.Get("Accept-Language") != "en" {
		t.Errorf("auth/custom headers not sent: %v", h)
	}
	rh := res.Attempt.RequestHeaders
	for _, k := range []string{"Authorization", "Webhook-Signature", "X-Api-Key"} {
		if rh[k] != redacted {
			t.Errorf("recorded %s = %q, want %q", k, rh[k], redacted)
		}
	}
	if rh["Accept-Language"] != "en" || rh["Webhook-Id"] == "" {
		t.Errorf("harmless headers not recorded: %v", rh)
	}

	sendTo(t, b, rc.URL, func(ep *herald.Endpoint) {
		ep.Auth = &herald.Auth{Basic: &herald.BasicAuth{Username: "u", Password: "p"}}
	})
	if u, p, ok := (&http.Request{Header: rc.Requests()[1].Header}).BasicAuth(); !ok || u != "u" || p != "p" {
		t.Errorf("basic auth = %q %q %v", u, p, ok)
	}
}

func TestSendOnly2xxSucceedsAndRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	target := testkit.NewReceiver(t, nil)
	cases := []struct {
		code  int
		class string
	}{{200, ""}, {204, ""}, {302, herald.ErrorRedirect}, {400, herald.ErrorStatus}, {500, herald.ErrorStatus}}
	for _, c := range cases {
		rc := testkit.NewReceiver(t, func(_ int, r *http.Request, w http.ResponseWriter) {
			w.Header().Set("Location", target.URL)
			w.WriteHeader(c.code)
			w.Write([]byte("answer"))
		})
		res, _, _ := sendTo(t, b, rc.URL, nil)
		a := res.Attempt
		if a.ResponseStatus != c.code || a.ErrorClass != c.class || a.Succeeded() != (c.class == "") {
			t.Errorf("status %d: got status %d class %q succeeded %v", c.code, a.ResponseStatus, a.ErrorClass, a.Succeeded())
		}
		// The body is kept for failures only (response_mode wait).
		if (a.ResponseBody == "answer") == (c.class == "") && c.code != 204 {
			t.Errorf("status %d: response body kept = %q", c.code, a.ResponseBody)
		}
	}
	if target.Count() != 0 {
		t.Errorf("redirect was followed")
	}
}

func TestSendTimeoutIsClassified(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	release := make(chan struct{})
	defer close(release)
	rc := testkit.NewReceiver(t, func(int, *http.Request, http.ResponseWriter) { <-release })
	res, _, _ := sendTo(t, b, rc.URL, func(ep *herald.Endpoint) { ep.Timeout = herald.Duration(100 * time.Millisecond) })
	if res.Attempt.ErrorClass != herald.ErrorTimeout {
		t.Errorf("class = %q (%s), want timeout", res.Attempt.ErrorClass, res.Attempt.Error)
	}
}

func TestSendConnectionRefusedIsClassified(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	res, _, _ := sendTo(t, b, "http://"+addr+"/hook", nil)
	if res.Attempt.ErrorClass != herald.ErrorConnection {
		t.Errorf("class = %q (%s), want connection", res.Attempt.ErrorClass, res.Attempt.Error)
	}
}

func TestSendResponseModes(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, func(_ int, _ *http.Request, w http.ResponseWriter) { w.Write([]byte(`{"ok":true}`)) })

	data, _, _ := sendTo(t, b, rc.URL, func(ep *herald.Endpoint) { ep.ResponseMode = herald.ResponseData })
	if string(data.Body) != `{"ok":true}` || data.Attempt.ResponseBody != `{"ok":true}` {
		t.Errorf("data mode: body %q / %q, want kept", data.Body, data.Attempt.ResponseBody)
	}
	wait, _, _ := sendTo(t, b, rc.URL, nil)
	if wait.Body != nil || wait.Attempt.ResponseBody != "" {
		t.Errorf("wait mode: 2xx body kept: %q", wait.Body)
	}

	// ignore: the receiver hangs after the request arrives; Send lets go
	// without waiting for the endpoint's timeout, and the delivery counts
	// as done.
	release := make(chan struct{})
	defer close(release)
	slow := testkit.NewReceiver(t, func(int, *http.Request, http.ResponseWriter) { <-release })
	ign, ep, _ := sendTo(t, b, slow.URL, func(ep *herald.Endpoint) {
		ep.ResponseMode = herald.ResponseIgnore
		ep.Timeout = herald.Duration(time.Minute)
	})
	if slow.Count() != 1 {
		t.Fatalf("ignore mode: request not sent")
	}
	if ign.Body != nil || ign.Attempt.ErrorClass != "" {
		t.Errorf("ignore mode: body %q class %q", ign.Body, ign.Attempt.ErrorClass)
	}
	if v := decide(ep, ign.Attempt, time.Now()); v.Status != herald.DeliverySucceeded {
		t.Errorf("ignore mode: delivery %s, want succeeded (no retries)", v.Status)
	}
	// A quick answer's status is still recorded.
	quick, _, _ := sendTo(t, b, rc.URL, func(ep *herald.Endpoint) { ep.ResponseMode = herald.ResponseIgnore })
	if quick.Attempt.ResponseStatus != 200 || quick.Body != nil {
		t.Errorf("ignore mode, quick receiver: status %d body %q", quick.Attempt.ResponseStatus, quick.Body)
	}
}
