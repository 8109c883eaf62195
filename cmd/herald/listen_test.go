package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
)

// startListen runs the receiver on a free loopback port until the test
// ends, and returns its URL and output.
func startListen(t *testing.T, opts listenOptions) (string, *testkit.Buffer) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveListen(ctx, ln, opts, out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serveListen: %v", err)
		}
	})
	return "http://" + ln.Addr().String(), out
}

// postWebhook sends body as Herald would, signed with secret ("" = no
// signature headers), and returns the answer.
func postWebhook(t *testing.T, url, secret string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/hooks/users", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(webhook.HeaderID, "evt_01test")
	req.Header.Set(webhook.HeaderAttempt, "3")
	if secret != "" {
		now := time.Now()
		sig, err := webhook.Sign(secret, "evt_01test", now, []byte(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(webhook.HeaderSignature, sig)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

const listenTestBody = `{"id":"evt_01test","type":"user.created","data":{"user_id":"u_1"}}`

func TestListenReportsValidSignature(t *testing.T) {
	t.Parallel()
	secret := webhook.NewSecret()
	url, out := startListen(t, listenOptions{secret: secret, status: http.StatusAccepted})

	status, _ := postWebhook(t, url, secret, listenTestBody)
	if status != http.StatusAccepted {
		t.Fatalf("status = %d, want the --status 202", status)
	}
	got := out.String()
	for _, want := range []string{
		"POST /hooks/users",
		"webhook-id: evt_01test",
		"type: user.created",
		"attempt: 3",
		"signature: valid",
		`    "user_id": "u_1"`, // pretty-printed
		"answered 202",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestListenReportsInvalidSignature(t *testing.T) {
	t.Parallel()
	url, out := startListen(t, listenOptions{secret: webhook.NewSecret(), status: http.StatusOK})

	status, _ := postWebhook(t, url, webhook.NewSecret(), listenTestBody)
	if status != http.StatusOK {
		t.Fatalf("status = %d, want 200 (the receiver reports, it does not refuse)", status)
	}
	if got := out.String(); !strings.Contains(got, "signature: invalid (no matching signature)") {
		t.Fatalf("output does not report the invalid signature:\n%s", got)
	}
}

func TestListenReportsUnsignedRequest(t *testing.T) {
	t.Parallel()
	url, out := startListen(t, listenOptions{secret: webhook.NewSecret(), status: http.StatusOK})
	postWebhook(t, url, "", listenTestBody)
	if got := out.String(); !strings.Contains(got, "signature: unsigned") {
		t.Fatalf("output:\n%s", got)
	}
}

func TestListenWithoutSecretLeavesSignatureUnchecked(t *testing.T) {
	t.Parallel()
	url, out := startListen(t, listenOptions{status: http.StatusOK})
	postWebhook(t, url, webhook.NewSecret(), listenTestBody)
	if got := out.String(); !strings.Contains(got, "signature: unchecked") {
		t.Fatalf("output:\n%s", got)
	}
}

func TestListenPrintsNonJSONBodyAsText(t *testing.T) {
	t.Parallel()
	url, out := startListen(t, listenOptions{status: http.StatusOK})
	postWebhook(t, url, "", "event=ping\nsecond line")
	got := out.String()
	if !strings.Contains(got, "type: -") || !strings.Contains(got, "  event=ping\n  second line\n") {
		t.Fatalf("output:\n%s", got)
	}
}

func TestListenForwardsRequestAndAnswer(t *testing.T) {
	t.Parallel()
	type relayed struct {
		path, id, sig, body string
	}
	got := make(chan relayed, 1)
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- relayed{r.URL.Path, r.Header.Get(webhook.HeaderID), r.Header.Get(webhook.HeaderSignature), string(body)}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("X-App", "yes")
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, `{"status":"error","code":"teapot","message":"short and stout"}`)
	}))
	defer app.Close()

	secret := webhook.NewSecret()
	url, out := startListen(t, listenOptions{secret: secret, status: http.StatusOK, forward: app.URL + "/app/webhooks"})
	status, answer := postWebhook(t, url, secret, listenTestBody)

	if status != http.StatusTeapot || !strings.Contains(answer, `"code":"teapot"`) {
		t.Fatalf("answer = %d %s, want the app's 418 and body", status, answer)
	}
	r := <-got
	if r.path != "/app/webhooks" || r.id != "evt_01test" || r.sig == "" || r.body != listenTestBody {
		t.Fatalf("app received %+v", r)
	}
	text := out.String()
	for _, want := range []string{"signature: valid", "forwarded to " + app.URL + "/app/webhooks: 418", `"code": "teapot"`} {
		if !strings.Contains(text, want) {
			t.Errorf("output lacks %q:\n%s", want, text)
		}
	}
}

func TestListenForwardFailureAnswers502(t *testing.T) {
	t.Parallel()
	// A port that was free a moment ago: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()

	url, out := startListen(t, listenOptions{status: http.StatusOK, forward: dead})
	status, _ := postWebhook(t, url, "", listenTestBody)
	if status != http.StatusBadGateway {
		t.Fatalf("status = %d, want 502", status)
	}
	if got := out.String(); !strings.Contains(got, "forward to "+dead+" failed") {
		t.Fatalf("output:\n%s", got)
	}
}

func TestListenStopsWhenContextIsCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	var out testkit.Buffer
	go func() { done <- runListen(ctx, []string{"--addr", "127.0.0.1:0"}, &out) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("runListen = %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("runListen did not return after cancel")
	}
}

func TestListenRefusesBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"--secret", "not-a-secret"},
		{"--status", "42"},
		{"--forward", "localhost:3000"},
		{"extra"},
	} {
		var out testkit.Buffer
		if err := runListen(context.Background(), args, &out); err == nil {
			t.Errorf("runListen(%q) accepted", args)
		}
	}
}
