package delivery

import (
	"bytes"
	"cmp"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/herald-dev/herald"
	"github.com/herald-dev/herald/webhook"
)

// Bounds of what an attempt keeps of a receiver's answer. The receiver is
// not trusted: whatever it sends, the stored attempt is valid UTF-8 and at
// most this big, so that one receiver cannot make another's results
// unstorable or fill the database.
// (ResponseBodyMax, ResponseHeadersMax and ErrorMax, in engine.go.)
const (
	// responseHeaderReadMax is how much of a response's header the client
	// reads at all; beyond it the attempt fails (class connection).
	responseHeaderReadMax = 1 << 20
)

// ignoreGrace is how long a response_mode "ignore" request waits, once the
// request is written, for a status line before it lets go: long enough to
// record the status of a quick receiver, short enough not to hold a worker.
const ignoreGrace = time.Second

const redacted = "[redacted]"

// envelope is the default body of a delivery (docs/API.md, "The envelope").
type envelope struct {
	ID        string            `json:"id"`
	Type      string            `json:"type"`
	Timestamp string            `json:"timestamp"`
	ProjectID string            `json:"project_id"`
	TenantID  string            `json:"tenant_id,omitempty"`
	Data      json.RawMessage   `json:"data"`
	Channels  []string          `json:"channels"`
	Metadata  map[string]string `json:"metadata"`
	// IdempotencyKey is the key the event was sent with (its
	// Idempotency-Key header or body id), so the receiver can see it.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// encodeEnvelope returns the default JSON body of ev (see Envelope).
func encodeEnvelope(ev *herald.Event) ([]byte, error) {
	ts := ev.CreatedAt
	if ts.IsZero() {
		ts = ev.OccurredAt
	}
	env := envelope{
		ID:        ev.ID,
		Type:      ev.Type,
		Timestamp: ts.UTC().Format(time.RFC3339),
		ProjectID: ev.ProjectID,
		TenantID:  ev.TenantID,
		Data:      ev.Data,
		Channels:  ev.Channels,
		Metadata:  ev.Metadata,

		IdempotencyKey: ev.IdempotencyKey,
	}
	if len(env.Data) == 0 {
		env.Data = json.RawMessage("{}")
	}
	if env.Channels == nil {
		env.Channels = []string{}
	}
	if env.Metadata == nil {
		env.Metadata = map[string]string{}
	}
	return json.Marshal(env)
}

// body renders the request body of ev for ep: the envelope, or the output of
// the endpoint's body template over it.
func (e *Engine) body(ctx context.Context, ep *herald.Endpoint, ev *herald.Event) ([]byte, error) {
	raw, err := encodeEnvelope(ev)
	if err != nil {
		return nil, err
	}
	if ep.BodyTemplate == "" {
		return raw, nil
	}
	t, err := e.template(ep)
	if err != nil {
		return nil, err
	}
	// From the JSON itself: a map decoded here would turn numbers into
	// float64 and round large ids.
	return t.RenderJSON(ctx, raw)
}

// send is Send, before the attempt is made keepable.
func (e *Engine) send(ctx context.Context, r SendRequest) *SendResult {
	ep, ev := r.Endpoint, r.Event
	start := e.now()
	att := &herald.Attempt{
		ID:         herald.NewID(herald.PrefixAttempt),
		ProjectID:  ev.ProjectID,
		EventID:    ev.ID,
		EndpointID: ep.ID,
		Number:     max(r.Attempt, 1),
		Trigger:    r.Trigger,
		StartedAt:  start,
		RequestURL: ep.URL,
	}
	if att.Trigger == "" {
		att.Trigger = herald.TriggerScheduled
	}
	res := &SendResult{Attempt: att}
	ctx, span := e.cfg.Tracer.StartAttempt(ctx, ev, ep.ID, att.Number, att.Trigger)
	defer span.EndAttempt(att)

	body, err := e.body(ctx, ep, ev)
	if err != nil {
		att.ErrorClass = herald.ErrorTemplate
		att.Error = "body template: " + err.Error()
		return res
	}
	if ep.BodyTemplate != "" {
		keepRequestBody(att, body)
	}

	timeout := ep.Timeout.D()
	if timeout <= 0 {
		timeout = herald.TimeoutDefault
	}
	timeout = min(timeout, herald.TimeoutMax)
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	ignore := ep.ResponseMode == herald.ResponseIgnore
	var wrote chan struct{}
	if ignore {
		// Fire and forget: once the request is on the wire, give the
		// receiver a moment to answer, then stop waiting.
		wrote = make(chan struct{})
		var once sync.Once
		ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) {
				once.Do(func() {
					close(wrote)
					time.AfterFunc(min(ignoreGrace, timeout), cancel)
				})
			},
		})
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(body))
	if err != nil {
		att.ErrorClass = herald.ErrorConnection
		att.Error = "invalid request: " + err.Error()
		return res
	}
	ts := e.now()
	sigs := make([]string, 0, 2)
	for _, s := range ep.Secrets(ts) {
		sig, err := webhook.Sign(s, ev.ID, ts, body)
		if err != nil {
			att.ErrorClass = herald.ErrorConnection
			att.Error = "signing: " + err.Error()
			return res
		}
		sigs = append(sigs, sig)
	}
	// Keys are written in canonical form directly: Header.Set would
	// canonicalize and allocate a fresh slice for each of them.
	h := make(http.Header, 8+len(ep.Headers)+len(r.Header))
	req.Header = h
	for k, v := range ep.Headers {
		h.Set(k, v)
	}
	h["Content-Type"] = contentTypeJSON
	h["User-Agent"] = userAgent
	h["Webhook-Id"] = []string{ev.ID}
	h["Webhook-Timestamp"] = []string{strconv.FormatInt(ts.Unix(), 10)}
	h["Webhook-Signature"] = []string{strings.Join(sigs, " ")}
	h["Webhook-Attempt"] = []string{strconv.Itoa(att.Number)}
	if a := ep.Auth; a != nil {
		switch {
		case a.Basic != nil:
			req.SetBasicAuth(a.Basic.Username, a.Basic.Password)
		case a.Bearer != "":
			h.Set("Authorization", "Bearer "+a.Bearer)
		}
	}
	span.Inject(h)
	for k, v := range r.Header {
		h.Set(k, v)
	}
	att.RequestHeaders = recordedHeaders(h, ep.Headers)

	resp, err := e.client.Do(req)
	att.DurationMS = time.Since(start).Milliseconds()
	if err != nil {
		if ignore && isClosed(wrote) && ctx.Err() != nil {
			// Sent; the answer was not awaited, which is what ignore asks.
			return res
		}
		att.ErrorClass, att.Error = classify(err)
		return res
	}
	defer resp.Body.Close()
	att.ResponseStatus = resp.StatusCode
	att.ResponseHeaders = flatten(resp.Header)
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	switch {
	case resp.StatusCode >= 300 && resp.StatusCode < 400:
		att.ErrorClass = herald.ErrorRedirect
		att.Error = fmt.Sprintf("redirect (%d) not followed", resp.StatusCode)
		if loc := resp.Header.Get("Location"); loc != "" {
			att.Error += " to " + loc
		}
	case !ok:
		att.ErrorClass = herald.ErrorStatus
		att.Error = fmt.Sprintf("status %d", resp.StatusCode)
	}
	if ignore {
		return res
	}
	keep := r.KeepBody || ep.ResponseMode == herald.ResponseData || !ok
	var b []byte
	if keep {
		b, err = io.ReadAll(io.LimitReader(resp.Body, ResponseBodyMax))
	} else {
		// Read to the end all the same (the connection is reused, and a
		// body that breaks off is a failure), but into a pooled buffer.
		_, err = io.Copy(io.Discard, io.LimitReader(resp.Body, ResponseBodyMax))
	}
	att.DurationMS = time.Since(start).Milliseconds()
	if err != nil && ok {
		// The status said yes but the body broke off: the receiver may not
		// have processed the event, so count it as a failure and retry.
		att.ErrorClass, att.Error = classify(err)
	}
	if keep {
		res.Body = b
		att.ResponseBody = string(b)
	}
	return res
}

var (
	contentTypeJSON = []string{"application/json"}
	userAgent       = []string{"Herald/" + herald.Version}
)

func isClosed(c chan struct{}) bool {
	if c == nil {
		return false
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// harmlessHeaders are endpoint header names whose values are shown in
// attempt records; every other configured header may carry a credential and
// is redacted.
var harmlessHeaders = map[string]bool{
	"Accept": true, "Accept-Language": true, "Accept-Encoding": true, "Cache-Control": true,
	"Content-Language": true, "Pragma": true,
}

// recordedHeaders is the request's headers as stored with the attempt, with
// credentials and signatures redacted.
func recordedHeaders(h http.Header, custom map[string]string) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	for k := range custom {
		ck := http.CanonicalHeaderKey(k)
		if !harmlessHeaders[ck] {
			if _, ok := out[ck]; ok {
				out[ck] = redacted
			}
		}
	}
	for _, k := range []string{"Authorization", "Webhook-Signature"} {
		if _, ok := out[k]; ok {
			out[k] = redacted
		}
	}
	return out
}

func flatten(h http.Header) map[string]string {
	out := make(map[string]string, len(h))
	for k, v := range h {
		out[k] = strings.Join(v, ", ")
	}
	return out
}

// keepable makes what att holds from the receiver storable: valid UTF-8
// (invalid bytes become U+FFFD) and within its bounds.
func keepable(att *herald.Attempt) {
	att.Error = validText(att.Error, ErrorMax)
	att.ResponseBody = validText(att.ResponseBody, ResponseBodyMax)
	att.ResponseHeaders = boundHeaders(att.ResponseHeaders, ResponseHeadersMax)
}

// validText returns s as valid UTF-8 of at most max bytes.
func validText(s string, max int) string { return cut(herald.Text(s), max) }

// cut returns at most max bytes of valid UTF-8 s, cut at a character
// boundary.
func cut(s string, max int) string {
	if len(s) <= max {
		return s
	}
	n := max
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// boundHeaders returns h with valid UTF-8 names and values, at most max
// bytes of them in all. The shortest headers are kept first, so that a
// receiver's one huge header does not push out its Retry-After; the first
// that does not fit whole is cut to fit, and the longer ones are left out.
func boundHeaders(h map[string]string, max int) map[string]string {
	size, valid := 0, true
	for k, v := range h {
		size += len(k) + len(v)
		valid = valid && herald.IsText(k) && herald.IsText(v)
	}
	if size <= max && valid {
		return h
	}
	clean := make(map[string]string, len(h))
	keys := make([]string, 0, len(h))
	for k, v := range h {
		k = herald.Text(k)
		clean[k] = herald.Text(v)
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		return cmp.Or(cmp.Compare(len(a)+len(clean[a]), len(b)+len(clean[b])), strings.Compare(a, b))
	})
	out := make(map[string]string, len(h))
	left := max
	for _, k := range keys {
		v := clean[k]
		if len(k)+len(v) > left {
			if len(k) < left {
				out[k] = cut(v, left-len(k))
			}
			break
		}
		out[k] = v
		left -= len(k) + len(v)
	}
	return out
}

// classify maps a transport error to an attempt error class and message.
func classify(err error) (class, msg string) {
	msg = err.Error()
	if isBlocked(err) {
		return herald.ErrorSSRFBlocked, msg
	}
	var (
		ne        net.Error
		certErr   *tls.CertificateVerificationError
		recErr    tls.RecordHeaderError
		alertErr  tls.AlertError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return herald.ErrorTimeout, msg
	case errors.As(err, &certErr), errors.As(err, &recErr), errors.As(err, &alertErr),
		errors.As(err, &unknownCA), errors.As(err, &hostErr), errors.As(err, &invalid),
		strings.Contains(msg, "tls: "):
		return herald.ErrorTLS, msg
	}
	return herald.ErrorConnection, msg
}
