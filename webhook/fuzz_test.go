package webhook

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzNow is the receiver's clock in FuzzVerify: a whole second, so that
// the tolerance window is exactly DefaultTolerance either side of it.
var fuzzNow = time.Unix(1_750_000_000, 0)

// FuzzVerify feeds Verify (and Middleware) arbitrary headers, bodies and
// secrets. Nothing may panic, and:
//   - Verify accepts hostile headers only when they carry the very
//     signature Sign makes;
//   - a body signed with Sign always verifies (tolerance off), and any
//     change to it never does;
//   - with the tolerance on, a signed message verifies exactly when its
//     timestamp is within DefaultTolerance of the clock, and otherwise
//     fails as too old or too new, for every int64 timestamp.
//
// go test -fuzz FuzzVerify ./webhook explores; the seeds, including the
// inputs of past findings, in testdata/fuzz/FuzzVerify run as ordinary
// tests.
func FuzzVerify(f *testing.F) {
	specKey, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(specSecret, SecretPrefix))
	// More seeds, among them past findings, are in testdata/fuzz/FuzzVerify.
	f.Add(specMsgID, strconv.Itoa(specTimestamp), specSignature, fuzzNow.Unix(), []byte(specBody), specKey, uint16(0))
	f.Add("msg_1", "1750000000", "v1,AAAA v1a,BBBB", fuzzNow.Unix()-300, []byte(`{"a":1}`), []byte("0123456789abcdefghijklmn"), uint16(3))

	f.Fuzz(func(t *testing.T, id, tsText, sigs string, unix int64, body, key []byte, flip uint16) {
		secret := SecretPrefix + base64.StdEncoding.EncodeToString(key)
		if len(key) == 0 {
			secret = specSecret // an empty key cannot sign
		}

		// Hostile headers: any outcome but a panic, and success only for
		// the genuine signature.
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, tsText)
		h.Set(HeaderSignature, sigs)
		for _, v := range []*Verifier{
			{Secrets: []string{secret}, Tolerance: -1},
			{Secrets: []string{secret, string(key)}, NowFunc: func() time.Time { return fuzzNow }},
			{},
		} {
			if err := v.Verify(h, body); err == nil {
				ts, perr := strconv.ParseInt(tsText, 10, 64)
				want, serr := Sign(secret, id, time.Unix(ts, 0), body)
				if perr != nil || serr != nil || !containsField(sigs, want) {
					t.Fatalf("Verify accepted id=%q ts=%q sigs=%q without the signature", id, tsText, sigs)
				}
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header = h.Clone()
		rec := httptest.NewRecorder()
		(&Verifier{Secrets: []string{secret}, Tolerance: -1}).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusNoContent)
		})).ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized && rec.Code != http.StatusNoContent {
			t.Fatalf("Middleware answered %d", rec.Code)
		}

		// A genuine message.
		if id == "" {
			return // no message without an id
		}
		ts := time.Unix(unix, 0)
		sig, err := Sign(secret, id, ts, body)
		if err != nil {
			t.Fatalf("Sign(%q): %v", secret, err)
		}
		signed := http.Header{}
		signed.Set(HeaderID, id)
		signed.Set(HeaderTimestamp, strconv.FormatInt(unix, 10))
		signed.Set(HeaderSignature, sig)
		anyTime := &Verifier{Secrets: []string{secret}, Tolerance: -1}
		if err := anyTime.Verify(signed, body); err != nil {
			t.Fatalf("signed message refused: %v", err)
		}
		changed := append([]byte(nil), body...)
		if len(changed) == 0 {
			changed = append(changed, byte(flip))
		} else {
			changed[int(flip)%len(changed)] ^= byte(flip>>8) | 1
		}
		if err := anyTime.Verify(signed, changed); !errors.Is(err, ErrInvalidSignature) {
			t.Fatalf("changed body %q: Verify = %v, want ErrInvalidSignature", changed, err)
		}

		// The tolerance window, compared in whole seconds: fuzzNow has no
		// fraction and DefaultTolerance is whole seconds.
		clock := &Verifier{Secrets: []string{secret}, NowFunc: func() time.Time { return fuzzNow }}
		lo, hi := fuzzNow.Unix()-int64(DefaultTolerance/time.Second), fuzzNow.Unix()+int64(DefaultTolerance/time.Second)
		err = clock.Verify(signed, body)
		switch {
		case unix < lo:
			if !errors.Is(err, ErrTimestampTooOld) {
				t.Fatalf("timestamp %d, %ds before the clock: Verify = %v, want ErrTimestampTooOld", unix, fuzzNow.Unix()-unix, err)
			}
		case unix > hi:
			if !errors.Is(err, ErrTimestampTooNew) {
				t.Fatalf("timestamp %d, ahead of the clock: Verify = %v, want ErrTimestampTooNew", unix, err)
			}
		default:
			if err != nil {
				t.Fatalf("timestamp %d within the tolerance: Verify = %v", unix, err)
			}
		}
	})
}

// containsField reports whether the space-separated list s holds want.
func containsField(s, want string) bool {
	for _, f := range strings.Fields(s) {
		if f == want {
			return true
		}
	}
	return false
}
