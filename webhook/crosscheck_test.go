package webhook

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	svix "github.com/svix/svix-webhooks/go"
)

// The reference libraries of Standard Webhooks and Svix are independent
// implementations of the same scheme: each must accept what Sign produces,
// and Verify must accept what each of them signs.

// referenceVerifier is the part of both libraries these tests use.
type referenceVerifier interface {
	Sign(msgID string, ts time.Time, payload []byte) (string, error)
	Verify(payload []byte, headers http.Header) error
}

func referenceLibraries(t *testing.T, secret string) map[string]referenceVerifier {
	t.Helper()
	sw, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	sv, err := svix.NewWebhook(secret)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]referenceVerifier{"standard-webhooks": sw, "svix": sv}
}

func signedHeader(msgID string, ts time.Time, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderID, msgID)
	h.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	h.Set(HeaderSignature, sig)
	return h
}

func TestReferenceLibrariesAcceptSign(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	body := []byte(`{"id":"evt_1","type":"user.created","data":{"user_id":"u_1"}}`)
	now := time.Now()
	sig, err := Sign(secret, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	for name, lib := range referenceLibraries(t, secret) {
		if err := lib.Verify(body, signedHeader("evt_1", now, sig)); err != nil {
			t.Errorf("%s refuses Sign's signature: %v", name, err)
		}
		// And they agree on the tampered case.
		if err := lib.Verify(append(body, ' '), signedHeader("evt_1", now, sig)); err == nil {
			t.Errorf("%s accepts a tampered body", name)
		}
	}
}

func TestReferenceLibrariesAcceptRotationHeader(t *testing.T) {
	t.Parallel()
	oldSecret, newSecret := NewSecret(), NewSecret()
	body := []byte(`{"a":1}`)
	now := time.Now()
	s1, _ := Sign(oldSecret, "evt_2", now, body)
	s2, _ := Sign(newSecret, "evt_2", now, body)
	header := signedHeader("evt_2", now, s1+" "+s2)
	for _, secret := range []string{oldSecret, newSecret} {
		for name, lib := range referenceLibraries(t, secret) {
			if err := lib.Verify(body, header); err != nil {
				t.Errorf("%s refuses a two-signature header: %v", name, err)
			}
		}
	}
}

func TestVerifyAcceptsReferenceSignatures(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	body := []byte(`{"hello":"world"}`)
	now := time.Now()
	for name, lib := range referenceLibraries(t, secret) {
		sig, err := lib.Sign("msg_"+name, now, body)
		if err != nil {
			t.Fatal(err)
		}
		if err := Verify(secret, signedHeader("msg_"+name, now, sig), body); err != nil {
			t.Errorf("Verify refuses %s's signature: %v", name, err)
		}
		want, _ := Sign(secret, "msg_"+name, now, body)
		if sig != want {
			t.Errorf("%s signs %q, Sign gives %q", name, sig, want)
		}
	}
}
