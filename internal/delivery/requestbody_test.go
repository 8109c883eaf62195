package delivery

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
	"github.com/herald-dev/herald/internal/testkit"
)

// attemptsOf waits for the endpoint's first attempt and returns them.
func (b *testBundle) attemptsOf(t *testing.T, ep *herald.Endpoint) []*herald.Attempt {
	t.Helper()
	var as []*herald.Attempt
	testkit.WaitFor(t, "an attempt of "+ep.ID, func() bool {
		var err error
		as, err = b.st.ListEndpointAttempts(b.ctx, b.project.ID, ep.ID, 10)
		if err != nil {
			t.Fatal(err)
		}
		return len(as) > 0
	})
	return as
}

func TestAttemptKeepsTheTemplatedBodyItSent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	templated := b.endpoint(rc.URL+"/templated", func(ep *herald.Endpoint) {
		ep.BodyTemplate = `{kind: .type, user: .data.user_id}`
	})
	plain := b.endpoint(rc.URL+"/plain", nil)
	b.run(b.e)
	b.ingest("user.created", `{"user_id":"u_1"}`)

	att := b.attemptsOf(t, templated)[0]
	if !att.Succeeded() {
		t.Fatalf("attempt failed: %+v", att)
	}
	var sent string
	for _, r := range rc.Requests() {
		if !strings.Contains(string(r.Body), `"data"`) {
			sent = string(r.Body)
		}
	}
	if sent == "" || att.RequestBody != sent {
		t.Errorf("stored request body %q, want the body sent %q", att.RequestBody, sent)
	}
	if att.RequestBodyTruncated {
		t.Error("a short body is marked truncated")
	}
	if got := b.attemptsOf(t, plain)[0]; got.RequestBody != "" || got.RequestBodyTruncated {
		t.Errorf("an envelope's attempt keeps a body: %q", got.RequestBody)
	}
}

func TestAttemptKeepsAtMost64KiBOfATemplatedBodyAndSaysItWasCut(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := testkit.NewReceiver(t, nil)
	// 100,000 two-byte characters: the cut falls inside one of them.
	ep := b.endpoint(rc.URL, func(ep *herald.Endpoint) { ep.BodyTemplate = `{pad: ("é" * 100000)}` })
	b.run(b.e)
	b.ingest("user.created", `{}`)

	att := b.attemptsOf(t, ep)[0]
	sent := string(rc.Requests()[0].Body)
	if len(sent) < 200000 {
		t.Fatalf("sent %d bytes, want the whole 200 KB body", len(sent))
	}
	if !att.RequestBodyTruncated {
		t.Error("a cut body is not marked truncated")
	}
	if n := len(att.RequestBody); n > RequestBodyMax || n < RequestBodyMax-utf8.UTFMax {
		t.Errorf("kept %d bytes, want at most and about %d", n, RequestBodyMax)
	}
	if !utf8.ValidString(att.RequestBody) || !strings.HasPrefix(sent, att.RequestBody) {
		t.Error("the kept body is not a valid UTF-8 prefix of the body sent")
	}
	ds := b.deliveries(store.DeliveryFilter{EndpointID: ep.ID})
	if len(ds) != 1 || ds[0].Status != herald.DeliverySucceeded {
		t.Errorf("deliveries %+v, want one succeeded", ds)
	}
}
