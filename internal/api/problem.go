package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/herald-dev/herald"
)

// Problem is an RFC 9457 problem document, the body of every error
// response (Content-Type application/problem+json).
type Problem struct {
	// Type is a stable URI naming the kind of problem: ProblemTypeBase and
	// a slug (docs/ERRORS.md lists them). Programs branch on it, not on
	// the title or detail, which are for people.
	Type   string              `json:"type"`
	Title  string              `json:"title"`
	Status int                 `json:"status"`
	Detail string              `json:"detail"`
	Errors []herald.FieldError `json:"errors"`
	// RequestID is the request's X-Request-Id, to quote when reporting it;
	// empty inside a batch answer's items.
	RequestID string `json:"request_id,omitempty"`
}

// ProblemTypeBase prefixes every problem type. The URIs are identifiers,
// stable across releases; docs/ERRORS.md describes each.
const ProblemTypeBase = "https://herald.dev/problems/"

// problemSlugs is the problem type of each status, for errors without a
// more precise herald.Error Kind.
var problemSlugs = map[int]string{
	http.StatusUnauthorized:          "unauthorized",
	http.StatusForbidden:             "forbidden",
	http.StatusNotFound:              "not-found",
	http.StatusMethodNotAllowed:      "method-not-allowed",
	http.StatusConflict:              "conflict",
	http.StatusRequestEntityTooLarge: "too-large",
	http.StatusUnprocessableEntity:   "validation",
	http.StatusTooManyRequests:       "rate-limited",
	http.StatusInternalServerError:   "internal",
	http.StatusServiceUnavailable:    "unavailable",
}

// problemType returns the type URI of a problem with the status and, when
// not empty, the herald.Error Kind.
func problemType(status int, kind string) string {
	if kind != "" {
		return ProblemTypeBase + kind
	}
	if slug, ok := problemSlugs[status]; ok {
		return ProblemTypeBase + slug
	}
	return "about:blank"
}

// StatusOf maps a herald error code to its HTTP status: the one place
// where that mapping lives.
func StatusOf(code string) int {
	switch code {
	case herald.EINVALID:
		return http.StatusUnprocessableEntity
	case herald.ENOTFOUND:
		return http.StatusNotFound
	case herald.ECONFLICT:
		return http.StatusConflict
	case herald.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case herald.EFORBIDDEN:
		return http.StatusForbidden
	case herald.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case herald.ERATELIMIT:
		return http.StatusTooManyRequests
	case herald.ETIMEOUT:
		return http.StatusRequestTimeout
	case herald.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// problemOf turns err into the problem shown to the client. Errors that are
// not *herald.Error, and EINTERNAL ones, become a bare "internal error":
// their text may hold details (SQL, paths) that are not the client's business.
func problemOf(err error) *Problem {
	var e *herald.Error
	if !errors.As(err, &e) || StatusOf(e.Code) == http.StatusInternalServerError {
		return newProblem(http.StatusInternalServerError, "internal error")
	}
	p := newProblem(StatusOf(e.Code), e.Message)
	p.Type = problemType(p.Status, e.Kind)
	if len(e.Fields) > 0 {
		// The detail names the first field, for clients that show only it.
		p.Detail = e.Error()
		if n := len(e.Fields) - 1; n > 0 {
			p.Detail += fmt.Sprintf(" (and %d more)", n)
		}
		p.Errors = e.Fields
	}
	return p
}

func newProblem(status int, detail string) *Problem {
	return &Problem{
		Type:   problemType(status, ""),
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Errors: []herald.FieldError{},
	}
}

// retryAfterUnavailable is the Retry-After, in seconds, of a 503 for an
// unavailable storage: about a database restart's length.
const retryAfterUnavailable = "5"

// writeError answers with the problem of err. Internal errors are logged
// with their cause; the client sees only "internal error".
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	p := problemOf(err)
	if p.Status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed",
			slog.String("method", r.Method), slog.String("route", s.routeOf(r)),
			slog.Int("status", p.Status), slog.Any("error", err),
			slog.String(logKeyRequestID, requestIDOf(r.Context())))
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="herald"`)
	}
	if errors.Is(err, herald.ErrUnavailable) {
		// The storage is away (restarting, full, its file gone): nothing
		// was stored, and the same request may succeed in a moment.
		w.Header().Set("Retry-After", retryAfterUnavailable)
	}
	writeProblem(w, p)
}

// writeProblem writes p, with the request id that ServeHTTP put on the
// response's headers.
func writeProblem(w http.ResponseWriter, p *Problem) {
	p.RequestID = w.Header().Get(RequestIDHeader)
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeJSON writes v as the JSON body of a successful response.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// invalid returns an EINVALID error for one field.
func invalid(location string, value any, format string, args ...any) error {
	var v herald.Validation
	v.Add(location, value, format, args...)
	return v.Err()
}

// notFound is the error of an unknown resource; also what a project key
// gets for another project's resources.
func notFound(what string) error { return herald.Errorf(herald.ENOTFOUND, "%s not found", what) }
