package service

import (
	"context"
	"time"
	"unicode/utf8"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// RequestKeyLease is how long a request holding an Idempotency-Key may run
// before its key is taken over by a repeat: long past any request's run,
// so only a request whose process died is overtaken.
const RequestKeyLease = 5 * time.Minute

// KeyedRequest is one request of an idempotent POST route (create
// endpoint, replay, retry, recover, create event type) that carries an
// Idempotency-Key.
type KeyedRequest struct {
	ProjectID string // keys are held per project
	Key       string // the Idempotency-Key header
	// Route and BodyHash are digests (bounded in size, whatever the
	// request) of the method and path, and of the body.
	Route    string
	BodyHash string
}

// Response is what a keyed request answered, for its repeats.
type Response struct {
	Status int
	// ResourceID: the created resource, rendered afresh for a repeat (see
	// store.RequestKey); Body otherwise.
	ResourceID string
	Body       []byte
}

// KeyClaim is a running keyed request's hold on its key. Exactly one of
// Finish and Release must follow.
type KeyClaim struct {
	s *Service
	k *store.RequestKey
}

// ClaimRequest decides what a keyed request does. The rule, shared with
// ingest: within store.IdempotencyWindow a key names one request of its
// project — the same route and body. So:
//   - a new key: the claim returned, which the caller runs the request
//     under, then Finishes (success) or Releases (failure);
//   - the key of a request that succeeded, same route and body: its
//     Response, to answer again without acting (Idempotent-Replayed);
//   - the key of a request still running, same route and body: ECONFLICT
//     KindIdempotencyInProgress, so two identical requests never both act;
//   - another route or body: ECONFLICT KindIdempotencyConflict.
//
// Failed requests are not remembered (Release), so a corrected retry with
// the same key runs. A key over herald.IdempotencyKeyMaxLen, or not UTF-8,
// is EINVALID.
func (s *Service) ClaimRequest(ctx context.Context, r KeyedRequest) (*KeyClaim, *Response, error) {
	switch {
	case len(r.Key) > herald.IdempotencyKeyMaxLen:
		return nil, nil, invalid("header.Idempotency-Key", nil, "at most %d characters", herald.IdempotencyKeyMaxLen)
	case !utf8.ValidString(r.Key):
		return nil, nil, invalid("header.Idempotency-Key", nil, "must be UTF-8 text")
	}
	now := s.Now()
	k := &store.RequestKey{
		ProjectID: r.ProjectID,
		Key:       r.Key,
		Route:     r.Route,
		BodyHash:  r.BodyHash,
		Token:     herald.NewID("rk"),
		CreatedAt: now,
	}
	held, err := s.st.ClaimRequestKey(ctx, k, now.Add(-store.IdempotencyWindow), now.Add(-RequestKeyLease))
	switch {
	case err != nil:
		return nil, nil, err
	case held == nil:
		return &KeyClaim{s: s, k: k}, nil, nil
	case held.Route != k.Route:
		return nil, nil, herald.Errorf(herald.ECONFLICT, "idempotency key %q was used on another route", herald.Clip(r.Key)).WithKind(herald.KindIdempotencyConflict)
	case held.BodyHash != k.BodyHash:
		return nil, nil, herald.Errorf(herald.ECONFLICT, "idempotency key %q was used with a different body", herald.Clip(r.Key)).WithKind(herald.KindIdempotencyConflict)
	case held.Status == 0:
		return nil, nil, herald.Errorf(herald.ECONFLICT, "a request with idempotency key %q is still running; repeat it in a moment for its answer", herald.Clip(r.Key)).WithKind(herald.KindIdempotencyInProgress)
	}
	return nil, &Response{Status: held.Status, ResourceID: held.ResourceID, Body: held.Body}, nil
}

// Finish remembers the answer of the claim's request, which succeeded (a
// status under 400; any other is Released instead). It runs even when ctx
// is canceled: the request acted, and a repeat must know it.
func (c *KeyClaim) Finish(ctx context.Context, r Response) error {
	if r.Status >= 400 {
		return c.Release(ctx)
	}
	c.k.Status, c.k.ResourceID, c.k.Body = r.Status, r.ResourceID, r.Body
	return c.s.st.FinishRequestKey(context.WithoutCancel(ctx), c.k)
}

// Release frees the key of a request that failed, so that it can be sent
// again (corrected) under the same key. It runs even when ctx is
// canceled.
func (c *KeyClaim) Release(ctx context.Context) error {
	return c.s.st.ReleaseRequestKey(context.WithoutCancel(ctx), c.k.ProjectID, c.k.Key, c.k.Token)
}
