package api

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/testkit"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestEventTypes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	base := "/v1/projects/" + p + "/event-types"
	schema := map[string]any{"type": "object", "required": []string{"user_id"}, "properties": map[string]any{"user_id": map[string]any{"type": "string"}}}
	m := b.do("POST", base, key, map[string]any{"name": "user.created", "description": "A user signed up", "schema": schema, "example": map[string]any{"user_id": "u_1"}}).requireStatus(t, http.StatusCreated).obj(t)
	assert.Equal(t, "user.created", m["name"])
	assert.Equal(t, map[string]any{"user_id": "u_1"}, m["example"])

	b.do("POST", base, key, map[string]any{"name": "user.created"}).requireStatus(t, http.StatusConflict).problem(t)
	b.do("POST", base, key, map[string]any{"name": "user created"}).requireField(t, "body.name")
	b.do("POST", base, key, map[string]any{}).requireField(t, "body.name")
	b.do("POST", base, key, map[string]any{"name": "a", "schema": map[string]any{"type": 12}}).requireField(t, "body.schema")
	b.do("POST", base, key, map[string]any{"name": "a", "schema": "not a schema"}).requireField(t, "body.schema")
	b.do("POST", base, key, map[string]any{"name": "a", "example": []int{1}}).requireField(t, "body.example")
	b.do("POST", base, key, map[string]any{"name": "a", "schema": schema, "example": map[string]any{"user_id": 5}}).requireField(t, "body.example.user_id")
	b.do("POST", base, key, map[string]any{"name": "a", "schema": schema, "example": map[string]any{}}).requireField(t, "body.example")
	b.do("POST", base, key, map[string]any{"name": "a", "description": strings.Repeat("x", 5000)}).requireField(t, "body.description")

	got := b.do("GET", base+"/user.created", key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "A user signed up", got["description"])
	b.do("GET", base+"/nope", key, nil).requireStatus(t, http.StatusNotFound).problem(t)

	// PATCH: only the given fields; null clears.
	u := b.do("PATCH", base+"/user.created", key, map[string]any{"description": "Signed up"}).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, "Signed up", u["description"])
	assert.Equal(t, got["schema"], u["schema"])
	b.do("PATCH", base+"/user.created", key, map[string]any{"example": map[string]any{"user_id": 1}}).requireField(t, "body.example.user_id")
	u = b.do("PATCH", base+"/user.created", key, `{"schema":null}`).requireStatus(t, http.StatusOK).obj(t)
	assert.NotContains(t, u, "schema")
	assert.Contains(t, u, "example")
	b.do("PATCH", base+"/user.created", key, map[string]any{"name": "user.renamed"}).requireField(t, "body.name")

	list := b.do("GET", base, key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Len(t, list["data"], 1)
	assert.Nil(t, list["next_cursor"])

	b.do("DELETE", base+"/user.created", key, nil).requireStatus(t, http.StatusNoContent)
	b.do("DELETE", base+"/user.created", key, nil).requireStatus(t, http.StatusNotFound)
}

func TestIngestIsDurableAndCountsDeliveries(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.endpoint(p, key, map[string]any{"url": "https://example.com/a", "event_types": []string{"user.*"}})
	b.endpoint(p, key, map[string]any{"url": "https://example.com/b"})
	b.endpoint(p, key, map[string]any{"url": "https://example.com/c", "event_types": []string{"order.paid"}})
	r := b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "user.created", "data": map[string]any{"user_id": "u_1"}, "channels": []string{"acct_42"}})
	m := r.requireStatus(t, http.StatusAccepted).obj(t)
	assert.Regexp(t, `^evt_`, m["id"])
	assert.Equal(t, "user.created", m["type"])
	assert.EqualValues(t, 2, m["deliveries"])
	assert.NotEmpty(t, m["created_at"])
	assert.Empty(t, r.Header.Get("Idempotent-Replayed"))

	ev := b.do("GET", "/v1/projects/"+p+"/events/"+m["id"].(string), key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Equal(t, map[string]any{"user_id": "u_1"}, ev["data"])
	assert.Equal(t, []any{"acct_42"}, ev["channels"])
	assert.Len(t, ev["deliveries"], 2)
}

func TestIngestIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/v1/projects/" + p + "/events"
	body := `{"type":"user.created","data":{"user_id":"u_1"}}`
	first := b.do("POST", path, key, body, "Idempotency-Key", "k1").requireStatus(t, http.StatusAccepted).obj(t)
	again := b.do("POST", path, key, body, "Idempotency-Key", "k1").requireStatus(t, http.StatusOK)
	assert.Equal(t, "true", again.Header.Get("Idempotent-Replayed"))
	assert.Equal(t, first["id"], again.obj(t)["id"])

	b.do("POST", path, key, `{"type":"user.created","data":{"user_id":"u_2"}}`, "Idempotency-Key", "k1").requireStatus(t, http.StatusConflict).problem(t)

	// The body's id is the key when there is no header.
	withID := `{"id":"client-1","type":"user.created","data":{}}`
	a := b.do("POST", path, key, withID).requireStatus(t, http.StatusAccepted).obj(t)
	r := b.do("POST", path, key, withID).requireStatus(t, http.StatusOK)
	assert.Equal(t, a["id"], r.obj(t)["id"])

	b.do("POST", path, key, body, "Idempotency-Key", strings.Repeat("k", 256)).requireField(t, "header.Idempotency-Key")
}

func TestIngestValidation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/v1/projects/" + p + "/events"
	b.do("POST", path, key, map[string]any{"type": "a"}).requireField(t, "body.data")
	b.do("POST", path, key, map[string]any{"type": "a", "data": []int{1}}).requireField(t, "body.data")
	b.do("POST", path, key, map[string]any{"type": "a", "data": "x"}).requireField(t, "body.data")
	b.do("POST", path, key, map[string]any{"data": map[string]any{}}).requireField(t, "body.type")
	b.do("POST", path, key, map[string]any{"type": "a b", "data": map[string]any{}}).requireField(t, "body.type")
	b.do("POST", path, key, map[string]any{"type": "a", "data": map[string]any{}, "colour": 1}).requireField(t, "body.colour")
	b.do("POST", path, key, map[string]any{"type": "a", "data": map[string]any{}, "occurred_at": "noon"}).requireField(t, "body.occurred_at")
	b.do("POST", path, key, map[string]any{"type": "a", "data": map[string]any{}, "id": strings.Repeat("i", 256)}).requireField(t, "body.id")

	// A schema applies to the data.
	b.do("POST", "/v1/projects/"+p+"/event-types", key, map[string]any{"name": "user.created", "schema": map[string]any{"type": "object", "required": []string{"user_id"}}}).requireStatus(t, http.StatusCreated)
	b.do("POST", path, key, map[string]any{"type": "user.created", "data": map[string]any{}}).requireField(t, "body.data")

	// Strict projects refuse undeclared types.
	b.do("PATCH", "/v1/projects/"+p, b.admin, map[string]any{"strict_event_types": true}).requireStatus(t, http.StatusOK)
	b.do("POST", path, key, map[string]any{"type": "undeclared", "data": map[string]any{}}).requireField(t, "body.type")
}

func TestBodyOverLimitIs413(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *Config) { c.MaxBodyBytes = 1024 })
	p, key := b.project("shop")
	big := fmt.Sprintf(`{"type":"a","data":{"x":%q}}`, strings.Repeat("x", 2000))
	b.do("POST", "/v1/projects/"+p+"/events", key, big).requireStatus(t, http.StatusRequestEntityTooLarge).problem(t)
	b.do("POST", "/v1/projects/"+p+"/endpoints", key, big).requireStatus(t, http.StatusRequestEntityTooLarge).problem(t)
	b.do("POST", "/v1/projects/"+p+"/hooks/a", key, big).requireStatus(t, http.StatusRequestEntityTooLarge).problem(t)

	// The batch route takes more, but each event stays within the limit.
	batch := fmt.Sprintf(`{"events":[%s,{"type":"a","data":{}}]}`, big)
	r := b.do("POST", "/v1/projects/"+p+"/events/batch", key, batch).requireStatus(t, http.StatusAccepted).obj(t)
	items := r["data"].([]any)
	require.Len(t, items, 2)
	assert.EqualValues(t, 413, items[0].(map[string]any)["error"].(map[string]any)["status"])
	assert.Contains(t, items[1], "id")
	huge := fmt.Sprintf(`{"events":[{"type":"a","data":{"x":%q}}]}`, strings.Repeat("x", 1024*BatchBodyFactor))
	b.do("POST", "/v1/projects/"+p+"/events/batch", key, huge).requireStatus(t, http.StatusRequestEntityTooLarge)
}

func TestIngestBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	b.endpoint(p, key, map[string]any{"url": "https://example.com/a"})
	path := "/v1/projects/" + p + "/events/batch"
	body := map[string]any{"events": []any{
		map[string]any{"type": "a", "data": map[string]any{"n": 1}},
		map[string]any{"type": "a"},
		map[string]any{"type": "b", "data": map[string]any{}, "id": "c-1"},
		"garbage",
	}}
	m := b.do("POST", path, key, body, "Idempotency-Key", "batch-1").requireStatus(t, http.StatusAccepted).obj(t)
	items := m["data"].([]any)
	require.Len(t, items, 4)
	first := items[0].(map[string]any)
	assert.Regexp(t, `^evt_`, first["id"])
	assert.EqualValues(t, 1, first["deliveries"])
	e1 := items[1].(map[string]any)["error"].(map[string]any)
	assert.EqualValues(t, 422, e1["status"])
	assert.Equal(t, "body.events[1].data", e1["errors"].([]any)[0].(map[string]any)["location"])
	assert.Contains(t, items[2], "id")
	assert.EqualValues(t, 422, items[3].(map[string]any)["error"].(map[string]any)["status"])

	// The same batch again creates nothing new: item ids, or header:index.
	again := b.do("POST", path, key, body, "Idempotency-Key", "batch-1").requireStatus(t, http.StatusAccepted).obj(t)
	items2 := again["data"].([]any)
	assert.Equal(t, first["id"], items2[0].(map[string]any)["id"])
	assert.Equal(t, true, items2[0].(map[string]any)["replayed"])
	assert.Equal(t, items[2].(map[string]any)["id"], items2[2].(map[string]any)["id"])

	b.do("POST", path, key, map[string]any{"events": []any{}}).requireField(t, "body.events")
	b.do("POST", path, key, map[string]any{}).requireField(t, "body.events")
	b.do("POST", path, key, map[string]any{"events": "x"}).requireField(t, "body.events")
	tooMany := make([]any, herald.EventBatchMaxLen+1)
	for i := range tooMany {
		tooMany[i] = map[string]any{"type": "a", "data": map[string]any{}}
	}
	b.do("POST", path, key, map[string]any{"events": tooMany}).requireField(t, "body.events")
}

func TestListEventsFiltersAndPaginates(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/v1/projects/" + p + "/events"
	for i := range 5 {
		typ := "user.created"
		if i%2 == 1 {
			typ = "order.paid"
		}
		b.do("POST", path, key, map[string]any{"type": typ, "data": map[string]any{"i": i}}).requireStatus(t, http.StatusAccepted)
	}
	all := b.do("GET", path, key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Len(t, all["data"], 5)
	users := b.do("GET", path+"?type=user.created", key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Len(t, users["data"], 3)
	for _, e := range users["data"].([]any) {
		assert.Equal(t, "user.created", e.(map[string]any)["type"])
	}
	page := b.do("GET", path+"?limit=2", key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Len(t, page["data"], 2)
	require.NotNil(t, page["next_cursor"])
	next := b.do("GET", path+"?limit=2&cursor="+page["next_cursor"].(string), key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Len(t, next["data"], 2)
	assert.NotEqual(t, page["data"].([]any)[0], next["data"].([]any)[0])
	// Newest first.
	ids := []string{}
	for _, e := range all["data"].([]any) {
		ids = append(ids, e.(map[string]any)["id"].(string))
	}
	assert.IsDecreasing(t, ids)

	b.do("GET", path+"?since=yesterday", key, nil).requireField(t, "query.since")
	b.do("GET", path+"?until=1", key, nil).requireField(t, "query.until")
	b.do("GET", path+"?limit=0", key, nil).requireField(t, "query.limit")
	b.do("GET", path+"/evt_nope", key, nil).requireStatus(t, http.StatusNotFound)
}

func TestReplayEvent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": "https://example.com/a"})
	b.endpoint(p, key, map[string]any{"url": "https://example.com/b"})
	ev := b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}}).requireStatus(t, http.StatusAccepted).obj(t)
	path := "/v1/projects/" + p + "/events/" + ev["id"].(string) + "/replay"
	r := b.do("POST", path, key, nil).requireStatus(t, http.StatusAccepted).obj(t)
	assert.EqualValues(t, 2, r["deliveries"])
	r = b.do("POST", path, key, map[string]any{"endpoint_id": ep["id"]}).requireStatus(t, http.StatusAccepted).obj(t)
	assert.EqualValues(t, 1, r["deliveries"])
	b.do("POST", path, key, map[string]any{"endpoint_id": "ep_nope"}).requireField(t, "body.endpoint_id")
	b.do("POST", "/v1/projects/"+p+"/events/evt_nope/replay", key, nil).requireStatus(t, http.StatusNotFound)
}

func TestDeliveriesAndRetry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	rc := testkit.NewReceiver(t, testkit.Status(http.StatusOK))
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": rc.URL + "/hook"})
	ev := b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}}).requireStatus(t, http.StatusAccepted).obj(t)

	base := "/v1/projects/" + p + "/deliveries"
	list := b.do("GET", base+"?event_id="+ev["id"].(string), key, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Len(t, list["data"], 1)
	d := list["data"].([]any)[0].(map[string]any)
	assert.Equal(t, ep["id"], d["endpoint_id"])
	id := d["id"].(string)

	// The dispatcher delivers it.
	testkit.WaitFor(t, "the delivery to succeed", func() bool {
		got := b.do("GET", base+"/"+id, key, nil).requireStatus(t, http.StatusOK).obj(t)
		return got["status"] == "succeeded"
	})
	succeeded := b.do("GET", base+"?status=succeeded&endpoint_id="+ep["id"].(string), key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Len(t, succeeded["data"], 1)
	none := b.do("GET", base+"?status=exhausted", key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.Len(t, none["data"], 0)

	a := b.do("POST", base+"/"+id+"/retry", key, nil).requireStatus(t, http.StatusOK).obj(t)
	assert.EqualValues(t, 200, a["response_status"])
	assert.Equal(t, "manual", a["trigger"])

	atts := b.do("GET", base+"/"+id+"/attempts", key, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Len(t, atts["data"], 2)
	assert.EqualValues(t, 1, atts["data"].([]any)[0].(map[string]any)["attempt"], "oldest first")
	one := b.do("GET", base+"/"+id+"/attempts?limit=1", key, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Len(t, one["data"], 1)
	rest := b.do("GET", base+"/"+id+"/attempts?limit=1&cursor="+one["next_cursor"].(string), key, nil).requireStatus(t, http.StatusOK).obj(t)
	require.Len(t, rest["data"], 1)
	assert.Nil(t, rest["next_cursor"])
	assert.Equal(t, atts["data"].([]any)[1], rest["data"].([]any)[0])

	b.do("GET", base+"?status=lost", key, nil).requireField(t, "query.status")
	b.do("GET", base+"/dlv_nope", key, nil).requireStatus(t, http.StatusNotFound)
	b.do("GET", base+"/dlv_nope/attempts", key, nil).requireStatus(t, http.StatusNotFound)
	b.do("POST", base+"/dlv_nope/retry", key, nil).requireStatus(t, http.StatusNotFound)
	b.do("POST", base+"/"+id+"/retry", key, map[string]any{"force": true}).requireField(t, "body.force")
}

func TestSubscribeCompatibilityRoute(t *testing.T) {
	t.Parallel()
	b := setup(t)
	p, key := b.project("shop")
	path := "/projects/" + p + "/events/user.created/webhooks"
	r := b.do("POST", path, key, map[string]any{"url": "https://example.com/hook"}).requireStatus(t, http.StatusOK)
	assert.JSONEq(t, `{}`, string(r.Body))
	b.do("POST", path, key, map[string]any{"url": "https://example.com/hook"}).requireStatus(t, http.StatusOK)
	eps := b.do("GET", "/v1/projects/"+p+"/endpoints", key, nil).obj(t)["data"].([]any)
	require.Len(t, eps, 1, "the same subscription is not duplicated")
	assert.Equal(t, []any{"user.created"}, eps[0].(map[string]any)["event_types"])

	b.do("POST", path, key, map[string]any{"url": "https://example.com/" + strings.Repeat("a", 490)}).requireField(t, "body.url")
	b.do("POST", path, key, map[string]any{"url": "nope"}).requireField(t, "body.url")
	b.do("POST", path, key, map[string]any{}).requireField(t, "body.url")
	b.do("POST", "/projects/"+p+"/events/bad%20type/webhooks", key, map[string]any{"url": "https://example.com/x"}).requireField(t, "path.event_type")
	b.do("POST", path, "", map[string]any{"url": "https://example.com/hook"}).requireStatus(t, http.StatusUnauthorized)
	_, otherKey := b.project("other")
	b.do("POST", path, otherKey, map[string]any{"url": "https://example.com/hook"}).requireStatus(t, http.StatusNotFound)
}
