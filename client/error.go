package client

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Error is a call Herald refused: the RFC 9457 problem it answered with.
// Test for it with errors.As:
//
//	var apiErr *client.Error
//	if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound { … }
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Type is a stable URI naming the kind of problem, such as
	// "https://herald.dev/problems/idempotency-conflict": branch on it
	// rather than on Title or Detail. Herald's docs/ERRORS.md lists them.
	Type string `json:"type"`
	// Title is a short summary of the kind of problem.
	Title string `json:"title"`
	// Detail explains this occurrence.
	Detail string `json:"detail"`
	// Errors lists the invalid fields of a 422.
	Errors []FieldError `json:"errors"`
	// RequestID is the request's X-Request-Id, which the server's log
	// lines about it carry too: quote it when reporting a problem.
	RequestID string `json:"request_id,omitempty"`
	// RetryAfter is the server's Retry-After, when it sent one (429, 503).
	RetryAfter time.Duration `json:"-"`
}

// FieldError names one invalid part of a request.
type FieldError struct {
	// Location is where the value is, such as "body.url" or "query.limit".
	Location string `json:"location"`
	// Message says what is wrong with it.
	Message string `json:"message"`
	// Value is the value that was refused, when the server echoes it.
	Value any `json:"value,omitempty"`
}

// Error formats the problem on one line: the status and title, then the
// field errors when there are some (they say more than a detail such as
// "validation failed"), else the detail.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "herald: %d", e.Status)
	if e.Title != "" {
		b.WriteString(" " + e.Title)
	}
	switch {
	case len(e.Errors) > 0:
		for i, f := range e.Errors {
			if i == 0 {
				b.WriteString(": ")
			} else {
				b.WriteString("; ")
			}
			b.WriteString(f.Location + ": " + f.Message)
		}
	case e.Detail != "" && e.Detail != e.Title:
		b.WriteString(": " + e.Detail)
	}
	return b.String()
}

// maxErrorBody bounds how much of an error response is read.
const maxErrorBody = 64 << 10

// readError turns a non-2xx response into an *Error and closes the body.
// A body that is not a problem document (say, from a proxy) keeps the
// status, and its start becomes the detail.
func readError(resp *http.Response) *Error {
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &Error{}
	if err := json.Unmarshal(data, e); err != nil {
		e = &Error{Detail: strings.TrimSpace(truncate(string(data), 200))}
	}
	if e.Status == 0 {
		e.Status = resp.StatusCode
	}
	if e.Title == "" {
		e.Title = http.StatusText(resp.StatusCode)
	}
	if e.RequestID == "" {
		e.RequestID = resp.Header.Get("X-Request-Id")
	}
	e.RetryAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
	return e
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
