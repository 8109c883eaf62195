package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/stretchr/testify/require"
)

func TestDeliveryPageShowsTheTemplatedBodySent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rcv := receiver(t, 200)
	tpl := b.endpoint(t, b.a.ID, rcv.URL+"/tpl")
	tpl.BodyTemplate = `{kind: .type, who: .data.user_id}`
	require.NoError(t, b.st.UpdateEndpoint(context.Background(), tpl))
	b.eng.EndpointsChanged(b.a.ID)
	ev := b.ingest(t, b.a, "user.created", `{"user_id":"u_42"}`)
	d := b.waitDelivery(t, b.a.ID, ev.ID)

	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/deliveries/" + d.ID)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, "Body sent")
	require.Contains(t, p.Body, `&#34;who&#34;: &#34;u_42&#34;`, "the rendered body, pretty-printed")
	require.NotContains(t, p.Body, "request-body-cut")

	// An envelope's attempt shows no separate body: the event is it.
	plain := b.endpoint(t, b.b.ID, rcv.URL+"/plain")
	ev = b.ingest(t, b.b, "user.created", `{"user_id":"u_7"}`)
	d = b.waitDelivery(t, b.b.ID, ev.ID)
	require.Equal(t, plain.ID, d.EndpointID)
	bb := b.browser(t)
	bb.login(b.keyB)
	p = bb.get("/ui/p/prj_beta/deliveries/" + d.ID)
	require.Equal(t, http.StatusOK, p.Status)
	require.NotContains(t, p.Body, "Body sent")
}

func TestDeliveryPageSaysWhenTheBodySentWasCut(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ep := b.endpoint(t, b.a.ID, "http://127.0.0.1:9/tpl")
	now := time.Now().UTC()
	ev := &herald.Event{ID: herald.NewID(herald.PrefixEvent), ProjectID: b.a.ID, Type: "user.created",
		Data: json.RawMessage(`{}`), Channels: []string{}, Metadata: map[string]string{}, OccurredAt: now, CreatedAt: now}
	d := &herald.Delivery{ID: herald.NewID(herald.PrefixDelivery), ProjectID: b.a.ID, EventID: ev.ID, EndpointID: ep.ID,
		EventType: ev.Type, Status: herald.DeliverySucceeded, Attempts: 1, LastStatus: 200, CreatedAt: now, UpdatedAt: now}
	a := &herald.Attempt{ID: herald.NewID(herald.PrefixAttempt), ProjectID: b.a.ID, DeliveryID: d.ID, EventID: ev.ID,
		EndpointID: ep.ID, Number: 1, Trigger: herald.TriggerScheduled, StartedAt: now, RequestURL: ep.URL,
		RequestHeaders: map[string]string{}, ResponseStatus: 200,
		RequestBody: `{"pad":"` + strings.Repeat("x", 100), RequestBodyTruncated: true}
	_, err := b.st.InsertEvents(context.Background(), []*store.NewEvent{{Event: ev, Deliveries: []*herald.Delivery{d}, Attempts: []*herald.Attempt{a}}})
	require.NoError(t, err)

	br := b.loggedIn(t)
	p := br.get("/ui/p/prj_alpha/deliveries/" + d.ID)
	require.Equal(t, http.StatusOK, p.Status)
	require.Contains(t, p.Body, `{&#34;pad&#34;:&#34;xxxx`, "a cut body is shown as it is")
	require.Contains(t, p.Body, "Only the first 64 KiB are kept")
}
