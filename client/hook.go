package client

import (
	"context"
	"encoding/json"
	"net/http"
)

// Outcomes of one endpoint in a hook run.
const (
	OutcomeAllowed = "allowed"
	OutcomeDenied  = "denied"
	OutcomeFailed  = "failed"
	OutcomeSkipped = "skipped"
	OutcomeQueued  = "queued"
)

// HookInput is the body of RunHook.
type HookInput struct {
	// Data is the operation's data, which hooks may allow, deny or change;
	// it must encode to a JSON object.
	Data     any               `json:"data"`
	Metadata map[string]string `json:"metadata,omitempty"`
	// TenantID runs the hooks of that tenant's endpoints (and the
	// project-wide ones); empty: project-wide endpoints only.
	TenantID string `json:"tenant_id,omitempty"`
	// Timeout bounds the whole run, e.g. "5s"; empty means the server's
	// default (10s).
	Timeout string `json:"timeout,omitempty"`
}

// HookResult is the verdict of a hook run.
type HookResult struct {
	Allowed bool `json:"allowed"`
	// Data is the data after the changes of the hooks that ran.
	Data json.RawMessage `json:"data"`
	// DeniedBy, Code and Message describe the deny that stopped the run.
	DeniedBy string `json:"denied_by,omitempty"`
	Code     string `json:"code,omitempty"`
	Message  string `json:"message,omitempty"`
	// EventID is the event that records the run in the log; it is also
	// the webhook-id of every call the run made.
	EventID string `json:"event_id"`
	// Results has one entry per endpoint, in the order they ran.
	Results []HookCallResult `json:"results"`
}

// HookCallResult is what one endpoint did in a hook run.
type HookCallResult struct {
	EndpointID string `json:"endpoint_id"`
	// Outcome is one of the Outcome constants.
	Outcome    string `json:"outcome"`
	Status     int    `json:"status,omitempty"`
	DurationMS int64  `json:"duration_ms"`
	Error      string `json:"error,omitempty"`
}

// RunHook runs the synchronous hooks subscribed to eventType, in order,
// and returns their verdict. A deny is not an error: check Allowed.
func (c *Client) RunHook(ctx context.Context, project, eventType string, in HookInput, reqOpts ...RequestOption) (*HookResult, error) {
	if project == "" || eventType == "" {
		return nil, errEmpty("project or event type")
	}
	var out HookResult
	_, err := c.do(ctx, call{method: http.MethodPost, path: path("v1", "projects", project, "hooks", eventType), in: in, out: &out, opts: reqOpts})
	return result(&out, err)
}
