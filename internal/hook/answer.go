package hook

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/herald-dev/herald"
)

// verdict is what one call decided.
type verdict int

const (
	verdictFail verdict = iota
	verdictAllow
	verdictDeny
)

// answer is the reading of one call.
type answer struct {
	verdict verdict
	patch   json.RawMessage // allow: a JSON object to merge, or nil
	code    string          // deny
	message string          // deny
	cause   string          // fail: why, in words for the caller's users (no URL)
}

// hookAnswer is the JSON body a hook answers with (webhook.HookResponse on
// the receiving side). Unknown fields are tolerated: a hook may say more
// than Herald reads.
type hookAnswer struct {
	Status  string          `json:"status"`
	Data    json.RawMessage `json:"data"`
	Code    string          `json:"code"`
	Message string          `json:"message"`
}

// decide reads a call's attempt and response body (docs/HOOKS.md):
//
//   - 2xx with an empty body or {"status":"ok"}: allow, with "data" as a
//     merge patch when present;
//   - 2xx or 4xx with {"status":"error",…}: deny;
//   - anything else (another status, a 2xx body that is not such an answer,
//     a timeout, a network error): a failure, for the failure policy.
func decide(att *herald.Attempt, body []byte) answer {
	if att.ErrorClass != "" && att.ErrorClass != herald.ErrorStatus {
		return answer{cause: failure(att)}
	}
	st := att.ResponseStatus
	switch {
	case st >= 200 && st < 300:
		if len(bytes.TrimSpace(body)) == 0 {
			return answer{verdict: verdictAllow}
		}
		a, err := parseAnswer(body)
		if err != nil {
			return answer{cause: fmt.Sprintf("invalid answer (status %d): %v", st, err)}
		}
		switch a.Status {
		case "ok":
			if isNull(a.Data) {
				return answer{verdict: verdictAllow}
			}
			if !isObject(a.Data) {
				return answer{cause: "invalid answer: \"data\" must be a JSON object (a JSON Merge Patch)"}
			}
			return answer{verdict: verdictAllow, patch: a.Data}
		case "error":
			return denyAnswer(a)
		}
		return answer{cause: fmt.Sprintf("invalid answer: \"status\" must be \"ok\" or \"error\", not %q", a.Status)}
	case st >= 400 && st < 500:
		if a, err := parseAnswer(body); err == nil && a.Status == "error" {
			return denyAnswer(a)
		}
	}
	return answer{cause: fmt.Sprintf("status %d", st)}
}

// failure says in words what went wrong with a call that got no answer to
// read. The words reach the product's users (the verdict's message), so
// they never carry the transport error, which names the endpoint's URL
// and its query string: that stays in the attempt, for the operator.
func failure(att *herald.Attempt) string {
	switch att.ErrorClass {
	case herald.ErrorTimeout:
		return "timeout"
	case herald.ErrorConnection:
		return "connection failed"
	case herald.ErrorTLS:
		return "TLS error"
	case herald.ErrorRedirect:
		return fmt.Sprintf("redirect (status %d) not followed", att.ResponseStatus)
	case herald.ErrorSSRFBlocked:
		return "address not allowed"
	case herald.ErrorTemplate:
		return "body template failed"
	}
	return att.ErrorClass
}

func parseAnswer(body []byte) (*hookAnswer, error) {
	var a hookAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return nil, fmt.Errorf("body is not a hook answer ({\"status\":\"ok\"|\"error\",…}): %v", err)
	}
	return &a, nil
}

func denyAnswer(a *hookAnswer) answer {
	code, msg := a.Code, a.Message
	if code == "" {
		code = CodeDenied
	}
	if msg == "" {
		msg = "denied by a hook"
	}
	return answer{verdict: verdictDeny, code: code, message: msg}
}

// isObject reports whether raw is a JSON object.
func isObject(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) > 0 && raw[0] == '{' && json.Valid(raw)
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || bytes.Equal(raw, []byte("null"))
}

// mergePatch applies patch to target as RFC 7386 JSON Merge Patch: objects
// merge key by key, recursively; a null removes the key; any other value
// replaces. Numbers keep their text. Keys come out sorted.
func mergePatch(target, patch json.RawMessage) (json.RawMessage, error) {
	t, err := decodeJSON(target)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	p, err := decodeJSON(patch)
	if err != nil {
		return nil, fmt.Errorf("patch: %w", err)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // the data is returned as JSON, not embedded in HTML
	if err := enc.Encode(merge(t, p)); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

func merge(target, patch any) any {
	pm, ok := patch.(map[string]any)
	if !ok {
		return patch
	}
	tm, ok := target.(map[string]any)
	if !ok {
		tm = make(map[string]any, len(pm))
	}
	for k, v := range pm {
		if v == nil {
			delete(tm, k)
			continue
		}
		tm[k] = merge(tm[k], v)
	}
	return tm
}

func decodeJSON(raw json.RawMessage) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}
