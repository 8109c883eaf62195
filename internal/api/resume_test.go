package api

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/require"
)

// Enabling an endpoint means "try it now": a circuit breaker that opened
// before the endpoint was disabled does not hold its new deliveries back
// until its cooldown (30 s by default).
func TestEnablingAnEndpointClosesItsBreaker(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var code atomic.Int64
	code.Store(http.StatusInternalServerError)
	rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(code.Load())) }))
	t.Cleanup(rc.Close)
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": rc.URL, "retry_schedule": []string{}})
	path := "/v1/projects/" + p + "/endpoints/" + ep["id"].(string)
	for range 10 { // the default threshold: the breaker opens
		b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}}).requireStatus(t, http.StatusAccepted)
	}
	testkit.WaitFor(t, "the breaker to open", func() bool {
		return b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)["status"] == herald.EndpointFailing
	})

	b.do("PATCH", path, key, map[string]any{"enabled": false}).requireStatus(t, http.StatusOK)
	code.Store(http.StatusOK)
	b.do("PATCH", path, key, map[string]any{"enabled": true}).requireStatus(t, http.StatusOK)
	ev := b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}}).requireStatus(t, http.StatusAccepted).obj(t)
	testkit.WaitFor(t, "the new event delivered well before the breaker's cooldown", func() bool {
		ds, _, err := b.store.ListDeliveries(t.Context(), p, store.DeliveryFilter{EventID: ev["id"].(string)}, store.Page{Limit: 10})
		require.NoError(t, err)
		return len(ds) == 1 && ds[0].Status == herald.DeliverySucceeded
	})
}
