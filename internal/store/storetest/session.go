package storetest

import (
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// revokedSessions: RevokeSession's record is seen by SessionRevoked until
// its expiry, and only for its id.
func (s *suite) revokedSessions(t *testing.T) {
	b := s.setup(t)
	revoked, err := b.st.SessionRevoked(b.ctx, "sess_a")
	require.NoError(t, err)
	require.False(t, revoked, "nothing revoked yet")

	require.NoError(t, b.st.RevokeSession(b.ctx, "sess_a", time.Now().Add(12*time.Hour)))
	require.NoError(t, b.st.RevokeSession(b.ctx, "sess_a", time.Now().Add(time.Hour)), "revoking twice is no error")
	revoked, err = b.st.SessionRevoked(b.ctx, "sess_a")
	require.NoError(t, err)
	require.True(t, revoked)
	revoked, err = b.st.SessionRevoked(b.ctx, "sess_b")
	require.NoError(t, err)
	require.False(t, revoked, "another session")

	// A record past its expiry no longer counts (the cookie has expired).
	require.NoError(t, b.st.RevokeSession(b.ctx, "sess_old", time.Now().Add(-time.Minute)))
	revoked, err = b.st.SessionRevoked(b.ctx, "sess_old")
	require.NoError(t, err)
	require.False(t, revoked)
}

// attemptRequestBody: an attempt's request body and its truncation flag
// round-trip, through InsertEvents and CompleteAttempts alike; an attempt
// without one reads back without one.
func (s *suite) attemptRequestBody(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	_, ds := b.enqueue(t, b.now, ep, ep)
	require.Len(t, b.claim(t, store.ClaimParams{Now: b.now, Lease: time.Hour}), 2)
	sent := newAttempt(ds[0], 1, b.now, 200, 5)
	sent.RequestBody, sent.RequestBodyTruncated = `{"type":"user.created","name":"Zoë"}`, true
	plain := newAttempt(ds[1], 1, b.now, 200, 5)
	require.NoError(t, b.st.CompleteAttempts(b.ctx, []*store.AttemptResult{
		{Attempt: sent, Status: herald.DeliverySucceeded},
		{Attempt: plain, Status: herald.DeliverySucceeded},
	}))
	as, err := b.st.ListAttempts(b.ctx, b.project.ID, ds[0].ID)
	require.NoError(t, err)
	require.Len(t, as, 1)
	require.Equal(t, sent.RequestBody, as[0].RequestBody)
	require.True(t, as[0].RequestBodyTruncated)
	as, err = b.st.ListAttempts(b.ctx, b.project.ID, ds[1].ID)
	require.NoError(t, err)
	require.Len(t, as, 1)
	require.Empty(t, as[0].RequestBody)
	require.False(t, as[0].RequestBodyTruncated)

	// A stored hook run's attempts go in through InsertEvents.
	ev := b.newEvent("before_signup", b.now)
	d := newDelivery(ev, ep, b.now)
	d.Status = herald.DeliverySucceeded
	hook := newAttempt(d, 1, b.now, 200, 3)
	hook.RequestBody = `{"hook":true}`
	b.insert(t, &store.NewEvent{Event: ev, Deliveries: []*herald.Delivery{d}, Attempts: []*herald.Attempt{hook}})
	as, err = b.st.ListEndpointAttempts(b.ctx, b.project.ID, ep.ID, 10)
	require.NoError(t, err)
	found := false
	for _, a := range as {
		if a.ID == hook.ID {
			found = true
			require.Equal(t, hook.RequestBody, a.RequestBody)
			require.False(t, a.RequestBodyTruncated)
		}
	}
	require.True(t, found, "the hook run's attempt is listed")
}
