package webhook

import (
	"bytes"
	"errors"
	"io"
	"net/http"
)

// DefaultMaxBodyBytes bounds the body Middleware reads, matching the
// largest request Herald accepts (1 MiB).
const DefaultMaxBodyBytes = 1 << 20

// Middleware returns a handler that verifies each request with secret
// before passing it to next. See Verifier.Middleware.
func Middleware(secret string, next http.Handler) http.Handler {
	v := &Verifier{Secrets: []string{secret}}
	return v.Middleware(next)
}

// Middleware returns a handler that reads the request body (at most
// MaxBodyBytes), verifies it, and calls next with the body restored so
// that next can read it again. A request that fails verification gets a
// 401 with a one-line text reason and never reaches next; a body over the
// limit gets a 413.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	limit := v.MaxBodyBytes
	if limit <= 0 {
		limit = DefaultMaxBodyBytes
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}
