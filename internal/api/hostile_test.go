package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/internal/hook"
	"github.com/herald-dev/herald/internal/testkit"
	"github.com/stretchr/testify/require"
)

// TestHostileInputNeverGives500 throws malformed bodies, every known field
// with values of every JSON type, bad path values and bad query strings at
// every route: the answer is always a 2xx or a 4xx, never a 5xx.
func TestHostileInputNeverGives500(t *testing.T) {
	t.Parallel()
	var runner *hook.Runner
	b := setup(t, func(c *Config) {
		c.Hooks = func(ctx context.Context, p *herald.Project, eventType string, body []byte) (any, error) {
			res, err := runner.RunJSON(ctx, p, eventType, body)
			if err != nil {
				return nil, err
			}
			return res, nil
		}
	})
	runner = hook.New(b.engine, hook.Config{Logger: discard})
	rc := testkit.NewReceiver(t, testkit.Status(http.StatusOK))
	p, key := b.project("shop")
	ep := b.endpoint(p, key, map[string]any{"url": rc.URL})
	ev := b.do("POST", "/v1/projects/"+p+"/events", key, map[string]any{"type": "a", "data": map[string]any{}}).requireStatus(t, http.StatusAccepted).obj(t)
	dl := b.do("GET", "/v1/projects/"+p+"/deliveries", key, nil).obj(t)["data"].([]any)[0].(map[string]any)
	b.do("POST", "/v1/projects/"+p+"/event-types", key, map[string]any{"name": "a"}).requireStatus(t, http.StatusCreated)

	values := []string{`1`, `-1.5e400`, `"x"`, `""`, `true`, `null`, `[]`, `[null,1,"a"]`, `{}`, `{"a":{"b":[1]}}`, `"\u0000\ud800"`, `"` + strings.Repeat("a", 3000) + `"`}
	malformed := []string{"", "null", "[]", "{", "}", `{"a":}`, "\x00\xff\xfe", `"str"`, "123", strings.Repeat("[", 20000), `{"zzz_unknown":1}`}
	for _, v := range values {
		malformed = append(malformed,
			`{"events":[`+v+`]}`, `{"events":[{"type":`+v+`,"data":`+v+`}]}`,
			`{"auth":{"basic":`+v+`}}`, `{"auth":{"basic":{"username":`+v+`,"password":`+v+`}}}`, `{"auth":{"bearer":`+v+`}}`,
			`{"retry_schedule":[`+v+`]}`, `{"headers":{"X-A":`+v+`}}`, `{"data":{"a":1},"type":"a","channels":[`+v+`],"metadata":{"k":`+v+`}}`)
	}
	pathValues := map[string][]string{
		"project":    {p, "nope", strings.Repeat("p", 300), "%00", "%ff", "..%2f"},
		"id":         {ep["id"].(string), ev["id"].(string), dl["id"].(string), "x", strings.Repeat("i", 300), "%00"},
		"name":       {"a", "a%20b", strings.Repeat("n", 300)},
		"event_type": {"a", "a%20b", strings.Repeat("e", 300), "%2e%2e"},
	}
	queries := []string{"", "?limit=abc&cursor=%ff%fe&since=x&until=y&status=z&type=%00", "?limit=99999999999999999999", "?cursor=" + strings.Repeat("c", 600), "?since=-5h", "?%zz"}

	type job struct{ method, path, body string }
	var jobs []job
	for _, rt := range b.server.routes {
		if rt.path == "/metrics" {
			continue // the Prometheus handler, not ours
		}
		paths := expand(rt.path, pathValues)
		for _, path := range paths {
			for _, q := range queries {
				jobs = append(jobs, job{rt.method, path + q, "{}"})
			}
		}
		if rt.method != "POST" && rt.method != "PATCH" {
			continue
		}
		// Bodies go to the real resources (the first path); each field of
		// the route's request schema gets a value of every JSON type.
		bodies := malformed
		for _, f := range bodyFields(t, rt.method, rt.path) {
			for _, v := range values {
				bodies = append(bodies, fmt.Sprintf(`{%q:%s}`, f, v))
			}
		}
		for _, body := range bodies {
			jobs = append(jobs, job{rt.method, paths[0], body})
		}
	}
	t.Logf("%d requests", len(jobs))

	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	ch := make(chan job)
	// Two clients: enough to overlap requests; more only queue on
	// SQLite's single writer.
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range ch {
				status, body := rawDo(b, j.method, j.path, key, j.body)
				if status >= 500 || status == 0 {
					mu.Lock()
					failures = append(failures, fmt.Sprintf("%s %s %.200q → %d %s", j.method, j.path, j.body, status, body))
					mu.Unlock()
				}
			}
		}()
	}
	for _, j := range jobs {
		ch <- j
	}
	close(ch)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d requests answered 5xx, e.g.:\n%s", len(failures), strings.Join(failures[:min(len(failures), 20)], "\n"))
	}
}

// expand substitutes each combination of path values into a pattern with
// at most two wildcards; it keeps the list short by pairing the project's
// values with the first value of the other wildcard and vice versa.
func expand(pattern string, values map[string][]string) []string {
	var wild []string
	for name := range values {
		if strings.Contains(pattern, "{"+name+"}") {
			wild = append(wild, name)
		}
	}
	if len(wild) == 0 {
		return []string{pattern}
	}
	sort.Strings(wild)
	var out []string
	for i, name := range wild {
		for _, v := range values[name] {
			path := strings.ReplaceAll(pattern, "{"+name+"}", v)
			for j, other := range wild {
				if j != i {
					path = strings.ReplaceAll(path, "{"+other+"}", values[other][0])
				}
			}
			out = append(out, path)
		}
	}
	return out
}

// rawDo sends a request without the test helpers' assertions (it runs on
// other goroutines).
func rawDo(b *bundle, method, path, key, body string) (int, string) {
	req, err := http.NewRequest(method, b.url+path, strings.NewReader(body))
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+key)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer res.Body.Close()
	var buf strings.Builder
	_, _ = fmt.Fprint(&buf, res.Header.Get("Content-Type"))
	data := make([]byte, 300)
	n, _ := res.Body.Read(data)
	return res.StatusCode, buf.String() + " " + string(data[:n])
}

// bodyFields returns the property names of the request body schema the
// OpenAPI document gives the operation.
func bodyFields(t *testing.T, method, path string) []string {
	t.Helper()
	var doc map[string]any
	require.NoError(t, json.Unmarshal(openapiDoc, &doc))
	get := func(v any, keys ...string) any {
		for _, k := range keys {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
	schema := get(doc, "paths", path, strings.ToLower(method), "requestBody", "content", "application/json", "schema")
	if ref, ok := get(schema, "$ref").(string); ok {
		schema = get(doc, "components", "schemas", strings.TrimPrefix(ref, "#/components/schemas/"))
	}
	props, _ := get(schema, "properties").(map[string]any)
	var out []string
	for n := range props {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
