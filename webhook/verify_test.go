package webhook

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

// fixedClock returns a Verifier clock stopped at t.
func fixedClock(t time.Time) func() time.Time { return func() time.Time { return t } }

// specHeader carries the spec vector's headers.
func specHeader() http.Header {
	return signedHeader(specMsgID, time.Unix(specTimestamp, 0), specSignature)
}

// specVerifier checks with the spec secret at the spec vector's time.
func specVerifier() *Verifier {
	return &Verifier{Secrets: []string{specSecret}, NowFunc: fixedClock(time.Unix(specTimestamp, 0))}
}

func TestVerifyAcceptsSpecVector(t *testing.T) {
	t.Parallel()
	if err := specVerifier().Verify(specHeader(), []byte(specBody)); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRoundTrip(t *testing.T) {
	t.Parallel()
	secret := NewSecret()
	body := []byte(`{"id":"evt_1"}`)
	now := time.Now()
	sig, err := Sign(secret, "evt_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(secret, signedHeader("evt_1", now, sig), body); err != nil {
		t.Fatalf("Verify = %v", err)
	}
}

func TestVerifyRefusesTampering(t *testing.T) {
	t.Parallel()
	ts := time.Unix(specTimestamp, 0)
	tests := []struct {
		name   string
		header http.Header
		body   string
	}{
		{"body", specHeader(), `{"test": 2432232315}`},
		{"message id", signedHeader("msg_other", ts, specSignature), specBody},
		{"timestamp", signedHeader(specMsgID, ts.Add(time.Second), specSignature), specBody},
		{"signature", signedHeader(specMsgID, ts, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF="), specBody},
		{"version", signedHeader(specMsgID, ts, "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), specBody},
		{"no version", signedHeader(specMsgID, ts, "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="), specBody},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := specVerifier().Verify(tt.header, []byte(tt.body))
			if !errors.Is(err, ErrInvalidSignature) {
				t.Fatalf("error = %v, want ErrInvalidSignature", err)
			}
		})
	}
}

func TestVerifyRefusesOtherSecret(t *testing.T) {
	t.Parallel()
	v := specVerifier()
	v.Secrets = []string{NewSecret()}
	if err := v.Verify(specHeader(), []byte(specBody)); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("error = %v, want ErrInvalidSignature", err)
	}
}

func TestVerifyTimestampTolerance(t *testing.T) {
	t.Parallel()
	ts := time.Unix(specTimestamp, 0)
	tests := []struct {
		name      string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"exact", ts, 0, nil},
		{"5 minutes late", ts.Add(5 * time.Minute), 0, nil},
		{"5 minutes early", ts.Add(-5 * time.Minute), 0, nil},
		{"too old", ts.Add(5*time.Minute + time.Second), 0, ErrTimestampTooOld},
		{"too new", ts.Add(-5*time.Minute - time.Second), 0, ErrTimestampTooNew},
		{"custom tolerance", ts.Add(time.Hour), 2 * time.Hour, nil},
		{"custom tolerance exceeded", ts.Add(time.Hour), 30 * time.Minute, ErrTimestampTooOld},
		{"check disabled", ts.Add(1000 * time.Hour), -1, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v := specVerifier()
			v.NowFunc = fixedClock(tt.now)
			v.Tolerance = tt.tolerance
			err := v.Verify(specHeader(), []byte(specBody))
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyPackageFuncChecksTimestamp(t *testing.T) {
	t.Parallel()
	// The spec vector is from 2021: the real clock makes it too old.
	if err := Verify(specSecret, specHeader(), []byte(specBody)); !errors.Is(err, ErrTimestampTooOld) {
		t.Fatalf("error = %v, want ErrTimestampTooOld", err)
	}
}

func TestVerifyMultipleSignatures(t *testing.T) {
	t.Parallel()
	other, _ := Sign(NewSecret(), specMsgID, time.Unix(specTimestamp, 0), []byte(specBody))
	for _, sigs := range []string{
		other + " " + specSignature,
		specSignature + " " + other,
		"v1a,AAAA " + specSignature,
		"garbage  " + specSignature + " ",
	} {
		h := specHeader()
		h.Set(HeaderSignature, sigs)
		if err := specVerifier().Verify(h, []byte(specBody)); err != nil {
			t.Errorf("signatures %q: %v", sigs, err)
		}
	}
}

func TestVerifyAnySecret(t *testing.T) {
	t.Parallel()
	now := time.Now()
	body := []byte(`{}`)
	oldSecret, newSecret := NewSecret(), NewSecret()
	sig, _ := Sign(oldSecret, "evt_r", now, body)
	h := signedHeader("evt_r", now, sig)
	if err := VerifyAny([]string{newSecret, oldSecret}, h, body); err != nil {
		t.Fatalf("VerifyAny with the signing secret second = %v", err)
	}
	if err := VerifyAny([]string{newSecret}, h, body); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("VerifyAny without the signing secret = %v, want ErrInvalidSignature", err)
	}
}

func TestVerifyMissingHeaders(t *testing.T) {
	t.Parallel()
	for _, name := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		h := specHeader()
		h.Del(name)
		if err := specVerifier().Verify(h, []byte(specBody)); !errors.Is(err, ErrMissingHeaders) {
			t.Errorf("without %s: error = %v, want ErrMissingHeaders", name, err)
		}
	}
}

func TestVerifyInvalidTimestamp(t *testing.T) {
	t.Parallel()
	h := specHeader()
	h.Set(HeaderTimestamp, "2021-02-21T12:00:00Z")
	if err := specVerifier().Verify(h, []byte(specBody)); !errors.Is(err, ErrInvalidTimestamp) {
		t.Fatalf("error = %v, want ErrInvalidTimestamp", err)
	}
}

func TestVerifyWithoutUsableSecret(t *testing.T) {
	t.Parallel()
	for _, secrets := range [][]string{nil, {"whsec_%%%"}} {
		v := specVerifier()
		v.Secrets = secrets
		if err := v.Verify(specHeader(), []byte(specBody)); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("secrets %q: error = %v, want ErrInvalidSecret", secrets, err)
		}
	}
}

func TestVerifyAcceptsSvixHeaderNames(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	for _, name := range []string{HeaderID, HeaderTimestamp, HeaderSignature} {
		h.Set("svix-"+name[len("webhook-"):], specHeader().Get(name))
	}
	if err := specVerifier().Verify(h, []byte(specBody)); err != nil {
		t.Fatalf("svix-* headers: %v", err)
	}
	h.Set(SvixHeaderSignature, "v1,"+"AAAA")
	if err := specVerifier().Verify(h, []byte(specBody)); !errors.Is(err, ErrInvalidSignature) {
		t.Fatalf("a wrong svix-signature: %v, want ErrInvalidSignature", err)
	}
}

func TestVerifyPrefersWebhookHeadersOverSvix(t *testing.T) {
	t.Parallel()
	h := specHeader()
	h.Set(SvixHeaderSignature, "v1,AAAA") // ignored: webhook-signature is there
	h.Set(SvixHeaderID, "msg_other")
	if err := specVerifier().Verify(h, []byte(specBody)); err != nil {
		t.Fatal(err)
	}
}
