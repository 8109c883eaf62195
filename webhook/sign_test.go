package webhook

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"
)

// The test vector of the Standard Webhooks specification.
const (
	specSecret    = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specMsgID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specTimestamp = 1614265330
	specBody      = `{"test": 2432232314}`
	specSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignMatchesSpecVector(t *testing.T) {
	t.Parallel()
	got, err := Sign(specSecret, specMsgID, time.Unix(specTimestamp, 0), []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSignature {
		t.Fatalf("Sign = %q, want %q", got, specSignature)
	}
}

func TestSignAcceptsSecretWithoutPrefix(t *testing.T) {
	t.Parallel()
	got, err := Sign(strings.TrimPrefix(specSecret, SecretPrefix), specMsgID, time.Unix(specTimestamp, 0), []byte(specBody))
	if err != nil {
		t.Fatal(err)
	}
	if got != specSignature {
		t.Fatalf("Sign = %q, want %q", got, specSignature)
	}
}

func TestSignRejectsUndecodableSecret(t *testing.T) {
	t.Parallel()
	for _, secret := range []string{"", "whsec_", "whsec_not base64!"} {
		if _, err := Sign(secret, "msg", time.Unix(1, 0), nil); !errors.Is(err, ErrInvalidSecret) {
			t.Errorf("Sign(%q) error = %v, want ErrInvalidSecret", secret, err)
		}
	}
}

func TestSignUsesTimestampInSeconds(t *testing.T) {
	t.Parallel()
	// Sub-second parts of the time are not part of the signed content.
	a, _ := Sign(specSecret, specMsgID, time.Unix(specTimestamp, 0), []byte(specBody))
	b, _ := Sign(specSecret, specMsgID, time.Unix(specTimestamp, 999_000_000), []byte(specBody))
	if a != b {
		t.Fatalf("signatures differ within one second: %q vs %q", a, b)
	}
}

func TestNewSecretIsValidAndRandom(t *testing.T) {
	t.Parallel()
	a, b := NewSecret(), NewSecret()
	if a == b {
		t.Fatal("two secrets are equal")
	}
	key, err := ParseSecret(a)
	if err != nil {
		t.Fatalf("ParseSecret(NewSecret()) = %v", err)
	}
	if len(key) != 32 {
		t.Fatalf("key length = %d, want 32", len(key))
	}
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	enc := func(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }
	tests := []struct {
		name    string
		secret  string
		wantLen int // 0 means an error is expected
	}{
		{"spec secret", specSecret, 24},
		{"24 bytes", SecretPrefix + enc(24), 24},
		{"64 bytes", SecretPrefix + enc(64), 64},
		{"23 bytes", SecretPrefix + enc(23), 0},
		{"65 bytes", SecretPrefix + enc(65), 0},
		{"no prefix", enc(32), 0},
		{"other prefix", "whsk_" + enc(32), 0},
		{"not base64", SecretPrefix + "%%%%", 0},
		{"url-safe base64", SecretPrefix + strings.Repeat("-_", 16), 0},
		{"empty", "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			key, err := ParseSecret(tt.secret)
			if tt.wantLen == 0 {
				if !errors.Is(err, ErrInvalidSecret) {
					t.Fatalf("error = %v, want ErrInvalidSecret", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(key) != tt.wantLen {
				t.Fatalf("key length = %d, want %d", len(key), tt.wantLen)
			}
		})
	}
}
