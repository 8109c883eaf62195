package storetest

import (
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// traceParent: an event's trace context (Event.TraceParent) is stored with
// it and comes back with the event, in reads and in claims (attempts after
// a restart continue the ingest request's trace); an event without one
// reads back without one.
func (s *suite) traceParent(t *testing.T) {
	b := s.setup(t)
	ep := b.newEndpoint(t, nil)
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	traced, plain := b.newEvent("t", b.now), b.newEvent("t", b.now)
	traced.TraceParent = tp
	b.insert(t,
		&store.NewEvent{Event: traced, Deliveries: []*herald.Delivery{newDelivery(traced, ep, b.now)}},
		&store.NewEvent{Event: plain, Deliveries: []*herald.Delivery{newDelivery(plain, ep, b.now)}})

	got, err := b.st.GetEvent(b.ctx, b.project.ID, traced.ID)
	require.NoError(t, err)
	require.Equal(t, tp, got.TraceParent)
	got, err = b.st.GetEvent(b.ctx, b.project.ID, plain.ID)
	require.NoError(t, err)
	require.Empty(t, got.TraceParent)

	cs := b.claim(t, store.ClaimParams{Now: b.now})
	require.Len(t, cs, 2)
	for _, c := range cs {
		want := ""
		if c.Event.ID == traced.ID {
			want = tp
		}
		require.Equal(t, want, c.Event.TraceParent, "claimed event %s", c.Event.ID)
	}
}
