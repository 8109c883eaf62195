package delivery

import (
	"encoding/json"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/store"
)

// An event holding bytes that are not UTF-8 text, or NULs, is refused with
// a field error (422) on both stores, and in a batch only that event is:
// the others are stored.
func TestIngestRefusesBadBytesPerEvent(t *testing.T) {
	t.Parallel()
	eachStore(t, nil, func(t *testing.T, b *testBundle, _ string) {
		in := []EventInput{
			{Type: "user.created", Data: json.RawMessage(`{"ok":true}`)},
			{Type: "user.created", Data: json.RawMessage("{\"name\":\"x\xff\xfe\"}")},
			{Type: "user.created", Data: json.RawMessage(`{}`), Channels: []string{"a\x00b"}},
			{Type: "user.created", Data: json.RawMessage(`{}`), Channels: []string{"acct\xff"}},
			{Type: "user.created", Data: json.RawMessage(`{}`), Metadata: map[string]string{"k": "v\xc3"}},
			{Type: "user.created", Data: json.RawMessage(`{}`), Metadata: map[string]string{"k\x00": "v"}},
			{Type: "user.created", Data: json.RawMessage(`{}`), ID: "id\xff"},
			{Type: "user.created", Data: json.RawMessage(`{"also":"ok \u00e9"}`)},
		}
		want := []string{"", "data", "channels[0]", "channels[0]", "metadata.k", "metadata", "id", ""}
		res, err := b.e.Ingest(b.ctx, b.project, in)
		if err != nil {
			t.Fatalf("the batch was refused whole: %v", err)
		}
		for i, r := range res {
			switch {
			case want[i] == "" && r.Err != nil:
				t.Errorf("event %d refused: %v", i, r.Err)
			case want[i] != "" && herald.ErrorCode(r.Err) != herald.EINVALID:
				t.Errorf("event %d: err %v, want invalid at %s", i, r.Err, want[i])
			case want[i] != "":
				if f := r.Err.(*herald.Error).Fields; len(f) != 1 || f[0].Location != want[i] {
					t.Errorf("event %d: fields %+v, want one at %s", i, f, want[i])
				}
			}
		}
		evs, _, err := b.st.ListEvents(b.ctx, b.project.ID, store.EventFilter{}, store.Page{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 2 {
			t.Errorf("events stored: %d, want 2", len(evs))
		}
	})
}
