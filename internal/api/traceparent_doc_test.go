package api

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOpenAPIDocumentsTraceContextOnTracedRoutes: the routes whose
// requests start a span (ingest, batch ingest, hook runs) declare the W3C
// traceparent and tracestate headers, described, so that a generated
// client can send them; and the server takes those requests with the
// headers, valid or not, as the descriptions say (a bad value is ignored,
// never refused).
func TestOpenAPIDocumentsTraceContextOnTracedRoutes(t *testing.T) {
	t.Parallel()
	var doc struct {
		Paths      map[string]map[string]struct{ Parameters []map[string]any } `json:"paths"`
		Components struct {
			Parameters map[string]map[string]any `json:"parameters"`
		} `json:"components"`
	}
	require.NoError(t, json.Unmarshal(openapiDoc, &doc))
	for name, header := range map[string]string{"TraceParentParam": "traceparent", "TraceStateParam": "tracestate"} {
		p := doc.Components.Parameters[name]
		require.NotNil(t, p, "no component parameter %s", name)
		require.Equal(t, header, p["name"])
		require.Equal(t, "header", p["in"])
		require.Equal(t, false, p["required"])
		require.NotEmpty(t, p["description"], "%s has no description", name)
	}
	for _, path := range []string{"/v1/projects/{project}/events", "/v1/projects/{project}/events/batch", "/v1/projects/{project}/hooks/{event_type}"} {
		var refs []string
		for _, p := range doc.Paths[path]["post"].Parameters {
			if ref, ok := p["$ref"].(string); ok {
				refs = append(refs, ref)
			}
		}
		require.Subset(t, refs, []string{"#/components/parameters/TraceParentParam", "#/components/parameters/TraceStateParam"}, "POST %s", path)
	}

	b := setup(t, withHooks)
	project, key := b.project("shop")
	for _, tp := range []string{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "not a traceparent"} {
		hdr := []string{"traceparent", tp, "tracestate", "vendor=t61rcWkgMzE"}
		b.do("POST", "/v1/projects/"+project+"/events", key, map[string]any{"type": "order.paid", "data": map[string]any{}}, hdr...).requireStatus(t, 202)
		b.do("POST", "/v1/projects/"+project+"/events/batch", key, map[string]any{"events": []any{map[string]any{"type": "order.paid", "data": map[string]any{}}}}, hdr...).requireStatus(t, 202)
		b.do("POST", "/v1/projects/"+project+"/hooks/before_signup", key, map[string]any{"data": map[string]any{}}, hdr...).requireStatus(t, 200)
	}
}
