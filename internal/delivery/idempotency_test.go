package delivery

import (
	"encoding/json"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/testkit"
)

// The receiver sees the Idempotency-Key the event was sent with: in the
// envelope (omitted when there is none) and in a body template's input.
func TestEnvelopeCarriesTheIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	plain, templated := testkit.NewReceiver(t, nil), testkit.NewReceiver(t, nil)
	b.endpoint(plain.URL, nil)
	b.endpoint(templated.URL, func(ep *herald.Endpoint) { ep.BodyTemplate = `{key: .idempotency_key}` })
	b.run(b.e)

	res, err := b.e.Ingest(b.ctx, b.project, []EventInput{
		{Type: "order.paid", Data: json.RawMessage(`{}`), IdempotencyKey: "order-42-paid", BodyHash: "h1"},
		{Type: "order.paid", Data: json.RawMessage(`{}`)},
	})
	if err != nil || res[0].Err != nil || res[1].Err != nil {
		t.Fatalf("ingest: %v %+v", err, res)
	}
	testkit.WaitFor(t, "both events at both receivers", func() bool { return plain.Count() == 2 && templated.Count() == 2 })

	keys := map[string]any{} // webhook-id → the envelope's idempotency_key (nil: absent)
	for _, r := range plain.Requests() {
		var env map[string]any
		if err := json.Unmarshal(r.Body, &env); err != nil {
			t.Fatal(err)
		}
		keys[r.Header.Get("webhook-id")] = env["idempotency_key"]
	}
	if keys[res[0].Event.ID] != "order-42-paid" {
		t.Errorf("envelope idempotency_key = %v, want order-42-paid", keys[res[0].Event.ID])
	}
	if k, ok := keys[res[1].Event.ID]; !ok || k != nil {
		t.Errorf("without a key the envelope has idempotency_key %v, want it omitted", k)
	}
	for _, r := range templated.Requests() {
		want := `{"key":null}`
		if r.Header.Get("webhook-id") == res[0].Event.ID {
			want = `{"key":"order-42-paid"}`
		}
		if string(r.Body) != want {
			t.Errorf("templated body %s, want %s", r.Body, want)
		}
	}
}
