package webhook_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strconv"
	"time"

	"github.com/herald-dev/herald/webhook"
)

// A receiver checks every request with the endpoint's secret before acting
// on it, and uses webhook-id to ignore a delivery it has already handled.
func ExampleMiddleware() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw" // from the endpoint's settings

	handler := webhook.Middleware(secret, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var event webhook.Envelope
		if err := json.NewDecoder(r.Body).Decode(&event); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		fmt.Println("received", event.Type, r.Header.Get(webhook.HeaderID))
		w.WriteHeader(http.StatusNoContent) // any 2xx acknowledges
	}))
	srv := httptest.NewServer(handler)
	defer srv.Close()

	// What Herald sends, signed:
	body := []byte(`{"id":"evt_1","type":"user.created","data":{"user_id":"u_1"}}`)
	send := func(secret string) {
		now := time.Now()
		sig, err := webhook.Sign(secret, "evt_1", now, body)
		if err != nil {
			log.Fatal(err)
		}
		req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(body))
		req.Header.Set(webhook.HeaderID, "evt_1")
		req.Header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(webhook.HeaderSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		resp.Body.Close()
		fmt.Println("status", resp.StatusCode)
	}
	send(secret)
	send(webhook.NewSecret()) // a forgery

	// Output:
	// received user.created evt_1
	// status 204
	// status 401
}

// Verify works on any header and body, for receivers that do not use
// net/http handlers directly.
func ExampleVerify() {
	secret := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	body := []byte(`{"type":"order.paid"}`)
	now := time.Now()
	sig, _ := webhook.Sign(secret, "evt_2", now, body)

	header := http.Header{}
	header.Set("webhook-id", "evt_2")
	header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	header.Set("webhook-signature", sig)

	fmt.Println(webhook.Verify(secret, header, body))
	fmt.Println(webhook.Verify(secret, header, []byte(`{"type":"order.refunded"}`)))
	// Output:
	// <nil>
	// webhook: no matching signature
}

// A Verifier with several secrets keeps accepting the old secret while a
// rotation's grace period runs.
func ExampleVerifier() {
	v := &webhook.Verifier{
		Secrets:   []string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", webhook.NewSecret()},
		Tolerance: 5 * time.Minute,
	}
	header := http.Header{}
	header.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	header.Set("webhook-timestamp", strconv.FormatInt(time.Now().Unix(), 10))
	header.Set("webhook-signature", "v1,invalid")
	fmt.Println(v.Verify(header, []byte(`{}`)))
	// Output: webhook: no matching signature
}

// Sign computes the value of the webhook-signature header.
func ExampleSign() {
	sig, err := webhook.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
		"msg_p5jXN8AQM9LWM0D4loKWxJek", time.Unix(1614265330, 0), []byte(`{"test": 2432232314}`))
	fmt.Println(sig, err)
	// Output: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= <nil>
}

// A synchronous hook decides whether an operation may go on. Herald calls
// it with the event's envelope and waits for the verdict.
func ExampleDeny() {
	hook := func(w http.ResponseWriter, r *http.Request) {
		var req webhook.Envelope
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, "bad body", http.StatusBadRequest)
			return
		}
		var reg struct {
			Nickname string `json:"nickname"`
		}
		if err := req.DecodeData(&reg); err != nil {
			http.Error(w, "bad data", http.StatusBadRequest)
			return
		}
		switch reg.Nickname {
		case "":
			// Allow, and fill in a default (endpoints with response_mode "data").
			webhook.AllowWithData(w, map[string]string{"nickname": "Neo"})
		case "root":
			webhook.Deny(w, "reserved", "This nickname is reserved")
		default:
			webhook.Allow(w)
		}
	}

	// In a real receiver, wrap hook with webhook.Middleware and serve it.
	for _, data := range []string{`{"nickname":"trinity"}`, `{"nickname":""}`, `{"nickname":"root"}`} {
		body := `{"id":"evt_3","type":"before_registration","data":` + data + `}`
		rec := httptest.NewRecorder()
		hook(rec, httptest.NewRequest(http.MethodPost, "/hooks/registration", bytes.NewBufferString(body)))
		answer, _ := io.ReadAll(rec.Body)
		fmt.Printf("%d %s", rec.Code, answer)
	}
	// Output:
	// 200 {"status":"ok"}
	// 200 {"status":"ok","data":{"nickname":"Neo"}}
	// 200 {"status":"error","code":"reserved","message":"This nickname is reserved"}
}
