package herald

import (
	"errors"
	"fmt"
)

// Error codes. The HTTP layer maps each to one status code, in one place.
const (
	EINVALID      = "invalid"      // 422
	ENOTFOUND     = "not_found"    // 404
	ECONFLICT     = "conflict"     // 409
	EUNAUTHORIZED = "unauthorized" // 401
	EFORBIDDEN    = "forbidden"    // 403
	ETOOLARGE     = "too_large"    // 413
	ERATELIMIT    = "rate_limited" // 429
	ETIMEOUT      = "timeout"      // 408
	EUNAVAILABLE  = "unavailable"  // 503
	EINTERNAL     = "internal"     // 500
)

// ErrUnavailable marks a failure of the storage that says nothing about
// the request: the database is unreachable or restarting, its disk is
// full, its file was deleted or replaced. The same request may succeed
// later, so the HTTP layer answers 503 with Retry-After, and the delivery
// engine keeps retrying its writes. Stores wrap their errors with it
// (fmt.Errorf("…: %w: %w", herald.ErrUnavailable, err)); test for it with
// errors.Is.
var ErrUnavailable = &Error{Code: EUNAVAILABLE, Message: "the database is unavailable; retry later"}

// FieldError names one invalid input.
type FieldError struct {
	Location string `json:"location"` // e.g. "body.url", "query.limit"
	Message  string `json:"message"`
	Value    any    `json:"value,omitempty"`
}

// Kinds name an error more precisely than its code, where a program must
// tell apart errors with the same code: each is the last segment of a
// problem type URI of the API (docs/ERRORS.md lists them).
const (
	KindProjectExists       = "project-exists"
	KindEventTypeExists     = "event-type-exists"
	KindIdempotencyConflict = "idempotency-conflict"
	// KindIdempotencyInProgress: a request with the same Idempotency-Key is
	// still running; its answer can be had by repeating it a moment later.
	KindIdempotencyInProgress = "idempotency-in-progress"
	KindAPIKeyLimit           = "api-key-limit"
	KindScopeRequired         = "scope-required"
)

// Error is Herald's error: a code, a message for the user, and optional
// field errors. Errors that are not *Error are internal and shown as such.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
	// Kind, when set, is one of the Kind constants.
	Kind string
}

// WithKind sets the error's Kind and returns it.
func (e *Error) WithKind(kind string) *Error {
	e.Kind = kind
	return e
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	return fmt.Sprintf("%s: %s: %s", e.Message, e.Fields[0].Location, e.Fields[0].Message)
}

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err: its own for *Error, EINTERNAL otherwise.
func ErrorCode(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if err == nil {
		return ""
	}
	return EINTERNAL
}

// IsNotFound reports whether err is an ENOTFOUND error.
func IsNotFound(err error) bool { return ErrorCode(err) == ENOTFOUND }

// Validation collects field errors; Err returns nil when there are none.
type Validation struct{ Fields []FieldError }

// Add records an invalid field.
func (v *Validation) Add(location string, value any, format string, args ...any) {
	v.Fields = append(v.Fields, FieldError{Location: location, Message: fmt.Sprintf(format, args...), Value: value})
}

// Err returns an EINVALID *Error listing the fields, or nil.
func (v *Validation) Err() error {
	if len(v.Fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "validation failed", Fields: v.Fields}
}
