package delivery

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/webhook"
)

// sendData makes one Send of an event with data to an endpoint at url
// whose body template is tpl.
func sendData(t *testing.T, b *testBundle, url, tpl, data string) *SendResult {
	t.Helper()
	ep := &herald.Endpoint{ID: herald.NewID(herald.PrefixEndpoint), ProjectID: b.project.ID, URL: url,
		Enabled: true, Secret: webhook.NewSecret(), ResponseMode: herald.ResponseWait,
		Timeout: herald.Duration(5 * time.Second), BodyTemplate: tpl}
	ev := testEvent(b.project.ID)
	ev.Data = json.RawMessage(data)
	return b.e.Send(context.Background(), SendRequest{Endpoint: ep, Event: ev, Attempt: 1})
}

func TestSendBodyTemplatePassesNumbersThroughExactly(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rc := newReceiver(t, nil)
	data := `{"big":12345678901234567890,"neg":-98765432109876543210,"price":1.10,"sci":1e2,"small":7}`
	res := sendData(t, b, rc.URL, `{data: .data, next: (.data.big + 1)}`, data)
	if !res.Attempt.Succeeded() {
		t.Fatalf("attempt failed: %+v", res.Attempt)
	}
	body := string(rc.requests()[0].Body)
	for _, want := range []string{`"big":12345678901234567890`, `"neg":-98765432109876543210`,
		`"price":1.10`, `"sci":1e2`, `"small":7`, `"next":12345678901234567891`} {
		if !strings.Contains(body, want) {
			t.Errorf("body %s lacks %s", body, want)
		}
	}
}
