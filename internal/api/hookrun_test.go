package api

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A stored hook run shows its verdict in the event API, and replaying it is
// refused with a 409 that says why.
func TestHookRunShowsItsVerdictAndRefusesReplay(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.endpoint(p, key, map[string]any{"url": "https://example.com/a"})
	now := time.Now().UTC()
	run := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: p, Type: "before_registration",
		Data: json.RawMessage(`{}`), OccurredAt: now, CreatedAt: now, Hook: true,
		HookVerdict: &herald.HookVerdict{DeniedBy: "ep_x", Code: "not_found", Message: "Player not found"}}
	_, err := b.store.InsertEvents(context.Background(), []*store.NewEvent{{Event: run}})
	require.NoError(t, err)

	path := "/v1/projects/" + p + "/events/" + run.ID
	got := b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, map[string]any{"allowed": false, "denied_by": "ep_x", "code": "not_found", "message": "Player not found"}, got["hook_verdict"])

	pr := b.do("POST", path+"/replay", key, nil).requireStatus(t, http.StatusConflict).problem(t)
	assert.Contains(t, pr.Detail, "hook run cannot be replayed")
	ds, _, err := b.store.ListDeliveries(context.Background(), p, store.DeliveryFilter{EventID: run.ID}, store.Page{Limit: 10})
	require.NoError(t, err)
	assert.Empty(t, ds, "a refused replay queues nothing")
}
