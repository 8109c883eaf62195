package store

import (
	"context"
	"time"
)

// RequestKey is a request remembered under its Idempotency-Key, on the
// POST routes other than ingest (ingest keeps its keys with its events).
// A key is held per project. While the request runs, Status is 0; once it
// succeeded, Status and either ResourceID or Body hold what to answer a
// repeat with. A failed request leaves no key behind.
type RequestKey struct {
	ProjectID string
	Key       string
	// Route identifies the method and path the key was first used on, and
	// BodyHash the request body (both hashes, so their size is bounded).
	Route    string
	BodyHash string
	// Token identifies one claim: FinishRequestKey and ReleaseRequestKey
	// act only on the claim that carries it, never on a later one that
	// took the key over.
	Token string
	// Status is the response's status code; 0 while the request runs.
	Status int
	// ResourceID, when set, is the resource the request created: a repeat
	// is answered from the resource as stored now (so no copy of a secret
	// is kept here). Otherwise Body is the response body.
	ResourceID string
	Body       []byte
	// CreatedAt is when the key was claimed.
	CreatedAt time.Time
}

// RequestKeyStore remembers the requests of idempotent POST routes.
type RequestKeyStore interface {
	// ClaimRequestKey stores k, running (Status 0, created now), unless
	// another row holds k's project and key. A row created before
	// expiredBefore holds nothing any more; nor does a running one created
	// before staleBefore (its process died while running it): k replaces
	// them. It returns nil when k was stored, else the row that holds the
	// key, as stored.
	ClaimRequestKey(ctx context.Context, k *RequestKey, expiredBefore, staleBefore time.Time) (*RequestKey, error)
	// FinishRequestKey records the response of the running claim k
	// (matched by project, key and Token): Status, ResourceID and Body.
	// A claim that was taken over is left alone; that is no error.
	FinishRequestKey(ctx context.Context, k *RequestKey) error
	// ReleaseRequestKey deletes the running claim with this token, so the
	// key can be used again (the request failed).
	ReleaseRequestKey(ctx context.Context, projectID, key, token string) error
}
