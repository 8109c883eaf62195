package main

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/testkit"
	"github.com/herald-dev/herald/webhook"
)

// runListenUntilCleanup runs `herald listen` with args until the test
// ends and waits until it accepts connections on addr.
func runListenUntilCleanup(t *testing.T, addr string, args ...string) *testkit.Buffer {
	t.Helper()
	out := &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- runListen(ctx, append([]string{"--addr", addr}, args...), out) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("herald listen: %v", err)
		}
	})
	testkit.WaitFor(t, "herald listen to accept connections", func() bool {
		select {
		case err := <-done:
			t.Fatalf("herald listen stopped: %v\n%s", err, out)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
	return out
}

// listenBlock returns the block `herald listen` printed for the request
// with this webhook-id, or "".
func listenBlock(out, webhookID string) string {
	for _, block := range strings.Split(out, "\n\n") {
		if strings.Contains(block, "webhook-id: "+webhookID+" ") {
			return block
		}
	}
	return ""
}

// TestListenE2EReportsAHeraldDeliveryAsValid follows the README: a
// project and an endpoint made with the CLI, `herald listen` started with
// the endpoint's secret, an event sent with the CLI. The listener shows
// the delivery with a valid signature, and reports a forged request to
// the same address as invalid.
func TestListenE2EReportsAHeraldDeliveryAsValid(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	addr := freeAddr(t)

	ep := cliJSON(t, env, "endpoints", "create", "--url", "http://"+addr+"/webhooks")
	secret, _ := ep["secret"].(string)
	if !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("endpoints create printed no secret: %v", ep)
	}
	out := runListenUntilCleanup(t, addr, "--secret", secret)

	sent := cliJSON(t, env, "events", "send", "--type", "order.paid", "--data", `{"order_id":"1001","total":"42.00"}`)
	evID := sent["id"].(string)
	var block string
	testkit.WaitFor(t, "herald listen to print the delivery", func() bool {
		block = listenBlock(out.String(), evID)
		return block != ""
	})
	for _, want := range []string{
		"POST /webhooks",
		"webhook-id: " + evID,
		"type: order.paid",
		"attempt: 1",
		"signature: valid",
		`"order_id": "1001"`,
		"answered 200",
	} {
		if !strings.Contains(block, want) {
			t.Errorf("the delivery's block lacks %q:\n%s", want, block)
		}
	}
	// Herald saw the 200 too.
	testkit.WaitFor(t, "the delivery to be recorded as succeeded", func() bool {
		ds := items(t, cliJSON(t, env, "deliveries", "list", "--event", evID))
		return len(ds) == 1 && ds[0]["status"] == "succeeded"
	})

	// A forged request: Herald's envelope, signed with another secret.
	if status, _ := postWebhook(t, "http://"+addr, webhook.NewSecret(), listenTestBody); status != http.StatusOK {
		t.Fatalf("the forged request got %d", status)
	}
	forged := listenBlock(out.String(), "evt_01test")
	if !strings.Contains(forged, "signature: invalid") {
		t.Fatalf("the forged request is not reported invalid:\n%s", out)
	}
	if strings.Count(out.String(), "signature: valid") != 1 {
		t.Fatalf("only Herald's delivery is valid:\n%s", out)
	}
}

// TestListenE2EAnswerDrivesHeraldsRetries: with --status 500 the listener
// fails the delivery, and Herald records the failure and schedules a retry.
func TestListenE2EAnswerDrivesHeraldsRetries(t *testing.T) {
	t.Parallel()
	url := startHerald(t)
	env := cliProject(t, url, "shop")
	addr := freeAddr(t)
	ep := cliJSON(t, env, "endpoints", "create", "--url", "http://"+addr+"/webhooks")
	out := runListenUntilCleanup(t, addr, "--secret", ep["secret"].(string), "--status", "500")

	sent := cliJSON(t, env, "events", "send", "--type", "user.created", "--data", `{"user_id":"u_1"}`)
	evID := sent["id"].(string)
	var dlv map[string]any
	testkit.WaitFor(t, "the failed attempt to be recorded", func() bool {
		ds := items(t, cliJSON(t, env, "deliveries", "list", "--event", evID))
		if len(ds) != 1 || ds[0]["attempts"] != 1.0 {
			return false
		}
		dlv = ds[0]
		return true
	})
	if dlv["status"] != "pending" || dlv["last_response_status"] != 500.0 || dlv["next_attempt_at"] == nil {
		t.Fatalf("after a 500 the delivery is %v, want pending with a retry scheduled", dlv)
	}
	block := listenBlock(out.String(), evID)
	if !strings.Contains(block, "signature: valid") || !strings.Contains(block, "answered 500") {
		t.Fatalf("the listener's block:\n%s", block)
	}
}
