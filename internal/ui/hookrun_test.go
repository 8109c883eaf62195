package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

// A denied hook run reads as denied (not as its calls' "succeeded") in the
// log and on its page, which offers no Replay; a replay posted anyway is
// refused.
func TestHookRunPageShowsTheVerdictAndNoReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:1/hook")
	now := time.Now().UTC()
	run := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: b.a.ID, Type: "before_registration",
		Data: json.RawMessage(`{}`), OccurredAt: now, CreatedAt: now, Hook: true,
		HookVerdict: &herald.HookVerdict{DeniedBy: ep.ID, Code: "not_found", Message: "Player not found"}}
	d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: b.a.ID, EventID: run.ID, EndpointID: ep.ID,
		EventType: run.Type, Status: herald.DeliverySucceeded, Attempts: 1, CreatedAt: now, UpdatedAt: now, SucceededAt: &now}
	_, err := b.st.InsertEvents(context.Background(), []*store.NewEvent{{Event: run, Deliveries: []*herald.Delivery{d}}})
	require.NoError(t, err)

	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/events")
	require.Contains(t, p.Body, `<span class="badge bad">denied · not_found</span>`)
	require.NotContains(t, p.Body, "1 succeeded")

	p = br.get("/ui/p/prj_alpha/events/" + run.ID)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, `id="verdict"`)
	require.Contains(t, p.Body, "Player not found")
	require.Contains(t, p.Body, ep.ID)
	require.NotContains(t, p.Body, `id="replay"`)

	p = br.post("/ui/p/prj_alpha/events/"+run.ID+"/replay", nil)
	p = br.follow(p)
	require.Contains(t, p.Body, "cannot be replayed")
}
