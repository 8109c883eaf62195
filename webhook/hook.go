package webhook

import (
	"encoding/json"
	"net/http"
	"time"
)

// Envelope is the JSON body Herald sends to an endpoint, both for a queued
// delivery and for a synchronous hook call (unless the endpoint has a
// body_template). In a hook call, Data is the data as modified by the
// hooks that ran before.
type Envelope struct {
	// ID is the event id ("evt_…"), equal to the webhook-id header.
	ID string `json:"id"`
	// Type is the event type, such as "user.created".
	Type string `json:"type"`
	// Timestamp is when the event happened.
	Timestamp time.Time `json:"timestamp"`
	// ProjectID is the project the event belongs to.
	ProjectID string `json:"project_id"`
	// TenantID is the tenant the event is for; empty when it has none.
	TenantID string `json:"tenant_id,omitempty"`
	// Data is the event's payload, a JSON object.
	Data json.RawMessage `json:"data"`
	// Channels are the event's channels, if any.
	Channels []string `json:"channels,omitempty"`
	// Metadata is the event's metadata, if any.
	Metadata map[string]any `json:"metadata,omitempty"`
	// IdempotencyKey is the Idempotency-Key the event was sent with (or
	// its body id), if any.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// DecodeData unmarshals the envelope's Data into v.
func (e *Envelope) DecodeData(v any) error {
	return json.Unmarshal(e.Data, v)
}

// Hook answer statuses.
const (
	// StatusOK allows the operation, optionally changing the data.
	StatusOK = "ok"
	// StatusError denies the operation.
	StatusError = "error"
)

// HookResponse is the body a synchronous hook endpoint answers with.
// Allow, AllowWithData and Deny write it for you.
type HookResponse struct {
	// Status is StatusOK or StatusError.
	Status string `json:"status"`
	// Data, with StatusOK, is a JSON Merge Patch (RFC 7386) Herald applies
	// to the current data; it has an effect only for endpoints whose
	// response_mode is "data".
	Data any `json:"data,omitempty"`
	// Code is a machine-readable reason for a deny, such as "not_found".
	Code string `json:"code,omitempty"`
	// Message is a human-readable reason for a deny.
	Message string `json:"message,omitempty"`
}

// Allow answers a synchronous hook with 200 {"status":"ok"}: the
// operation may go on unchanged.
func Allow(w http.ResponseWriter) {
	writeHook(w, HookResponse{Status: StatusOK})
}

// AllowWithData answers a synchronous hook with 200
// {"status":"ok","data":data}: the operation may go on, with data merged
// (RFC 7386) onto the current data. data must encode to a JSON object; if
// it cannot be encoded at all, the answer is a 500, which Herald counts as
// a hook failure.
func AllowWithData(w http.ResponseWriter, data any) {
	writeHook(w, HookResponse{Status: StatusOK, Data: data})
}

// Deny answers a synchronous hook with 200
// {"status":"error","code":code,"message":message}: the operation is
// refused and Herald stops the run, reporting code and message to the
// caller.
func Deny(w http.ResponseWriter, code, message string) {
	writeHook(w, HookResponse{Status: StatusError, Code: code, Message: message})
}

func writeHook(w http.ResponseWriter, resp HookResponse) {
	body, err := json.Marshal(resp)
	if err != nil {
		http.Error(w, "webhook: cannot encode hook response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(body, '\n'))
}
