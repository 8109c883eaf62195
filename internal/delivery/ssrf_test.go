package delivery

import (
	"strings"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

// A name that resolves to loopback passes the creation-time check (it is
// not a literal address) but is refused when the connection is made, and
// the attempt is recorded with the error class ssrf_blocked.
func TestHostnameResolvingToLoopbackIsBlockedAtDelivery(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.AllowPrivateNetworks = false })
	rc := testkit.NewReceiver(t, nil)
	// The endpoint is stored directly (the API would refuse "localhost" by
	// name); what is tested is the dial-time guard, which sees only the
	// resolved address.
	url := strings.Replace(rc.URL, "127.0.0.1", "localhost", 1)
	ep := b.endpoint(url, func(ep *herald.Endpoint) { ep.RetrySchedule = nil })
	stop := b.run(b.e)
	defer stop()
	ev := b.ingest("user.created", `{"id":1}`)

	var d *herald.Delivery
	testkit.WaitFor(t, "the delivery to be exhausted", func() bool {
		ds := b.deliveries(store.DeliveryFilter{EventID: ev.Event.ID, EndpointID: ep.ID})
		if len(ds) == 1 && ds[0].Status == herald.DeliveryExhausted {
			d = ds[0]
			return true
		}
		return false
	})
	atts, err := b.st.ListAttempts(b.ctx, b.project.ID, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(atts) != 1 || atts[0].ErrorClass != herald.ErrorSSRFBlocked {
		t.Fatalf("attempts = %+v, want one with error class %q", atts, herald.ErrorSSRFBlocked)
	}
	if n := rc.Count(); n != 0 {
		t.Fatalf("the receiver on loopback got %d requests; the guard must refuse the connection", n)
	}
}
