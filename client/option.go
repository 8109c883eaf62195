package client

import (
	"encoding/json"
	"net/http"
	"time"
)

// RequestOption changes one call, given last to any method:
//
//	c.SendEvent(ctx, "shop", in, client.WithHeader("X-Request-Id", id), client.WithTimeout(2*time.Second))
type RequestOption func(*requestOptions)

type requestOptions struct {
	header         http.Header
	timeout        time.Duration
	idempotencyKey string
}

// WithHeader adds a header to the request, such as X-Request-Id (Herald
// echoes it and logs it with the request). Headers the client sets itself
// (Authorization, Content-Type, Accept, User-Agent) cannot be replaced.
func WithHeader(key, value string) RequestOption {
	return func(o *requestOptions) {
		if o.header == nil {
			o.header = http.Header{}
		}
		o.header.Add(key, value)
	}
}

// WithTimeout bounds the whole call, its retries and their waits included.
func WithTimeout(d time.Duration) RequestOption {
	return func(o *requestOptions) { o.timeout = d }
}

// WithIdempotencyKey sets the call's Idempotency-Key, replacing the random
// one the client makes for POSTs that carry one. Use it to make a call
// safe to repeat across processes: a repeat with the same key and body is
// answered with the first answer.
func WithIdempotencyKey(key string) RequestOption {
	return func(o *requestOptions) { o.idempotencyKey = key }
}

// Optional is a field of an update body that can be left out, set to a
// value, or set to JSON null (which resets the field on the server: to its
// default, or to nothing for optional fields such as an endpoint's
// active_until or auth). Its zero value is left out, when the field is
// tagged omitzero.
//
//	client.EndpointUpdate{Timeout: client.Set("5s"), ActiveUntil: client.Null[time.Time]()}
type Optional[T any] struct {
	value T
	set   bool
	null  bool
}

// Set returns an Optional holding v.
func Set[T any](v T) Optional[T] { return Optional[T]{value: v, set: true} }

// Null returns an Optional that is sent as JSON null.
func Null[T any]() Optional[T] { return Optional[T]{set: true, null: true} }

// IsZero reports whether o is left out; omitzero uses it.
func (o Optional[T]) IsZero() bool { return !o.set }

// IsNull reports whether o is sent as null.
func (o Optional[T]) IsNull() bool { return o.set && o.null }

// Get returns the value and whether o holds one (false when left out or
// null).
func (o Optional[T]) Get() (T, bool) { return o.value, o.set && !o.null }

// MarshalJSON encodes the value, or null.
func (o Optional[T]) MarshalJSON() ([]byte, error) {
	if !o.set || o.null {
		return []byte("null"), nil
	}
	return json.Marshal(o.value)
}

// UnmarshalJSON reads null as Null and anything else as Set.
func (o *Optional[T]) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		*o = Null[T]()
		return nil
	}
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	*o = Set(v)
	return nil
}
