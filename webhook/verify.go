package webhook

import (
	"crypto/hmac"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of the Standard Webhooks specification, as Herald sends them.
const (
	// HeaderID carries the message id, the same on every attempt: the
	// receiver's idempotency key.
	HeaderID = "webhook-id"
	// HeaderTimestamp carries the Unix time in seconds of this attempt.
	HeaderTimestamp = "webhook-timestamp"
	// HeaderSignature carries one or more space-separated "v1,<base64>"
	// signatures.
	HeaderSignature = "webhook-signature"
	// HeaderAttempt carries the attempt number, starting at 1. It is a
	// Herald extension and is not signed.
	HeaderAttempt = "webhook-attempt"
)

// The same headers under the names Svix sends. Verify reads each of them
// when its webhook-* name is absent, as the Svix libraries do, so that a
// receiver also serving Svix-signed traffic needs one verifier.
const (
	SvixHeaderID        = "svix-id"
	SvixHeaderTimestamp = "svix-timestamp"
	SvixHeaderSignature = "svix-signature"
)

// DefaultTolerance is how far a message's timestamp may lie in the past or
// in the future before Verify refuses it.
const DefaultTolerance = 5 * time.Minute

// Errors returned by Verify. Test for them with errors.Is: the returned
// error may wrap them with details.
var (
	// ErrMissingHeaders: webhook-id, webhook-timestamp or webhook-signature
	// is absent or empty.
	ErrMissingHeaders = errors.New("webhook: missing required headers")
	// ErrInvalidTimestamp: webhook-timestamp is not an integer.
	ErrInvalidTimestamp = errors.New("webhook: invalid timestamp header")
	// ErrTimestampTooOld: the timestamp is older than the tolerance allows,
	// which is what a replayed request looks like.
	ErrTimestampTooOld = errors.New("webhook: timestamp too old")
	// ErrTimestampTooNew: the timestamp is further in the future than the
	// tolerance allows.
	ErrTimestampTooNew = errors.New("webhook: timestamp too new")
	// ErrInvalidSignature: no v1 signature in webhook-signature matches the
	// body under any of the secrets.
	ErrInvalidSignature = errors.New("webhook: no matching signature")
)

// Verifier checks Standard Webhooks signatures. The zero value has no
// secret and refuses everything; set Secrets. A Verifier is safe for
// concurrent use as long as its fields are not changed.
type Verifier struct {
	// Secrets are the endpoint secrets ("whsec_<base64>" or bare base64).
	// A message passes when it is signed with any of them, which lets a
	// receiver accept both the old and the new secret during a rotation.
	Secrets []string

	// Tolerance is how far the timestamp may differ from NowFunc() in
	// either direction. Zero means DefaultTolerance; a negative value
	// disables the check (only for tests and replays of stored requests).
	Tolerance time.Duration

	// NowFunc returns the current time; nil means time.Now.
	NowFunc func() time.Time

	// MaxBodyBytes bounds the body Middleware reads. Zero means
	// DefaultMaxBodyBytes.
	MaxBodyBytes int64
}

// Verify checks the webhook-id, webhook-timestamp and webhook-signature
// headers (or, for any of them that is absent, its svix-* name) against
// body. It returns nil when the timestamp is within the
// tolerance and at least one v1 signature matches under one of the
// secrets; otherwise an error that wraps one of the package's Err values
// or, for an unusable secret, ErrInvalidSecret.
func (v *Verifier) Verify(header http.Header, body []byte) error {
	msgID := headerOr(header, HeaderID, SvixHeaderID)
	tsText := headerOr(header, HeaderTimestamp, SvixHeaderTimestamp)
	sigs := headerOr(header, HeaderSignature, SvixHeaderSignature)
	if msgID == "" || tsText == "" || sigs == "" {
		return ErrMissingHeaders
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %q", ErrInvalidTimestamp, tsText)
	}
	if err := v.checkTimestamp(unix); err != nil {
		return err
	}
	if len(v.Secrets) == 0 {
		return fmt.Errorf("%w: no secret configured", ErrInvalidSecret)
	}
	keys := make([][]byte, 0, len(v.Secrets))
	for _, s := range v.Secrets {
		key, err := decodeKey(s)
		if err != nil {
			return err
		}
		keys = append(keys, key)
	}
	for _, key := range keys {
		want := signKey(key, msgID, unix, body)
		for _, got := range strings.Fields(sigs) {
			// Versions other than v1 (such as v1a, asymmetric) are skipped:
			// a secret can only check v1. Comparing the whole "v1,…" string
			// in constant time checks the version too.
			if hmac.Equal([]byte(got), []byte(want)) {
				return nil
			}
		}
	}
	return ErrInvalidSignature
}

// headerOr returns the header name's value, or fallback's when it is empty.
func headerOr(h http.Header, name, fallback string) string {
	if v := h.Get(name); v != "" {
		return v
	}
	return h.Get(fallback)
}

func (v *Verifier) checkTimestamp(unix int64) error {
	tol := v.Tolerance
	if tol < 0 {
		return nil
	}
	if tol == 0 {
		tol = DefaultTolerance
	}
	now := time.Now
	if v.NowFunc != nil {
		now = v.NowFunc
	}
	// time.Unix wraps around beyond about ±2.9e11 years, turning a far
	// future into a far past; clamping keeps the order. Ordering before
	// subtracting matters too: Sub saturates at ±292 years, and negating
	// the minimum Duration overflows, which once let a timestamp millions
	// of years ahead pass as within the tolerance.
	unix = min(max(unix, -maxUnix), maxUnix)
	ts, n := time.Unix(unix, 0), now()
	switch {
	case n.After(ts) && n.Sub(ts) > tol:
		return fmt.Errorf("%w: %s old", ErrTimestampTooOld, n.Sub(ts).Truncate(time.Second))
	case ts.After(n) && ts.Sub(n) > tol:
		return fmt.Errorf("%w: %s ahead", ErrTimestampTooNew, ts.Sub(n).Truncate(time.Second))
	}
	return nil
}

// maxUnix bounds the timestamps checkTimestamp compares, far inside the
// range time.Time represents and far beyond any real clock.
const maxUnix = 1 << 60

// Verify checks a webhook signed with secret, with the default tolerance.
// See Verifier.Verify.
func Verify(secret string, header http.Header, body []byte) error {
	v := Verifier{Secrets: []string{secret}}
	return v.Verify(header, body)
}

// VerifyAny checks a webhook that may be signed with any of secrets, as
// during a secret rotation. See Verifier.Verify.
func VerifyAny(secrets []string, header http.Header, body []byte) error {
	v := Verifier{Secrets: secrets}
	return v.Verify(header, body)
}
