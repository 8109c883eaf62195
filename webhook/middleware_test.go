package webhook

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// echoHandler answers 200 with the body it read, to show the body was
// restored after verification.
var echoHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	_, _ = w.Write(body)
})

func signedRequest(t *testing.T, url, secret, msgID string, ts time.Time, body []byte) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sig, err := Sign(secret, msgID, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderID, msgID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sig)
	return req
}

func do(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

func TestMiddlewarePassesVerifiedRequestWithBody(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	srv := httptest.NewServer(Middleware(secret, echoHandler))
	defer srv.Close()

	body := []byte(`{"id":"evt_1","type":"user.created"}`)
	status, got := do(t, signedRequest(t, srv.URL, secret, "evt_1", time.Now(), body))
	if status != http.StatusOK || got != string(body) {
		t.Fatalf("got %d %q, want 200 with the body echoed", status, got)
	}
}

func TestMiddlewareRefusesBadSignature(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	var reached atomic.Bool
	srv := httptest.NewServer(Middleware(secret, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached.Store(true) })))
	defer srv.Close()

	req := signedRequest(t, srv.URL, NewSecret(), "evt_1", time.Now(), []byte(`{}`))
	status, got := do(t, req)
	if status != http.StatusUnauthorized {
		t.Fatalf("status = %d, want 401", status)
	}
	if !strings.Contains(got, "no matching signature") {
		t.Fatalf("body = %q, want the reason", got)
	}
	if reached.Load() {
		t.Fatal("next handler ran for a refused request")
	}
}

func TestMiddlewareRefusesUnsignedRequest(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(Middleware(NewSecret(), echoHandler))
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodPost, srv.URL, strings.NewReader(`{}`))
	if status, got := do(t, req); status != http.StatusUnauthorized || !strings.Contains(got, "missing required headers") {
		t.Fatalf("got %d %q, want 401 missing headers", status, got)
	}
}

func TestMiddlewareRefusesReplayedRequest(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	srv := httptest.NewServer(Middleware(secret, echoHandler))
	defer srv.Close()

	req := signedRequest(t, srv.URL, secret, "evt_1", time.Now().Add(-time.Hour), []byte(`{}`))
	if status, got := do(t, req); status != http.StatusUnauthorized || !strings.Contains(got, "too old") {
		t.Fatalf("got %d %q, want 401 too old", status, got)
	}
}

func TestMiddlewareBoundsBody(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	v := &Verifier{Secrets: []string{secret}, MaxBodyBytes: 16}
	// A recorder, not a server: a server lingers before closing a
	// connection whose body was left unread.
	req := signedRequest(t, "http://receiver.test/", secret, "evt_1", time.Now(), []byte(`{"padding":"more than sixteen bytes"}`))
	rec := httptest.NewRecorder()
	v.Middleware(echoHandler).ServeHTTP(rec, req)
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status = %d, want 413", rec.Code)
	}
}

func TestMiddlewareAcceptsEitherRotatedSecret(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := NewSecret(), NewSecret()
	v := &Verifier{Secrets: []string{oldSecret, newSecret}}
	srv := httptest.NewServer(v.Middleware(echoHandler))
	defer srv.Close()

	for _, secret := range []string{oldSecret, newSecret} {
		if status, _ := do(t, signedRequest(t, srv.URL, secret, "evt_1", time.Now(), []byte(`{}`))); status != http.StatusOK {
			t.Fatalf("status = %d, want 200", status)
		}
	}
}
