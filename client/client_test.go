package client

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
)

// seen is a request as the fake server received it.
type seen struct {
	Method string
	Path   string // escaped
	Query  string
	Header http.Header
	Body   string
}

// fake is a small stand-in for Herald: it records every request and
// answers with the responses queued, the last one repeating.
type fake struct {
	mu        sync.Mutex
	requests  []seen
	responses []response
}

type response struct {
	status int
	header map[string]string
	body   string
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.requests = append(f.requests, seen{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Clone(), string(body)})
	resp := f.responses[0]
	if len(f.responses) > 1 {
		f.responses = f.responses[1:]
	}
	f.mu.Unlock()
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	if resp.header["Content-Type"] == "" && resp.body != "" {
		w.Header().Set("Content-Type", "application/json")
	}
	w.WriteHeader(resp.status)
	_, _ = io.WriteString(w, resp.body)
}

func (f *fake) all() []seen {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]seen(nil), f.requests...)
}

// testBundle is a client wired to a fake server.
type testBundle struct {
	client *Client
	fake   *fake
	waits  *[]time.Duration // what the client asked to sleep before retries
}

func setup(t *testing.T, responses ...response) testBundle {
	t.Helper()
	f := &fake{responses: responses}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := New(srv.URL+"/", "hk_test_key")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	waits := &[]time.Duration{}
	c.sleepFunc = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	c.jitterFunc = func(d time.Duration) time.Duration { return d }
	return testBundle{client: c, fake: f, waits: waits}
}

// jsonEqual reports whether two JSON documents are equal as values.
func jsonEqual(t *testing.T, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("request body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad test: %q: %v", want, err)
	}
	return reflect.DeepEqual(g, w)
}

func TestNewRefusesBadBaseURL(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "127.0.0.1:8080", "ftp://h", "http://", "http://h/?x=1", "::"} {
		if _, err := New(u, "k"); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
}

func TestRequestsCarryAuthAndJSONHeaders(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 201, body: `{"id":"shop","name":"Shop","created_at":"2026-11-23T10:00:00Z","api_key":"hk_x"}`})
	if _, err := b.client.CreateProject(context.Background(), ProjectCreate{Name: "Shop"}); err != nil {
		t.Fatal(err)
	}
	h := b.fake.all()[0].Header
	for k, want := range map[string]string{
		"Authorization": "Bearer hk_test_key",
		"Content-Type":  "application/json",
		"User-Agent":    UserAgentDefault,
	} {
		if got := h.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(h.Get("Accept"), "application/problem+json") {
		t.Errorf("Accept = %q", h.Get("Accept"))
	}
}

func TestGetRequestsHaveNoBody(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 200, body: `{"id":"shop"}`})
	if _, err := b.client.GetProject(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	r := b.fake.all()[0]
	if r.Body != "" || r.Header.Get("Content-Type") != "" {
		t.Fatalf("GET sent body %q with Content-Type %q", r.Body, r.Header.Get("Content-Type"))
	}
}

func TestEmptyIdentifiersAreRefusedBeforeAnyRequest(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 200, body: `{}`})
	ctx := context.Background()
	errs := []error{
		func() error { _, err := b.client.GetProject(ctx, ""); return err }(),
		func() error { _, err := b.client.GetEndpoint(ctx, "p", ""); return err }(),
		b.client.DeleteEndpoint(ctx, "", "ep_1"),
		func() error { _, err := b.client.SendEvent(ctx, "", EventInput{Type: "t"}); return err }(),
		func() error { _, err := b.client.GetDelivery(ctx, "p", ""); return err }(),
	}
	for i, err := range errs {
		if err == nil {
			t.Errorf("call %d: no error", i)
		}
	}
	if n := len(b.fake.all()); n != 0 {
		t.Fatalf("%d requests sent", n)
	}
}

func TestSendEventAddsRandomIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 202, body: `{"id":"evt_1","type":"user.created","created_at":"2026-11-23T10:00:00Z","deliveries":2}`})
	ctx := context.Background()
	in := EventInput{Type: "user.created", Data: map[string]string{"user_id": "u_1"}}
	res, err := b.client.SendEvent(ctx, "shop", in)
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != "evt_1" || res.Deliveries != 2 || res.Replayed {
		t.Fatalf("result = %+v", res)
	}
	if _, err := b.client.SendEvent(ctx, "shop", in); err != nil {
		t.Fatal(err)
	}
	reqs := b.fake.all()
	k1, k2 := reqs[0].Header.Get("Idempotency-Key"), reqs[1].Header.Get("Idempotency-Key")
	if k1 == "" || k2 == "" || k1 == k2 {
		t.Fatalf("idempotency keys %q and %q: want two different random keys", k1, k2)
	}
	if reqs[0].Method != http.MethodPost || reqs[0].Path != "/v1/projects/shop/events" {
		t.Fatalf("request %s %s", reqs[0].Method, reqs[0].Path)
	}
	if !jsonEqual(t, reqs[0].Body, `{"type":"user.created","data":{"user_id":"u_1"}}`) {
		t.Fatalf("body = %s", reqs[0].Body)
	}
}

func TestSendEventKeepsCallersIdempotency(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 200, header: map[string]string{"Idempotent-Replayed": "true"}, body: `{"id":"evt_1","deliveries":1}`})
	ctx := context.Background()
	res, err := b.client.SendEvent(ctx, "shop", EventInput{Type: "t", Data: map[string]int{}, IdempotencyKey: "order-42"})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Replayed {
		t.Error("Idempotent-Replayed: true not reported")
	}
	// With a body id, the id is the idempotency key: no header is added.
	if _, err := b.client.SendEvent(ctx, "shop", EventInput{Type: "t", Data: map[string]int{}, ID: "order-43"}); err != nil {
		t.Fatal(err)
	}
	reqs := b.fake.all()
	if got := reqs[0].Header.Get("Idempotency-Key"); got != "order-42" {
		t.Errorf("Idempotency-Key = %q, want order-42", got)
	}
	if got, ok := reqs[1].Header["Idempotency-Key"]; ok {
		t.Errorf("Idempotency-Key = %q sent with a body id", got)
	}
	if !jsonEqual(t, reqs[1].Body, `{"type":"t","data":{},"id":"order-43"}`) {
		t.Errorf("body = %s", reqs[1].Body)
	}
}

func TestProblemIsDecodedIntoError(t *testing.T) {
	t.Parallel()
	b := setup(t, response{
		status: 422,
		header: map[string]string{"Content-Type": "application/problem+json"},
		body: `{"type":"https://herald.dev/problems/validation","title":"Unprocessable Entity","status":422,
			"detail":"validation failed","errors":[{"location":"body.url","message":"must be http or https","value":"ftp://x"}]}`,
	})
	_, err := b.client.CreateEndpoint(context.Background(), "shop", EndpointCreate{URL: "ftp://x"})
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		t.Fatalf("error %T %v, want *Error", err, err)
	}
	want := &Error{
		Status: 422, Type: "https://herald.dev/problems/validation", Title: "Unprocessable Entity", Detail: "validation failed",
		Errors: []FieldError{{Location: "body.url", Message: "must be http or https", Value: "ftp://x"}},
	}
	if !reflect.DeepEqual(apiErr, want) {
		t.Fatalf("error = %+v, want %+v", apiErr, want)
	}
	if got := err.Error(); got != "herald: 422 Unprocessable Entity: body.url: must be http or https" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestNonProblemErrorKeepsStatus(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 502, header: map[string]string{"Content-Type": "text/html"}, body: "<html>bad gateway</html>"})
	_, err := b.client.GetProject(context.Background(), "shop")
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != 502 || apiErr.Title != "Bad Gateway" || apiErr.Detail != "<html>bad gateway</html>" {
		t.Fatalf("error = %#v", err)
	}
}

func TestNotFoundIsNotRetried(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 404, body: `{"title":"Not Found","status":404}`})
	err := b.client.DeleteEndpoint(context.Background(), "shop", "ep_1")
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != 404 {
		t.Fatalf("error = %v", err)
	}
	if n := len(b.fake.all()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestRetryOn429HonoursRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t,
		response{status: 429, header: map[string]string{"Retry-After": "2"}, body: `{"title":"Too Many Requests","status":429}`},
		response{status: 202, body: `{"id":"evt_1","deliveries":0}`},
	)
	res, err := b.client.SendEvent(context.Background(), "shop", EventInput{Type: "t", Data: map[string]int{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.ID != "evt_1" {
		t.Fatalf("result = %+v", res)
	}
	reqs := b.fake.all()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2", len(reqs))
	}
	if !reflect.DeepEqual(*b.waits, []time.Duration{2 * time.Second}) {
		t.Fatalf("waits = %v, want [2s]", *b.waits)
	}
	// The retry is the same request: same idempotency key, same body.
	if reqs[0].Header.Get("Idempotency-Key") != reqs[1].Header.Get("Idempotency-Key") || reqs[0].Body != reqs[1].Body {
		t.Fatal("the retry differs from the first request")
	}
}

func TestRetryOn503BacksOffWithoutRetryAfter(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 503, body: `{"title":"Service Unavailable","status":503}`})
	_, err := b.client.ListProjects(context.Background(), ListOptions{})
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.Status != 503 {
		t.Fatalf("error = %v, want the 503", err)
	}
	if n := len(b.fake.all()); n != MaxRetriesDefault+1 {
		t.Fatalf("%d requests, want %d", n, MaxRetriesDefault+1)
	}
	want := []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second}
	if !reflect.DeepEqual(*b.waits, want) {
		t.Fatalf("waits = %v, want %v", *b.waits, want)
	}
}

func TestRetryAfterBeyondMaxWaitIsNotAwaited(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 429, header: map[string]string{"Retry-After": "3600"}, body: `{"status":429}`})
	_, err := b.client.ListProjects(context.Background(), ListOptions{})
	var apiErr *Error
	if !errors.As(err, &apiErr) || apiErr.RetryAfter != time.Hour {
		t.Fatalf("error = %#v, want a 429 with RetryAfter 1h", err)
	}
	if len(*b.waits) != 0 || len(b.fake.all()) != 1 {
		t.Fatalf("waited %v over %d requests", *b.waits, len(b.fake.all()))
	}
}

func TestWithMaxRetriesZeroDisablesRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 429, header: map[string]string{"Retry-After": "0"}, body: `{"status":429}`})
	WithMaxRetries(0)(b.client)
	if _, err := b.client.ListProjects(context.Background(), ListOptions{}); err == nil {
		t.Fatal("no error")
	}
	if n := len(b.fake.all()); n != 1 {
		t.Fatalf("%d requests, want 1", n)
	}
}

func TestRetryWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		once.Do(cancel) // the caller gives up while the client would wait
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	// The real sleep, an hour long: only the cancellation can end it.
	c, err := New(srv.URL, "k", WithMaxRetryWait(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := c.ListProjects(ctx, ListOptions{})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error = %v, want context.Canceled", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the client slept through the cancellation")
	}
}

func TestParseRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]time.Duration{
		"":                              0,
		"7":                             7 * time.Second,
		"-1":                            0,
		"soon":                          0,
		"Mon, 23 Nov 2026 10:00:30 GMT": 30 * time.Second,
		"Mon, 23 Nov 2026 09:00:00 GMT": 0,
	} {
		if got := parseRetryAfter(in, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestAllFollowsCursors(t *testing.T) {
	t.Parallel()
	b := setup(t,
		response{status: 200, body: `{"data":[{"id":"ep_3"},{"id":"ep_2"}],"next_cursor":"c1"}`},
		response{status: 200, body: `{"data":[{"id":"ep_1"}],"next_cursor":null}`},
	)
	ctx := context.Background()
	var ids []string
	for ep, err := range All(ctx, func(ctx context.Context, cursor string) (*Page[Endpoint], error) {
		return b.client.ListEndpoints(ctx, "shop", EndpointListOptions{ListOptions: ListOptions{Limit: 2, Cursor: cursor}})
	}) {
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ep.ID)
	}
	if !reflect.DeepEqual(ids, []string{"ep_3", "ep_2", "ep_1"}) {
		t.Fatalf("ids = %v", ids)
	}
	reqs := b.fake.all()
	if reqs[0].Query != "limit=2" || reqs[1].Query != "cursor=c1&limit=2" {
		t.Fatalf("queries = %q, %q", reqs[0].Query, reqs[1].Query)
	}
}

func TestAllYieldsError(t *testing.T) {
	t.Parallel()
	b := setup(t, response{status: 401, body: `{"status":401,"title":"Unauthorized"}`})
	n := 0
	for _, err := range All(context.Background(), func(ctx context.Context, cursor string) (*Page[Project], error) {
		return b.client.ListProjects(ctx, ListOptions{Cursor: cursor})
	}) {
		n++
		if err == nil {
			t.Fatal("no error yielded")
		}
	}
	if n != 1 {
		t.Fatalf("%d items yielded, want the one error", n)
	}
}
