package api

import (
	"context"
	"crypto/rand"
	"net/http"
)

// RequestIDHeader carries a request's id: taken from the request when it
// is a valid one, else generated, and always echoed in the response. It
// appears in the log lines of the request and in problem documents.
const RequestIDHeader = "X-Request-Id"

// RequestIDMaxLen bounds an incoming request id; longer ones are replaced.
const RequestIDMaxLen = 128

// logKeyRequestID is the log attribute of the request id.
const logKeyRequestID = "request_id"

type requestIDKey struct{}

// withRequestID gives r its request id, sets it on the response and
// returns r with the id in its context.
func withRequestID(w http.ResponseWriter, r *http.Request) *http.Request {
	id := r.Header.Get(RequestIDHeader)
	if !validRequestID(id) {
		id = rand.Text()
	}
	w.Header().Set(RequestIDHeader, id)
	return r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id))
}

// requestIDOf returns the request id in ctx, or "".
func requestIDOf(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// validRequestID accepts 1 to RequestIDMaxLen characters of letters,
// digits and - _ . : / + = — enough for UUIDs, ULIDs, base64 and trace
// ids, and nothing a log line or a header could be confused by.
func validRequestID(id string) bool {
	if id == "" || len(id) > RequestIDMaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.', c == ':', c == '/', c == '+', c == '=':
		default:
			return false
		}
	}
	return true
}
