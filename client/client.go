// Package client is a Go client for Herald's HTTP API (/v1).
//
//	c, err := client.New("http://127.0.0.1:8080", os.Getenv("HERALD_KEY"))
//	res, err := c.SendEvent(ctx, "shop", client.EventInput{Type: "order.paid", Data: order})
//
// Every method takes a context and, last, optional RequestOptions (extra
// headers, a timeout, an idempotency key for this call). A refused call
// returns a *Error carrying the RFC 9457 problem Herald answered with.
//
// Retries: a call answered 429 or 503 is repeated after the server's
// Retry-After (or an exponential backoff with jitter), a bounded number of
// times. A call that is safe to repeat is also repeated after a connection
// error, a 502 or a 504: a GET, PUT or DELETE, an event with an id, or a
// POST of a route where Herald deduplicates by Idempotency-Key, answering a
// repeated key with the first answer instead of acting twice. Those POSTs
// are SendEvent, SendEvents, CreateEndpoint, CreateEventType, ReplayEvent,
// RetryDelivery and RecoverEndpoint, and the client always sends them with
// a key (a random one unless the caller gives its own). The other POSTs —
// CreateProject, CreateAPIKey, RotateEndpointSecret, TestEndpoint, RunHook
// and Subscribe — are never repeated after such a failure, even with a key
// the caller gives: Herald ignores the key there, so a repeat could, say,
// create a second project. Their error is returned at once (a 429 or 503,
// which the server did not act on, is still retried).
package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Defaults of the options.
const (
	// MaxRetriesDefault is how many times a call is repeated (see the
	// package comment for which calls, on which failures) before its error
	// is returned.
	MaxRetriesDefault = 3
	// MaxRetryWaitDefault is the longest the client waits before a retry.
	// A Retry-After beyond it ends the retries at once, so that a caller is
	// never blocked for an hour by surprise.
	MaxRetryWaitDefault = 30 * time.Second
	// UserAgentDefault is sent with every request.
	UserAgentDefault = "herald-go-client"
	// backoffBase is the first wait when the server gave no Retry-After;
	// it doubles with each retry, then jitter spreads it by ±20 %.
	backoffBase = 500 * time.Millisecond
)

// Client calls one Herald server with one API key. It is safe for
// concurrent use.
type Client struct {
	base         *url.URL
	key          string
	http         *http.Client
	userAgent    string
	maxRetries   int
	maxRetryWait time.Duration
	// sleepFunc waits before a retry; tests replace it to observe waits.
	sleepFunc func(ctx context.Context, d time.Duration) error
	// jitterFunc spreads a backoff so that many clients refused at once do
	// not come back at once; tests replace it to see exact waits.
	jitterFunc func(d time.Duration) time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient sets the *http.Client used for requests (default
// http.DefaultClient). Set its Timeout, or use contexts, to bound calls.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithMaxRetries sets how many times a failed call is retried; 0 disables
// retries.
func WithMaxRetries(n int) Option { return func(c *Client) { c.maxRetries = max(n, 0) } }

// WithMaxRetryWait sets the longest wait before one retry.
func WithMaxRetryWait(d time.Duration) Option { return func(c *Client) { c.maxRetryWait = d } }

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option { return func(c *Client) { c.userAgent = ua } }

// New returns a client of the Herald server at baseURL (such as
// "http://127.0.0.1:8080", without /v1) authenticating with key, an admin
// or project API key.
func New(baseURL, key string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err == nil && u.RawQuery != "" {
		err = errors.New("has a query")
	}
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http(s)://host[:port]", baseURL)
	}
	c := &Client{
		base:         u,
		key:          key,
		http:         http.DefaultClient,
		userAgent:    UserAgentDefault,
		maxRetries:   MaxRetriesDefault,
		maxRetryWait: MaxRetryWaitDefault,
		sleepFunc:    sleep,
		jitterFunc:   jitter,
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// call describes one API call.
type call struct {
	method string
	path   string     // escaped path below the base URL, e.g. "/v1/projects/p"
	query  url.Values // optional
	in     any        // request body, encoded as JSON; nil = none
	out    any        // decoded from a 2xx body when non-nil
	status *int       // set to the 2xx status when non-nil
	header http.Header
	// idempotent marks a POST of a route where the server deduplicates by
	// Idempotency-Key: it gets a random key (unless the caller gave one)
	// and is then safe to retry. A POST without it is never retried after
	// a failure the server may have acted on, whatever key it carries.
	idempotent bool
	// dedupByBody marks a request the server deduplicates by an id in its
	// body (an event's id), so that it is safe to repeat without a header.
	dedupByBody bool
	opts        []RequestOption
}

// retrySafe reports whether repeating the call cannot do twice what the
// caller asked once: the method is idempotent, the server deduplicates it
// by an id in its body, or its route deduplicates by Idempotency-Key and
// it carries one. A key on another route proves nothing: the server
// ignores it there.
func retrySafe(cl call, h http.Header) bool {
	switch cl.method {
	case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return cl.dedupByBody || (cl.idempotent && h.Get("Idempotency-Key") != "")
}

// do performs the call, retrying as the package comment says, and returns
// the final response's header.
func (c *Client) do(ctx context.Context, cl call) (http.Header, error) {
	var ro requestOptions
	for _, o := range cl.opts {
		o(&ro)
	}
	if ro.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, ro.timeout)
		defer cancel()
	}
	header := http.Header{}
	for k, v := range cl.header {
		header[k] = v
	}
	if ro.idempotencyKey != "" {
		header.Set("Idempotency-Key", ro.idempotencyKey)
	} else if cl.idempotent && header.Get("Idempotency-Key") == "" {
		header.Set("Idempotency-Key", newIdempotencyKey())
	}
	for k, v := range ro.header {
		header[k] = v
	}
	safe := retrySafe(cl, header)

	var body []byte
	if cl.in != nil {
		var err error
		if body, err = json.Marshal(cl.in); err != nil {
			return nil, fmt.Errorf("client: encode request: %w", err)
		}
	}
	target := c.base.String() + cl.path
	if len(cl.query) > 0 {
		target += "?" + cl.query.Encode()
	}
	for retry := 0; ; retry++ {
		req, err := http.NewRequestWithContext(ctx, cl.method, target, bytesReader(body))
		if err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
		for k, v := range header {
			req.Header[k] = v
		}
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		req.Header.Set("Accept", "application/json, application/problem+json")
		req.Header.Set("User-Agent", c.userAgent)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := c.http.Do(req)
		var (
			failure    error
			respHeader http.Header
			wait       time.Duration
		)
		switch {
		case err != nil:
			failure = fmt.Errorf("client: %s %s: %w", cl.method, cl.path, err)
			if ctx.Err() != nil || !safe {
				return nil, failure
			}
		case resp.StatusCode >= 200 && resp.StatusCode < 300:
			if cl.status != nil {
				*cl.status = resp.StatusCode
			}
			err := decodeBody(resp, cl.out)
			return resp.Header, err
		default:
			apiErr := readError(resp)
			failure, respHeader, wait = apiErr, resp.Header, apiErr.RetryAfter
			if !retryableStatus(resp.StatusCode, safe) {
				return respHeader, failure
			}
		}
		if wait <= 0 {
			wait = c.jitterFunc(backoffBase << min(retry, 16))
		}
		if retry >= c.maxRetries || wait > c.maxRetryWait {
			return respHeader, failure
		}
		if err := c.sleepFunc(ctx, wait); err != nil {
			return respHeader, err
		}
	}
}

// retryableStatus says whether a status is worth a retry: 429 and 503 for
// any call (the server did not act on it), 502 and 504 only for calls safe
// to repeat (a proxy may have passed the request on before failing).
func retryableStatus(code int, safe bool) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		return true
	case http.StatusBadGateway, http.StatusGatewayTimeout:
		return safe
	}
	return false
}

// jitter spreads d uniformly over ±20 %.
func jitter(d time.Duration) time.Duration {
	return d + time.Duration((mrand.Float64()*0.4-0.2)*float64(d))
}

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// decodeBody reads a 2xx response into out (when out is non-nil and the
// body is not empty) and closes it.
func decodeBody(resp *http.Response, out any) error {
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("client: read response: %w", err)
	}
	if out == nil || len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("client: decode %d response: %w", resp.StatusCode, err)
	}
	return nil
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP
// date. It returns 0 when absent or unreadable.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// newIdempotencyKey returns a random key for a POST, so that the client's
// own retries never make the server act twice.
func newIdempotencyKey() string { return rand.Text() }

// path joins escaped segments into an API path: path("v1", "projects", p).
func path(segments ...string) string {
	var b strings.Builder
	for _, s := range segments {
		b.WriteByte('/')
		b.WriteString(url.PathEscape(s))
	}
	return b.String()
}

// errEmpty reports a missing identifier before any request is made, so that
// a call such as GetEndpoint(ctx, p, "") cannot turn into a list request.
func errEmpty(what string) error { return fmt.Errorf("client: %s is empty", what) }
